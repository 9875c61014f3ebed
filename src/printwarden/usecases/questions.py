"""Questions before printing: ask them about new held jobs, answer them once, time them out.

A printer's rules (``domain/questions.py``) hold a job that needs an answer; the held job
keeps its open question. An answer — from the User Client, the portal, a device, or the
timeout — first *claims* the question in a transaction of its own, so two answers never both
apply (the second is told 409); then it releases the job to its printer (a direct queue),
cancels it, or records the chosen account on a job that waits for release at a printer (hold
and Find-Me queues). A release or cancel that fails reopens the question.

Releasing and canceling are the release use cases', so offline at a site the same answer is
journaled like any release and HQ applies it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.questions import AccountOptionOut, QuestionOut
from printwarden.domain.accounts import Account, AccountKind, may_use
from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.money import Currency
from printwarden.domain.questions import (
    Answerer,
    OpenQuestion,
    Outcome,
    QuestionKind,
    timeout_action,
)
from printwarden.service.state import AppState
from printwarden.store import accounts, held_jobs, jobs, printers, user_events, users
from printwarden.store.db import utc
from printwarden.store.errors import InvalidReference, NotFound
from printwarden.store.models import HeldJobRow, PrinterRow, UserRow
from printwarden.usecases import release
from printwarden.usecases.errors import REFUSALS, Conflict, Invalid, Unavailable

ALREADY = "Already answered"


def ask(session: Session, rows: list[HeldJobRow], currency: Currency) -> None:
    """Ask the question each new held job's printer asks (if any) and tell its owner."""
    now = datetime.now(UTC)
    found: dict[str, PrinterRow | None] = {}
    for row in rows:
        if row.status != "held" or not row.printer:
            continue
        if row.printer not in found:
            found[row.printer] = _live_printer(session, row.printer)
        printer = found[row.printer]
        if printer is None:
            continue
        rules = printers.client_rules_of(printer.client_rules)
        if not rules.asks:
            continue
        cost = _cost(session, row, printer)
        kind = rules.question(cost, _pages(row))
        if kind is None:
            continue
        question = OpenQuestion.ask(rules, kind, cost, now)
        row.question, row.answer_by = question.to_json(), question.answer_by
        data = view(session, row, currency).model_dump(mode="json")
        user_events.note(session, row.user_id, "question", data)


def _live_printer(session: Session, name: str) -> PrinterRow | None:
    try:
        return printers.find_printer(session, name)
    except NotFound:
        return None


def _pages(row: HeldJobRow) -> int | None:
    return None if row.pages is None else row.pages * row.copies


def _cost(session: Session, row: HeldJobRow, printer: PrinterRow) -> int:
    usage = JobUsage(
        pages=row.pages,
        colour_pages=row.colour_pages,
        copies=row.copies,
        duplex=row.duplex,
        paper_size=row.paper_size,
    )
    groups = users.groups_of(session, row.user_id)
    return job_cost(printers.cost_model_from_json(printer.cost_model), usage, groups)


def view(session: Session, row: HeldJobRow, currency: Currency) -> QuestionOut:
    """``row``'s open question as its owner sees it (with the accounts to choose from)."""
    question = OpenQuestion.from_json(row.question)
    assert question is not None
    options: list[AccountOptionOut] = []
    if question.kind is QuestionKind.ACCOUNT:
        owner = session.get(UserRow, row.user_id)
        assert owner is not None
        options = [
            AccountOptionOut(name=a.name, needs_pin=bool(a.pin_hash), balance=a.balance)
            for a in accounts.granted_shared(session, owner)
        ]
    return QuestionOut(
        job=row.job_ref,
        kind=question.kind.value,
        document_name=row.document_name,
        printer=row.printer,
        queue=row.queue,
        pages=row.pages,
        colour_pages=row.colour_pages,
        copies=row.copies,
        cost=question.cost,
        currency=currency.code,
        accounts=options,
        allow_personal=question.allow_personal,
        comment=question.comment,
        answer_by=question.answer_by,
        on_timeout=question.on_timeout.value,
    )


