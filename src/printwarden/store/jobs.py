"""Job decisions and charging printed jobs: the print service's core use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from printwarden.domain.accounts import Account, AccountKind, User, may_use
from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.decide import Printer
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.domain.wording import count
from printwarden.store import accounts, ledger, printers, users
from printwarden.store.errors import InvalidReference, NotFound
from printwarden.store.models import (
    AccountRow,
    GroupRow,
    MembershipRow,
    PrinterRow,
    PrintJobRow,
    TransactionRow,
    UserRow,
)


@dataclass(frozen=True, slots=True)
class AccountChoice:
    """Which account a job is charged to: personal unless a shared one is named."""

    name: str = ""
    code: str = ""
    pin: str = ""
    # Chosen and checked (PIN included) when a held job was released: no second check.
    account_id: int | None = None
    # The named account's PIN was checked before the transaction (service.logins): argon2
    # never runs inside one. A named account with a PIN is refused unless this is set.
    pin_checked: bool = False

    @property
    def personal(self) -> bool:
        return not self.name and not self.code and self.account_id is None


@dataclass(frozen=True, slots=True)
class JobContext:
    """The records a decision needs, loaded once."""

    user: User
    account: Account


@dataclass(frozen=True, slots=True)
class PrintedJob:
    """What a provider reports after a job printed."""

    txn_id: str
    job_ref: str
    username: str
    printer: str
    usage: JobUsage
    choice: AccountChoice
    document_name: str = ""
    origin: str = "app"
    printed_at: datetime | None = None
    cost_override: int | None = None  # a print script set the cost
    cost: int | None = None  # costed already (a site's charge, checked by HQ): not re-costed
    claimed_by: str | None = None  # sent as this user, charged to ``username`` (a stand-in)
    # Found by the caller already, deleted or not (a site's journal: a printer deleted at HQ
    # during the outage still printed); else ``printer`` is looked up among the live ones.
    printer_id: int | None = None
    comment: str = ""  # what its owner said when asked which account to charge


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of charging a printed job; ``new`` is False for a replay."""

    transaction: Transaction
    job: PrintJobRow
    new: bool


_GROUP_SEPARATOR = "\x1f"


def load_context(session: Session, username: str, choice: AccountChoice) -> JobContext:
    """The user (with groups) and the account the job would be charged to."""
    if choice.personal:
        return _personal_context(session, username)[0]
    row = users.find_user(session, username)
    groups = users.group_names(session, [row.id])[row.id]
    user = User(row.id, row.username, row.enabled, frozenset(groups))
    account_row = _chosen_account(session, row, choice)
    return JobContext(user, accounts.to_domain(session, account_row))


_GROUPS_OF_USER = (
    select(func.aggregate_strings(GroupRow.name, _GROUP_SEPARATOR))
    .join(MembershipRow, MembershipRow.group_id == GroupRow.id)
    .where(MembershipRow.user_id == UserRow.id)
    .scalar_subquery()
)
# Built once: plain columns through the connection, no ORM objects (the decision hot path).
_PERSONAL_CONTEXT = (
    select(
        UserRow.id,
        UserRow.username,
        UserRow.enabled,
        AccountRow.id,
        AccountRow.name,
        AccountRow.balance,
        AccountRow.restricted,
        AccountRow.credit_limit,
        AccountRow.enabled,
        _GROUPS_OF_USER,
        PrinterRow.name,
        PrinterRow.cost_model,
        PrinterRow.enabled,
        PrinterRow.hold_for_release,
        PrinterRow.client_rules,
    )
    .join(AccountRow, AccountRow.owner_id == UserRow.id)
    .outerjoin(
        PrinterRow,
        and_(PrinterRow.name == bindparam("printer"), PrinterRow.deleted_at.is_(None)),
    )
    .where(UserRow.username == bindparam("username"), UserRow.deleted_at.is_(None))
)


def _personal_context(
    session: Session, username: str, printer_name: str = ""
) -> tuple[JobContext, Printer | None]:
    """The common case in one query: user, personal account, groups and the printer."""
    parameters = {"username": username, "printer": printer_name}
    found = session.connection().execute(_PERSONAL_CONTEXT, parameters).first()
    if found is None:
        users.find_user(session, username)  # raises NotFound
        raise AssertionError("a user without a personal account")
    (
        user_id,
        name,
        enabled,
        account_id,
        account_name,
        balance,
        restricted,
        credit_limit,
        account_enabled,
        joined,
        *printer_columns,
    ) = found
    groups = frozenset(joined.split(_GROUP_SEPARATOR)) if joined else frozenset()
    account = Account(
        id=account_id,
        kind=AccountKind.PERSONAL,
        name=account_name,
        balance=balance,
        restricted=restricted,
        credit_limit=credit_limit,
        enabled=account_enabled,
        owner_id=user_id,
    )
    printer = None
    if printer_columns[0] is not None:
        printer_row_name, cost_model, printer_enabled, hold, rules = printer_columns
        model = printers.cost_model_from_json(cost_model)
        rules = printers.client_rules_of(rules)
        printer = Printer(printer_row_name, model, printer_enabled, hold, rules)
    return JobContext(User(user_id, name, enabled, groups), account), printer


