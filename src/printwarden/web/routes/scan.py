"""The portal's Scan page: scan at a device with a network scanner (eSCL) with one of the
person's scan actions, and the person's recent scans on this server with their state and,
while it lasts, their download link. At a Site Server the page is the site's own
(``site/gateway.py``): its scanners, its scans."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from printwarden.api.scans import RemoteScanIn
from printwarden.service.problems import Problem, problem_of
from printwarden.service.scan_views import scan_out, scanners_for, start_remote_scan
from printwarden.store import scans
from printwarden.store.models import UserRow
from printwarden.usecases.errors import REFUSALS
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, user_form, user_page

router = APIRouter()
PAGE = "/web/portal/scan"
STARTED = "Scanning: the pages are fetched from the scanner, then delivered."


@router.get(PAGE)
async def scan_page(
    ctx: PageContext = Depends(user_page), started: str = Query("", max_length=1)
) -> Response:
    return await run_in_threadpool(_page, ctx, STARTED if started else "")


def _page(ctx: PageContext, notice: str = "", error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        user = session.get(UserRow, ctx.session.user_id)
        assert user is not None
        devices = [
            {"name": device.name, "location": device.location, "actions": actions}
            for device, actions in scanners_for(session, ctx.app, user)
        ]
        mine = [scan_out(row, ctx.app) for row in scans.recent(session, user.id)]
    return ctx.render("portal/scan.html", status, devices=devices, scans=mine, notice=notice,
                      error=error)  # fmt: skip


@router.post(PAGE)
async def start_scan(posted: tuple[PageContext, FormData] = Depends(user_form)) -> Response:
    """Scan what lies in the chosen device's feeder with the chosen action."""
    ctx, form = posted
    try:
        body = RemoteScanIn.model_validate(
            {"device": forms.text(form, "device", 128), "action": forms.text(form, "action", 80)}
        )
    except ValidationError:
        raise WebError(422, "Invalid input", "Choose a scanner and an action.") from None
    try:
        await run_in_threadpool(_start, ctx, body)
    except Problem as exc:
        return await run_in_threadpool(_page, ctx, "", exc.detail or exc.title, exc.status)
    except REFUSALS as exc:
        found = problem_of(exc)
        return await run_in_threadpool(_page, ctx, "", found.detail or found.title, found.status)
    return RedirectResponse(f"{PAGE}?started=1", status_code=303)


def _start(ctx: PageContext, body: RemoteScanIn) -> None:
    with ctx.app.database.session() as session:
        user = session.get(UserRow, ctx.session.user_id)
        assert user is not None
        start_remote_scan(session, ctx.app, user, body)
