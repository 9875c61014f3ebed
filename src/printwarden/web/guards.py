"""Who may open a page: the session cookie, its role, its CSRF token, and the site's mode.

Every page handler takes one of :func:`admin_page`, :func:`user_page` (reads) or
:func:`admin_form`, :func:`user_form` (state changes: the form must carry the session's
CSRF token). Anonymous visitors are sent to the login page; the wrong role gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from printwarden.domain.money import Currency
from printwarden.service.state import AppState, app_state
from printwarden.store import web_sessions
from printwarden.store.models import UserRow
from printwarden.web import messages
from printwarden.web.sessions import SESSION_COOKIE, WebSession, fingerprint, same
from printwarden.web.state import WebState, web_state
from printwarden.web.templating import html

MAX_FORM_FIELDS = 200


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class WebError(Exception):
    """A refusal shown as a page (403 wrong role or CSRF, 404, 409, 503 offline…)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass(frozen=True, slots=True)
class PageContext:
    """What every page needs: who asks, the app, and whether the site is offline."""

    app: AppState
    web: WebState
    session: WebSession
    path: str
    offline: bool
    message: str

    @property
    def currency(self) -> Currency:
        return self.app.currency

    def money(self, units: int | None) -> str:
        """An amount as people read it: ``$1.50`` (—: unknown)."""
        return "—" if units is None else self.currency.show(units)

    def amount(self, units: int | None) -> str:
        """An amount as a form field holds it: ``1.50``."""
        return "" if units is None else self.currency.format(units)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return html(template, status, ctx=self, money=self.money, amount=self.amount, **values)


def offline_now(state: AppState) -> bool:
    """True on a Site Server answering from its replica (the App Server is out of reach)."""
    return state.authority.offline()


def cookie_session(request: Request, web: WebState) -> WebSession | None:
    found = web.signer.session(request.cookies.get(SESSION_COOKIE), web.max_age)
    if found is None or web.ended(found.sid):
        return None
    return found


async def _context(request: Request, state: AppState, web: WebState, admin: bool) -> PageContext:
    session = cookie_session(request, web)
    if session is None:
        raise LoginRequired(_return_path(request))
    if not web.recently_checked(session.sid):
        if not await run_in_threadpool(_still_valid, state, session):
            raise LoginRequired(_return_path(request))
        web.checked(session.sid)
    if session.admin != admin:
        raise WebError(403, "Forbidden", "This page is not for your role.")
    offline = offline_now(state)
    if admin and offline:
        raise WebError(503, "Unavailable while offline",
                       "The administrator console needs the App Server. This site is offline: "
                       "only the user portal and release pages work here now.")  # fmt: skip
    message = messages.text(request.query_params.get("done", ""))
    return PageContext(state, web, session, request.url.path, offline, message)


def _still_valid(state: AppState, session: WebSession) -> bool:
    """The user still exists, is enabled, and has the password and role the session began
    with; and the session was not logged out (through another process)."""
    with state.database.read() as db:
        user = db.get(UserRow, session.user_id)
        return (
            not web_sessions.ended(db, session.sid)
            and user is not None
            and user.deleted_at is None
            and user.enabled
            and user.username == session.username
            and fingerprint(user) == session.fingerprint
        )


def _return_path(request: Request) -> str:
    if request.method != "GET":
        return "/web/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def admin_page(
    request: Request, state: AppState = Depends(app_state), web: WebState = Depends(web_state)
) -> PageContext:
    return await _context(request, state, web, admin=True)


async def user_page(
    request: Request, state: AppState = Depends(app_state), web: WebState = Depends(web_state)
) -> PageContext:
    return await _context(request, state, web, admin=False)


async def checked_form(request: Request, ctx: PageContext) -> FormData:
    """The posted form, once its CSRF token matched the session's (403 otherwise)."""
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    check_csrf(ctx, form, request.headers.get("x-csrf-token"))
    return form


def check_csrf(ctx: PageContext, form: FormData, header: str | None = None) -> None:
    """403 unless the form (or the header) carries the session's CSRF token."""
    token = form.get("csrf_token") or header
    if not same(ctx.session.csrf, token if isinstance(token, str) else None):
        raise WebError(403, "Forbidden", "The form is out of date or not from this site (CSRF).")


async def admin_form(
    request: Request, ctx: PageContext = Depends(admin_page)
) -> tuple[PageContext, FormData]:
    return ctx, await checked_form(request, ctx)


async def user_form(
    request: Request, ctx: PageContext = Depends(user_page)
) -> tuple[PageContext, FormData]:
    return ctx, await checked_form(request, ctx)
