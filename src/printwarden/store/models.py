"""SQLAlchemy models. Rows a Site Server needs carry ``change_seq`` for "changes since N"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Replicated:
    """Mixin: the change sequence number of the row's latest change."""

    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)


class SoftDeleted:
    """Mixin: deletion is a change too, so sites learn of it ("changes since N")."""

    deleted_at: Mapped[datetime | None]


class ChangeCounter(Base):
    """One row holding the last change sequence number handed out."""

    __tablename__ = "change_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class UserRow(Replicated, SoftDeleted, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    full_name: Mapped[str] = mapped_column(String(256), default="")
    email: Mapped[str] = mapped_column(String(256), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="internal")
    identity_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The identity number sealed under a key derived from HQ's secret (keys.seal), so HQ can
    # hash it for a site; never sent to a site. None: stored before migration 0009.
    identity_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    pin_hash: Mapped[str | None] = mapped_column(String(256))
    password_hash: Mapped[str | None] = mapped_column(String(256))  # never sent to a site
    # A random value renewed with every password change: web sessions end when it changes.
    # Replicated instead of the password hash (it says nothing about the password).
    password_stamp: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CardRow(Replicated, Base):
    __tablename__ = "user_cards"
    card_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The normalized number sealed (keys.seal), at HQ only; None: stored before 0009.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class MailAddressRow(Replicated, Base):
    """An address a user's mail to Email to Print comes from, besides the directory's
    ``users.email``: added by an administrator, or by the user confirming a message sent
    from it. Lower-case; replicated with its user (as cards are)."""

    __tablename__ = "mail_addresses"
    address: Mapped[str] = mapped_column(String(256), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class GroupRow(Replicated, SoftDeleted, Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="internal")


class MembershipRow(Replicated, Base):
    __tablename__ = "group_members"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AccountRow(Replicated, SoftDeleted, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("credit_limit >= 0", name="credit_limit_non_negative"),
        CheckConstraint("kind IN ('personal', 'shared')", name="kind_known"),
        UniqueConstraint("kind", "name"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    restricted: Mapped[bool] = mapped_column(Boolean, default=True)
    credit_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(256))
    comment: Mapped[str] = mapped_column(Text, default="")


class AccountGrantRow(Replicated, Base):
    """Access to a shared account, for one user or one group."""

    __tablename__ = "account_grants"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="exactly_one_grantee"),
        UniqueConstraint("account_id", "user_id", "group_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))


class TransactionRow(Base):
    """A ledger entry. ``txn_id`` is caller-supplied and UNIQUE: the idempotency guarantee."""

    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_account_seq", "account_id", "seq"),)
    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    txn_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(Id)  # an account (never deleted), no FK: see 0007
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(256), default="")
    origin: Mapped[str] = mapped_column(String(80), default="app")
    created_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text, default="")


