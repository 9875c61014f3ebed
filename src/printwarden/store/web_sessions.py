"""Web sessions ended before their cookies expire (logouts), refused by every process."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from printwarden.store import notices
from printwarden.store.models import EndedWebSessionRow

ENDED = "web-session-ended"  # a notice: refuse this session id from now on


def end(session: Session, sid: str, ends_at: datetime) -> None:
    """Record that ``sid`` ended (its cookie would have lasted until ``ends_at``) and tell
    every process; rows of cookies that have expired anyway are dropped on the way."""
    session.execute(
        delete(EndedWebSessionRow).where(EndedWebSessionRow.ends_at < datetime.now(UTC))
    )
    session.merge(EndedWebSessionRow(sid=sid, ends_at=ends_at))
    notices.publish(session, ENDED, sid)


def ended(session: Session, sid: str) -> bool:
    return session.get(EndedWebSessionRow, sid) is not None
