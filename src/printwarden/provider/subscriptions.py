"""IPP event subscriptions and their events (RFC 3995), delivered by ``ippget`` (RFC 3996).

A subscription is a printer's (a queue's: Create-Printer-Subscriptions, with a lease that
Renew-Subscription extends) or a job's (Create-Job-Subscriptions, or subscription groups
in Print-Job/Create-Job: it lasts as long as the job). Occurrences (a job changed state, a
queue was paused…) become events of every subscription that asked for one of their
keywords, numbered per subscription from 1. Events are pulled with Get-Notifications and
kept ``ippget-event-life`` seconds (and at most ``MAX_EVENTS`` per subscription), whether
read or not: several recipients may pull the same subscription.

The store is pure: no I/O and no clock of its own (``now`` is passed in), so its life
cycle is tested without sleeping. It is thread-safe (events come from the engine's
threads, requests from the IPP server's). Subscriptions can be kept across restarts
(:meth:`SubscriptionStore.snapshot` / :meth:`~SubscriptionStore.restore`); events are not
(they live ``ippget-event-life`` seconds anyway).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

JOB_EVENTS = ("job-completed", "job-config-changed", "job-created", "job-state-changed",
              "job-stopped")  # fmt: skip
PRINTER_EVENTS = (
    "printer-config-changed",
    "printer-queue-order-changed",
    "printer-restarted",
    "printer-shutdown",
    "printer-state-changed",
    "printer-stopped",
)
EVENTS_SUPPORTED = (*JOB_EVENTS, *PRINTER_EVENTS)
# The keyword a subscription asked for that an occurrence is reported as: the most
# specific one first (job-completed is also a job-state-changed).
SPECIFIC_FIRST = (
    "job-created",
    "job-completed",
    "job-stopped",
    "job-config-changed",
    "job-state-changed",
    "printer-restarted",
    "printer-shutdown",
    "printer-stopped",
    "printer-config-changed",
    "printer-queue-order-changed",
    "printer-state-changed",
)
DEFAULT_EVENTS = ("job-completed",)
LEASE_DEFAULT = 86400  # notify-lease-duration-default (seconds)
LEASE_MAX = 67108863  # RFC 3995: 0 (no expiry) to 2^26 - 1
EVENT_LIFE = 60  # ippget-event-life (seconds)
MAX_EVENTS = 100  # notify-max-events-supported: events kept per subscription
GET_INTERVAL = 10  # notify-get-interval: seconds until the next Get-Notifications
MAX_SUBSCRIPTIONS = 1000
MAX_USER_DATA = 63


class SubscriptionRefused(Exception):
    """A subscription that cannot be made; ``status`` is the IPP status code to report."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


BAD_REQUEST, NOT_POSSIBLE, TOO_MANY = 0x0400, 0x0404, 0x0415
NOT_SUPPORTED, URI_SCHEME, VALUE_TOO_LONG = 0x040B, 0x040C, 0x0409


@dataclass(frozen=True, slots=True)
class Request:
    """What a subscription group asked for (as decoded from IPP)."""

    events: tuple[str, ...] = ()
    pull_method: str = ""
    recipient_uri: str = ""
    lease: int | None = None
    time_interval: int = 0
    user_data: bytes = b""
    charset: str = "utf-8"
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Event:
    """One event of one subscription: ``subscribed`` is the keyword it was subscribed as;
    ``values`` what it reports (``job-state``… or ``printer-state``…, by IPP name)."""

    sequence: int
    subscribed: str
    at: float
    queue: str
    text: str
    job_id: int | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Subscription:
    """One subscription (``job_id`` None: a queue's)."""

    id: int
    uuid: str
    owner: str
    queue: str
    events: tuple[str, ...]
    created: float
    job_id: int | None = None
    lease: int = 0  # seconds; 0: never expires (printer subscriptions only)
    expires: float | None = None
    time_interval: int = 0
    user_data: bytes = b""
    charset: str = "utf-8"
    language: str = "en"
    sequence: int = 0  # of the last event
    ended: float | None = None  # the job ended: no more events after its last
    kept: deque[Event] = field(default_factory=deque)

    @property
    def is_job(self) -> bool:
        return self.job_id is not None


@dataclass(frozen=True, slots=True)
class Pulled:
    """What Get-Notifications finds: the events, and whether every subscription asked for
    has ended (``successful-ok-events-complete``)."""

    events: list[tuple[Subscription, Event]]
    complete: bool
    missing: list[int]


