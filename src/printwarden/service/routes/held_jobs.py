"""Held jobs: providers report them; owners, delegates and admins list, change, release, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.devices import ReleaseAllOut
from printwarden.api.held_jobs import (
    HeldJobChangeIn,
    HeldJobOut,
    HeldJobRejection,
    HeldJobReleaseIn,
    HeldJobReportsIn,
    HeldJobReportsOut,
    HeldJobsOut,
)
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.service import logins
from printwarden.service.auth import require
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, any_person, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import held_jobs, jobs, users
from printwarden.store.errors import NotFound
from printwarden.store.models import ProviderRow
from printwarden.store.replication import site_scope
from printwarden.store.tokens import PROVIDER_PREFIX, Caller, bound_name
from printwarden.usecases import questions, release

router = APIRouter(tags=["held jobs"])
PIN_THROTTLED = "Too many wrong PINs for the named shared account"
reporting = require(Role.PROVIDER, Role.SITE)


def releaser_of(caller: Caller) -> release.Releaser:
    if caller.role is Role.ADMIN:
        return release.Releaser(caller.username or "admin", None)
    assert caller.user_id is not None
    return release.Releaser(caller.username or "", caller.user_id)


@router.post("/held-jobs/reports", dependencies=[serves(Function.SECURE_PRINT)])
def report_held_jobs(
    body: HeldJobReportsIn,
    caller: Caller = Depends(reporting),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> HeldJobReportsOut:
    """A provider reports held jobs (new, still held, or how they ended). Refused ones name
    why (e.g. an unknown user): the provider cancels those. A provider token reports only
    for the provider it is bound to, a site token only for its own site's providers."""
    if caller.role is Role.PROVIDER and bound_name(caller.scope, PROVIDER_PREFIX) != body.provider:
        raise Problem(403, "Forbidden", f"this token is not bound to provider {body.provider!r}")
    provider = session.scalar(select(ProviderRow).where(ProviderRow.name == body.provider))
    if provider is None:
        raise Problem(409, "Unknown provider", f"provider {body.provider!r} has not registered")
    if (
        caller.role is Role.SITE
        and provider.id not in site_scope(session, caller.scope).provider_ids
    ):
        detail = f"provider {body.provider!r} serves no printer of site {caller.scope!r}"
        raise Problem(403, "Forbidden", detail)
    reports = [held_jobs.Report.of(item.model_dump()) for item in body.jobs]
    recorded = held_jobs.record_reports(session, provider, reports)
    questions.ask(session, recorded.new, state.currency)
    refused = recorded.refused
    return HeldJobReportsOut(
        accepted=len(reports) - len(refused),
        rejected=[HeldJobRejection(job_ref=r, reason=why) for r, why in refused],
    )


def _site_providers(session: Session, caller: Caller) -> frozenset[int]:
    return site_scope(session, caller.scope).provider_ids


@router.get("/me/held-jobs", dependencies=[serves(Function.SECURE_PRINT)])
def my_held_jobs(
    caller: Caller = Depends(require(Role.USER)), session: Session = Depends(read_session)
) -> HeldJobsOut:
    """Your held jobs, and those of users who made you their delegate (``owner`` says whose)."""
    assert caller.user_id is not None
    owners = held_jobs.visible_owner_ids(session, caller.user_id)
    return HeldJobsOut(jobs=release.views_at(session, held_jobs.waiting(session, owners), None))


@router.get("/held-jobs", dependencies=[serves(Function.SECURE_PRINT), Depends(admin_only)])
def held_jobs_of(
    user: str = Query(min_length=1, max_length=128), session: Session = Depends(read_session)
) -> HeldJobsOut:
    """Any user's held jobs (administrators)."""
    try:
        row = users.find_user(session, user)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    return HeldJobsOut(jobs=release.views_at(session, held_jobs.waiting(session, [row.id]), None))


@router.get("/held-jobs/{job_ref}", dependencies=[serves(Function.SECURE_PRINT)])
def held_job(
    job_ref: str, caller: Caller = Depends(any_person), session: Session = Depends(read_session)
) -> HeldJobOut:
    """One held job, whatever its status (owner, delegate or administrator)."""
    row = release.load_visible(session, releaser_of(caller), job_ref)
    return release.views_at(session, [row], None)[0]


@router.post(
    "/held-jobs/{job_ref}/release",
    dependencies=[serves(Function.SECURE_PRINT)],
    responses={429: {"description": PIN_THROTTLED}},
)
async def release_held_job(
    job_ref: str,
    body: HeldJobReleaseIn,
    caller: Caller = Depends(any_person),
    state: AppState = Depends(app_state),
) -> HeldJobOut:
    """Release a held job at a printer (Find-Me: any compatible printer of its provider)."""
    choice = await _checked(state, caller, body)
    return await release.in_thread(
        state, release.release, job_ref, body.printer, releaser_of(caller), choice
    )


@router.post(
    "/me/held-jobs/release-all",
    dependencies=[serves(Function.SECURE_PRINT)],
    responses={429: {"description": PIN_THROTTLED}},
)
async def release_all_mine(
    body: HeldJobReleaseIn,
    caller: Caller = Depends(require(Role.USER)),
    state: AppState = Depends(app_state),
) -> ReleaseAllOut:
    """Release all your own held and Find-Me jobs at a printer."""
    choice = await _checked(state, caller, body)
    return await release.in_thread(
        state, release.release_all, body.printer, releaser_of(caller), choice
    )


async def _checked(state: AppState, caller: Caller, body: HeldJobReleaseIn) -> jobs.AccountChoice:
    """The account to charge, its PIN checked (and throttled) outside any transaction."""
    choice = jobs.AccountChoice(name=body.account, pin=body.account_pin)
    return await logins.checked_choice(state, choice, caller.username or "")


@router.patch("/held-jobs/{job_ref}", dependencies=[serves(Function.SECURE_PRINT)])
async def change_held_job(
    job_ref: str,
    body: HeldJobChangeIn,
    caller: Caller = Depends(any_person),
    state: AppState = Depends(app_state),
) -> HeldJobOut:
    """Change copies, duplex or greyscale before release; the cost follows."""
    return await release.in_thread(state, release.change, job_ref, releaser_of(caller), body)


@router.post("/held-jobs/{job_ref}/cancel", dependencies=[serves(Function.SECURE_PRINT)])
async def cancel_held_job(
    job_ref: str, caller: Caller = Depends(any_person), state: AppState = Depends(app_state)
) -> HeldJobOut:
    """Cancel a held job; the provider deletes its document."""
    return await release.in_thread(state, release.cancel, job_ref, releaser_of(caller))
