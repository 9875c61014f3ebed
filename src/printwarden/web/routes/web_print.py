"""The user portal's Web Print: upload documents (a plain file input, and drag and drop where
JavaScript runs), choose the queue and options, see each document's pages, a preview of its
first pages and its cost, then print it (it is held for release) — and follow it in the list.

Answered by the server the person reached: HQ for HQ's queues, a Site Server (online or not)
for its site's (``site/gateway.py`` keeps these paths at the site).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from printwarden.domain.web_print import PrintOptions, Stage, settling
from printwarden.service.client_address import client_address
from printwarden.service.web_print import PREVIEW_PAGES, hand_in, service_of
from printwarden.store import users, web_prints
from printwarden.store.models import WebPrintRow
from printwarden.usecases import web_print
from printwarden.usecases.errors import REFUSALS, Invalid
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, check_csrf, user_form, user_page
from printwarden.web.messages import done
from printwarden.web.templating import HEADERS

router = APIRouter()
PATH = "/web/portal/web-print"
MAX_FILES = 10


@router.get(PATH)
async def web_print_page(ctx: PageContext = Depends(user_page)) -> Response:
    return await run_in_threadpool(_page, ctx)


def _page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    site = web_print.site_of_issuer(ctx.app.issuer)
    with ctx.app.database.read() as session:
        user = users.find_user(session, ctx.session.username)
        rules = web_print.policy(session)
        queues = web_print.queues_here(session, site, rules)
        jobs = web_print.views(session, web_prints.of_user(session, user.id))
    return ctx.render(
        "portal/web_print.html",
        status,
        queues=queues,
        jobs=jobs,
        rules=rules,
        error=error,
        path=PATH,
        refresh=any(settling(j.stage, j.held_status, j.queue_kind != "direct") for j in jobs),
    )


@router.post(PATH)
async def upload(request: Request, ctx: PageContext = Depends(user_page)) -> Response:
    """One or more documents, each its own job; they are rendered, then wait to be printed."""
    form = await request.form(max_fields=20, max_files=MAX_FILES)
    try:
        check_csrf(ctx, form)
        files = [f for f in form.getlist("file") if isinstance(f, UploadFile) and f.filename]
        if not files:
            return await run_in_threadpool(_page, ctx, "Choose a document to print.", 422)
        options = _options(form)
        key = forms.text(form, "queue", 200)
        client = await client_address(request, ctx.app)
        made = []
        for file in files:
            row = await hand_in(
                ctx.app, ctx.session.username, key, file, options, client, submit=False
            )
            made.append(row.id)
    except REFUSALS as exc:
        return await run_in_threadpool(_page, ctx, str(getattr(exc, "detail", exc)), 422)
    finally:
        await form.close()
    if len(made) == 1:
        return RedirectResponse(f"{PATH}/{made[0]}", status_code=303)
    return RedirectResponse(done(PATH, "web-print-uploaded"), status_code=303)


def _options(form: FormData) -> PrintOptions:
    try:
        return PrintOptions(
            copies=forms.number(form, "copies", 1, 999) if form.get("copies") else 1,
            grayscale=form.get("colour") == "grayscale",
            duplex=form.get("duplex") == "on",
            pages=forms.text(form, "pages", 200),
        )
    except ValueError as exc:
        raise Invalid(str(exc)) from None


@router.get(PATH + "/{submission_id}")
async def job_page(submission_id: str, ctx: PageContext = Depends(user_page)) -> Response:
    return await run_in_threadpool(_job_page, ctx, submission_id)


def _job_page(ctx: PageContext, submission_id: str, error: str = "") -> Response:
    with ctx.app.database.read() as session:
        row = _owned(ctx, session, submission_id)
        job = web_print.views(session, [row])[0]
    previews = list(range(1, min(PREVIEW_PAGES, job.pages or 0) + 1))
    return ctx.render(
        "portal/web_print_job.html",
        job=job,
        previews=previews if job.stage == Stage.READY.value else [],
        path=PATH,
        error=error,
        refresh=settling(job.stage, job.held_status, job.queue_kind != "direct"),
    )


def _owned(ctx: PageContext, session: Session, submission_id: str) -> WebPrintRow:
    try:
        return web_print.owned(session, submission_id, ctx.session.user_id)
    except REFUSALS:
        raise WebError(404, "Not found", "No such Web Print job.") from None


@router.post(PATH + "/{submission_id}/print")
async def print_it(
    submission_id: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    """Print a rendered document: its provider fetches it and holds it for release."""
    ctx, _ = posted
    try:
        provider = await run_in_threadpool(_confirm, ctx, submission_id)
    except REFUSALS as exc:
        return await run_in_threadpool(_job_page, ctx, submission_id, str(exc))
    await run_in_threadpool(service_of(ctx.app).ring, provider)
    return RedirectResponse(f"{PATH}/{submission_id}", status_code=303)


def _confirm(ctx: PageContext, submission_id: str) -> str:
    with ctx.app.database.session() as session:
        row = _owned(ctx, session, submission_id)
        web_print.confirm(row)
        return row.provider


@router.post(PATH + "/{submission_id}/cancel")
async def cancel_it(
    submission_id: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    ctx, _ = posted
    try:
        await run_in_threadpool(_cancel, ctx, submission_id)
    except REFUSALS as exc:
        return await run_in_threadpool(_job_page, ctx, submission_id, str(exc))
    return RedirectResponse(done(PATH, "web-print-canceled"), status_code=303)


def _cancel(ctx: PageContext, submission_id: str) -> None:
    with ctx.app.database.session() as session:
        row = _owned(ctx, session, submission_id)
        web_print.cancel(row)
        service_of(ctx.app).taken([row])


@router.get(PATH + "/{submission_id}/preview/{page}.png")
async def preview(submission_id: str, page: int, ctx: PageContext = Depends(user_page)) -> Response:
    """A small image of one of the first pages of a rendered document."""
    path = await run_in_threadpool(_preview, ctx, submission_id, page)
    return FileResponse(path, media_type="image/png", headers=HEADERS)


def _preview(ctx: PageContext, submission_id: str, page: int) -> Path:
    with ctx.app.database.read() as session:
        row = _owned(ctx, session, submission_id)
        session.expunge(row)
    found = service_of(ctx.app).preview(row, page)
    if found is None:
        raise WebError(404, "Not found", "No preview of that page.")
    return found
