"""Accounts, the ledger and top-ups (``/accounts``, ``/topups``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from printwarden.api.common import (
    Cents,
    Model,
    Name,
    NonNegativeCents,
    PositiveCents,
    Text,
    TxnIdMixin,
    UtcDatetime,
)
from printwarden.domain.ledger import TransactionKind


class SharedAccountFields(Model):
    parent: Annotated[str, StringConstraints(max_length=128)] | None = None
    restricted: bool | None = None
    credit_limit: NonNegativeCents | None = None
    enabled: bool | None = None
    code: Annotated[str, StringConstraints(max_length=64)] | None = None
    pin: Annotated[str, StringConstraints(pattern=r"^\d{0,32}$")] | None = None
    comment: Text | None = None
    users: list[Name] | None = None
    groups: list[Name] | None = None


class SharedAccountIn(SharedAccountFields):
    name: Name


class AccountOut(Model):
    id: int
    kind: str
    name: str
    parent: str | None
    balance: int
    restricted: bool
    credit_limit: int
    enabled: bool
    code: str | None
    has_pin: bool
    users: list[str]
    groups: list[str]
    change_seq: int


class TopUpIn(TxnIdMixin):
    amount: PositiveCents
    comment: Text = ""


class AdjustIn(TxnIdMixin):
    amount: Cents
    comment: Text = ""

    @field_validator("amount")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment must not be zero")
        return value


class TransactionOut(Model):
    seq: int
    txn_id: str
    account_id: int
    amount: int
    kind: TransactionKind
    reference: str
    origin: str
    created_at: UtcDatetime
    comment: str


class BalanceChangeOut(Model):
    transaction: TransactionOut
    balance: int
    duplicate: bool


class TopUpRuleIO(Model):
    group: Name
    amount: Annotated[int, Field(strict=True, gt=0)] = Field(description="Cents per period")
    period: Literal["day", "week", "month"] = "week"


class TopUpsIO(Model):
    """Scheduled credit top-ups, applied by the App Server once per period per member."""

    rules: list[TopUpRuleIO] = Field(default_factory=list, max_length=200)
