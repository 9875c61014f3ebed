"""A generic payment gateway for campus card systems and the like: the person is sent to the
system's pay page with our payment id, and the system notifies us with Standard Webhooks
(https://www.standardwebhooks.com): headers ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`` (several,
space separated, during a key rotation), the key given as ``whsec_<base64>``.

The signature is checked here rather than with the ``standardwebhooks`` package (1.1.0): its
``Webhook.verify`` checks the timestamp against the wall clock, not against the ``now`` a
gateway is given, and lets ``ValueError`` out of a malformed signature header. What is left
is one HMAC, compared with :func:`hmac.compare_digest`.

The body: ``{"type": …, "timestamp"?: ISO 8601, "data": {"payment_id": ours, "reference":
theirs, "amount": minor units, "currency": "EUR"}}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from printwarden.domain.payments import (
    BadNotification,
    Notification,
    NotificationKind,
    PaymentStart,
    Started,
    amount_field,
    check_timestamp,
    currency_field,
    json_object,
    object_field,
    text_field,
    unix_time,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
MIN_KEY_BYTES = 16
MAX_TIMESTAMP_DIGITS = 12
KINDS = {
    "payment.succeeded": NotificationKind.CREDIT,
    "payment.refunded": NotificationKind.REVERSE,
    "payment.disputed": NotificationKind.REVERSE,
}


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix may be left out)."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a webhook secret has at least {MIN_KEY_BYTES} bytes of key")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """The HMAC-SHA256 of a message, as Standard Webhooks signs it."""
    return hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)


def _v1_signatures(header: str) -> Iterator[bytes]:
    """The ``v1`` signatures of a ``webhook-signature`` header (others are skipped)."""
    for item in header.split():
        version, _, encoded = item.partition(",")
        if version != "v1":
            continue
        try:
            yield base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue  # a malformed one matches nothing


class WebhookGateway:
    """A pay page at ``pay_url`` and notifications signed with ``secret`` (``whsec_…``)."""

    def __init__(self, name: str, pay_url: str, secret: str) -> None:
        if not pay_url.startswith(("https://", "http://")):
            raise ValueError(f"the pay_url of gateway {name} is not an http(s) URL")
        self.name = name
        self.pay_url = pay_url
        self._key = webhook_key(secret)

    def __repr__(self) -> str:
        return f"WebhookGateway({self.name!r}, {self.pay_url!r})"  # no secret

    def start(self, request: PaymentStart) -> Started:
        """The pay page with the payment in its query (no I/O: the reference comes later)."""
        query = urlencode(
            {
                "payment_id": request.payment_id,
                "amount": request.amount,
                "currency": request.currency.upper(),
                "return_url": request.return_url,
                "cancel_url": request.cancel_url,
            }
        )
        separator = "&" if "?" in self.pay_url else "?"
        return Started(redirect_url=f"{self.pay_url}{separator}{query}", payment_ref="")

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Notification:
        """The notification in ``body``, signed per Standard Webhooks, no more than 300 s
        away from ``now``."""
        msg_id, timestamp = self._check_signature(headers, body)
        check_timestamp(timestamp, now)
        return read_message(self.name, msg_id, timestamp, json_object(body))

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> tuple[str, int]:
        """The message's id and timestamp, once its signature matches."""
        msg_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        header = headers.get("webhook-signature", "")
        for name, value in (("id", msg_id), ("timestamp", stamp), ("signature", header)):
            if not value:
                raise BadNotification(f"the webhook-{name} header is missing")
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > MAX_TIMESTAMP_DIGITS:
            raise BadNotification("the webhook-timestamp header is not a Unix time")
        expected = signature(self._key, msg_id, int(stamp), body)
        found = [hmac.compare_digest(expected, given) for given in _v1_signatures(header)]
        if not any(found):  # every one compared: the time does not tell which matched
            raise BadNotification("the signature does not match")
        return msg_id, int(stamp)


def read_message(
    gateway: str, msg_id: str, timestamp: int, message: Mapping[str, Any]
) -> Notification:
    """The notification of a (verified) message."""
    event_type = text_field(message, "type")
    kind = KINDS.get(event_type, NotificationKind.IGNORE)
    payment_id = payment_ref = currency = ""
    amount = 0
    if kind != NotificationKind.IGNORE:  # an ignored message's data is not read
        data = object_field(message, "data")
        payment_id = text_field(data, "payment_id", required=False)
        payment_ref = text_field(data, "reference", required=False)
        amount, currency = amount_field(data, "amount"), currency_field(data, "currency")
    return Notification(
        gateway=gateway,
        event_id=msg_id,
        event_type=event_type,
        kind=kind,
        payment_id=payment_id,
        payment_ref=payment_ref,
        intent_ref="",
        amount=amount,
        currency=currency,
        created=_created(message, timestamp),
    )


def _created(message: Mapping[str, Any], timestamp: int) -> datetime:
    """The message's ``timestamp`` (ISO 8601, with its offset), or else the signed one."""
    value = message.get("timestamp")
    if value is None:
        return unix_time(timestamp, "webhook-timestamp")
    try:
        created = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        created = None
    if created is None or created.tzinfo is None:
        raise BadNotification("timestamp is not an ISO 8601 time with its offset")
    return created.astimezone(UTC)
