"""Job decisions and charging printed jobs, for providers and site servers."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from printwarden.api.jobs import (
    AccountChoiceIn,
    ConversionOut,
    JobDecisionIn,
    JobDecisionOut,
    JobPrintedIn,
    JobPrintedOut,
    JobUsageIn,
    ReattributeIn,
    ReattributeOut,
)
from printwarden.domain.accounts import Account, Role
from printwarden.domain.costs import JobUsage
from printwarden.domain.decide import Decision, Denial, Policies, Verdict, decide
from printwarden.domain.filters import Outcome
from printwarden.domain.ledger import site_origin
from printwarden.service import component_scope, logins, offline, policy, views
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, printing_components, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import accounts, held_jobs, jobs, reattribution
from printwarden.store.errors import NotFound
from printwarden.store.tokens import Caller

log = logging.getLogger("printwarden.policy")
router = APIRouter(tags=["jobs"])


def _usage(body: JobUsageIn) -> JobUsage:
    try:
        return JobUsage(
            pages=body.pages,
            colour_pages=body.colour_pages,
            copies=body.copies,
            duplex=body.duplex,
            paper_size=body.paper_size,
        )
    except ValueError as exc:
        raise Problem(422, "Invalid request", str(exc)) from None


def _choice(body: AccountChoiceIn) -> jobs.AccountChoice:
    return jobs.AccountChoice(body.account, body.account_code, body.account_pin)


def _offline_choice(session: Session, choice: jobs.AccountChoice) -> jobs.AccountChoice:
    """Offline, a job that names an account (selected interactively) is charged to the
    Offline Policy's account instead, when that shared account exists."""
    if choice.personal or choice.account_id is not None:
        return choice
    account = offline.policies(session).offline_account
    try:
        found = accounts.find_shared(session, account)
    except NotFound:
        return jobs.AccountChoice()
    return jobs.AccountChoice(account_id=found.id)


def _released_choice(
    session: Session, job_ref: str, named: jobs.AccountChoice
) -> jobs.AccountChoice:
    """A released held job is charged to the account chosen (and checked) at its release;
    any other job to the account it names (``named``, its PIN checked beforehand)."""
    account_id = held_jobs.released_account(session, job_ref) if job_ref else None
    if account_id is None:
        return named
    return jobs.AccountChoice(account_id=account_id)


@router.post(
    "/jobs/decision",
    responses={429: {"description": "Too many wrong PINs for the named shared account"}},
)
async def decide_job(
    body: JobDecisionIn,
    caller: Caller = Depends(printing_components),
    state: AppState = Depends(app_state),
) -> JobDecisionOut:
    """May this user print this job here, charged to this account? And what will it cost?

    A shared account's PIN is checked first, outside the decision's transaction, and wrong
    PINs are throttled per account and per user (429)."""
    named = await logins.checked_choice(state, _choice(body), body.username)
    return await run_in_threadpool(_decide, state, caller, body, named)


def _decide(
    state: AppState, caller: Caller, body: JobDecisionIn, named: jobs.AccountChoice
) -> JobDecisionOut:
    """The whole decision in one worker-thread call (the hot path: one hop, not three)."""
    now = datetime.now(UTC)
    submitted = _submitted(body)
    with state.database.read() as session:
        component_scope.check_printer(session, caller, body.printer)
        rules = offline.rules(state.offline, session)
        username = body.username
        if rules is not None and state.offline and not offline.known(session, username):
            where = f"job at {body.printer}"
            found = offline.substitute(state.offline, session, username, where, writing=False)
            if found.username is None:
                return _untracked(found.refusal)
            username = found.username
        choice = _released_choice(session, body.job_ref, named) if body.released else named
        if rules is not None:
            choice = _offline_choice(session, choice)
        context, printer = jobs.job_setup(session, username, body.printer, choice)
        account = context.account
        verdict = policy.run(
            session, context.user, account, printer, _usage(body), submitted, now, state.currency
        )
        if verdict.charge_account and not verdict.denied:
            account = _script_account(session, verdict.charge_account, account)
        holds = (printer.hold_for_release or verdict.hold) and not body.released
        printer = replace(printer, hold_for_release=holds)
        deciding = replace(rules or Policies(), currency=state.currency)
        decision = (
            decide(verdict.usage, context.user, account, printer, deciding, cost=verdict.cost)
            if not verdict.denied
            else Decision(Verdict.DENY, verdict.cost, verdict.result.reason, Denial.POLICY)
        )
    if decision.verdict is Verdict.DENY:
        verdict = replace(verdict, effects=replace(verdict.effects, remember_document=False))
    if policy.needs_writing(verdict.effects):
        policy.write_effects(
            state.database, verdict.effects, username, submitted, body.printer, now
        )
    return _answer(decision, verdict, account)


def _submitted(body: JobDecisionIn) -> policy.Submitted:
    return policy.Submitted(
        job_ref=body.job_ref,
        document_name=body.document_name,
        document_format=body.document_format,
        document_hash=body.document_hash,
        size=body.size,
        paper_sizes=tuple(body.paper_sizes),
        default_paper=body.default_paper or "A4",
        held=body.released,
    )


