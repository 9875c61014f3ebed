"""Logging in and out, and what a signed-in person may see of themselves."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from printwarden.api.accounts import TransactionOut
from printwarden.api.auth import LoginIn, LoginOut
from printwarden.api.users import UserOut
from printwarden.directory.errors import DirectoryUnavailable
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.service import logins, views
from printwarden.service.client_address import client_address, vouching_site
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import any_person, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import ledger, tokens, users
from printwarden.store.models import UserRow
from printwarden.store.tokens import Caller

router = APIRouter(tags=["auth"])


@router.post("/auth/login", responses={429: {"description": "Too many failed attempts"}})
async def login(body: LoginIn, request: Request, state: AppState = Depends(app_state)) -> LoginOut:
    """Exchange a username and password for a session token (role admin or user).

    Failed attempts are throttled per account and per client address (429 with
    ``Retry-After``); the password is checked outside any database transaction."""
    client = logins.address_client(await client_address(request, state))
    try:
        user = await logins.password(state, body.username, body.password, client)
    except DirectoryUnavailable as exc:
        raise Problem(503, "Directory unavailable", str(exc)) from None
    if user is None:
        raise Problem(401, "Unauthorized", "wrong username or password")
    site = await vouching_site(request, state)
    return await run_in_threadpool(_issue, state, user, site, body.client)


def _issue(
    state: AppState, user: UserRow, site: str | None = None, client: str | None = None
) -> LoginOut:
    """The session token, in a write transaction of its own (nothing slow inside). A user's
    session opened through a site replicates to that site (its hash), so the routes the
    site answers itself (Web Print) know it too. A User Client's token (``client``: its
    computer's name) replicates to every site: the computer may be at any of them."""
    role = Role.ADMIN if user.is_admin else Role.USER
    lifetime = timedelta(hours=state.settings.session_hours)
    name = f"session:{user.username}"
    if client is not None:
        role, name = Role.CLIENT, f"client:{user.username}@{client}"
        lifetime, site = timedelta(days=state.settings.client.token_days), None
    with state.database.session() as session:
        token, token_row = tokens.issue_token(
            session, role, name=name, user_id=user.id, lifetime=lifetime,
            site=site if role is Role.USER else None,
        )  # fmt: skip
    assert token_row.expires_at is not None
    return LoginOut(token=token, role=role.value, expires_at=token_row.expires_at)


@router.post("/auth/logout", status_code=204)
def logout(caller: Caller = Depends(any_person), session: Session = Depends(write_session)) -> None:
    """End the session this request's token belongs to. Only people's sessions end so: a
    component token (site, provider, device) is revoked by an administrator, never by
    itself (403)."""
    tokens.revoke_token(session, caller.token_id)


@router.get("/me", dependencies=[serves(Function.USER_BALANCES)])
def me(caller: Caller = Depends(any_person), session: Session = Depends(read_session)) -> UserOut:
    """The signed-in person, with their balance."""
    row = users.find_user(session, caller.username or "")
    return views.user_out(users.views(session, [row])[0])


@router.get("/me/transactions", dependencies=[serves(Function.USER_BALANCES)])
def my_transactions(
    caller: Caller = Depends(any_person),
    session: Session = Depends(read_session),
    limit: int = Query(50, ge=1, le=500),
    before: int | None = Query(None, ge=1, description="Only entries with seq below this"),
) -> list[TransactionOut]:
    """The signed-in person's personal ledger, newest first."""
    row = users.find_user(session, caller.username or "")
    account = users.personal_account(session, row.id)
    rows = ledger.recent(session, account_id=account.id, before=before, limit=limit)
    return [views.transaction_out(r) for r in rows]
