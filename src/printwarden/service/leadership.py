"""Which App Server process runs the cluster's scheduled work (top-ups, directory sync,
question timeouts, sweeps, zone updates): the one holding a PostgreSQL advisory lock.

Each process keeps one connection that tries to take the lock every ``TRY_SECONDS``; the
holder checks its connection every ``CHECK_SECONDS`` and stops leading as soon as it fails.
When the leader dies its connection closes and PostgreSQL lets the lock go at once (for a
host that vanishes, TCP keepalives end the connection within ``KEEPALIVE`` seconds), so
another process leads within ``TRY_SECONDS`` more. The work itself stays idempotent (a
top-up has a fixed transaction id per period), so a moment with two leaders — one that has
not yet noticed its lost connection — charges or credits nothing twice.

On SQLite there is one process: it always leads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("printwarden.leadership")

LOCK_KEY = 0x7072_696E_7477  # "printw": the advisory lock of the scheduled work
TRY_SECONDS = 2.0
CHECK_SECONDS = 1.0
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 3, "keepalives_interval": 1,
             "keepalives_count": 3}  # fmt: skip


class Leadership:
    """Whether this process leads (thread-safe); ``conninfo`` None: always (SQLite)."""

    def __init__(self, conninfo: str | None) -> None:
        self.conninfo = conninfo
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.terms = 0  # how many times this process became the leader
        if conninfo is None:
            self._leading.set()

    def leads(self) -> bool:
        return self._leading.is_set()

    def start(self) -> None:
        if self.conninfo is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop (and, by closing its connection, hand the lead to another process)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.conninfo is not None:
            self._leading.clear()

    def stats(self) -> dict[str, int]:
        return {"leading": int(self.leads()), "terms": self.terms}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._hold()
            except Exception:  # a lost connection, a restarting server: try again
                log.warning("leadership: connection lost", exc_info=True)
            if self._leading.is_set():
                self._leading.clear()
                log.warning("this process no longer leads the scheduled work")
            self._stop.wait(TRY_SECONDS)

    def _hold(self) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        assert self.conninfo is not None
        conninfo = make_conninfo(self.conninfo, **KEEPALIVE)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            while not self._stop.is_set():
                if not self._leading.is_set():
                    if _scalar(connection, "SELECT pg_try_advisory_lock(%s)", LOCK_KEY):
                        self.terms += 1
                        self._leading.set()
                        log.info("this process leads the scheduled work")
                    else:
                        self._stop.wait(TRY_SECONDS)
                        continue
                _scalar(connection, "SELECT 1")  # still holding: the connection is alive
                self._stop.wait(CHECK_SECONDS)


def _scalar(connection: Any, query: str, *args: object) -> Any:
    row = connection.execute(query, args).fetchone()
    return row[0] if row else None
