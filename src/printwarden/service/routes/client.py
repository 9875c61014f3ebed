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
import json
import time
from collections.abc import AsyncIterator
from typing import Any

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
from printwarden.domain.questions import Answerer, Outcome
from printwarden.service import logins
from printwarden.service.auth import require
from printwarden.service.events import Event, EventHub
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import accounts, jobs, tokens, users
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import (
    AccountRow,
    ApiTokenRow,
    GroupRow,
    MembershipRow,
    PrinterRow,
    PrintJobRow,
    UserRow,
)
from printwarden.store.tokens import Caller
from printwarden.usecases import questions, release

router = APIRouter(tags=["user client"])
a_person = require(Role.USER, Role.CLIENT)
SERVES = serves(Function.ACCOUNT_SELECTION_USER_CLIENT)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MODE_CHECK_SECONDS = 1.0  # how soon a site's stream ends after the site changes mode
RECENT_JOBS = 5
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
    stream = _stream(state, _user_id(caller), last_event_id)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


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
    resume = hub.resumable(after)
    if resume is None:
        mark = hub.mark()
        hello = await run_in_threadpool(snapshot, state, user_id)
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
        for kind, data in expand(state, event)
    ]
    return PolledEventsOut(events=events, last_id=last)


def _user_id(caller: Caller) -> int:
    assert caller.user_id is not None  # users' and clients' tokens belong to a user
    return caller.user_id


async def _stream(state: AppState, user_id: int, last_event_id: str | None) -> AsyncIterator[str]:
    hub = state.events
    config = state.settings.client
    flag = hub.subscribe(user_id)
    try:
        mark = hub.mark()
        resume = hub.resumable(last_event_id)
        hello = await run_in_threadpool(snapshot, state, user_id)
        yield frame(hub, Event(mark, "hello", hello), "hello", hello)
        sent = mark if resume is None else resume
        ends = time.monotonic() + config.stream_minutes * 60
        offline = state.authority.offline()
        beat = time.monotonic() + config.heartbeat_seconds
        while time.monotonic() < ends and state.authority.offline() == offline:
            flag.clear()
            for event in hub.since(user_id, sent):
                for kind, data in expand(state, event):
                    yield frame(hub, event, kind, data)
                sent = event.seq
            now = time.monotonic()
            if now >= beat:
                yield ": keep-alive\n\n"
                beat = now + config.heartbeat_seconds
            wake = beat - now if state.authority.at_hq else MODE_CHECK_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flag.wait(), max(0.0, min(wake, ends - now)))
    finally:
        hub.unsubscribe(user_id, flag)


