"""Online payments: what a payment gateway is to printwarden, and who may pay how much.

A person asks to add credit; the server records a pending payment under its own id
(:func:`new_payment_id`), asks a :class:`Gateway` for the page to send them to
(:meth:`Gateway.start`), and later receives the gateway's signed notifications, each read by
:meth:`Gateway.verify` into a :class:`Notification`: credit the payment, reverse it, or
ignore the event. Amounts are integer minor units (cents), never floats. No I/O here.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeGuard

PAYMENT_ID_PREFIX = "pay_"
TOLERANCE = 300  # seconds a notification's timestamp may be away from now, either way
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def _whole(value: object) -> TypeGuard[int]:
    """``value`` is an int (and not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


class NotificationKind(StrEnum):
    """What a gateway's event asks of us."""

    CREDIT = "credit"  # the payment succeeded: credit it (once)
    REVERSE = "reverse"  # refunded or disputed: reverse exactly its credit (once)
    IGNORE = "ignore"  # an event type we do not act on (acknowledged with 200)


@dataclass(frozen=True, slots=True)
class Notification:
    """One verified event of a gateway."""

    gateway: str  # the configured gateway's name
    event_id: str  # the gateway's own event id (Stripe evt_…, webhook-id header)
    event_type: str  # the gateway's type string, e.g. "checkout.session.completed"
    kind: NotificationKind
    payment_id: str  # OUR payment id the gateway echoes back; "" when the event lacks it
    payment_ref: str  # the gateway's id of the payment (Stripe: Checkout Session cs_…); or ""
    intent_ref: str  # the id refunds and disputes name (Stripe: payment_intent pi_…); or ""
    amount: int  # minor units: paid (CREDIT) or reversed (REVERSE); 0 for IGNORE
    currency: str  # ISO 4217, upper case ("" when an ignored event has none)
    created: datetime  # when the gateway says the event happened (UTC)


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """What a gateway needs to start a payment. ``amount`` is what the person is charged:
    the credit plus its fee (:meth:`PaymentRules.total`)."""

    payment_id: str
    amount: int
    currency: str
    username: str
    description: str
    return_url: str  # where the gateway sends the person back after paying (has our id)
    cancel_url: str


@dataclass(frozen=True, slots=True)
class Started:
    """Where to send the person, and the gateway's id of the payment when known now."""

    redirect_url: str
    payment_ref: str  # Stripe: the Checkout Session's id; "" if the gateway has none yet


class BadNotification(ValueError):
    """A notification that is not to be trusted or not understood: bad or missing signature,
    a timestamp too old or in the future, a malformed body. The message says which (and
    never contains a secret)."""


class GatewayUnavailable(Exception):
    """The gateway could not be reached, or refused to start the payment (the message is
    for the person)."""


class Gateway(Protocol):
    """A payment gateway: starts payments and reads its own signed notifications."""

    name: str

    def start(self, request: PaymentStart) -> Started:
        """Where to send the person to pay. May do network I/O (sync, in a worker thread)."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Notification:
        """The notification in ``body`` (the raw bytes; ``headers`` with lower-case names),
        checked against the gateway's signature and ``now`` (Unix time). Raises
        :class:`BadNotification`."""
        ...


# --- reading notifications (the gateways' shared checks) ---------------------------------


def check_timestamp(timestamp: int, now: float, tolerance: int = TOLERANCE) -> None:
    """Refuse a signed timestamp more than ``tolerance`` seconds before or after ``now``."""
    if timestamp < now - tolerance:
        raise BadNotification(f"the timestamp is stale: more than {tolerance} s old")
    if timestamp > now + tolerance:
        raise BadNotification(f"the timestamp is in the future: more than {tolerance} s ahead")


def json_object(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``."""
    try:
        found = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):  # JSONDecodeError is a ValueError
        raise BadNotification("the body is not JSON") from None
    except RecursionError:
        raise BadNotification("the body is nested too deeply") from None
    if not isinstance(found, dict):
        raise BadNotification("the body is not a JSON object")
    return found