def _chosen_account(session: Session, user: UserRow, choice: AccountChoice) -> AccountRow:
    if choice.account_id is not None:
        return accounts.find_account(session, choice.account_id)
    if not choice.name and not choice.code:
        return users.personal_account(session, user.id)
    if choice.code:
        row = accounts.find_by_code(session, choice.code)
    else:
        row = accounts.find_shared(session, choice.name)
    if row.pin_hash and not choice.pin_checked:
        raise InvalidReference(f"wrong or missing PIN for account {row.name!r}")
    return row


def job_setup(
    session: Session, username: str, printer_name: str, choice: AccountChoice
) -> tuple[JobContext, Printer]:
    """The user, the account to charge and the printer (one query for a personal account)."""
    if choice.personal:
        context, found = _personal_context(session, username, printer_name)
        if found is None:
            raise NotFound(f"no printer named {printer_name!r}")
        return context, found
    context = load_context(session, username, choice)
    return context, printers.printer_for_decision(session, printer_name)


def charge_printed(session: Session, job: PrintedJob) -> Charge:
    """Charge a printed job exactly once: replaying the same ``txn_id`` returns the original."""
    existing = session.scalar(select(PrintJobRow).where(PrintJobRow.txn_id == job.txn_id))
    if existing is not None:
        _check_replay(existing, job)
        original = session.scalars(
            select(TransactionRow).where(TransactionRow.txn_id == job.txn_id)
        ).one()
        return Charge(ledger.to_domain(original), existing, new=False)
    context = load_context(session, job.username, job.choice)
    if not may_use(context.user, context.account):
        raise InvalidReference(f"{job.username} may not charge account {context.account.name}")
    printer_id = job.printer_id
    cost = job.cost_override if job.cost_override is not None else job.cost
    if printer_id is None or cost is None:
        printer_row = printers.find_printer(session, job.printer)
        printer_id = printer_row.id
        if cost is None:
            model = printers.cost_model_from_json(printer_row.cost_model)
            cost = job_cost(model, job.usage, context.user.groups)
    txn = Transaction(
        id=job.txn_id,
        account_id=context.account.id,
        amount=-cost,
        kind=TransactionKind.PRINT,
        reference=f"job:{job.job_ref}",
        origin=job.origin,
        created_at=job.printed_at,
        comment=_charge_comment(job),
    )
    recorded, new = ledger.apply_transaction(session, txn)
    if not new:
        # A concurrent report of the same txn_id committed after the check above (PostgreSQL:
        # the insert waited for it): this is a replay, and its job is recorded already.
        replayed = session.scalar(select(PrintJobRow).where(PrintJobRow.txn_id == job.txn_id))
        if replayed is not None:
            _check_replay(replayed, job)
            return Charge(recorded, replayed, new=False)
    row = _job_row(job, context, printer_id, cost)
    session.add(row)
    session.flush()
    return Charge(recorded, row, new)


def _charge_comment(job: PrintedJob) -> str:
    return charge_comment(job.usage.total_pages, job.printer, job.comment)


def charge_comment(pages: int, printer: str, comment: str = "") -> str:
    """A print charge's ledger comment: "3 pages on lab-1", and what its owner said."""
    said = f"{count(pages, 'page')} on {printer}"
    return f"{said}: {comment}" if comment else said


def _check_replay(recorded: PrintJobRow, job: PrintedJob) -> None:
    """A replay must report the same job; an id reused for another job is a conflict."""
    usage = job.usage
    same = (recorded.job_ref, recorded.pages, recorded.colour_pages, recorded.copies) == (
        job.job_ref,
        usage.total_pages,
        usage.colour_pages * usage.copies,
        usage.copies,
    )
    if not same:
        raise ledger.IdempotencyConflict(
            f"transaction {job.txn_id} was already recorded for a different job"
        )


def _job_row(job: PrintedJob, context: JobContext, printer_id: int, cost: int) -> PrintJobRow:
    usage = job.usage
    return PrintJobRow(
        job_ref=job.job_ref,
        user_id=context.user.id,
        printer_id=printer_id,
        account_id=context.account.id,
        pages=usage.total_pages,
        colour_pages=usage.colour_pages * usage.copies,
        copies=usage.copies,
        sheets=usage.sheets,
        duplex=usage.duplex,
        paper_size=usage.paper_size,
        document_name=job.document_name,
        cost=cost,
        txn_id=job.txn_id,
        origin=job.origin,
        printed_at=job.printed_at or datetime.now(UTC),
        cost_overridden=job.cost_override is not None,
        claimed_by=job.claimed_by,
    )


def find_job(session: Session, job_ref: str) -> PrintJobRow:
    row = session.scalar(select(PrintJobRow).where(PrintJobRow.job_ref == job_ref))
    if row is None:
        raise NotFound(f"no printed job {job_ref!r}")
    return row


def account_balance(session: Session, account_id: int) -> int:
    """The balance as stored now (not as an earlier-loaded row remembers it)."""
    return int(session.scalars(select(AccountRow.balance).where(AccountRow.id == account_id)).one())


_PAGES_SINCE = select(func.coalesce(func.sum(PrintJobRow.pages), 0)).where(
    PrintJobRow.user_id == bindparam("user_id"), PrintJobRow.printed_at >= bindparam("since")
)


def pages_since(session: Session, user_id: int, since: datetime) -> int:
    """Pages (all copies) the user printed since ``since``: for period page allowances."""
    parameters = {"user_id": user_id, "since": since}
    return int(session.connection().execute(_PAGES_SINCE, parameters).scalar() or 0)
