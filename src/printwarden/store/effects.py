"""Effects a use case names for a Site Server's journal, beside the rows it writes.

Most effects are captured from the rows written (``site/journal.py``). A few need a fact no
row keeps — the code of a top-up card redeemed offline, which HQ checks before it credits —
so the use case notes the entry here, in the session's transaction, and a Site Server's
journal takes it at the next flush. HQ has no journal: there the notes go with the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

NOTED = "journal_effects"


def note(session: Session, kind: str, body: dict[str, Any]) -> None:
    """Name journal entry ``kind`` with ``body`` for the current transaction."""
    session.info.setdefault(NOTED, []).append((kind, body))


def take(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """The entries noted since the last call (and forget them)."""
    found: list[tuple[str, dict[str, Any]]] = session.info.pop(NOTED, [])
    return found
