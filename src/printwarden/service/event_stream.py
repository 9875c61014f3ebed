"""A person's event stream as Server-Sent Events, for the API (the User Client) and the
portal (the Questions page): ``hello`` first (balance, open questions, recent jobs), then
each event as it happens, a comment line as heartbeat; ``Last-Event-ID`` resumes.

A stream ends after ``[client] stream_minutes`` (at the first heartbeat after) and, at a
Site Server, as soon as the site changes mode (online its streams come from HQ, offline from
here): clients reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.service.events import Event, EventHub
from printwarden.service.state import AppState
from printwarden.store import users
from printwarden.store.db import utc
from printwarden.store.models import AccountRow, PrinterRow, PrintJobRow, UserRow
from printwarden.usecases import questions

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
RECENT_JOBS = 5


async def stream(state: AppState, user_id: int, last_event_id: str | None) -> AsyncIterator[str]:
    """The events of ``user_id`` (see the module docstring). It waits on one flag, set by a
    new event, the hub's heartbeat, or the site's change of mode; its only timer is its end."""
    hub = state.events
    flag = hub.subscribe(user_id)
    try:
        mark = hub.mark()
        resume = hub.resumable(last_event_id)
        hello = await run_in_threadpool(snapshot, state, user_id)
        yield frame(hub, Event(mark, "hello", hello), "hello", hello)
        sent = mark if resume is None else resume
        ends = time.monotonic() + state.settings.client.stream_minutes * 60
        offline, beats = state.authority.offline(), hub.beats
        while time.monotonic() < ends and state.authority.offline() == offline:
            flag.clear()
            for event in hub.since(user_id, sent):
                for kind, data in expand(state, event):
                    yield frame(hub, event, kind, data)
                sent = event.seq
            if hub.beats != beats:
                beats = hub.beats
                yield ": keep-alive\n\n"
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, ends - time.monotonic())):
                    await flag.wait()
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