class PrinterRow(Replicated, SoftDeleted, Base):
    __tablename__ = "printers"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    location: Mapped[str] = mapped_column(String(256), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    hold_for_release: Mapped[bool] = mapped_column(Boolean, default=False)
    colour: Mapped[bool] = mapped_column(Boolean, default=True)
    cost_model: Mapped[dict[str, Any]] = mapped_column(JSON)
    site: Mapped[str | None] = mapped_column(String(64), index=True)
    # When to ask the user before printing (domain.questions.ClientRules; {}: never).
    client_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeviceRow(Replicated, SoftDeleted, Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    printer_id: Mapped[int | None] = mapped_column(ForeignKey("printers.id"))
    location: Mapped[str] = mapped_column(String(256), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cost_model: Mapped[dict[str, Any]] = mapped_column(JSON)
    login_methods: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["card", "identity", "password"]
    )
    site: Mapped[str | None] = mapped_column(String(64), index=True)
    # The device's network scanner (eSCL / AirScan), which the server can drive itself.
    escl_url: Mapped[str] = mapped_column(String(512), default="")


class PrintJobRow(Base):
    """A job the service was told about: decided, and once printed, charged."""

    __tablename__ = "print_jobs"
    __table_args__ = (Index("ix_print_jobs_user_printed_at", "user_id", "printed_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_ref: Mapped[str] = mapped_column(String(80), unique=True)
    # Users, printers and accounts are never deleted: no foreign keys (see migration 0007).
    user_id: Mapped[int] = mapped_column(Id)  # indexed with printed_at
    printer_id: Mapped[int] = mapped_column(Id)
    account_id: Mapped[int] = mapped_column(Id)
    pages: Mapped[int] = mapped_column(Integer)
    colour_pages: Mapped[int] = mapped_column(Integer)
    copies: Mapped[int] = mapped_column(Integer)
    sheets: Mapped[int] = mapped_column(Integer)
    duplex: Mapped[bool] = mapped_column(Boolean)
    paper_size: Mapped[str] = mapped_column(String(32))
    document_name: Mapped[str] = mapped_column(String(256), default="")
    cost: Mapped[int] = mapped_column(BigInteger)
    txn_id: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(80), default="app")
    printed_at: Mapped[datetime]
    cost_overridden: Mapped[bool] = mapped_column(Boolean, default=False)  # a print script's
    # The name the job was sent under when a stand-in was charged (an unknown user offline).
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)


class ApiTokenRow(Base):
    """A bearer token, stored as a hash. Component tokens carry a role; sessions a user.

    Provider and device tokens replicate to sites (by ``change_seq``), so a Site Server can
    authenticate its components while the App Server is unreachable.
    """

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    scope: Mapped[str] = mapped_column(String(128), default="")
    # A provider token's site: it may claim only printers of that site (or of none).
    site: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True, default=0)


class ProviderRow(Replicated, Base):
    """A Print Provider that registered itself: where it answers and what queues it has.

    ``control_url`` is its doorbell (``POST {control_url}/wake``, which carries no secret):
    the server holds no credential of a provider (see ``HeldJobRow.pending_order``).
    """

    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    ipp_url: Mapped[str] = mapped_column(String(512))
    control_url: Mapped[str] = mapped_column(String(512))
    queues: Mapped[list[Any]] = mapped_column(JSON)
    printers: Mapped[list[Any]] = mapped_column(JSON)
    registered_at: Mapped[datetime]
    last_seen: Mapped[datetime]


class HeldJobRow(Replicated, Base):
    """A job waiting in a provider's spool for its owner to release it (Secure Print, Find-Me).

    ``job_ref`` is the provider's job UUID and the job's public id. ``status`` moves from
    ``held`` to ``releasing`` (released; the provider told) to ``printed``, or ends as
    ``canceled``, ``expired`` or ``failed``.

    ``order_id``/``pending_order``: what the server ordered the provider to do with the job
    (release with a printer and settings, or cancel) and the provider has not confirmed yet;
    the provider fetches its pending orders with its own token (``order_id`` "" = none).
    """

    __tablename__ = "held_jobs"
    __table_args__ = (
        Index("ix_held_jobs_user_status", "user_id", "status"),
        Index("ix_held_jobs_provider_order", "provider_id", "order_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_ref: Mapped[str] = mapped_column(String(80), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    provider_job_id: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(64))
    queue_kind: Mapped[str] = mapped_column(String(16))
    printer: Mapped[str] = mapped_column(String(128), default="")
    document_name: Mapped[str] = mapped_column(String(256), default="")
    document_format: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int | None] = mapped_column(Integer)
    colour_pages: Mapped[int] = mapped_column(Integer, default=0)
    copies: Mapped[int] = mapped_column(Integer, default=1)
    duplex: Mapped[bool] = mapped_column(Boolean, default=False)
    grayscale: Mapped[bool] = mapped_column(Boolean, default=False)
    paper_size: Mapped[str] = mapped_column(String(32), default="A4")
    submitted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="held")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    released_to: Mapped[str] = mapped_column(String(128), default="")
    released_by: Mapped[str] = mapped_column(String(128), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    updated_at: Mapped[datetime]
    # A filter held the job for approval: "" (none), "pending" or "approved"; who may approve
    # besides administrators.
    approval: Mapped[str] = mapped_column(String(16), default="")
    approver_group: Mapped[str] = mapped_column(String(128), default="")
    order_id: Mapped[str] = mapped_column(String(40), default="")
    pending_order: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The open question about it (domain.questions.OpenQuestion; {}: none), and the comment
    # its owner gave with the answer.
    question: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    answer_by: Mapped[datetime | None] = mapped_column(index=True)  # the open question's
    comment: Mapped[str] = mapped_column(Text, default="")


class ReleaseDelegateRow(Replicated, Base):
    """``delegate`` may see and release ``owner``'s held jobs."""

    __tablename__ = "release_delegates"
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DeviceSessionRow(Base):
    """A person logged in at a device; ``account_id`` None means their personal account."""

    __tablename__ = "device_sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class DeviceUsageRow(Base):
    """Walk-up copy, scan or fax usage a device reported, charged once by ``usage_id``."""

    __tablename__ = "device_usage"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    usage_id: Mapped[str] = mapped_column(String(40), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    pages: Mapped[int] = mapped_column(Integer)
    colour_pages: Mapped[int] = mapped_column(Integer)
    duplex: Mapped[bool] = mapped_column(Boolean)
    paper_size: Mapped[str] = mapped_column(String(32))
    cost: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class SettingRow(Replicated, Base):
    """A configuration value (policies and the like), replicated to sites."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


class SiteRow(Base):
    """A site with its own Site Server. ``status`` is what the Site Server last reported
    (mode, journal backlog, outages, last reconciliation report)."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    forced_offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which card key the site has (keys.site_card_key): raised to re-key a site.
    key_generation: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    last_contact: Mapped[datetime | None]


class JournalEntryRow(Base):
    """A site's offline journal entry applied at the App Server: each id applies once."""

    __tablename__ = "journal_applied"
    entry_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(Text, default="")
    applied_at: Mapped[datetime]
    # Rejected (``outcome`` says why): recorded all the same, so a re-upload gets the same
    # answer and the rest of the journal is never held up by it.
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)


class PublishedVersionRow(Base):
    """A version of prices or of a print script that HQ published (sites replicate what HQ
    publishes): a printer's or device's cost model (``kind`` "printer"/"device", ``subject``
    its name, ``content`` the model) or a print script's source (``kind`` "script",
    ``subject`` its printer, "" for every printer; only the digest is kept). HQ explains a
    site's offline charge with these (domain/charges.py)."""

    __tablename__ = "published_versions"
    __table_args__ = (UniqueConstraint("kind", "subject", "digest"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime]


class RecentDocumentRow(Base):
    """A document a user printed recently, by content hash: duplicate job detection."""

    __tablename__ = "recent_documents"
    __table_args__ = (Index("ix_recent_documents_user_digest", "username", "digest"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64))
    job_ref: Mapped[str] = mapped_column(String(80))
    printer: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class ScriptValueRow(Base):
    """The print scripts' key/value store (``inputs.utils.getProperty``/``setProperty``)."""

    __tablename__ = "script_values"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)  # "<script>\x1f<key>"
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ScriptErrorRow(Base):
    """A print script that failed on a job (the job went on under the other rules)."""

    __tablename__ = "script_errors"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    script: Mapped[str] = mapped_column(String(160))
    printer: Mapped[str] = mapped_column(String(128))
    job_ref: Mapped[str] = mapped_column(String(80))
    username: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(index=True)


class PrintTokenRow(Replicated, Base):
    """A person's print URL (``/ipp/print/<queue>/u/<token>`` on a token-url queue), stored
    as the SHA-256 of its token. Replicated to every site (as users are), so an offline Site
    Server tells its providers whose a print URL is; making and revoking one is a change
    (``change_seq``), using it is not (``last_used_at`` reaches sites only with a change)."""

    __tablename__ = "print_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebPrintRow(Base):
    """A document handed to this server through Web Print or Email to Print: kept here
    (never replicated: a site's stay at the site) until its provider fetches it.

    ``id`` becomes the provider's job UUID, so the job's held-job record (``job_ref``) and
    its charge name the submission. ``stage``: ``domain/web_print.py`` ``Stage``.
    ``document`` is the rendered PDF's file name in the server's web-print directory ("" until
    rendered, and again once its provider has it). ``source_key``: what makes a retried
    submission the same one (an e-mail's message and attachment), None for an upload."""

    __tablename__ = "web_prints"
    __table_args__ = (
        Index("ix_web_prints_user_created", "user_id", "created_at"),
        Index("ix_web_prints_provider_stage", "provider", "stage"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), default="web")
    source_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    provider: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(64))
    queue_kind: Mapped[str] = mapped_column(String(16))
    printer: Mapped[str] = mapped_column(String(128), default="")
    filename: Mapped[str] = mapped_column(String(256), default="")
    detected: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submit: Mapped[bool] = mapped_column(Boolean, default=False)  # submit once rendered
    stage: Mapped[str] = mapped_column(String(16), default="rendering")
    detail: Mapped[str] = mapped_column(Text, default="")
    pages: Mapped[int | None] = mapped_column(Integer)
    colour_pages: Mapped[int] = mapped_column(Integer, default=0)
    paper_size: Mapped[str] = mapped_column(String(32), default="")
    cost: Mapped[int | None] = mapped_column(BigInteger)
    document: Mapped[str] = mapped_column(String(80), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    provider_job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ScanRow(Base):
    """A scan handed to this server (never replicated: a site's stay at the site until
    delivered). ``stage``: ``domain/scanning.py`` ``Stage``. The pages and the finished
    document are files in the server's scan directory, under ``id``. ``token_hash``: the
    one-time upload token's hash (cleared once finished). ``download_until``: while its
    download link works (the link's key is derived from the id: ``usecases/scanning.py``).
    ``usage_id`` is the charge's ledger id."""

    __tablename__ = "scans"
    __table_args__ = (
        Index("ix_scans_stage_next", "stage", "next_attempt_at"),
        Index("ix_scans_user_created", "user_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int] = mapped_column(Id)
    username: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(256), default="")
    account_id: Mapped[int] = mapped_column(Id)
    device: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(80))
    destination: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16), default="device")  # device or escl
    stage: Mapped[str] = mapped_column(String(16), default="scanning")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    usage_id: Mapped[str] = mapped_column(String(40), unique=True)
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    detail: Mapped[str] = mapped_column(Text, default="")
    delivered_to: Mapped[str] = mapped_column(Text, default="")
    notice: Mapped[str] = mapped_column(String(16), default="")  # "", pending, sent, refused
    download_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class PaymentRow(Base):
    """A payment a person started through a gateway (``id`` ours, ``pay_…``). Credited once
    (``credit_txn``) whatever the gateway sends, and reversed at most once."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_user_created", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(Id)
    account_id: Mapped[int] = mapped_column(Id)
    amount: Mapped[int] = mapped_column(BigInteger)  # credited
    fee: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # pending, paid, reversed (refunded or disputed), canceled
    status: Mapped[str] = mapped_column(String(16))
    payment_ref: Mapped[str] = mapped_column(String(128), default="")
    intent_ref: Mapped[str] = mapped_column(String(128), default="", index=True)
    credit_txn: Mapped[str] = mapped_column(String(40), default="")
    reversal_txn: Mapped[str] = mapped_column(String(40), default="")  # the latest
    reversed: Mapped[int] = mapped_column(BigInteger, default=0)  # taken back so far
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentEventRow(Base):
    """A gateway's notification that verified, once per (gateway, event id), with what it
    did: the payments log."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    gateway: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    intent_ref: Mapped[str] = mapped_column(String(128), default="", index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # credited, reversed, waiting (a reversal before its payment), ignored, mismatch
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(index=True)