def object_field(found: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The JSON object ``found[name]``."""
    value = found.get(name)
    if not isinstance(value, Mapping):
        raise BadNotification(f"{name} is missing or not an object")
    return value


def text_field(found: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    """The string ``found[name]``: required non-empty, or else "" when missing or null."""
    value = found.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadNotification(f"{name} is missing or not a string")
    return value


def amount_field(found: Mapping[str, Any], name: str) -> int:
    """The amount ``found[name]``: a whole number of minor units above zero."""
    value = found.get(name)
    if not _whole(value) or value <= 0:
        raise BadNotification(f"{name} is missing or not a whole number above zero")
    return value


def currency_field(found: Mapping[str, Any], name: str) -> str:
    """The ISO 4217 code ``found[name]``, upper case."""
    value = found.get(name)
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise BadNotification(f"{name} is missing or not a currency code")
    return value.upper()


def unix_time(value: object, name: str) -> datetime:
    """The Unix time ``value`` (whole seconds) as an aware UTC datetime."""
    if not _whole(value):
        raise BadNotification(f"{name} is missing or not a Unix time")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadNotification(f"{name} is out of range") from None


# --- who may pay how much -----------------------------------------------------------------


class PaymentRefused(ValueError):
    """A payment the rules do not allow; the message is for the person."""


class BelowMinimum(PaymentRefused):
    """Less than the smallest amount that may be paid online (``limit``, minor units)."""

    def __init__(self, limit: int) -> None:
        super().__init__("the amount is less than the smallest amount you can pay online")
        self.limit = limit


class AboveMaximum(PaymentRefused):
    """More than the largest amount that may be paid online (``limit``, minor units)."""

    def __init__(self, limit: int) -> None:
        super().__init__("the amount is more than the largest amount you can pay online")
        self.limit = limit


class GroupMayNotPay(PaymentRefused):
    """The person is in none of the groups that may pay online."""

    def __init__(self) -> None:
        super().__init__("your group may not add credit online")


@dataclass(frozen=True, slots=True)
class PaymentRules:
    """Online payments' limits (minor units), who may pay (``groups``; empty: everyone) and
    the fee added on top of the credit: ``fee_fixed`` plus ``fee_basis_points`` of it."""

    min_amount: int
    max_amount: int
    groups: frozenset[str] = frozenset()
    fee_fixed: int = 0
    fee_basis_points: int = 0

    def __post_init__(self) -> None:
        numbers = (self.min_amount, self.max_amount, self.fee_fixed, self.fee_basis_points)
        if not all(_whole(number) for number in numbers):
            raise ValueError("payment limits and fees are whole numbers of minor units")
        if not 0 < self.min_amount <= self.max_amount:
            raise ValueError("payment limits need 0 < min_amount <= max_amount")
        if self.fee_fixed < 0 or not 0 <= self.fee_basis_points <= 10_000:
            raise ValueError("fees need fee_fixed >= 0 and 0 <= fee_basis_points <= 10000")

    def check(self, amount: int, user_groups: Collection[str]) -> None:
        """Raise :class:`PaymentRefused` unless a member of ``user_groups`` may pay
        ``amount`` (the credit, without the fee) online."""
        if self.groups and not self.groups.intersection(user_groups):
            raise GroupMayNotPay()
        if not _whole(amount):
            raise PaymentRefused("the amount must be a whole number of cents")
        if amount < self.min_amount:
            raise BelowMinimum(self.min_amount)
        if amount > self.max_amount:
            raise AboveMaximum(self.max_amount)

    def fee(self, amount: int) -> int:
        """The fee charged on top of a credit of ``amount``: the fixed part plus the basis
        points of ``amount``, rounded up to a whole minor unit."""
        return self.fee_fixed + -(-amount * self.fee_basis_points // 10_000)

    def total(self, amount: int) -> int:
        """What the person pays for a credit of ``amount``."""
        return amount + self.fee(amount)


def new_payment_id() -> str:
    """A new payment's id: ``pay_`` and 24 URL-safe random characters (144 bits)."""
    return PAYMENT_ID_PREFIX + secrets.token_urlsafe(18)
