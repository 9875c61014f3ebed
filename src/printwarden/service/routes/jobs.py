"""Job decisions and charging printed jobs, for providers and site servers: the HTTP side
(parse, call the use case, answer); the use cases are ``usecases/decision.py`` and
``usecases/charging.py``."""

from __future__ import annotations

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
from printwarden.domain.accounts import Account
from printwarden.domain.decide import Decision, Denial, Verdict
from printwarden.domain.filters import Outcome
from printwarden.service import logins, policy, views
from printwarden.service.routes.deps import admin_only, printing_components, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import jobs
from printwarden.store.tokens import Caller
from printwarden.usecases import charging, reattribution
from printwarden.usecases.decision import Decided, Decider, JobToDecide
from printwarden.usecases.job_accounts import Counts

router = APIRouter(tags=["jobs"])


def _counts(body: JobUsageIn) -> Counts:
    return Counts(
        pages=body.pages,
        colour_pages=body.colour_pages,
        copies=body.copies,
        duplex=body.duplex,
        paper_size=body.paper_size,
    )


def _choice(body: AccountChoiceIn) -> jobs.AccountChoice:
    return jobs.AccountChoice(body.account, body.account_code, body.account_pin)


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
    job = JobToDecide(
        username=body.username,
        printer=body.printer,
        counts=_counts(body),
        submitted=_submitted(body),
        named=named,
        released=body.released,
        job_ref=body.job_ref,
    )
    found = Decider(state.database, state.authority, state.currency).decide(caller, job)
    if not isinstance(found, Decided):
        return _untracked(found.refusal)
    if found.decision.verdict is Verdict.DENY:  # a denial is never stored: heard now or never
        denied = {"job": body.job_ref, "document_name": body.document_name,
                  "printer": body.printer, "reason": found.decision.reason}  # fmt: skip
        state.events.publish_one(found.user_id, "job.denied", denied)
    return _answer(found.decision, found.verdict, found.account)


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
    report = charging.PrintedReport(
        txn_id=body.txn_id,
        job_ref=body.job_ref,
        username=body.username,
        printer=body.printer,
        counts=_counts(body),
        named=named,
        document_name=body.document_name,
        origin=body.origin,
        printed_at=body.printed_at,
        cost_override=body.cost_override,
        account_id=body.account_id,
    )
    with state.database.session() as session:
        charged = charging.charge_printed(session, state.authority, caller, report)
        charge = charged.charge
        return JobPrintedOut(
            job_ref=charge.job.job_ref,
            cost=charge.job.cost,
            account_id=charge.job.account_id,
            balance=charged.balance,
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
    done = reattribution.reattribute(session, body.username)
    return ReattributeOut(username=done.username, jobs=done.jobs, amount=done.amount)