def checked(request: Request, *, job: bool) -> Request:
    """``request`` as it can be honoured, or :class:`SubscriptionRefused` saying why not."""
    if request.recipient_uri:
        raise SubscriptionRefused(URI_SCHEME, "push delivery is not supported; use ippget")
    if request.pull_method != "ippget":
        method = request.pull_method or "none"
        raise SubscriptionRefused(BAD_REQUEST, f"notify-pull-method must be ippget, not {method}")
    if job and request.lease is not None:
        raise SubscriptionRefused(BAD_REQUEST, "a job subscription lasts as long as its job")
    if len(request.user_data) > MAX_USER_DATA:
        raise SubscriptionRefused(VALUE_TOO_LONG, "notify-user-data is at most 63 octets")
    events = tuple(dict.fromkeys(e for e in request.events if e in EVENTS_SUPPORTED))
    if request.events and not events:
        raise SubscriptionRefused(NOT_SUPPORTED, "none of these notify-events is supported")
    if job:
        events = tuple(e for e in events if e in JOB_EVENTS)
        if request.events and not events:
            raise SubscriptionRefused(NOT_SUPPORTED, "a job subscription takes only job events")
    lease = request.lease
    if lease is not None and lease < 0:
        raise SubscriptionRefused(BAD_REQUEST, "notify-lease-duration must be 0 or more")
    return replace(
        request,
        events=events or DEFAULT_EVENTS,
        lease=None if job else min(LEASE_MAX, LEASE_DEFAULT if lease is None else lease),
    )


class SubscriptionStore:
    """Every subscription of a provider and the events each holds."""

    def __init__(self, *, event_life: float = EVENT_LIFE, max_events: int = MAX_EVENTS) -> None:
        self.event_life, self.max_events = event_life, max_events
        self._lock = threading.Lock()
        self._subscriptions: dict[int, Subscription] = {}
        self._next_id = 1
        self.version = 0  # counts events and changes: Get-Notifications with notify-wait
        self.dirty = False  # changed since the last snapshot was kept

    # --- subscribing ---------------------------------------------------------------------

    def subscribe(
        self, request: Request, *, owner: str, queue: str, now: float, job_id: int | None = None
    ) -> Subscription:
        """A new subscription; :class:`SubscriptionRefused` if ``request`` cannot be honoured
        (check it with :func:`checked` first to report what was substituted)."""
        request = checked(request, job=job_id is not None)
        with self._lock:
            if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
                raise SubscriptionRefused(TOO_MANY, "too many subscriptions; cancel some")
            lease = request.lease or 0
            subscription = Subscription(
                id=self._next_id,
                uuid=str(uuid.uuid4()),
                owner=owner,
                queue=queue,
                events=request.events,
                created=now,
                job_id=job_id,
                lease=lease,
                expires=now + lease if lease else None,
                time_interval=request.time_interval,
                user_data=request.user_data,
                charset=request.charset,
                language=request.language,
            )
            self._next_id += 1
            self._subscriptions[subscription.id] = subscription
            self._changed()
            return subscription

    def get(self, subscription_id: int, now: float) -> Subscription | None:
        with self._lock:
            self._sweep(now)
            return self._subscriptions.get(subscription_id)

    def listed(
        self, now: float, *, queue: str | None = None, job_id: int | None = None
    ) -> list[Subscription]:
        """Subscriptions of ``queue`` (all when None): its printer subscriptions, or those of
        job ``job_id``."""
        with self._lock:
            self._sweep(now)
            return [
                s
                for s in self._subscriptions.values()
                if (queue is None or s.queue == queue) and s.job_id == job_id
            ]

    def renew(self, subscription_id: int, lease: int | None, now: float) -> Subscription:
        """Renew-Subscription: a new lease from now (a job subscription cannot be renewed)."""
        with self._lock:
            self._sweep(now)
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                raise KeyError(subscription_id)
            if subscription.is_job:
                raise SubscriptionRefused(NOT_POSSIBLE, "a job subscription lasts as its job")
            if lease is not None and lease < 0:
                raise SubscriptionRefused(BAD_REQUEST, "notify-lease-duration must be 0 or more")
            granted = min(LEASE_MAX, LEASE_DEFAULT if lease is None else lease)
            subscription.lease = granted
            subscription.expires = now + granted if granted else None
            self._changed()
            return subscription

    def cancel(self, subscription_id: int) -> bool:
        with self._lock:
            found = self._subscriptions.pop(subscription_id, None) is not None
            if found:
                self._changed()
            return found

    # --- events --------------------------------------------------------------------------

    def occur(
        self,
        keywords: Iterable[str],
        *,
        queue: str,
        text: str,
        now: float,
        job_id: int | None = None,
        values: Mapping[str, Any] | None = None,
        final: bool = False,
    ) -> int:
        """Something happened (``keywords``: every event keyword it is, e.g. a job ending is
        ``job-state-changed`` and ``job-completed``) in ``queue`` or to job ``job_id``: an
        event for each subscription that asked for one of them. ``final``: the job ended,
        its subscriptions end once their events expire. Returns how many events were made."""
        happened = set(keywords)
        made = 0
        with self._lock:
            for subscription in self._subscriptions.values():
                if not self._concerns(subscription, queue, job_id):
                    continue
                subscribed = _subscribed_as(happened, subscription.events)
                if subscribed is not None and subscription.ended is None:
                    subscription.sequence += 1
                    event = Event(subscription.sequence, subscribed, now, queue, text, job_id,
                                  dict(values or {}))  # fmt: skip
                    subscription.kept.append(event)
                    while len(subscription.kept) > self.max_events:
                        subscription.kept.popleft()
                    made += 1
                if final and subscription.job_id == job_id and subscription.ended is None:
                    subscription.ended = now
            if made or final:
                self._changed()
        return made

    def job_gone(self, job_id: int, now: float) -> None:
        """Job ``job_id`` ended without an event (or no longer exists): end its subscriptions."""
        with self._lock:
            for subscription in self._subscriptions.values():
                if subscription.job_id == job_id and subscription.ended is None:
                    subscription.ended = now
                    self._changed()

    def pull(self, wanted: Mapping[int, int], now: float) -> Pulled:
        """Get-Notifications: the kept events of the subscriptions ``wanted`` (id → the first
        sequence number wanted, 1 for all), in order."""
        with self._lock:
            self._sweep(now)
            events: list[tuple[Subscription, Event]] = []
            missing: list[int] = []
            complete = True
            for subscription_id, first in wanted.items():
                subscription = self._subscriptions.get(subscription_id)
                if subscription is None:
                    missing.append(subscription_id)
                    continue
                events += [(subscription, e) for e in subscription.kept if e.sequence >= first]
                complete = complete and subscription.ended is not None
            return Pulled(events, complete and not missing, missing)

    def sweep(self, now: float) -> None:
        """Forget expired events, leases run out, and ended job subscriptions whose last
        event has expired."""
        with self._lock:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        oldest = now - self.event_life
        for subscription in list(self._subscriptions.values()):
            while subscription.kept and subscription.kept[0].at < oldest:
                subscription.kept.popleft()
            expired = subscription.expires is not None and subscription.expires <= now
            over = subscription.ended is not None and subscription.ended < oldest
            if expired or over:
                del self._subscriptions[subscription.id]
                self._changed()

    @staticmethod
    def _concerns(subscription: Subscription, queue: str, job_id: int | None) -> bool:
        if subscription.is_job:
            return job_id is not None and subscription.job_id == job_id
        return subscription.queue == queue

    def _changed(self) -> None:
        self.version += 1
        self.dirty = True

    # --- keeping subscriptions across restarts ----------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The subscriptions (not their events), to keep."""
        with self._lock:
            self.dirty = False
            return {
                "next_id": self._next_id,
                "subscriptions": [_keep(s) for s in self._subscriptions.values()],
            }

    def restore(self, kept: Mapping[str, Any], now: float) -> None:
        """Take back what :meth:`snapshot` kept; damaged entries are skipped."""
        with self._lock:
            for data in kept.get("subscriptions", []):
                try:
                    subscription = _restored(data)
                except (KeyError, TypeError, ValueError):
                    continue
                self._subscriptions[subscription.id] = subscription
            ids = [s.id + 1 for s in self._subscriptions.values()]
            self._next_id = max([int(kept.get("next_id", 1)), *ids, 1])
            self._sweep(now)


