"""Failed logins and lockouts, for administrators: see them, and lift one.

The counts are the answering process's own (``AppState.logins``). Online, a Site Server
forwards every login to the App Server, so these are the ones that count; a site's own
(used while it answers offline) start empty at each of its starts.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from printwarden.api.auth import LockoutOut, LockoutsOut
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only
from printwarden.service.state import AppState, app_state
from printwarden.service.throttle import Entry
from printwarden.store.models import UserRow

router = APIRouter(tags=["lockouts"], dependencies=[Depends(admin_only)])


@router.get("/lockouts")
async def list_lockouts(
    state: AppState = Depends(app_state),
    limit: int = Query(500, ge=1, le=10_000, description="At most this many keys"),
) -> LockoutsOut:
    """Accounts and clients with failed logins not yet forgotten: locked ones first, then
    those with the most failures (``total`` counts them all)."""
    entries = await state.logins.run(state.logins.entries)
    return await run_in_threadpool(lockouts_out, state, entries, limit)


@router.delete(
    "/lockouts/{key:path}", status_code=204, responses={404: {"description": "No failures"}}
)
async def clear_lockout(key: str, state: AppState = Depends(app_state)) -> Response:
    """Forget a key's failures: its lockout or back-off ends now (404: it had none)."""
    if not await state.logins.run(state.logins.clear, key):
        raise Problem(404, "Not found", f"no failed logins are counted against {key!r}")
    return Response(status_code=204)


def lockouts_out(state: AppState, entries: list[Entry], limit: int) -> LockoutsOut:
    """The first ``limit`` entries as the API shows them, with the user each account key
    names."""
    total = len(entries)
    entries = sorted(entries, key=lambda e: not e.locked)[:limit]
    identities = [e.key.removeprefix("identity:") for e in entries if e.key.startswith("identity:")]
    names: dict[str, str] = {}
    if identities:
        with state.database.read() as session:
            query = select(UserRow.identity_hash, UserRow.username).where(
                UserRow.identity_hash.in_(identities)
            )
            names = {str(h): u for h, u in session.execute(query)}
    items = [
        LockoutOut(
            key=e.key,
            kind=e.kind.value,
            user=_user_of(e.key, names),
            failures=e.failures,
            locked=e.locked,
            retry_after=math.ceil(e.retry_after),
            last_failure_at=e.last_failure_at,
        )
        for e in entries
    ]
    return LockoutsOut(items=items, total=total)


def _user_of(key: str, identities: dict[str, str]) -> str | None:
    if key.startswith("user:"):
        return key.removeprefix("user:")
    return identities.get(key.removeprefix("identity:")) if key.startswith("identity:") else None