class VoucherBatchRow(Replicated, Base):
    """A batch of top-up cards: each card's value, currency and last day."""

    __tablename__ = "voucher_batches"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    valid_until: Mapped[datetime | None]  # the end of the last day, UTC
    count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    expired_at: Mapped[datetime | None]


class VoucherRow(Replicated, Base):
    """One top-up card: only a keyed hash of its code is kept (``keys.voucher_key``)."""

    __tablename__ = "vouchers"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id"), index=True)
    redeemed_at: Mapped[datetime | None]
    redeemed_by: Mapped[int | None] = mapped_column(Id)
    redeemed_where: Mapped[str] = mapped_column(String(80), default="")
    txn_id: Mapped[str] = mapped_column(String(40), default="")
    expired_at: Mapped[datetime | None]


class CashInsertionRow(Base):
    """A note or coin a kiosk's acceptor took, credited once by ``insertion_id``."""

    __tablename__ = "cash_insertions"
    __table_args__ = (Index("ix_cash_insertions_device_created", "device_id", "created_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    insertion_id: Mapped[str] = mapped_column(String(160), unique=True)  # device:acceptor's id
    device_id: Mapped[int] = mapped_column(Id)
    user_id: Mapped[int] = mapped_column(Id)
    account_id: Mapped[int] = mapped_column(Id)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    txn_id: Mapped[str] = mapped_column(String(40), unique=True)
    origin: Mapped[str] = mapped_column(String(80), default="app")
    created_at: Mapped[datetime]


class CashCollectionRow(Base):
    """A kiosk's cash box emptied: what was counted beside what the insertions recorded."""

    __tablename__ = "cash_collections"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(Id, index=True)
    counted: Mapped[int] = mapped_column(BigInteger)
    recorded: Mapped[int] = mapped_column(BigInteger)
    insertions: Mapped[int] = mapped_column(Integer)
    last_insertion: Mapped[int] = mapped_column(BigInteger)  # cash_insertions.id covered
    collected_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    collected_at: Mapped[datetime]


class RefundRequestRow(Base):
    """A person's request to have one charge refunded, and an administrator's answer."""

    __tablename__ = "refund_requests"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    charge_txn: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(Id, index=True)
    account_id: Mapped[int] = mapped_column(Id)
    amount: Mapped[int] = mapped_column(BigInteger)  # what the refund gives back (> 0)
    reason: Mapped[str] = mapped_column(Text, default="")
    # pending, approved, refused
    status: Mapped[str] = mapped_column(String(16), index=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_txn: Mapped[str] = mapped_column(String(40), default="")
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class EndedWebSessionRow(Base):
    """A web session logged out before its cookie expires: refused by every process."""

    __tablename__ = "ended_web_sessions"
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    ends_at: Mapped[datetime] = mapped_column(index=True)  # when its cookie would expire


class LoginFailureRow(Base):
    """Failed attempts counted against one key by one throttle, shared by the App Server
    processes on one PostgreSQL (``service/shared_throttle.py``)."""

    __tablename__ = "login_failures"
    throttle: Mapped[str] = mapped_column(String(32), primary_key=True)  # logins, redemptions
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # account or client
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[float] = mapped_column(Float)  # Unix time, seconds