def frame(hub: EventHub, event: Event, kind: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event (JSON data is one line)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {hub.event_id(event.seq)}\nevent: {kind}\ndata: {body}\n\n"


def expand(state: AppState, event: Event) -> list[tuple[str, dict[str, Any]]]:
    """What a stored event says to a client: money with its currency, and a balance that
    fell below the warning level also as ``balance.low``."""
    data = dict(event.data)
    code = state.currency.code
    if "cost" in data or "balance" in data:
        data["currency"] = code
    if event.kind != "balance":
        return [(event.kind, data)]
    low, previous = state.settings.client.low_balance, data.pop("previous", None)
    said = [("balance", data)]
    if previous is not None and previous >= low > data["balance"]:
        warning = {"balance": data["balance"], "threshold": low, "currency": code}
        said.append(("balance.low", warning))
    return said


def snapshot(state: AppState, user_id: int) -> dict[str, Any]:
    """The ``hello`` event: who you are, your balance, open questions and recent jobs."""
    with state.database.read() as session:
        user = session.get(UserRow, user_id)
        assert user is not None
        account = users.personal_account(session, user_id)
        asked = questions.open_questions(session, user_id, state.currency)
        recent = _recent_jobs(session, user_id)
    return {
        "username": user.username,
        "full_name": user.full_name,
        "balance": account.balance,
        "restricted": account.restricted,
        "currency": state.currency.code,
        "low_balance": account.restricted and account.balance < state.settings.client.low_balance,
        "questions": [q.model_dump(mode="json") for q in asked],
        "recent": recent,
    }


def _recent_jobs(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(PrintJobRow, PrinterRow.name, AccountRow.name)
        .join(PrinterRow, PrinterRow.id == PrintJobRow.printer_id)
        .join(AccountRow, AccountRow.id == PrintJobRow.account_id)
        .where(PrintJobRow.user_id == user_id)
        .order_by(PrintJobRow.id.desc())
        .limit(RECENT_JOBS)
    ).all()
    return [
        {
            "job": job.job_ref,
            "document_name": job.document_name,
            "printer": printer,
            "pages": job.pages,
            "cost": job.cost,
            "account": account,
            "printed_at": utc(job.printed_at).isoformat(),
        }
        for job, printer, account in rows
    ]


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
    outcome = await answer(state, caller, job, body, by)
    return AnswerOut(job=job, outcome=outcome.value)


async def answer(
    state: AppState, caller: Caller, job: str, body: AnswerIn, by: Answerer
) -> Outcome:
    """Check the PIN (outside any transaction, throttled), then apply the answer."""
    choice = jobs.AccountChoice()
    if body.action == "print" and body.account:
        choice = await _pinned_choice(state, body.account, body.pin, caller.username or "")
    given = questions.Answer(body.action, choice, by, body.comment)
    releaser = release.Releaser(caller.username or "", _user_id(caller))
    return await release.in_thread(state, questions.answer, job, releaser, given)


async def _pinned_choice(state: AppState, name: str, pin: str, username: str) -> jobs.AccountChoice:
    """The shared account ``name``, its PIN checked here (online or offline: the replica
    holds the PIN's hash); whether the user may charge it is the use case's to check."""
    account = await run_in_threadpool(_shared_account, state, name)
    if account is None:
        raise Problem(422, "Invalid request", f"no shared account named {name!r}")
    if not await logins.account_pin(state, account, pin, logins.person_client(username)):
        raise Problem(422, "Invalid request", f"wrong or missing PIN for account {name!r}")
    return jobs.AccountChoice(account_id=account.id)


def _shared_account(state: AppState, name: str) -> logins.PinnedAccount | None:
    with state.database.read() as session:
        try:
            row = accounts.find_shared(session, name)
        except NotFound:
            return None
        return logins.PinnedAccount(row.id, row.name, row.pin_hash)


# --- client tokens -------------------------------------------------------------------------


@router.get("/me/client-tokens")
def my_client_tokens(
    caller: Caller = Depends(a_person), session: Session = Depends(read_session)
) -> list[ClientTokenOut]:
    """Your User Clients' tokens that still work."""
    rows = session.scalars(
        select(ApiTokenRow).where(
            ApiTokenRow.user_id == _user_id(caller),
            ApiTokenRow.role == Role.CLIENT.value,
            ApiTokenRow.revoked_at.is_(None),
        )
    )
    return [
        ClientTokenOut(id=r.id, name=r.name, created_at=r.created_at, expires_at=r.expires_at)
        for r in rows
    ]


@router.delete("/me/client-tokens/{token_id}", status_code=204)
def revoke_my_client_token(
    token_id: str,
    caller: Caller = Depends(a_person),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> Response:
    """Revoke one of your client tokens (``current``: the one this request carries)."""
    if state.authority.offline():
        raise Problem(503, "Unavailable while offline", "revoke it once the site is online")
    wanted = caller.token_id if token_id == CURRENT else _token_number(token_id)
    row = session.get(ApiTokenRow, wanted)
    if row is None or row.user_id != caller.user_id or row.role != Role.CLIENT.value:
        raise Problem(404, "Not found", f"you have no client token {token_id}")
    tokens.revoke_token(session, row.id)
    state.callers.forget_token_id(row.id)
    return Response(status_code=204)


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
