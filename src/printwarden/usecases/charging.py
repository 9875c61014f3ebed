"""Charge a printed job, once: a replay of its transaction id returns the original charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from printwarden.domain.accounts import Role
from printwarden.domain.ledger import site_origin
from printwarden.store import held_jobs, jobs, user_events
from printwarden.store.errors import NotFound
from printwarden.store.models import AccountRow
from printwarden.store.tokens import Caller
from printwarden.usecases import component_scope
from printwarden.usecases.authority import Authority, Rules
from printwarden.usecases.errors import Forbidden
from printwarden.usecases.job_accounts import Counts, chosen


@dataclass(frozen=True, slots=True)
class PrintedReport:
    """What a component reports after a job printed; ``named`` as in a decision (its PIN
    checked already), ``account_id`` the account a site's journal already chose."""

    txn_id: str
    job_ref: str
    username: str
    printer: str
    counts: Counts
    named: jobs.AccountChoice
    document_name: str = ""
    origin: str = "app"
    printed_at: datetime | None = None
    cost_override: int | None = None
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class Charged:
    """The charge (``charge.new`` is False for a replay) and the account's balance after."""

    charge: jobs.Charge
    balance: int


def charge_printed(
    session: Session, authority: Authority, caller: Caller, report: PrintedReport
) -> Charged:
    """Charge ``report`` in ``session``, by the rules ``authority`` applies now."""
    component_scope.check_printer(session, caller, report.printer)
    rules = authority.rules(session)
    username = _charged_user(rules, session, report.username, report.printer)
    released = held_jobs.release_of(session, report.job_ref) if report.job_ref else None
    choice = chosen(released, report.named)
    if report.account_id is not None:
        choice = jobs.AccountChoice(account_id=report.account_id)
    else:
        choice = rules.account_choice(session, choice)
    printed = jobs.PrintedJob(
        txn_id=report.txn_id,
        job_ref=report.job_ref,
        username=username,
        printer=report.printer,
        usage=report.counts.usage(),
        choice=choice,
        document_name=report.document_name,
        origin=_origin(caller, report.origin),
        printed_at=report.printed_at,
        cost_override=report.cost_override,
        claimed_by=report.username if username != report.username else None,
        comment=released.comment if released is not None else "",
    )
    charge = jobs.charge_printed(session, printed)
    held_jobs.mark_printed(session, [report.job_ref])
    if charge.new:
        _tell_printed(session, charge, report)
    return Charged(charge, jobs.account_balance(session, charge.job.account_id))


def _tell_printed(session: Session, charge: jobs.Charge, report: PrintedReport) -> None:
    account = session.get(AccountRow, charge.job.account_id)
    printed = {
        "job": report.job_ref,
        "document_name": report.document_name,
        "printer": report.printer,
        "pages": charge.job.pages,
        "cost": charge.job.cost,
        "account": account.name if account is not None else "",
    }
    user_events.note(session, charge.job.user_id, "job.printed", printed)


def _charged_user(rules: Rules, session: Session, username: str, printer: str) -> str:
    """Who a printed job is charged to: offline, an unknown user's job goes by the policy."""
    found = rules.resolve_user(session, username, f"job at {printer}", writing=True)
    if found.username is None:
        raise NotFound(f"unknown user {username!r}: not tracked")
    return found.username


def _origin(caller: Caller, claimed: str) -> str:
    """A provider's jobs come from ``app``; a site may report only its own offline jobs."""
    if claimed == "app":
        return claimed
    if caller.role is Role.SITE and caller.scope and claimed == site_origin(caller.scope):
        return claimed
    raise Forbidden(f"this token may not report jobs with origin {claimed!r}")