def _script_account(session: Session, name: str, fallback: Account) -> Account:
    """The shared account a print script charges (its name; the script's word is the
    administrator's, so no PIN). An unknown name leaves the job's own account."""
    try:
        return accounts.to_domain(session, accounts.find_shared(session, name))
    except NotFound:
        log.warning(
            "print script named unknown shared account %r; charging %s", name, fallback.name
        )
        return fallback


def _answer(decision: Decision, verdict: policy.PolicyAnswer, account: Account) -> JobDecisionOut:
    approval = decision.verdict is not Verdict.DENY and verdict.result.outcome is Outcome.APPROVAL
    reason = verdict.result.reason if approval else decision.reason
    if not reason and decision.verdict is Verdict.ALLOW:
        reason = "; ".join(verdict.steps)
    conversion = verdict.conversion
    return JobDecisionOut(
        verdict="hold" if approval else decision.verdict.value,
        cost=decision.cost,
        reason=reason,
        denied_by=decision.denied_by.value,
        account_id=account.id,
        account=account.name,
        balance=account.balance,
        conversion=ConversionOut(
            grayscale=conversion.grayscale,
            duplex=conversion.duplex,
            nup=conversion.nup,
            fit_to=conversion.fit_to,
        ),
        steps=list(verdict.steps),
        cost_override=verdict.cost_override,
        approval=approval,
        approver_group=verdict.result.approver_group if approval else "",
        charge_account_id=account.id if verdict.charge_account else None,
    )


def _charged_user(state: AppState, session: Session, username: str, printer: str) -> str:
    """Who a printed job is charged to: offline, an unknown user's job goes by the policy."""
    if state.offline is None or offline.rules(state.offline, session) is None:
        return username
    if offline.known(session, username):
        return username
    found = offline.substitute(state.offline, session, username, f"job at {printer}", writing=True)
    if found.username is None:
        raise Problem(404, "Not found", f"unknown user {username!r}: not tracked")
    return found.username


def _untracked(refusal: str) -> JobDecisionOut:
    """An unknown user's job offline: canceled, or printed without tracking (by policy)."""
    return JobDecisionOut(
        verdict="deny" if refusal else "allow",
        cost=0,
        reason=refusal or "not tracked: unknown user while offline",
        denied_by=Denial.ACCOUNT.value if refusal else "",
        account_id=0,
        account="",
        balance=0,
    )


@router.post("/jobs/printed")
async def job_printed(
    body: JobPrintedIn,
    caller: Caller = Depends(printing_components),
    state: AppState = Depends(app_state),
) -> JobPrintedOut:
    """Charge what printed, once: a replay of the same ``txn_id`` returns the original charge.

    A shared account's PIN is checked before the transaction, without the login throttle
    (it was throttled at the job's decision; a lockout must not lose a charge)."""
    named = await logins.checked_choice(state, _choice(body), body.username, throttled=False)
    return await run_in_threadpool(_charge, state, caller, body, named)


def _charge(
    state: AppState, caller: Caller, body: JobPrintedIn, named: jobs.AccountChoice
) -> JobPrintedOut:
    with state.database.session() as session:
        component_scope.check_printer(session, caller, body.printer)
        username = _charged_user(state, session, body.username, body.printer)
        choice = _released_choice(session, body.job_ref, named)
        if body.account_id is not None:
            choice = jobs.AccountChoice(account_id=body.account_id)
        elif offline.rules(state.offline, session) is not None:
            choice = _offline_choice(session, choice)
        printed = jobs.PrintedJob(
            txn_id=body.txn_id,
            job_ref=body.job_ref,
            username=username,
            printer=body.printer,
            usage=_usage(body),
            choice=choice,
            document_name=body.document_name,
            origin=_origin(caller, body.origin),
            printed_at=body.printed_at,
            cost_override=body.cost_override,
            claimed_by=body.username if username != body.username else None,
        )
        charge = jobs.charge_printed(session, printed)
        held_jobs.mark_printed(session, [body.job_ref])
        account = charge.job.account_id
        balance = jobs.account_balance(session, account)
        return JobPrintedOut(
            job_ref=charge.job.job_ref,
            cost=charge.job.cost,
            account_id=account,
            balance=balance,
            transaction=views.domain_transaction_out(session, charge.transaction),
            duplicate=not charge.new,
        )


@router.post("/jobs/reattribute", dependencies=[Depends(admin_only)])
def reattribute_jobs(
    body: ReattributeIn, session: Session = Depends(write_session)
) -> ReattributeOut:
    """Move the jobs a site charged to the Unauthenticated Users stand-in while offline, sent
    as ``username``, to that user (who must now exist): the stand-in is refunded, the user's
    personal account charged, each job once."""
    try:
        done = reattribution.reattribute(session, body.username)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    return ReattributeOut(username=done.username, jobs=done.jobs, amount=done.amount)


def _origin(caller: Caller, claimed: str) -> str:
    """A provider's jobs come from ``app``; a site may report only its own offline jobs."""
    if claimed == "app":
        return claimed
    if caller.role is Role.SITE and caller.scope and claimed == site_origin(caller.scope):
        return claimed
    raise Problem(403, "Forbidden", f"this token may not report jobs with origin {claimed!r}")
