"""The subscription operations of RFC 3995 and Get-Notifications of RFC 3996 (ippget).

Subscriptions belong to who made them: only their owner (or an operator) sees, renews or
cancels one, or pulls its events. Get-Notifications with ``notify-wait`` waits (up to
``notify-get-interval``) for a first event rather than answering empty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from printwarden.provider import ipp_notify
from printwarden.provider.clock import up_time
from printwarden.provider.ipp import Attribute, AttributeGroup, GroupTag, Message, Operation
from printwarden.provider.ipp import StatusCode as S
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.ipp_service import (
    Context,
    IppService,
    Refusal,
    _requested,
    _require,
    _select,
    attrs_path,
)
from printwarden.provider.subscriptions import GET_INTERVAL, Subscription, SubscriptionRefused

WAIT_STEP = 0.2  # how often a waiting Get-Notifications looks for events


class SubscriptionOperations:
    """Create-*-Subscriptions, Get-Subscription-Attributes, Get-Subscriptions,
    Renew-Subscription, Cancel-Subscription and Get-Notifications."""

    def __init__(self, service: IppService) -> None:
        self.service = service
        self.store = service.services.notifier.store

    def handlers(self) -> dict[int, Callable[[Context], Awaitable[Message]]]:
        return {
            Operation.CREATE_PRINTER_SUBSCRIPTIONS: self.create_printer_subscriptions,
            Operation.CREATE_JOB_SUBSCRIPTIONS: self.create_job_subscriptions,
            Operation.GET_SUBSCRIPTION_ATTRIBUTES: self.get_subscription_attributes,
            Operation.GET_SUBSCRIPTIONS: self.get_subscriptions,
            Operation.RENEW_SUBSCRIPTION: self.renew_subscription,
            Operation.CANCEL_SUBSCRIPTION: self.cancel_subscription,
            Operation.GET_NOTIFICATIONS: self.get_notifications,
        }

    # --- creating --------------------------------------------------------------------------

    async def create_printer_subscriptions(self, context: Context) -> Message:
        queue = _require(context.queue)
        return self._created(context, queue.name, None)

    async def create_job_subscriptions(self, context: Context) -> Message:
        job_id = _integer(context, "notify-job-id")
        if job_id is None:
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "notify-job-id is required")
        job = self.service.spool.get(job_id)
        if job is None or (context.queue is not None and job.queue != context.queue.name):
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, f"no job {job_id}")
        self._may_see(context, job.user)
        if job.terminal:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job_id} has ended")
        return self._created(context, job.queue, job.id)

    def _created(self, context: Context, queue: str, job_id: int | None) -> Message:
        requests = ipp_notify.requests_in(context.request.message)
        if not requests:
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "no subscription attributes group")
        groups, refused = ipp_notify.subscribe_all(
            self.store, requests, owner=context.user, queue=queue, now=time.time(), job_id=job_id
        )
        status = S.SUCCESSFUL_OK
        if refused == len(requests):
            status = S.CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS
        elif refused:
            status = S.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS
        return self.service.response(context.request.message, status, groups=groups)

    # --- reading, renewing, canceling -------------------------------------------------------

    async def get_subscription_attributes(self, context: Context) -> Message:
        subscription = self._subscription(context)
        chosen = _select(self._described(context, subscription), _requested_of(context))
        group = AttributeGroup(GroupTag.SUBSCRIPTION, chosen)
        return self.service.response(context.request.message, S.SUCCESSFUL_OK, groups=[group])

    async def get_subscriptions(self, context: Context) -> Message:
        queue = _require(context.queue)
        job_id = _integer(context, "notify-job-id")
        limit = _integer(context, "limit")
        mine = _boolean(context, "my-subscriptions")
        found = self.store.listed(time.time(), queue=queue.name, job_id=job_id)
        visible = [
            s for s in found
            if (s.owner == context.user or self._operator(context)) and
            (not mine or s.owner == context.user)
        ]  # fmt: skip
        if limit is not None and limit > 0:
            visible = visible[:limit]
        requested = _requested_of(context)
        groups = [
            AttributeGroup(GroupTag.SUBSCRIPTION, _select(self._described(context, s), requested))
            for s in visible
        ]
        return self.service.response(context.request.message, S.SUCCESSFUL_OK, groups=groups)

    async def renew_subscription(self, context: Context) -> Message:
        subscription = self._subscription(context)
        lease = _integer(context, "notify-lease-duration")
        try:
            renewed = self.store.renew(subscription.id, lease, time.time())
        except KeyError:
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, "no such subscription") from None
        except SubscriptionRefused as exc:
            raise Refusal(exc.status, exc.message) from None
        answer = self.service.response(context.request.message, S.SUCCESSFUL_OK)
        answer.groups[0].add(Attribute("notify-lease-duration", T.INTEGER, [renewed.lease]))
        return answer

    async def cancel_subscription(self, context: Context) -> Message:
        subscription = self._subscription(context)
        self.store.cancel(subscription.id)
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)

    # --- pulling events ----------------------------------------------------------------------

    async def get_notifications(self, context: Context) -> Message:
        operation = context.request.message.operation
        assert operation is not None
        ids = [v for v in operation.values_of("notify-subscription-ids") if isinstance(v, int)]
        if not ids:
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "notify-subscription-ids is required")
        firsts = [v for v in operation.values_of("notify-sequence-numbers") if isinstance(v, int)]
        wanted = {i: firsts[n] if n < len(firsts) else 1 for n, i in enumerate(ids)}
        for subscription_id in wanted:
            found = self.store.get(subscription_id, time.time())
            if found is not None:
                self._may_see(context, found.owner)
        pulled = self.store.pull(wanted, time.time())
        deadline = time.monotonic() + GET_INTERVAL
        while _boolean(context, "notify-wait") and not pulled.events and not pulled.complete:
            if time.monotonic() >= deadline or len(pulled.missing) == len(wanted):
                break
            await asyncio.sleep(WAIT_STEP)
            pulled = self.store.pull(wanted, time.time())
        if len(pulled.missing) == len(wanted):
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, "no such subscription")
        status = S.SUCCESSFUL_OK_EVENTS_COMPLETE if pulled.complete else S.SUCCESSFUL_OK
        answer = self.service.response(
            context.request.message,
            status,
            groups=[
                ipp_notify.event_group(s, e, self._printer_uri(context, s.queue))
                for s, e in pulled.events
            ],
        )
        first = answer.groups[0]
        if not pulled.complete:
            first.add(Attribute("notify-get-interval", T.INTEGER, [GET_INTERVAL]))
        first.add(Attribute("printer-up-time", T.INTEGER, [up_time()]))
        return answer

    # --- helpers -----------------------------------------------------------------------------

    def _subscription(self, context: Context) -> Subscription:
        subscription_id = _integer(context, "notify-subscription-id")
        if subscription_id is None:
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "notify-subscription-id is required")
        subscription = self.store.get(subscription_id, time.time())
        if subscription is None or (
            context.queue is not None and subscription.queue != context.queue.name
        ):
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, f"no subscription {subscription_id}")
        self._may_see(context, subscription.owner)
        return subscription

    def _may_see(self, context: Context, owner: str) -> None:
        if owner != context.user and not self._operator(context):
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, "this belongs to another user")

    def _operator(self, context: Context) -> bool:
        return context.authenticated and context.user in self.service.services.operators

    def _described(self, context: Context, subscription: Subscription) -> list[Attribute]:
        return ipp_notify.subscription_attributes(
            subscription, self._printer_uri(context, subscription.queue)
        )

    @staticmethod
    def _printer_uri(context: Context, queue: str) -> str:
        return f"ipp://{context.request.host}{attrs_path(queue)}"


def _requested_of(context: Context) -> list[str]:
    requested = _requested(context.request.message)
    return [] if "all" in requested else requested


def _integer(context: Context, name: str) -> int | None:
    operation = context.request.message.operation
    value = operation.value(name) if operation is not None else None
    return value if _is_int(value) else None  # type: ignore[return-value]


def _boolean(context: Context, name: str) -> bool:
    operation = context.request.message.operation
    return operation is not None and operation.value(name) is True


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
