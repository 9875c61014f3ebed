"""Request and response bodies of the API. Unknown fields are refused; money is integer cents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, NotRequired, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict

from printwarden.domain.ids import normalize_id
from printwarden.domain.journal import UPLOAD_LIMIT
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
# A document's size in bytes (a provider takes up to its max_document_bytes, 1 GiB by default).
Bytes = Annotated[int, Field(strict=True, ge=0, le=2**50)]
BasisPoints = Annotated[int, Field(strict=True, ge=-10_000, le=100_000)]


def _in_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Every timestamp an answer carries: in UTC with its offset ("…Z"), on every database.
UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemOut(BaseModel):
    """An error: an RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(default="about:blank", description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(default="", description="What went wrong, for people")


class ProblemLocation(BaseModel):
    location: str = Field(description='Where: e.g. "body.entries.3.id" or "query.limit"')
    message: str


class ValidationProblemOut(ProblemOut):
    """A request that failed validation: each error with its location."""

    errors: list[ProblemLocation] = Field(default_factory=list)


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
    expires_at: UtcDatetime


class LockoutOut(Model):
    """A key with failed logins counted against it (in the answering process)."""

    key: str = Field(description="user:NAME, identity:HASH, account:NAME (a shared account's "
                     "PIN), address:IP, device:NAME, person:NAME or token:ID")  # fmt: skip
    kind: Literal["account", "client"]
    user: str | None = Field(description="The user an account key names, when known")
    failures: int
    locked: bool = Field(description="Locked out (not just backing off) until retry_after")
    retry_after: int = Field(description="Seconds until the next attempt is let through")
    last_failure_at: UtcDatetime


class LockoutsOut(Model):
    items: list[LockoutOut]
    total: int = Field(description="Keys with failures, listed or not")


class TokenIn(Model):
    """A component token, bound at creation to what it acts as: a provider token to the
    provider ``name`` (scope ``provider:<name>``, optionally to a ``site``), a device token to
    an existing device (scope ``device:<name>``), a site token to its site (scope)."""

    role: Literal["site", "provider", "device"]
    name: Annotated[str, StringConstraints(max_length=128)] = ""  # the column holds 128
    scope: Annotated[str, StringConstraints(max_length=128)] = ""
    site: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="For a provider token: it may serve only this site's printers"
    )


class TokenOut(Model):
    id: int
    role: str
    name: str
    scope: str
    site: str | None = None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None
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
    created_at: UtcDatetime
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


SiteRef = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9-]*$")]


class PrinterFields(Model):
    site: SiteRef | None = Field(default=None, description='The site it is at ("": none)')
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
    site: str | None = None
    change_seq: int


DeviceKind = Literal["mfd", "terminal", "release-station", "card-reader"]
LoginMethod = Literal["card", "identity", "password"]


class DeviceFields(Model):
    site: SiteRef | None = Field(default=None, description='The site it is at ("": none)')
    kind: DeviceKind | None = None
    printer: Annotated[str, StringConstraints(max_length=128)] | None = None
    location: Text | None = None
    enabled: bool | None = None
    cost_model: CostModelIn | None = None
    login_methods: list[LoginMethod] | None = Field(
        default=None, min_length=1, max_length=3, description="How people log in at it"
    )


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
    login_methods: list[str] = Field(default_factory=list)
    site: str | None = None
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


PaperName = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class JobDecisionIn(JobUsageIn, AccountChoiceIn):
    username: Name
    printer: Name
    job_ref: Annotated[str, StringConstraints(max_length=80)] = ""
    released: bool = Field(
        default=False, description="A held job its owner released: never held again"
    )
    document_name: Text = ""
    document_format: Annotated[str, StringConstraints(max_length=128)] = ""
    document_hash: Annotated[str, StringConstraints(max_length=64, pattern=r"^[0-9a-f]*$")] = Field(
        default="", description="SHA-256 of the document, for duplicate detection"
    )
    size: Annotated[int, Field(strict=True, ge=0)] = 0
    paper_sizes: Annotated[list[PaperName], Field(max_length=64)] = Field(
        default_factory=list, description="Paper sizes the printer has (for fit-to-paper)"
    )
    default_paper: Annotated[str, StringConstraints(max_length=32)] = "A4"


class ConversionOut(Model):
    """What the provider does to the document before it prints."""

    grayscale: bool = False
    duplex: bool = False
    nup: int = 1
    fit_to: str = ""


