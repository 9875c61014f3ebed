"""Windows of changes read once for every site: when one change wakes a thousand sites'
long polls, all caught up to the same number N, each would read the same rows of
``(N, head]`` — the rows of the kinds every site receives whole (users, accounts, groups,
settings, …; not those a site scope filters) — and differ only in the hashes of card and
identity numbers under each site's key. The first poll to ask reads them; the others take
its rows and hash for themselves (``Kind.site_links``, ``Kind.for_site``).

A window is safe to keep: every change numbered up to ``head`` had committed when it was
read and none can be numbered in it later; a row changed again takes a number past
``head``, so while ``head`` is the last number the window is what a read would find. Only
small windows are kept (a catch-up after an outage is one site's own, and may be large),
and only for a while: a database restored from a backup (or a standby promoted without
the last commits) could number other changes in the same window again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.store.replicated_kinds import Entity, Kind, Links, Owned, row_values
from printwarden.store.site_numbers import SiteNumbers

# The most rows of one kind a kept window holds, and how many windows are kept: a
# fan-out's window is a change or a few; memory stays within a few megabytes.
MOST_ROWS = 500
KEPT = 24
KEEP_SECONDS = 30.0
# How long a poll waits for another to read the window it wants before reading it itself.
FILL_WAIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Window:
    """The rows of one kind changed in ``(since, head]``, as read (in the database's order),
    and their link rows as HQ stores them."""

    rows: list[tuple[int, dict[str, Any]]]
    links: Links

    def sequences(self) -> set[int]:
        return {seq for seq, _ in self.rows}

    def entities(self, kind: Kind, upto: int, numbers: SiteNumbers) -> list[Entity]:
        """The window's rows numbered up to ``upto`` as one site gets them."""
        links = kind.site_links(self.links, numbers)
        return [kind.entity(seq, dict(row), links, numbers) for seq, row in self.rows
                if seq <= upto]  # fmt: skip


K = TypeVar("K")
V = TypeVar("V")


class Kept(Generic[K, V]):
    """Values kept for :data:`KEEP_SECONDS`, at most ``size`` of them (the oldest go first);
    thread-safe. A value is found boxed, ``(value,)``, so that a kept None is told apart
    from nothing kept."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._kept: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> tuple[V] | None:
        with self._lock:
            found = self._kept.get(key)
        if found is None or time.monotonic() - found[0] > KEEP_SECONDS:
            return None
        return (found[1],)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._kept.pop(key, None)
            while len(self._kept) >= self._size:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (time.monotonic(), value)


Key = tuple[str, str, int, int]  # database URL, kind, since, head


class Windows:
    """The kept windows, and which are being read (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: Kept[Key, Window | None] = Kept(KEPT)  # None: too large to keep
        self._reading: dict[tuple[str, int, int], threading.Event] = {}

    def get(self, url: str, kind: Kind, since: int, head: int) -> Window | None:
        """The kept window of ``kind`` in ``(since, head]``, if any."""
        found = self._kept.get((url, kind.name, since, head))
        return found[0] if found is not None else None

    def read(
        self,
        session: Session,
        url: str,
        kind: Kind,
        since: int,
        head: int,
        owned: Owned,
    ) -> Window | None:
        """The window of ``kind`` in ``(since, head]``: kept, or read in ``session`` (which
        sees every change up to ``head``) and kept; None when it is too large to keep."""
        key = (url, kind.name, since, head)
        found = self._kept.get(key)
        if found is not None:
            return found[0]
        window = _read(session, kind, since, head, owned)
        self._kept.put(key, window)
        return window

    @contextmanager
    def first_reader(self, url: str, since: int, head: int) -> Iterator[None]:
        """Around a poll's read of the window ``(since, head]``: the first poll reads it
        while later ones wait (up to :data:`FILL_WAIT_SECONDS`) and then find it kept,
        instead of every woken poll reading it at once."""
        key = (url, since, head)
        with self._lock:
            event = self._reading.get(key)
            first = event is None
            if first:
                event = self._reading[key] = threading.Event()
        assert event is not None
        if not first:
            event.wait(FILL_WAIT_SECONDS)
            yield
            return
        try:
            yield
        finally:
            with self._lock:
                self._reading.pop(key, None)
            event.set()


def _read(session: Session, kind: Kind, since: int, head: int, owned: Owned) -> Window | None:
    model: Any = kind.model
    window = model.change_seq.between(since + 1, head)
    statement = select(model).where(window).limit(MOST_ROWS + 1)
    found = [(row.change_seq, row_values(row)) for row in session.scalars(statement)]
    if len(found) > MOST_ROWS:
        return None
    links = kind.stored_links_of(session, [row for _, row in found], owned, feed=True)
    return Window(found, links)


WINDOWS = Windows()
