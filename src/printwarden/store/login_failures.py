"""Failed logins kept in PostgreSQL, so that every App Server process counts the same ones:
a throttle's book (``service/throttle.py``) shared by the processes on one database.

Each change locks its keys (transaction-scoped advisory locks, in key order, so two
attempts on one key wait for each other and none deadlocks), reads them, and writes what
the throttle decided. Times are Unix seconds (wall clocks: the processes may be on several
hosts). The commit does not wait for its disk flush: losing the last few failures in a
database crash is harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Delete, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from printwarden.domain.login_throttle import Failures, KeyKind
from printwarden.store.db import Database, relaxed_commit
from printwarden.store.models import LoginFailureRow

MAX_KEY = 400  # the column's width: longer keys are kept by a digest
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7))")


def stored_key(key: str) -> str:
    """``key`` as kept: itself, or when too long its start and a digest of the whole."""
    if len(key) <= MAX_KEY:
        return key
    return f"{key[:300]}#{hashlib.sha256(key.encode()).hexdigest()}"


class SharedBook:
    """The failures of throttle ``name`` (``logins``, ``redemptions``) in ``database``."""

    blocking = True

    def __init__(self, database: Database, name: str) -> None:
        self.database, self.name = database, name

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.database.session() as session:
            relaxed_commit(session)
            yield session

    def change(
        self,
        pairs: Sequence[tuple[str, KeyKind]],
        change: Callable[[dict[str, Failures]], dict[str, Failures]],
    ) -> None:
        stored = {stored_key(key): (key, kind) for key, kind in pairs}
        with self._session() as session:
            for key in sorted(stored):
                session.execute(_LOCK, {"key": f"{self.name}:{key}"})
            rows = session.scalars(
                select(LoginFailureRow).where(
                    LoginFailureRow.throttle == self.name, LoginFailureRow.key.in_(stored)
                )
            )
            current = {
                stored[row.key][0]: Failures(row.failures, row.last_failure)
                for row in rows
                if row.kind == stored[row.key][1].value
            }
            kinds = dict(pairs)
            for key, failures in change(current).items():
                self._write(session, stored_key(key), kinds[key], failures)

    def _write(self, session: Session, key: str, kind: KeyKind, failures: Failures) -> None:
        if failures.count == 0:
            session.execute(self._delete(key))
            return
        values = {"failures": failures.count, "last_failure": failures.last, "kind": kind.value}
        statement = insert(LoginFailureRow).values(throttle=self.name, key=key, **values)
        session.execute(statement.on_conflict_do_update(index_elements=["throttle", "key"],
                                                        set_=values))  # fmt: skip

    def _delete(self, key: str) -> Delete:
        return delete(LoginFailureRow).where(
            LoginFailureRow.throttle == self.name, LoginFailureRow.key == key
        )

    def all(self) -> list[tuple[str, KeyKind, Failures]]:
        with self.database.read() as session:
            rows = session.scalars(
                select(LoginFailureRow).where(LoginFailureRow.throttle == self.name)
            )
            return [(r.key, KeyKind(r.kind), Failures(r.failures, r.last_failure)) for r in rows]

    def drop(self, key: str) -> bool:
        with self._session() as session:
            gone = session.execute(self._delete(stored_key(key)))
            return bool(getattr(gone, "rowcount", 0))

    def prune(self, before: float) -> None:
        with self._session() as session:
            session.execute(
                delete(LoginFailureRow).where(
                    LoginFailureRow.throttle == self.name, LoginFailureRow.last_failure < before
                )
            )