class JobDecisionOut(Model):
    verdict: Literal["allow", "deny", "hold"]
    cost: int
    reason: str
    denied_by: Literal["", "credit", "account", "printer", "policy"] = Field(
        default="",
        description="What refused a denied job: not enough credit, the user or account, a "
        "disabled printer, or a limit, filter or print script",
    )
    account_id: int
    account: str
    balance: int
    conversion: ConversionOut = Field(default_factory=ConversionOut)
    steps: list[str] = Field(default_factory=list, description="Why: each filter step")
    cost_override: int | None = Field(
        default=None, description="A print script set the cost: charge this when printed"
    )
    approval: bool = Field(default=False, description="Held until an approver releases it")
    approver_group: str = ""
    charge_account_id: int | None = Field(
        default=None, description="A print script chose the account: charge it when printed"
    )


class JobPrintedIn(TxnIdMixin, JobUsageIn, AccountChoiceIn):
    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    username: Name
    printer: Name
    pages: Count  # printed pages must be known
    document_name: Text = ""
    origin: Annotated[str, StringConstraints(max_length=80)] = "app"
    printed_at: datetime | None = None
    cost_override: Annotated[int, Field(strict=True, ge=0)] | None = Field(
        default=None, description="The cost the decision set (a print script's setCost)"
    )
    account_id: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None, description="The account the decision chose (a print script's)"
    )

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not is_valid_origin(value):
            raise ValueError("origin is 'app' or 'site:<id>'")
        return value


class ReattributeIn(Model):
    username: Name


class ReattributeOut(Model):
    username: str
    jobs: list[str] = Field(description="The job refs moved to the user")
    amount: int = Field(description="Charged to the user, refunded to the stand-in")


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
    client_address: Annotated[str, StringConstraints(max_length=64)] = Field(
        default="",
        description="A provider or site: the address of the client it asks for (an IPP "
        "client's), so failures count against that client; ignored from devices",
    )


class DeviceLoginOut(Model):
    authenticated: bool
    username: str | None = None
    admin: bool | None = Field(
        default=None, description="The person is an administrator (e.g. over IPP: sees every job)"
    )
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
    duplex: bool = True
    paper_sizes: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=list, max_length=100, description="e.g. A4, letter; empty: any"
    )
    formats: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list, max_length=100, description="MIME types it prints; empty: any"
    )


class ProviderRegisterIn(Model):
    name: Name
    ipp_url: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_CONTROL)]
    control_url: Annotated[str, StringConstraints(max_length=512, pattern=NO_CONTROL)] = ""
    queues: list[ProviderQueue] = Field(default_factory=list, max_length=1000)
    printers: list[ProviderPrinter] = Field(default_factory=list, max_length=1000)
    control_token: Annotated[str, StringConstraints(max_length=256)] = Field(
        default="",
        deprecated=True,
        description="Ignored and never stored: the server holds no provider credential",
    )


class RefusedPrinter(Model):
    name: str
    reason: str


class ProviderRegisterOut(Model):
    name: str
    unknown_printers: list[str] = Field(
        description="Printers the provider serves that the registry does not know (not charged)"
    )
    refused_printers: list[RefusedPrinter] = Field(
        default_factory=list,
        description="Printers this provider may not serve (another site's): not recorded",
    )


class ProviderOrder(Model):
    """What the server asks a provider to do with a held job, until the provider says."""

    order_id: str
    job_ref: str
    provider_job_id: int
    action: Literal["release", "cancel"]
    printer: str = ""
    copies: int | None = None
    duplex: bool | None = None
    grayscale: bool = False
    convert_to_pdf: bool = False
    account: str = ""
    reason: str = ""


class ProviderOrdersOut(Model):
    orders: list[ProviderOrder]


class ProviderOrderResult(Model):
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    outcome: Literal["done", "refused", "missing"]
    detail: Text = ""


class ProviderOrderResultsIn(Model):
    results: list[ProviderOrderResult] = Field(max_length=1000)


class ProviderOrderResultsOut(Model):
    applied: int = Field(description="Results that settled a pending order")


class ProviderOut(Model):
    name: str
    ipp_url: str
    control_url: str
    queues: list[ProviderQueue]
    printers: list[ProviderPrinter]
    registered_at: UtcDatetime
    last_seen: UtcDatetime


