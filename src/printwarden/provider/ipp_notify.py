"""Subscriptions and events in IPP terms (RFC 3995, RFC 3996): subscription groups read from
requests, subscription and event-notification groups written into answers. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from printwarden.provider import clock
from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    Message,
    TextWithLanguage,
    Value,
)
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.subscriptions import (
    Event,
    Request,
    Subscription,
    SubscriptionRefused,
    SubscriptionStore,
)

SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS = 0x0003
# Values of job and printer event attributes by IPP syntax.
EVENT_TAGS = {
    "job-state": T.ENUM,
    "job-state-reasons": T.KEYWORD,
    "job-name": T.NAME_WITHOUT_LANGUAGE,
    "job-impressions-completed": T.INTEGER,
    "printer-state": T.ENUM,
    "printer-state-reasons": T.KEYWORD,
    "printer-is-accepting-jobs": T.BOOLEAN,
}


def a(name: str, tag: int, *values: Value) -> Attribute:
    return Attribute(name, tag, list(values))


def requests_in(message: Message) -> list[Request]:
    """The subscription groups of a request, as the store takes them."""
    return [request_of(group) for group in message.groups_of(GroupTag.SUBSCRIPTION)]


def request_of(group: AttributeGroup) -> Request:
    lease = group.value("notify-lease-duration")
    interval = group.value("notify-time-interval")
    user_data = group.value("notify-user-data")
    return Request(
        events=tuple(v for v in group.values_of("notify-events") if isinstance(v, str)),
        pull_method=_text(group.value("notify-pull-method")),
        recipient_uri=_text(group.value("notify-recipient-uri")),
        lease=lease if isinstance(lease, int) and not isinstance(lease, bool) else None,
        time_interval=interval if isinstance(interval, int) and interval > 0 else 0,
        user_data=user_data if isinstance(user_data, bytes) else _text(user_data).encode(),
        charset=_text(group.value("notify-charset")) or "utf-8",
        language=_text(group.value("notify-natural-language")) or "en",
    )


def subscribe_all(
    store: SubscriptionStore,
    requests: Iterable[Request],
    *,
    owner: str,
    queue: str,
    now: float,
    job_id: int | None = None,
) -> tuple[list[AttributeGroup], int]:
    """Make the subscriptions ``requests`` ask for: one answer group each (its id, or the
    status it was refused with) and how many were refused."""
    groups, refused = [], 0
    for request in requests:
        try:
            made = store.subscribe(request, owner=owner, queue=queue, now=now, job_id=job_id)
        except SubscriptionRefused as exc:
            refused += 1
            groups.append(
                AttributeGroup(
                    GroupTag.SUBSCRIPTION,
                    [
                        a("notify-status-code", T.ENUM, exc.status),
                        a("notify-status-message", T.TEXT_WITHOUT_LANGUAGE, exc.message[:255]),
                    ],
                )
            )
            continue
        groups.append(
            AttributeGroup(GroupTag.SUBSCRIPTION, [a("notify-subscription-id", T.INTEGER, made.id)])
        )
    return groups, refused


def subscription_attributes(subscription: Subscription, printer_uri: str) -> list[Attribute]:
    """A subscription's description (Get-Subscription-Attributes, Get-Subscriptions)."""
    attributes = [
        a("notify-subscription-id", T.INTEGER, subscription.id),
        a("notify-subscription-uuid", T.URI, f"urn:uuid:{subscription.uuid}"),
        a("notify-printer-uri", T.URI, printer_uri),
        a("notify-subscriber-user-name", T.NAME_WITHOUT_LANGUAGE, subscription.owner),
        a("notify-events", T.KEYWORD, *subscription.events),
        a("notify-pull-method", T.KEYWORD, "ippget"),
        a("notify-time-interval", T.INTEGER, subscription.time_interval),
        a("notify-charset", T.CHARSET, subscription.charset),
        a("notify-natural-language", T.NATURAL_LANGUAGE, subscription.language),
        a("notify-sequence-number", T.INTEGER, subscription.sequence),
    ]
    if subscription.job_id is not None:
        attributes.append(a("notify-job-id", T.INTEGER, subscription.job_id))
    else:
        expires = subscription.expires
        attributes += [
            a("notify-lease-duration", T.INTEGER, subscription.lease),
            a(
                "notify-lease-expiration-time",
                T.INTEGER,
                max(0, clock.ipp_time(expires)) if expires is not None else 0,
            ),
        ]
    if subscription.user_data:
        attributes.append(a("notify-user-data", T.OCTET_STRING, subscription.user_data))
    return attributes


def event_group(subscription: Subscription, event: Event, printer_uri: str) -> AttributeGroup:
    """One event as an event-notification group (RFC 3995 section 9)."""
    attributes = [
        a("notify-subscription-id", T.INTEGER, subscription.id),
        a("notify-subscription-uuid", T.URI, f"urn:uuid:{subscription.uuid}"),
        a("notify-printer-uri", T.URI, printer_uri),
        a("notify-subscribed-event", T.KEYWORD, event.subscribed),
        a("printer-up-time", T.INTEGER, max(0, clock.ipp_time(event.at))),
        a("printer-current-time", T.DATE_TIME, clock.date_time(event.at)),
        a("notify-sequence-number", T.INTEGER, event.sequence),
        a("notify-charset", T.CHARSET, subscription.charset),
        a("notify-natural-language", T.NATURAL_LANGUAGE, subscription.language),
        a("notify-text", T.TEXT_WITHOUT_LANGUAGE, event.text),
    ]
    if subscription.user_data:
        attributes.append(a("notify-user-data", T.OCTET_STRING, subscription.user_data))
    if event.job_id is not None:
        attributes.append(a("notify-job-id", T.INTEGER, event.job_id))
    for name, value in event.values.items():
        attributes.append(_value(name, value))
    return AttributeGroup(GroupTag.EVENT_NOTIFICATION, attributes)


def _value(name: str, value: Any) -> Attribute:
    tag = EVENT_TAGS.get(name, T.KEYWORD)
    values = value if isinstance(value, list) else [value]
    return Attribute(name, tag, list(values))


def _text(value: object) -> str:
    if isinstance(value, TextWithLanguage):
        return value.text
    return value if isinstance(value, str) else ""
