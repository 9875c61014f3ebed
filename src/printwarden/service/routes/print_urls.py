"""Who submits at a provider, and people's print URLs for token-url queues.

``POST /jobs/submitter`` (providers and sites) tells a provider, before it spools a job,
whether jobs from a user name are taken, or whose a print URL's token is — offline at a
site, from the replica, which holds every print URL's hash. Print URLs are made, listed and
revoked by administrators for anyone and by people for themselves; made and revoked at HQ
only: a Site Server answering offline refuses that (503), since nothing it writes reaches
HQ.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.jobs import SubmitterIn, SubmitterOut
from printwarden.api.users import PrintTokenIn, PrintTokenOut
from printwarden.domain import print_urls
from printwarden.domain.functions import Function
from printwarden.domain.offline_policies import UnauthenticatedPolicy
from printwarden.service import offline
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import (
    admin_only,
    any_person,
    printing_components,
    read_session,
    write_session,
)
from printwarden.service.state import AppState, app_state
from printwarden.store import print_tokens
from printwarden.store.models import PrintTokenRow, UserRow
from printwarden.store.tokens import Caller

router = APIRouter(tags=["print URLs"])
UNKNOWN = (
    "printwarden does not know user {name!r}: print under your own login name, or ask an "
    "administrator to add you"
)


@router.post("/jobs/submitter")
async def submitter(
    body: SubmitterIn,
    _caller: Caller = Depends(printing_components),
    state: AppState = Depends(app_state),
) -> SubmitterOut:
    """Does the server take jobs from ``username`` (known and enabled; offline at a site,
    under the Unauthenticated Users policy)? Or whose print URL is ``print_token``?"""
    if bool(body.username) == bool(body.print_token):
        raise Problem(422, "Invalid request", "name either a username or a print_token")
    if body.print_token:
        return await run_in_threadpool(_token_owner, state, body.print_token)
    return await run_in_threadpool(_user_taken, state, body.username)


def _token_owner(state: AppState, token: str) -> SubmitterOut:
    found = _look_up(state, token)
    reason = print_urls.refusal(found.standing, offline=state.authority.offline())
    if reason is not None or found.user is None:
        return SubmitterOut(accepted=False, reason=reason or print_urls.INVALID)
    return SubmitterOut(accepted=True, username=found.user.username, known=True)


def _look_up(state: AppState, token: str) -> print_tokens.Found:
    """HQ notes the print URL's use; a Site Server answers from its replica and writes
    nothing (it would never reach HQ)."""
    if not state.authority.at_hq:
        with state.database.read() as session:
            return print_tokens.look_up(session, token)
    with state.database.session() as session:
        return print_tokens.use(session, token)


def _user_taken(state: AppState, name: str) -> SubmitterOut:
    with state.database.read() as session:
        user = _user(session, name)
        if user is not None:
            if not user.enabled:
                return SubmitterOut(accepted=False, reason=f"user {name!r} is disabled")
            return SubmitterOut(accepted=True, username=user.username, known=True)
        if not state.authority.offline():
            return SubmitterOut(accepted=False, reason=UNKNOWN.format(name=name))
        chosen = offline.policies(session)
    if chosen.unauthenticated is UnauthenticatedPolicy.CANCEL:
        state.authority.note_unknown_user(None, name, "job refused at submission")
        reason = f"user {name!r} is unknown here and the site is offline: refused (policy)"
        return SubmitterOut(accepted=False, reason=reason)
    return SubmitterOut(accepted=True, username=name)


def _user(session: Session, name: str) -> UserRow | None:
    statement = select(UserRow).where(UserRow.username == name, UserRow.deleted_at.is_(None))
    return session.scalar(statement)


def _out(row: PrintTokenRow, token: str | None = None) -> PrintTokenOut:
    return PrintTokenOut(
        id=row.id,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        token=token,
    )


def _at_hq(state: AppState) -> None:
    if not state.authority.at_hq:
        raise Problem(503, "Unavailable at a site", "print URLs are made and revoked at HQ")


@router.post("/users/{username}/print-tokens", status_code=201)
def make_print_token(
    username: str,
    body: PrintTokenIn,
    _caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> PrintTokenOut:
    """A new print URL token for ``username``; its text is in this answer only."""
    _at_hq(state)
    made = print_tokens.create(session, username, body.label)
    return _out(made.row, made.token)


@router.get("/users/{username}/print-tokens")
def list_print_tokens(
    username: str,
    _caller: Caller = Depends(admin_only),
    session: Session = Depends(read_session),
) -> list[PrintTokenOut]:
    return [_out(row) for row in print_tokens.live(session, username)]


@router.delete("/users/{username}/print-tokens/{token_id}", status_code=204)
def revoke_print_token(
    username: str,
    token_id: int,
    _caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> Response:
    _at_hq(state)
    print_tokens.revoke(session, username, token_id)
    return Response(status_code=204)


@router.post("/me/print-tokens", dependencies=[serves(Function.USER_BALANCES)], status_code=201)
def make_my_print_token(
    body: PrintTokenIn,
    caller: Caller = Depends(any_person),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> PrintTokenOut:
    """A new print URL of your own; its text is in this answer only."""
    _at_hq(state)
    made = print_tokens.create(session, caller.username or "", body.label)
    return _out(made.row, made.token)


@router.get("/me/print-tokens", dependencies=[serves(Function.USER_BALANCES)])
def list_my_print_tokens(
    caller: Caller = Depends(any_person), session: Session = Depends(read_session)
) -> list[PrintTokenOut]:
    return [_out(row) for row in print_tokens.live(session, caller.username or "")]


@router.delete(
    "/me/print-tokens/{token_id}", dependencies=[serves(Function.USER_BALANCES)], status_code=204
)
def revoke_my_print_token(
    token_id: int,
    caller: Caller = Depends(any_person),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> Response:
    _at_hq(state)
    print_tokens.revoke(session, caller.username or "", token_id)
    return Response(status_code=204)
