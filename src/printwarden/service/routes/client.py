"""The User Client's routes: its event stream, the questions it answers, its tokens, and
administrators' messages to users.

``GET /me/events`` is Server-Sent Events: ``hello`` first (balance, open questions, recent
jobs), then each event as it happens, a comment line as heartbeat, ``Last-Event-ID`` to
resume. ``GET /me/events/poll`` is the long-poll fallback. A Site Server serves the same
routes from its replica while offline (see ``site/gateway.py`` for the online stream).
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.questions import (
    AnswerIn,
    AnswerOut,
    ClientTokenOut,
    MessageIn,
    MessageOut,
    PolledEvent,
    PolledEventsOut,
    QuestionOut,
)
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.domain.questions import Answerer
from printwarden.service import answers, client_tokens, event_stream
from printwarden.service.auth import require
from printwarden.service.events import Event
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session
from printwarden.service.state import AppState, app_state
from printwarden.store import tokens, users
from printwarden.store.models import (
    ApiTokenRow,
    GroupRow,
    MembershipRow,
    UserRow,
)
from printwarden.store.tokens import Caller
from printwarden.usecases import questions

router = APIRouter(tags=["user client"])
a_person = require(Role.USER, Role.CLIENT)
SERVES = serves(Function.ACCOUNT_SELECTION_USER_CLIENT)
CURRENT = "current"  # the client token a request carries


@router.get(
    "/me/events",
    dependencies=[SERVES],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream"}},
)
async def my_events(
    caller: Caller = Depends(a_person),
    state: AppState = Depends(app_state),
    last_event_id: str | None = Header(None, max_length=64),
) -> StreamingResponse:
    """Your events as Server-Sent Events (see the module docstring)."""
    stream = event_stream.stream(state, _user_id(caller), last_event_id)
    return StreamingResponse(
        stream, media_type="text/event-stream", headers=event_stream.SSE_HEADERS
    )


@router.get("/me/events/poll", dependencies=[SERVES])
async def poll_my_events(
    caller: Caller = Depends(a_person),
    state: AppState = Depends(app_state),
    after: str | None = Query(None, max_length=64, description="The last event id you have"),
    wait: float = Query(25.0, ge=0, le=60, description="Seconds to wait for an event"),
) -> PolledEventsOut:
    """Long-poll: the events after ``after`` (waiting up to ``wait`` s for one); without a
    resumable ``after``, ``hello`` first."""
    hub, user_id = state.events, _user_id(caller)
    hub.touch(user_id)
    resume = hub.resumable(after)
    if resume is None:
        mark = hub.mark()
        hello = await run_in_threadpool(event_stream.snapshot, state, user_id)
        return _polled(state, [Event(mark, "hello", hello)], hub.event_id(mark))
    found = hub.since(user_id, resume)
    if not found and wait > 0:
        flag = hub.subscribe(user_id)
        try:
            found = hub.since(user_id, resume)
            if not found:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(flag.wait(), wait)
                found = hub.since(user_id, resume)
        finally:
            hub.unsubscribe(user_id, flag)
    last = hub.event_id(found[-1].seq) if found else after or ""
    return _polled(state, found, last)


def _polled(state: AppState, found: list[Event], last: str) -> PolledEventsOut:
    events = [
        PolledEvent(id=state.events.event_id(event.seq), event=kind, data=data)
        for event in found
        for kind, data in event_stream.expand(state, event)
    ]
    return PolledEventsOut(events=events, last_id=last)


def _user_id(caller: Caller) -> int:
    assert caller.user_id is not None  # users' and clients' tokens belong to a user
    return caller.user_id


# --- questions -----------------------------------------------------------------------------


@router.get("/me/questions", dependencies=[SERVES])
def my_questions(
    caller: Caller = Depends(a_person),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> list[QuestionOut]:
    """Your jobs waiting for an answer (confirm the cost, or choose an account)."""
    return questions.open_questions(session, _user_id(caller), state.currency)


@router.post(
    "/me/questions/{job}",
    dependencies=[SERVES],
    responses={409: {"description": "Answered already"}, 429: {"description": "Wrong PINs"}},
)
async def answer_question(
    job: str,
    body: AnswerIn,
    caller: Caller = Depends(a_person),
    state: AppState = Depends(app_state),
) -> AnswerOut:
    """Answer a job's question once: print it (charged to ``account``, "" for personal, with
    its PIN) or cancel it. The second answer to the same question is refused (409)."""
    by = Answerer.CLIENT if caller.role is Role.CLIENT else Answerer.PORTAL
    outcome = await answers.answer(state, caller, job, body, by)
    return AnswerOut(job=job, outcome=outcome.value)


# --- client tokens -------------------------------------------------------------------------


@router.get("/me/client-tokens")
def my_client_tokens(
    caller: Caller = Depends(a_person), session: Session = Depends(read_session)
) -> list[ClientTokenOut]:
    """Your User Clients' tokens that still work (one per computer logged in)."""
    return [_token_out(row) for row in tokens.client_tokens(session, _user_id(caller))]


@router.delete("/me/client-tokens/{token_id}", status_code=204)
def revoke_my_client_token(
    token_id: str, caller: Caller = Depends(a_person), state: AppState = Depends(app_state)
) -> Response:
    """Revoke one of your client tokens (``current``: the one this request carries)."""
    wanted = caller.token_id if token_id == CURRENT else _token_number(token_id)
    client_tokens.revoke(state, _user_id(caller), wanted)
    return Response(status_code=204)


@router.get("/users/{username}/client-tokens", dependencies=[Depends(admin_only)])
def client_tokens_of(
    username: str, session: Session = Depends(read_session)
) -> list[ClientTokenOut]:
    """A user's User Client tokens that still work (administrators)."""
    user = users.find_user(session, username)
    return [_token_out(row) for row in tokens.client_tokens(session, user.id)]


@router.delete(
    "/users/{username}/client-tokens/{token_id}",
    status_code=204,
    dependencies=[Depends(admin_only)],
)
def revoke_client_token_of(
    username: str,
    token_id: int,
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> Response:
    """Revoke a user's client token: a lost or stolen computer (administrators)."""
    client_tokens.revoke(state, users.find_user(session, username).id, token_id)
    return Response(status_code=204)


def _token_out(row: ApiTokenRow) -> ClientTokenOut:
    return ClientTokenOut(id=row.id, name=row.name, created_at=row.created_at,
                          expires_at=row.expires_at)  # fmt: skip


def _token_number(token_id: str) -> int:
    if not token_id.isdigit():
        raise Problem(404, "Not found", f"no client token {token_id!r}")
    return int(token_id)


# --- administrators' messages --------------------------------------------------------------


@router.post("/messages", dependencies=[Depends(admin_only)])
def send_message(
    body: MessageIn,
    caller: Caller = Depends(admin_only),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> MessageOut:
    """Show ``text`` in the User Clients of ``users`` and of the members of ``groups`` that
    are connected now (messages are not kept)."""
    if not body.users and not body.groups:
        raise Problem(422, "Invalid request", "name users or groups to send the message to")
    named = select(UserRow.id).where(UserRow.username.in_(body.users))
    members = (
        select(MembershipRow.user_id)
        .join(GroupRow, GroupRow.id == MembershipRow.group_id)
        .where(GroupRow.name.in_(body.groups))
    )
    recipients = set(session.scalars(named)) | set(session.scalars(members))
    message = {"text": body.text, "from": caller.username or "administrator"}
    for user_id in sorted(recipients):
        state.events.publish_one(user_id, "message", message)
    return MessageOut(recipients=len(recipients))
