"""Events for a person's User Client, noted in the transaction that caused them and
delivered only once it commits (a rolled-back transaction's events are dropped).

The store notes them (:func:`note`); the :class:`~printwarden.store.db.Database` hands the
committed ones to whoever listens (``Database.on_events``, the App Server's event hub). On
PostgreSQL they are also sent to the other App Server processes (:func:`encode`, as notices:
``store/notices.py``), whose hubs serve the streams connected to them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

NOTES = "printwarden.user_events"
KIND = "user-events"  # the notice that carries them to other processes
MAX_CHUNK = 7_000  # bytes of events per notice (PostgreSQL's limit is 8,000 with the rest)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserEvent:
    """Something ``user_id`` hears about: ``kind`` (``job.held``, ``balance``…) and its data."""

    user_id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def note(session: Session, user_id: int, kind: str, data: dict[str, Any]) -> None:
    """Deliver ``kind`` to ``user_id`` once this session's transaction commits."""
    session.info.setdefault(NOTES, []).append(UserEvent(user_id, kind, data))


def noted(session: Session) -> list[UserEvent]:
    """The events noted in ``session`` so far (kept)."""
    events: list[UserEvent] = session.info.get(NOTES, [])
    return events


def encode(events: list[UserEvent]) -> list[str]:
    """``events`` as notice payloads of at most :data:`MAX_CHUNK` bytes each; an event too
    large for one alone is left out (logged): its person's client learns of it at its next
    ``hello``."""
    chunks: list[str] = []
    chunk: list[str] = []
    size = 2
    for event in events:
        encoded = json.dumps(asdict(event), separators=(",", ":"), default=str)
        if len(encoded.encode()) + 2 > MAX_CHUNK:
            log.warning("a %s event is too large for other processes; left out", event.kind)
            continue
        if size + len(encoded.encode()) + 1 > MAX_CHUNK:
            chunks.append("[" + ",".join(chunk) + "]")
            chunk, size = [], 2
        chunk.append(encoded)
        size += len(encoded.encode()) + 1
    if chunk:
        chunks.append("[" + ",".join(chunk) + "]")
    return chunks


def decode(payload: str) -> list[UserEvent]:
    """The events of one payload of :func:`encode`."""
    return [UserEvent(int(e["user_id"]), str(e["kind"]), dict(e["data"]))
            for e in json.loads(payload)]  # fmt: skip


def taken(session: Session) -> list[UserEvent]:
    """The events noted in ``session`` (and forgets them)."""
    events: list[UserEvent] = session.info.pop(NOTES, [])
    return events
