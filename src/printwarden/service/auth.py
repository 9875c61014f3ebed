"""Who is calling: bearer tokens, and the role each route requires."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from printwarden.domain.accounts import Role
from printwarden.service.problems import Problem
from printwarden.service.state import AppState, app_state
from printwarden.store.db import Database
from printwarden.store.tokens import Caller, resolve_token

_bearer = HTTPBearer(auto_error=False, description="A token from /auth/login or the admin CLI")

UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


async def current_caller(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    state: AppState = Depends(app_state),
) -> Caller:
    """The caller of a valid token; 401 for a missing, unknown, expired or revoked one.

    Async: a cached token is answered on the event loop; only a miss goes to a worker thread.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "Unauthorized", "a bearer token is required", headers=UNAUTHENTICATED)
    caller = state.callers.get(credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(_resolve, state.database, credentials.credentials)
        if caller is None:
            raise Problem(401, "Unauthorized", "the token is not valid", headers=UNAUTHENTICATED)
        state.callers.put(credentials.credentials, caller)
    return caller


def _resolve(database: Database, token: str) -> Caller | None:
    with database.read() as session:
        return resolve_token(session, token)


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits only callers with one of ``roles`` (403 for the others)."""
    allowed = frozenset(roles)

    async def check(request: Request, caller: Caller = Depends(current_caller)) -> Caller:
        if caller.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Problem(403, "Forbidden", f"this needs the role {names}")
        request.state.caller = caller
        return caller

    check.roles = allowed  # type: ignore[attr-defined]
    return check