# --- held jobs -------------------------------------------------------------------------------

HeldStatus = Literal["held", "releasing", "printed", "canceled", "expired", "failed"]
Copies = Annotated[int, Field(strict=True, ge=1, le=999)]


class HeldJobReportIn(Model):
    """A provider's word on one held job: new, still held, or how it ended."""

    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    provider_job_id: Annotated[int, Field(ge=1)]
    queue: Name
    queue_kind: Literal["hold", "findme", "direct"]
    username: Name
    printer: Annotated[str, StringConstraints(max_length=128)] = ""
    document_name: Text = ""
    document_format: Annotated[str, StringConstraints(max_length=128)] = ""
    size: Bytes = 0
    pages: Count | None = None
    colour_pages: Count = 0
    copies: Copies = 1
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"
    submitted_at: datetime
    expires_at: datetime
    status: HeldStatus = "held"
    status_reason: Text = ""
    approval: Literal["", "pending"] = Field(
        default="", description="pending: a filter holds the job until an approver releases it"
    )
    approver_group: Annotated[str, StringConstraints(max_length=128)] = ""


class HeldJobReportsIn(Model):
    provider: Name
    jobs: list[HeldJobReportIn] = Field(max_length=1000)


class HeldJobRejection(Model):
    job_ref: str
    reason: str


class HeldJobReportsOut(Model):
    accepted: int
    rejected: list[HeldJobRejection] = Field(default_factory=list)


class HeldJobOut(Model):
    id: str = Field(description="The job's public id (the provider's job UUID)")
    owner: str
    document_name: str
    queue: str
    queue_kind: str
    provider: str
    printer: str
    pages: int | None
    colour_pages: int
    copies: int
    duplex: bool
    grayscale: bool
    paper_size: str
    document_format: str
    size: int
    submitted_at: UtcDatetime
    expires_at: UtcDatetime
    status: HeldStatus
    status_reason: str
    released_to: str
    approval: str = Field(default="", description="pending / approved, when a filter held it")
    cost: int | None = None
    compatible: bool | None = None
    incompatible_reason: str = ""


class HeldJobsOut(Model):
    jobs: list[HeldJobOut]


class HeldJobChangeIn(Model):
    copies: Copies | None = None
    duplex: bool | None = None
    grayscale: bool | None = None


class HeldJobReleaseIn(Model):
    printer: Name
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    account_pin: Annotated[str, StringConstraints(max_length=32)] = ""


class DelegatesIn(Model):
    usernames: list[Name] = Field(max_length=100)


class DelegatesOut(Model):
    usernames: list[str]
    delegated_by: list[str] = Field(description="Users who let you release their jobs")


class RecentJobOut(Model):
    job_ref: str
    printer: str
    document_name: str
    pages: int
    colour_pages: int
    copies: int
    duplex: bool
    paper_size: str
    cost: int
    account: str
    printed_at: UtcDatetime


class MySummaryOut(Model):
    username: str
    full_name: str
    balance: int
    restricted: bool
    held_jobs: int


# --- devices ---------------------------------------------------------------------------------


class ThisDeviceOut(Model):
    name: str
    kind: str
    printer: str | None
    login_methods: list[str]
    session_idle_seconds: int


class DeviceRegisterIn(Model):
    """What a device believes it is (all optional): reported, never applied."""

    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    printer: Name | None = None
    login_methods: list[LoginMethod] | None = Field(default=None, min_length=1, max_length=3)


class DeviceRegisterOut(ThisDeviceOut):
    differs: list[str] = Field(
        description="Reported fields unlike the configuration (kept as an administrator set them)"
    )


class SessionAccountOut(Model):
    name: str = Field(description='"" is the personal account')
    label: str
    needs_pin: bool


class DeviceSessionOut(Model):
    session_id: str
    device: str
    printer: str | None
    username: str
    full_name: str
    account: str
    balance: int
    restricted: bool
    accounts: list[SessionAccountOut]
    expires_at: UtcDatetime


class SessionAccountIn(Model):
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    pin: Annotated[str, StringConstraints(max_length=32)] = ""


class ReleaseRefusal(Model):
    id: str
    document_name: str
    reason: str


class ReleaseAllOut(Model):
    released: list[HeldJobOut]
    refused: list[ReleaseRefusal]


class AllowanceOut(Model):
    price_per_page: int
    allowed_pages: int | None = Field(description="null: the account is not restricted")