def open_questions(session: Session, user_id: int, currency: Currency) -> list[QuestionOut]:
    """``user_id``'s jobs waiting for an answer, oldest first."""
    rows = session.scalars(
        select(HeldJobRow)
        .where(
            HeldJobRow.user_id == user_id,
            HeldJobRow.status == "held",
            HeldJobRow.answer_by.is_not(None),
        )
        .order_by(HeldJobRow.submitted_at, HeldJobRow.id)
    )
    return [view(session, row, currency) for row in rows if row.question]


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to a job's question: ``print`` (charged to ``choice``, its PIN checked
    already) or ``cancel``."""

    action: str
    choice: jobs.AccountChoice
    by: Answerer
    comment: str = ""


@dataclass(frozen=True, slots=True)
class _Claimed:
    direct: bool
    printer: str
    question: OpenQuestion


def answer(state: AppState, job_ref: str, releaser: release.Releaser, given: Answer) -> Outcome:
    """Apply one answer (see the module docstring); run it in the release threads."""
    claimed = _claim(state, job_ref, releaser, given)
    try:
        if given.action == "cancel":
            release.cancel(state, job_ref, releaser)
            return Outcome.CANCELED
        if claimed.direct and claimed.printer:
            release.release(state, job_ref, claimed.printer, releaser, given.choice)
            return Outcome.PRINTING
        return _keep_held(state, job_ref, given)
    except REFUSALS:
        _reopen(state, job_ref)
        raise


def _claim(state: AppState, job_ref: str, releaser: release.Releaser, given: Answer) -> _Claimed:
    with state.database.session() as session:
        row = release.load_visible(session, releaser, job_ref)
        question = OpenQuestion.from_json(row.question)
        if question is None or row.status != "held":
            raise Conflict(f"nothing is waiting for an answer about job {job_ref}", title=ALREADY)
        if row.question.get("answered_by"):
            raise Conflict(f"job {job_ref} is being answered already", title=ALREADY)
        if given.action == "print":
            _account(session, row, question, given.choice)
        row.question = {**row.question, "answered_by": given.by.value}
        row.comment = given.comment
        return _Claimed(row.queue_kind == "direct", row.printer, question)


def _account(
    session: Session, row: HeldJobRow, question: OpenQuestion, choice: jobs.AccountChoice
) -> Account:
    """The account ``choice`` names, checked: the owner may charge it, with its PIN."""
    if choice.personal and question.kind is QuestionKind.ACCOUNT and not question.allow_personal:
        raise Invalid("choose one of your shared accounts: this printer does not charge "
                      "personal accounts")  # fmt: skip
    owner = session.get(UserRow, row.user_id)
    assert owner is not None
    try:
        context = jobs.load_context(session, owner.username, choice)
    except (InvalidReference, NotFound) as exc:
        raise Invalid(str(exc)) from None
    if not may_use(context.user, context.account):
        raise Invalid(f"{owner.username} may not charge account {context.account.name}")
    return context.account


def _reopen(state: AppState, job_ref: str) -> None:
    """The answer did not apply: the question is open again (if the job still waits)."""
    with state.database.session() as session:
        row = held_jobs.find(session, job_ref)
        if row.question and row.status == "held":
            row.question = {k: v for k, v in row.question.items() if k != "answered_by"}


def _keep_held(state: AppState, job_ref: str, given: Answer) -> Outcome:
    """A job on a hold or Find-Me queue: the account is recorded; it waits for release."""
    with state.database.session() as session:
        row = held_jobs.find(session, job_ref)
        question = OpenQuestion.from_json(row.question)
        if question is None:
            raise Conflict(f"nothing is waiting for an answer about job {job_ref}", title=ALREADY)
        account = _account(session, row, question, given.choice)
        personal = account.kind is AccountKind.PERSONAL
        row.account_id = None if personal else account.id
        row.question = {**row.question, "answered_by": given.by.value}
        held_jobs.close_question(session, row, Outcome.HELD.value)
    return Outcome.HELD


# --- timeouts ------------------------------------------------------------------------------

TIMEOUT = release.Releaser("timeout", None)


def overdue(state: AppState, now: datetime) -> list[str]:
    """The held jobs whose question is past its time."""
    with state.database.read() as session:
        return list(
            session.scalars(
                select(HeldJobRow.job_ref).where(
                    HeldJobRow.status == "held",
                    HeldJobRow.answer_by.is_not(None),
                    HeldJobRow.answer_by <= now,
                )
            )
        )


def time_out(state: AppState, job_ref: str) -> Outcome | None:
    """Apply ``job_ref``'s timeout policy; None when it no longer waits or cannot be reached
    now (a site HQ cannot reach: that site times it out itself)."""
    with state.database.read() as session:
        row = held_jobs.find(session, job_ref)
        question = OpenQuestion.from_json(row.question)
        direct = row.queue_kind == "direct" and bool(row.printer)
    if question is None or row.question.get("answered_by") or utc(question.answer_by) > _now():
        return None
    action, outcome = timeout_action(question, direct)
    personal = jobs.AccountChoice()
    try:
        if action == "keep":
            return _keep_held(state, job_ref, Answer("print", personal, Answerer.TIMEOUT))
        _claim(state, job_ref, TIMEOUT, Answer(action, personal, Answerer.TIMEOUT))
    except (Conflict, Unavailable):
        return None
    try:
        if action == "cancel":
            release.cancel(state, job_ref, TIMEOUT)
        else:
            release.release(state, job_ref, row.printer, TIMEOUT, personal)
    except REFUSALS:
        _reopen(state, job_ref)
        raise
    return outcome


def _now() -> datetime:
    return datetime.now(UTC)
