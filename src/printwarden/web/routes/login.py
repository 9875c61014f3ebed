"""Logging in and out of the web interface, and where ``/web/`` leads."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from printwarden.directory.errors import DirectoryUnavailable
from printwarden.service import logins
from printwarden.service.client_address import client_address
from printwarden.service.state import AppState, app_state
from printwarden.service.throttle import Throttled
from printwarden.store.models import UserRow
from printwarden.web.guards import WebError, cookie_session, offline_now
from printwarden.web.redirects import home_of, safe_next
from printwarden.web.sessions import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    new_session,
    same,
)
from printwarden.web.state import WebState, web_state
from printwarden.web.templating import html

router = APIRouter()


@router.get("/web/")
async def web_home(request: Request, web: WebState = Depends(web_state)) -> Response:
    session = cookie_session(request, web)
    target = home_of(session) if session is not None else "/web/login"
    return RedirectResponse(target, status_code=303)


@router.get("/web/login")
async def login_form(
    request: Request,
    next: str = "/web/",
    state: AppState = Depends(app_state),
    web: WebState = Depends(web_state),
) -> Response:
    return _form(request, state, web, next)


def _form(request: Request, state: AppState, web: WebState, next_path: str, *,
          status: int = 200, error: str = "", username: str = "",
          headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    """The login form with a fresh CSRF nonce (also set in a short-lived signed cookie)."""
    nonce = secrets.token_urlsafe(24)
    response = html("login.html", status, headers, csrf=nonce, next=safe_next(next_path, None),
                    error=error, username=username, offline=offline_now(state))  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, web.signer.login_cookie(nonce), max_age=LOGIN_FORM_SECONDS,
                        path="/web/", httponly=True, samesite="strict",
                        secure=web.secure(request))  # fmt: skip
    return response


@router.post("/web/login")
async def login(
    request: Request, state: AppState = Depends(app_state), web: WebState = Depends(web_state)
) -> Response:
    form = await request.form(max_fields=10, max_files=0)
    username, password = str(form.get("username", ""))[:128], str(form.get("password", ""))[:1024]
    next_path = str(form.get("next", "/web/"))[:512]
    nonce = web.signer.login_nonce(request.cookies.get(LOGIN_COOKIE))
    token = form.get("csrf_token")
    if nonce is None or not same(nonce, token if isinstance(token, str) else None):
        return _form(request, state, web, next_path, status=403, username=username,
                     error="The login form expired. Please try again.")  # fmt: skip
    try:
        user = await _authenticate(request, state, username, password)
    except Throttled as exc:
        return _form(request, state, web, next_path, status=429, username=username,
                     error=f"Too many failed logins. Try again in {exc.seconds} seconds.",
                     headers={"Retry-After": str(exc.seconds)})  # fmt: skip
    if user is None:
        return _form(request, state, web, next_path, status=401, username=username,
                     error="Wrong username or password.")  # fmt: skip
    return await _start_session(request, web, user, next_path)


async def _authenticate(
    request: Request, state: AppState, username: str, password: str
) -> UserRow | None:
    """The user, if enabled and the password is right (online or by the Offline Policy);
    throttled like every login, per account and per client address."""
    client = logins.address_client(await client_address(request, state))
    try:
        return await logins.password(state, username, password, client)
    except DirectoryUnavailable as exc:
        raise WebError(503, "Directory unavailable", str(exc)) from None


async def _start_session(
    request: Request, web: WebState, user: UserRow, next_path: str
) -> Response:
    """A brand-new session (new id, new CSRF token); any session the browser had ends."""
    previous = cookie_session(request, web)
    if previous is not None:
        await run_in_threadpool(web.end, previous.sid)
    session = new_session(user, web.signer.issuer)
    response = RedirectResponse(safe_next(next_path, session), status_code=303)
    response.set_cookie(SESSION_COOKIE, web.signer.session_cookie(session), max_age=web.max_age,
                        path="/web", httponly=True, samesite="lax",
                        secure=web.secure(request))  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/web/")
    return response


@router.post("/web/logout")
async def logout(request: Request, web: WebState = Depends(web_state)) -> Response:
    session = cookie_session(request, web)
    if session is not None:
        form = await request.form(max_fields=10, max_files=0)
        token = form.get("csrf_token")
        if not same(session.csrf, token if isinstance(token, str) else None):
            raise WebError(403, "Forbidden", "The form is out of date or not from this site.")
        await run_in_threadpool(web.end, session.sid)
    response = RedirectResponse("/web/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/web")
    return response
