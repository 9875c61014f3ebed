"""Events for a person's User Client, noted in the transaction that caused them and
delivered only once it commits (a rolled-back transaction's events are dropped).

The store notes them (:func:`note`); the :class:`~printwarden.store.db.Database` hands the
committed ones to whoever listens (``Database.on_events``, the App Server's event hub).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

NOTES = "printwarden.user_events"


@dataclass(frozen=True, slots=True)
class UserEvent:
    """Something ``user_id`` hears about: ``kind`` (``job.held``, ``balance``…) and its data."""

    user_id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def note(session: Session, user_id: int, kind: str, data: dict[str, Any]) -> None:
    """Deliver ``kind`` to ``user_id`` once this session's transaction commits."""
    session.info.setdefault(NOTES, []).append(UserEvent(user_id, kind, data))


def taken(session: Session) -> list[UserEvent]:
    """The events noted in ``session`` (and forgets them)."""
    events: list[UserEvent] = session.info.pop(NOTES, [])
    return events
