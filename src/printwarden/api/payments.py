"""Payments, top-up cards, cash kiosks and refund requests (``/me/payments``,
``/payments/{gateway}/notify``, ``/topup-cards``, ``/device/kiosk``, ``/refund-requests``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Model, NonNegativeCents, PositiveCents, UtcDatetime

CodeText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
BatchId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class RedeemIn(Model):
    code: CodeText = Field(description="the card's code; dashes, spaces and case do not matter")


class RedeemedOut(Model):
    amount: int
    balance: int
    batch_id: str


class BatchIn(Model):
    batch_id: BatchId
    value: PositiveCents
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="the server's currency when left out"
    )
    valid_until: dt.date | None = Field(default=None, description="the last day it redeems")
    count: Annotated[int, Field(strict=True, ge=1, le=10_000)]


class BatchOut(Model):
    batch_id: str
    value: int
    currency: str
    valid_until: dt.date | None
    count: int
    redeemed: int
    created_by: str
    created_at: UtcDatetime
    expired_at: UtcDatetime | None


class BatchCreatedOut(Model):
    batch: BatchOut
    codes: list[str] = Field(description="shown this once: only keyed hashes are kept")


class ExpiredOut(Model):
    expired: int


class KioskOut(Model):
    accepting: bool = Field(description="a person is logged in: the acceptor may take cash")
    session: dict[str, str | int] | None
    currency: str
    denominations: list[int]


class InsertionIn(Model):
    insertion_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:._-]{1,120}$")]
    amount: PositiveCents
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    session_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class InsertionOut(Model):
    amount: int
    balance: int
    username: str
    new: bool


class CashBoxOut(Model):
    device: str
    insertions: int
    recorded: int
    since: UtcDatetime | None


class CollectionIn(Model):
    counted: NonNegativeCents
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class CollectionOut(Model):
    device: str
    counted: int
    recorded: int
    difference: int
    insertions: int
    collected_by: str
    collected_at: UtcDatetime
    note: str


class PaymentOptionsOut(Model):
    available: bool = Field(description="false at a site that is offline: payments need HQ")
    reason: str = ""
    gateways: list[dict[str, str]]
    currency: str
    min_amount: int
    max_amount: int
    fee_fixed: int
    fee_basis_points: int


class PaymentIn(Model):
    gateway: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")]
    amount: PositiveCents = Field(description="the credit wanted; any fee comes on top")


class PaymentOut(Model):
    id: str
    gateway: str
    username: str = ""
    amount: int
    fee: int
    currency: str
    status: Literal["pending", "paid", "reversed", "canceled"]
    reversed: int = Field(default=0, description="taken back so far (refunds, disputes)")
    created_at: UtcDatetime
    updated_at: UtcDatetime


class PaymentStartedOut(Model):
    payment: PaymentOut
    redirect_url: str


class PaymentEventOut(Model):
    gateway: str
    event_id: str
    event_type: str
    payment_id: str
    amount: int
    currency: str
    outcome: str
    detail: str
    received_at: UtcDatetime


class RefundRequestIn(Model):
    txn_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="the charge (a job's or a copy's transaction) to refund"
    )
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class RefundDecisionIn(Model):
    answer: Annotated[str, StringConstraints(max_length=500)] = ""


class RefundRequestOut(Model):
    id: int
    username: str
    txn_id: str
    amount: int
    reason: str
    status: Literal["pending", "approved", "refused"]
    automatic: bool
    answer: str
    decided_by: str
    requested_at: UtcDatetime
    decided_at: UtcDatetime | None
