"""Request and response bodies of the API. Unknown fields are refused; money is integer cents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from printwarden.domain.ids import normalize_id
from printwarden.domain.ledger import TransactionKind, is_valid_origin

T = TypeVar("T")

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=NO_CONTROL)
]
Text = Annotated[str, StringConstraints(max_length=256, pattern=NO_CONTROL)]
Cents = Annotated[int, Field(strict=True, ge=-(10**12), le=10**12)]
PositiveCents = Annotated[int, Field(strict=True, gt=0, le=10**12)]
NonNegativeCents = Annotated[int, Field(strict=True, ge=0, le=10**12)]
Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
BasisPoints = Annotated[int, Field(strict=True, ge=-10_000, le=100_000)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TxnIdMixin(Model):
    txn_id: str = Field(
        description="Caller-supplied UUID (v7 preferred) or ULID; a replay is a no-op"
    )

    @field_validator("txn_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return normalize_id(value)


# --- auth -------------------------------------------------------------------------------------


class LoginIn(Model):
    username: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class LoginOut(Model):
    token: str
    role: str
    expires_at: datetime


class TokenIn(Model):
    role: Literal["site", "provider", "device"]
    name: Annotated[str, StringConstraints(max_length=128)] = ""  # the column holds 128
    scope: Annotated[str, StringConstraints(max_length=128)] = ""


class TokenOut(Model):
    id: int
    role: str
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None = None
    token: str | None = Field(default=None, description="Shown once, when the token is created")


# --- users and groups -------------------------------------------------------------------------


class UserFields(Model):
    full_name: Text | None = None
    email: Text | None = None
    groups: list[Name] | None = None
    cards: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] | None = None
    identity_number: Annotated[str, StringConstraints(max_length=128)] | None = None
    pin: Annotated[str, StringConstraints(pattern=r"^\d{0,32}$")] | None = None
    password: Annotated[str, StringConstraints(max_length=1024)] | None = None
    restricted: bool | None = None
    credit_limit: NonNegativeCents | None = None
    enabled: bool | None = None
    is_admin: bool | None = None


class UserIn(UserFields):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[^\s/\x00-\x1f\x7f]{1,128}$")
    ]


class UserOut(Model):
    id: int
    username: str
    full_name: str
    email: str
    groups: list[str]
    card_count: int
    has_pin: bool
    has_password: bool
    is_admin: bool
    enabled: bool
    source: str
    restricted: bool
    credit_limit: int
    balance: int
    account_id: int
    change_seq: int


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class GroupIn(Model):
    name: Name


class GroupOut(Model):
    name: str
    members: int
    source: str


class ImportReport(Model):
    created: int
    updated: int


# --- accounts and the ledger ------------------------------------------------------------------


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
    created_at: datetime
    comment: str


class BalanceChangeOut(Model):
    transaction: TransactionOut
    balance: int
    duplicate: bool


# --- printers and devices ---------------------------------------------------------------------


class PagePricesIn(Model):
    grey_simplex: NonNegativeCents = 0
    grey_duplex: NonNegativeCents = 0
    colour_simplex: NonNegativeCents = 0
    colour_duplex: NonNegativeCents = 0


class CostModelIn(Model):
    sizes: dict[Name, PagePricesIn] = Field(default_factory=dict)
    base_cost: NonNegativeCents = 0
    group_modifiers: dict[Name, BasisPoints] = Field(default_factory=dict)


class PrinterFields(Model):
    location: Text | None = None
    enabled: bool | None = None
    hold_for_release: bool | None = None
    colour: bool | None = None
    cost_model: CostModelIn | None = None


class PrinterIn(PrinterFields):
    name: Name


class PrinterOut(Model):
    id: int
    name: str
    location: str
    enabled: bool
    hold_for_release: bool
    colour: bool
    cost_model: dict[str, Any]
    change_seq: int


DeviceKind = Literal["mfd", "terminal", "release-station", "card-reader"]


class DeviceFields(Model):
    kind: DeviceKind | None = None
    printer: Annotated[str, StringConstraints(max_length=128)] | None = None
    location: Text | None = None
    enabled: bool | None = None
    cost_model: CostModelIn | None = None


class DeviceIn(DeviceFields):
    name: Name
    kind: DeviceKind


class DeviceOut(Model):
    id: int
    name: str
    kind: str
    printer: str | None
    location: str
    enabled: bool
    cost_model: dict[str, Any]
    change_seq: int


# --- jobs -------------------------------------------------------------------------------------


class JobUsageIn(Model):
    pages: Count | None = Field(default=None, description="Pages per copy; null if unknown")
    colour_pages: Count = 0
    copies: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 1
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"


class AccountChoiceIn(Model):
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    account_code: Annotated[str, StringConstraints(max_length=64)] = ""
    account_pin: Annotated[str, StringConstraints(max_length=32)] = ""


class JobDecisionIn(JobUsageIn, AccountChoiceIn):
    username: Name
    printer: Name
    job_ref: Annotated[str, StringConstraints(max_length=80)] = ""


class JobDecisionOut(Model):
    verdict: Literal["allow", "deny", "hold"]
    cost: int
    reason: str
    account_id: int
    account: str
    balance: int


class JobPrintedIn(TxnIdMixin, JobUsageIn, AccountChoiceIn):
    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    username: Name
    printer: Name
    pages: Count  # printed pages must be known
    document_name: Text = ""
    origin: Annotated[str, StringConstraints(max_length=80)] = "app"
    printed_at: datetime | None = None

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not is_valid_origin(value):
            raise ValueError("origin is 'app' or 'site:<id>'")
        return value


class JobPrintedOut(Model):
    job_ref: str
    cost: int
    account_id: int
    balance: int
    transaction: TransactionOut
    duplicate: bool


# --- device authentication --------------------------------------------------------------------


class DeviceLoginIn(Model):
    method: Literal["card", "identity", "password"]
    card_number: Annotated[str, StringConstraints(max_length=128)] = ""
    identity_number: Annotated[str, StringConstraints(max_length=128)] = ""
    pin: Annotated[str, StringConstraints(max_length=32)] = ""
    username: Annotated[str, StringConstraints(max_length=128)] = ""
    password: Annotated[str, StringConstraints(max_length=1024)] = ""


class DeviceLoginOut(Model):
    authenticated: bool
    username: str | None = None
    full_name: str | None = None
    balance: int | None = None
    restricted: bool | None = None
    shared_accounts: list[str] = Field(default_factory=list)


class HealthOut(Model):
    status: Literal["ok"]
    version: str
    database: str
    change_seq: int


class SyncReportOut(Model):
    created: int
    updated: int
    unchanged: int
    disabled: int


# --- print providers --------------------------------------------------------------------------


class ProviderQueue(Model):
    name: Name
    kind: Literal["direct", "hold", "findme"]
    printer: Annotated[str, StringConstraints(max_length=128)] = ""


class ProviderPrinter(Model):
    name: Name
    colour: bool = True


class ProviderRegisterIn(Model):
    name: Name
    ipp_url: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_CONTROL)]
    control_url: Annotated[str, StringConstraints(max_length=512, pattern=NO_CONTROL)] = ""
    queues: list[ProviderQueue] = Field(default_factory=list, max_length=1000)
    printers: list[ProviderPrinter] = Field(default_factory=list, max_length=1000)


class ProviderRegisterOut(Model):
    name: str
    unknown_printers: list[str] = Field(
        description="Printers the provider serves that the registry does not know (not charged)"
    )


class ProviderOut(Model):
    name: str
    ipp_url: str
    control_url: str
    queues: list[ProviderQueue]
    printers: list[ProviderPrinter]
    registered_at: datetime
    last_seen: datetime