def _subscribed_as(happened: set[str], events: tuple[str, ...]) -> str | None:
    for keyword in SPECIFIC_FIRST:
        if keyword in happened and keyword in events:
            return keyword
    return None


def _keep(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "uuid": subscription.uuid,
        "owner": subscription.owner,
        "queue": subscription.queue,
        "events": list(subscription.events),
        "created": subscription.created,
        "job_id": subscription.job_id,
        "lease": subscription.lease,
        "expires": subscription.expires,
        "time_interval": subscription.time_interval,
        "user_data": subscription.user_data.hex(),
        "charset": subscription.charset,
        "language": subscription.language,
        "sequence": subscription.sequence,
        "ended": subscription.ended,
    }


def _restored(data: Mapping[str, Any]) -> Subscription:
    job_id, expires, ended = data.get("job_id"), data.get("expires"), data.get("ended")
    return Subscription(
        id=int(data["id"]),
        uuid=str(data["uuid"]),
        owner=str(data["owner"]),
        queue=str(data["queue"]),
        events=tuple(str(e) for e in data["events"] if e in EVENTS_SUPPORTED),
        created=float(data["created"]),
        job_id=int(job_id) if job_id is not None else None,
        lease=int(data.get("lease", 0)),
        expires=float(expires) if expires is not None else None,
        time_interval=int(data.get("time_interval", 0)),
        user_data=bytes.fromhex(str(data.get("user_data", ""))),
        charset=str(data.get("charset", "utf-8")),
        language=str(data.get("language", "en")),
        sequence=int(data.get("sequence", 0)),
        ended=float(ended) if ended is not None else None,
    )