class DeviceUsageIn(Model):
    usage_id: str = Field(description="UUID or ULID chosen by the device; a replay is a no-op")
    kind: Literal["copy", "scan", "fax"]
    pages: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    colour_pages: Count = 0
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"

    @field_validator("usage_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return normalize_id(value)


class DeviceUsageOut(Model):
    usage_id: str
    cost: int
    balance: int


# --- sites -----------------------------------------------------------------------------------

SiteName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]


class SiteIn(Model):
    name: SiteName
    description: Text = ""


class SiteOut(Model):
    name: str
    description: str
    mode: str = Field(
        description="online, offline or reconciling as the site last said; offline when it "
        "has not called in for 3 s"
    )
    reachable: bool = Field(description="the site called in within the last 3 s")
    forced_offline: bool
    last_contact: UtcDatetime | None
    journal_backlog: int
    outages: list[dict[str, Any]]
    last_report: dict[str, Any] | None
    key_generation: int = Field(
        description="the site's card key generation; raised by a re-key (POST /sites/{name}/rekey)"
    )
    url: str = Field(
        default="",
        description="where HQ reaches the site's Site Server, as the site last said: HQ rings "
        "the site's providers only through it",
    )


class SiteKeysOut(Model):
    """What a Site Server gets from HQ to work offline: never HQ's secret."""

    site: str
    key_generation: int = Field(description="changes page by page tell which one they used")
    card_key: str = Field(description="hex: the site's own key for card and identity numbers")
    hq_cookie_key: str = Field(
        description="hex: HQ's Ed25519 public key, to check web sessions HQ signed"
    )


class SiteForceIn(Model):
    offline: bool


class SiteStatusIn(Model):
    site: Annotated[str, StringConstraints(max_length=64)] = ""
    url: Annotated[str, StringConstraints(max_length=512, pattern=r"^(https?://[^\s]+)?$")] = Field(
        default="", description="where HQ reaches this Site Server (its providers' relay)"
    )
    mode: Literal["online", "offline", "reconciling"]
    mode_changes: Count = 0
    journal_backlog: Count = 0
    replica_seq: Count = 0
    outages: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    last_report: dict[str, Any] | None = None


class SiteStatusOut(Model):
    forced_offline: bool


class ChangesOut(Model):
    schema_revision: str
    key_generation: int = Field(description="the site card key the entities' hashes are under")
    upto: int
    more: bool
    entities: list[dict[str, Any]]


@with_config(ConfigDict(extra="forbid"))
class JournalEntry(TypedDict):
    """One offline journal entry as a Site Server uploads it (kinds: service/journal.py).

    A plain dict once validated: an upload holds thousands, and model instances per entry
    cost more than applying them (``id`` is normalized by the route)."""

    id: str
    kind: Literal["printed", "usage", "held", "held-report", "unknown-user"]
    at: NotRequired[datetime | None]
    body: NotRequired[dict[str, Any]]


@with_config(ConfigDict(extra="forbid"))
class JournalUpload(TypedDict):
    entries: Annotated[list[JournalEntry], Field(max_length=UPLOAD_LIMIT)]


JOURNAL_UPLOAD: TypeAdapter[JournalUpload] = TypeAdapter(JournalUpload)


class JournalEntryResult(TypedDict):
    """What became of one uploaded entry."""

    id: str
    kind: str
    status: Annotated[
        Literal["applied", "already-applied", "rejected"],
        Field(description="rejected: it changed nothing, and stays rejected if sent again"),
    ]
    detail: Annotated[str, Field(description="What applying it did, or why it was rejected")]


class JournalRejection(TypedDict):
    """An entry HQ rejected (docs/architecture.md, Journal), and why."""

    id: str
    kind: str
    reason: str


class SiteRejectionOut(Model):
    """A journal entry of a site that HQ rejected, as HQ recorded it."""

    id: str
    kind: str
    reason: str
    rejected_at: UtcDatetime


class JournalOut(Model):
    entries: int
    applied: int = Field(description="Entries taken now (each once), rejected ones included")
    already_applied: int
    amounts: dict[str, int]
    unknown_users: list[str]
    failure_mode_jobs: int
    deficits: list[dict[str, Any]]
    notes: list[str]
    rejected: list[JournalRejection] = Field(
        default_factory=list, description="The entries rejected, with the reason"
    )
    results: list[JournalEntryResult] = Field(
        default_factory=list, description="Each entry's id and outcome, in upload order"
    )


