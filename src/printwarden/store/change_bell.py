"""A bell rung when a transaction that took a change number commits, in this process, so that
a long poll (a Site Server waiting for changes) sleeps until there is something to read
instead of asking the database again every tenth of a second.

Waiters register before they read (:meth:`ChangeBell.waiting`), so a commit between their
read and their sleep still wakes them. On PostgreSQL every such transaction also sends a
``NOTIFY`` (delivered when it commits), and :class:`PgListener` rings the bell of every
other process on the database when it arrives; waiters also wake after a bounded time and
read again (``service/routes/sites.py``), whatever happens to a listener's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.orm import Session

from printwarden.store.notices import CHANNEL as NOTICES
from printwarden.store.notices import FENCE, PASSED, Notices, listener_name, message

CHANGED = "printwarden.changed"  # session.info: this transaction took a change number
CHANNEL = "printwarden_changes"  # the PostgreSQL NOTIFY channel
log = logging.getLogger(__name__)


def mark_changed(session: Session) -> None:
    session.info[CHANGED] = True


def take_changed(session: Session) -> bool:
    """Whether the transaction that just ended took a change number (and forget it)."""
    return bool(session.info.pop(CHANGED, False))


class Waiter:
    """One waiter's wake-up: set from any thread when the bell rings, and (for a long poll
    that beats) by its event loop's beat clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.event = loop, asyncio.Event()
        self.rung = False  # since :meth:`next` last said so
        self.ended = False  # its poll is to answer now, whatever it finds (:meth:`end`)

    def wake(self) -> None:
        self.rung = True
        with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
            self.loop.call_soon_threadsafe(self.event.set)

    def end(self) -> None:
        """Its poll is to answer now (from any thread): a newer one took its place."""
        self.ended = True
        self.wake()

    def beat(self) -> None:
        """A beat is due (from its own event loop)."""
        self.event.set()

    async def woken(self) -> bool:
        """Wait for the bell or a beat (no timeout: a beat clock must wake it); whether the
        bell rang since this last said so."""
        await self.event.wait()
        self.event.clear()
        rung, self.rung = self.rung, False
        return rung

    async def wait(self, timeout: float) -> bool:
        """Whether the bell rang (since this waiter registered) within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class ChangeBell:
    """Wakes every registered waiter when rung (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[Waiter] = set()
        self.rung = 0

    def ring(self) -> None:
        with self._lock:
            self.rung += 1
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.wake()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[Waiter]:
        """A waiter, registered for as long as the block runs (from an event loop)."""
        waiter = self.register()
        try:
            yield waiter
        finally:
            self.unregister(waiter)

    def register(self) -> Waiter:
        """A waiter woken by every ring until :meth:`unregister` (from an event loop)."""
        waiter = Waiter(asyncio.get_running_loop())
        with self._lock:
            self._waiters.add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiters)


class _Background:
    """A daemon thread running ``_run`` until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        raise NotImplementedError


class ChangeWatch(_Background):
    """A thread that reads the last change number every ``interval`` seconds and rings
    ``bell`` when it moved: changes made where no bell rings (a command-line tool writing
    to the database, a process whose ``NOTIFY`` was missed) wake the long polls within
    ``interval``, for one small query per interval whatever the number of waiters."""

    def __init__(self, read: Callable[[], int], bell: ChangeBell, interval: float) -> None:
        super().__init__("change-watch")
        self.read, self.bell, self.interval = read, bell, interval
        self.failures = 0

    def _run(self) -> None:
        last: int | None = None
        while not self._stop.wait(self.interval):
            try:
                current = self.read()
            except Exception:  # the database is away for a moment: try again next time
                self.failures += 1
                log.warning("could not read the last change number", exc_info=True)
                continue
            if last is not None and current != last:
                self.bell.ring()
            last = current


class PgListener(_Background):
    """A thread holding one PostgreSQL connection that LISTENs on :data:`CHANNEL`, ringing
    ``bell`` for each notification, and on the notices' channel, handing each to ``notices``
    (``store/notices.py``), answering the other processes' fences once it heard what came
    before them; reconnects after a pause if the connection fails."""

    RETRY_SECONDS = 1.0

    def __init__(self, conninfo: str, bell: ChangeBell, notices: Notices) -> None:
        super().__init__("pg-change-listener")
        self.conninfo, self.bell, self.notices = conninfo, bell, notices
        self.reconnects = 0
        self.listening = threading.Event()  # set while its connection listens
        self._fences: list[str] = []  # other processes' fences to answer (its thread only)
        notices.on(FENCE, lambda fence: self._fences.append(fence) if fence else None)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:  # a lost connection, a restarting server: try again
                self.listening.clear()
                self.notices.deaf()
                self.reconnects += 1
                log.warning("change listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(self.RETRY_SECONDS)

    def _listen(self) -> None:
        import psycopg

        name = listener_name(self.notices.origin)
        with psycopg.connect(self.conninfo, autocommit=True, application_name=name) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            connection.execute(f"LISTEN {NOTICES}")
            self.bell.ring()  # anything committed while it was not listening
            self.notices.listening()
            self.listening.set()
            while not self._stop.is_set():
                for notify in connection.notifies(timeout=1.0, stop_after=100):
                    if notify.channel == NOTICES:
                        self.notices.hear_message(notify.payload)
                        if self._fences:
                            break  # answer at once (not while the generator holds the line)
                    else:
                        self.bell.ring()
                self._answer_fences(connection)
                time.sleep(0)  # let a stop in

    def _answer_fences(self, connection: Any) -> None:
        """Tell the processes waiting on fences this one read that it passed them."""
        while self._fences:
            said = message(self.notices.origin, PASSED, self._fences.pop(0))
            connection.execute("SELECT pg_notify(%s, %s)", (NOTICES, said))
