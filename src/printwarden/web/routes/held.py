"""Held jobs on behalf of a user: an administrator lists anyone's and releases or cancels them
(the same use cases as the API; the release is recorded as by the administrator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.service.problems import problem_of
from printwarden.store import held_jobs, jobs, users
from printwarden.store.errors import NotFound
from printwarden.usecases import release
from printwarden.usecases.errors import REFUSALS
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done
from printwarden.web.routes.portal import release_printers

router = APIRouter()
PATH = "/web/admin/held-jobs"


@router.get(PATH)
async def held_page(
    ctx: PageContext = Depends(admin_page), user: str = Query("", max_length=128)
) -> Response:
    return await run_in_threadpool(_held_page, ctx, user.strip())


def _held_page(ctx: PageContext, username: str, error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        rows, views, where = [], [], {}
        if username:
            try:
                owner = users.find_user(session, username)
            except NotFound:
                error, status = error or f"No user named {username!r}.", 404
            else:
                rows = held_jobs.waiting(session, [owner.id])
                views = release.views_at(session, rows, None)
                where = release_printers(session, rows)
        return ctx.render("admin/held.html", status, user=username, jobs=views,
                          printers=where, error=error)  # fmt: skip


def _admin(ctx: PageContext) -> release.Releaser:
    return release.Releaser(ctx.session.username, None)


async def _run(
    ctx: PageContext, owner: str, code: str, use_case: Callable[..., object], *args: Any
) -> Response:
    try:
        await release.in_thread(ctx.app, use_case, *args)
    except REFUSALS as exc:
        found = problem_of(exc)
        return await run_in_threadpool(_held_page, ctx, owner, found.detail, found.status)
    return RedirectResponse(done(f"{PATH}?user={quote(owner)}", code), status_code=303)


@router.post(PATH + "/{job_ref}/release")
async def release_on_behalf(
    job_ref: str, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    ctx, form = posted
    printer = forms.text(form, "printer", 128)
    if not printer:
        raise WebError(422, "Invalid input", "Choose a printer.")
    choice = jobs.AccountChoice(name="", pin="")
    owner = forms.text(form, "owner", 128)
    return await _run(
        ctx, owner, "released", release.release, job_ref, printer, _admin(ctx), choice
    )


@router.post(PATH + "/{job_ref}/cancel")
async def cancel_on_behalf(
    job_ref: str, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    ctx, form = posted
    owner = forms.text(form, "owner", 128)
    return await _run(ctx, owner, "canceled", release.cancel, job_ref, _admin(ctx))