class OfflinePoliciesIO(Model):
    credit: Literal["last-known-balance", "allow-overdraw", "allow-all", "deny-restricted"] = (
        "last-known-balance"
    )
    overdraw: NonNegativeCents = 0
    offline_account: Annotated[str, StringConstraints(max_length=128)] = "Offline account"
    allow_account_change: bool = False
    unauthenticated: Literal["assign", "untracked", "cancel"] = "assign"
    unauthenticated_user: Annotated[str, StringConstraints(max_length=128)] = "unknown"
    password: Literal["directory-then-cache", "cache", "deny"] = "directory-then-cache"  # noqa: S105
    password_cache_days: Annotated[int, Field(ge=1, le=365)] = 14


# --- filters and print scripts ------------------------------------------------------------

PrinterScope = Annotated[str, StringConstraints(max_length=128, pattern=r"^[^\x00-\x1f]*$")]


class FilterSetIO(Model):
    """The rules of one scope: ``rules`` and per-group overrides (see docs/filters.md)."""

    rules: dict[str, Any] = Field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = Field(default_factory=dict)


class FiltersOut(Model):
    global_rules: FilterSetIO = Field(description="Rules for every printer")
    printers: dict[str, FilterSetIO] = Field(description="Each printer's own rules")


class ScriptIn(Model):
    source: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
    enabled: bool = True


class ScriptOut(Model):
    printer: str = Field(description='"" for the global script')
    source: str
    enabled: bool


class ScriptsOut(Model):
    scripts: list[ScriptOut]


class ScriptErrorOut(Model):
    script: str
    printer: str
    job_ref: str
    username: str
    message: str
    at: UtcDatetime


class ScriptErrorsOut(Model):
    errors: list[ScriptErrorOut]


class SampleJobIn(Model):
    """A job to dry-run a script against."""

    pages: Count = 1
    colour_pages: Count = 0
    copies: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 1
    cost: Annotated[int, Field(strict=True, ge=0)] = 0
    document_name: Text = "sample.pdf"
    size: Annotated[int, Field(strict=True, ge=0)] = 0
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"
    printer: Annotated[str, StringConstraints(max_length=128)] = "printer"
    is_held: bool = False
    username: Annotated[str, StringConstraints(max_length=128)] = "someone"
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    groups: list[Annotated[str, StringConstraints(max_length=128)]] = Field(default_factory=list)
    balance: int = 0
    restricted: bool = False


class ScriptTestIn(Model):
    source: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
    printer: Annotated[str, StringConstraints(max_length=128)] = Field(
        default="", description='Whose stored properties the dry run reads ("": global)'
    )
    job: SampleJobIn = Field(default_factory=SampleJobIn)


class ScriptTestOut(Model):
    """What the script would do to the sample job (nothing is stored)."""

    error: str
    cancel: bool
    cancel_message: str
    cost: int | None
    grayscale: bool
    duplex: bool
    charge_account: str
    hold: bool
    comment: str
    logs: list[list[str]]
    properties_set: dict[str, str]


class TopUpRuleIO(Model):
    group: Name
    amount: Annotated[int, Field(strict=True, gt=0)] = Field(description="Cents per period")
    period: Literal["day", "week", "month"] = "week"


class TopUpsIO(Model):
    """Scheduled credit top-ups, applied by the App Server once per period per member."""

    rules: list[TopUpRuleIO] = Field(default_factory=list, max_length=200)


class SubmitterIn(Model):
    """Who submits a job at a provider: a user name it was given, or a print URL's token."""

    username: Annotated[str, StringConstraints(max_length=128)] = ""
    print_token: Annotated[str, StringConstraints(max_length=128)] = ""


class SubmitterOut(Model):
    accepted: bool
    username: str = ""
    reason: str = ""
    known: bool = Field(
        default=False,
        description="A user (or print URL) the server knows: the answer may be reused; an "
        "unknown user taken offline under the Unauthenticated Users policy is not",
    )


class PrintTokenIn(Model):
    label: Annotated[str, StringConstraints(max_length=128)] = ""


class PrintTokenOut(Model):
    """A print URL (``/ipp/print/<queue>/u/<token>`` on a token-url queue); ``token`` is
    only in the answer that made it."""

    id: int
    label: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = None
    token: str | None = None
