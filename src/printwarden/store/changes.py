"""Change sequence numbers: one per database transaction, gapless and in commit order.

A single counter row is incremented with ``UPDATE … RETURNING``. Its row lock is held until
commit, so sequence numbers are handed out in commit order: a site that pulls "changes since
N" can never miss a row committed later with a smaller number (which plain database sequences
allow). Every row a transaction touches gets that transaction's number.
"""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from printwarden.store.change_bell import CHANNEL, mark_changed
from printwarden.store.models import ChangeCounter

_KEY = "printwarden.change_seq"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")  # delivered when the transaction commits


def change_seq(session: Session) -> int:
    """The change sequence number of the session's current transaction (taken on first use)."""
    transaction = session.get_transaction()
    cached = session.info.get(_KEY)
    if cached is not None and cached[0] is transaction:
        return int(cached[1])
    statement = (
        update(ChangeCounter)
        .where(ChangeCounter.id == 1)
        .values(value=ChangeCounter.value + 1)
        .returning(ChangeCounter.value)
    )
    value = int(session.execute(statement).scalar_one())
    session.info[_KEY] = (transaction, value)
    mark_changed(session)  # its commit rings the database's bell (store/change_bell.py)
    if session.get_bind().dialect.name == "postgresql":  # and every other process's
        session.execute(_NOTIFY)
    return value


def last_change_seq(session: Session) -> int:
    """The highest change sequence number handed out so far."""
    return int(session.get_one(ChangeCounter, 1).value)
