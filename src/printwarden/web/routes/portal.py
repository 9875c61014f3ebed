"""The user portal: balance and recent transactions, jobs (and asking for a charge back),
shared accounts, held jobs with release (choose the printer), cancel and change settings. At
a Site Server that is offline the same pages answer from the replica, marked "offline mode"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from printwarden.api.held_jobs import HeldJobChangeIn
from printwarden.service import logins
from printwarden.service.problems import problem_of
from printwarden.service.throttle import Throttled
from printwarden.store import accounts, held_jobs, jobs, ledger, printers, reports, users
from printwarden.store.models import HeldJobRow, ProviderRow
from printwarden.usecases import release
from printwarden.usecases.errors import REFUSALS
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, user_form, user_page
from printwarden.web.messages import done
from printwarden.web.routes.credit import job_refunds

router = APIRouter()
HELD_PATH = "/web/portal/held-jobs"


@router.get("/web/portal/")
async def summary(ctx: PageContext = Depends(user_page)) -> Response:
    return await run_in_threadpool(_summary, ctx)


def _summary(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        user = users.find_user(session, ctx.session.username)
        account = users.personal_account(session, user.id)
        return ctx.render(
            "portal/summary.html",
            user=user,
            account=account,
            held=held_jobs.count_waiting(session, user.id),
            # By when each happened: an outage's charges where they happened, not when
            # the site reconciled; at an offline site, what its replica has, likewise.
            transactions=ledger.recent(session, account_id=account.id, limit=20, by_time=True),
            shared=accounts.granted_shared(session, user),
        )


@router.get("/web/portal/jobs")
async def my_jobs(ctx: PageContext = Depends(user_page)) -> Response:
    return await run_in_threadpool(_jobs, ctx)


def _jobs(ctx: PageContext) -> Response:
    """The person's recent jobs, each charged one with its refund request or the form."""
    with ctx.app.database.read() as session:
        where = reports.JobFilter(username=ctx.session.username)
        found = reports.job_log(session, where, limit=50)
        return ctx.render("portal/jobs.html", jobs=found, refunds=job_refunds(session, found))


@router.get(HELD_PATH)
async def held(ctx: PageContext = Depends(user_page)) -> Response:
    return await run_in_threadpool(held_page, ctx)


def held_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        user = users.find_user(session, ctx.session.username)
        rows = held_jobs.waiting(session, held_jobs.visible_owner_ids(session, user.id))
        return ctx.render(
            "portal/held.html",
            status,
            jobs=release.views_at(session, rows, None),
            printers=release_printers(session, rows),
            shared=[a.name for a in accounts.granted_shared(session, user)],
            error=error,
        )


def release_printers(session: Session, rows: list[HeldJobRow]) -> dict[str, list[str]]:
    """For each job, the registered printers its provider serves (where it may go)."""
    known = {p.name for p in printers.list_printers(session) if p.enabled}
    found: dict[str, list[str]] = {}
    for row in rows:
        provider = session.get(ProviderRow, row.provider_id)
        served = [str(p.get("name", "")) for p in (provider.printers if provider else [])]
        found[row.job_ref] = sorted(name for name in served if name in known)
    return found


def _releaser(ctx: PageContext) -> release.Releaser:
    return release.Releaser(ctx.session.username, ctx.session.user_id)


async def _run(
    ctx: PageContext, code: str, use_case: Callable[..., object], *args: Any
) -> Response:
    """Run a held-job use case; a refusal (e.g. another user's job: 404) shows on the page."""
    try:
        await release.in_thread(ctx.app, use_case, *args)
    except REFUSALS as exc:
        found = problem_of(exc)
        return await run_in_threadpool(held_page, ctx, found.detail, found.status)
    return RedirectResponse(done(HELD_PATH, code), status_code=303)


@router.post(HELD_PATH + "/{job_ref}/release")
async def release_job(
    job_ref: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    ctx, form = posted
    printer = forms.text(form, "printer", 128)
    if not printer:
        raise WebError(422, "Invalid input", "Choose a printer.")
    choice = jobs.AccountChoice(
        name=forms.text(form, "account", 128), pin=forms.text(form, "account_pin", 32)
    )
    try:  # the PIN is checked (and throttled) outside the release's transaction
        choice = await logins.checked_choice(ctx.app, choice, ctx.session.username)
    except Throttled as exc:
        return await run_in_threadpool(held_page, ctx, str(exc), 429)
    return await _run(ctx, "released", release.release, job_ref, printer, _releaser(ctx), choice)


@router.post(HELD_PATH + "/{job_ref}/cancel")
async def cancel_job(
    job_ref: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    ctx, _form = posted
    return await _run(ctx, "canceled", release.cancel, job_ref, _releaser(ctx))


@router.post(HELD_PATH + "/{job_ref}/settings")
async def change_job(
    job_ref: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    ctx, form = posted
    body = HeldJobChangeIn(
        copies=forms.number(form, "copies", 1, 999),
        duplex=forms.checked(form, "duplex"),
        grayscale=forms.checked(form, "grayscale"),
    )
    return await _run(ctx, "job-changed", release.change, job_ref, _releaser(ctx), body)
