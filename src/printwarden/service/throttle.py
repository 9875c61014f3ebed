"""The login throttle: failed attempts per account and per client.

Every login surface (API and web login, device card / identity + PIN / password, IPP Basic
through a provider, shared-account PINs) goes through :meth:`LoginThrottle.begin` with two
keys — the account tried and the client trying — before any secret is checked. The schedule
(back-off, lockout) is the pure ``domain.login_throttle``; the counts live in a book: this
process's memory (a Site Server, an App Server on SQLite), or the database, shared by every
App Server process on one PostgreSQL.

An attempt is counted as a failure *when it begins* and forgiven if it turns out right, so
that many concurrent guesses cannot all slip in before the first one is counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from starlette.concurrency import run_in_threadpool

from printwarden.domain.login_throttle import Failures, KeyKind, Rules

MAX_KEYS = 100_000  # the least recently failed keys are dropped beyond this (in memory)
PRUNE_EVERY = 1_000  # attempts: forgotten keys are dropped from the book this often
T = TypeVar("T")
Pairs = Sequence[tuple[str, KeyKind]]  # keys and what each counts
# What an attempt does to the failures of its keys (those it has: a key without failures is
# missing): their new failures (a count of 0 forgets the key). It may raise Throttled.
Change = Callable[[dict[str, Failures]], dict[str, Failures]]


class Book(Protocol):
    """Where a throttle keeps its failures: in memory, or shared by processes."""

    blocking: bool  # whether its calls wait for I/O (then: not on an event loop)

    def change(self, pairs: Pairs, change: Change) -> None:
        """Apply ``change`` to the failures of ``pairs`` atomically (nothing if it raises);
        a key whose new count is 0 is forgotten."""

    def all(self) -> list[tuple[str, KeyKind, Failures]]:
        """Every key it keeps."""

    def drop(self, key: str) -> bool:
        """Forget ``key``; False if it was not kept."""

    def prune(self, before: float) -> None:
        """Forget keys whose last failure was before ``before`` (clock time)."""


class Throttled(Exception):
    """Too many failed attempts (``kind``: the key that must wait; None: too many checks at
    once, the server is busy): the next may be made in ``retry_after`` seconds."""

    def __init__(self, retry_after: float, kind: KeyKind | None) -> None:
        self.retry_after, self.kind = retry_after, kind
        self.seconds = max(1, math.ceil(retry_after))
        what = "too many failed attempts" if kind is not None else "too many logins at once"
        super().__init__(f"{what}; try again in {self.seconds} s")


@dataclass(frozen=True, slots=True)
class Keys:
    """What one attempt counts against: the account tried (``user:…``, ``identity:…``,
    ``account:…``; None: no account, a card) and the client trying (``address:…``,
    ``device:…``, ``person:…``, ``token:…``: ``service/logins.py``)."""

    account: str | None
    client: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One key with failures, as an administrator sees it."""

    key: str
    kind: KeyKind
    failures: int
    locked: bool
    retry_after: float
    last_failure_at: datetime


class MemoryBook:
    """Failures kept in this process (a Site Server, an App Server on SQLite); thread-safe.
    Beyond ``MAX_KEYS`` the least recently failed keys are dropped."""

    blocking = False  # never waits for I/O: callable on an event loop

    def __init__(self) -> None:
        self._keys: OrderedDict[str, tuple[KeyKind, Failures]] = OrderedDict()
        self._lock = threading.Lock()

    def change(self, pairs: Pairs, change: Change) -> None:
        with self._lock:
            current = {}
            for key, kind in pairs:
                found = self._keys.get(key)
                if found is not None and found[0] is kind:
                    current[key] = found[1]
            kinds = dict(pairs)
            for key, failures in change(current).items():
                if failures.count == 0:
                    self._keys.pop(key, None)
                    continue
                self._keys[key] = (kinds[key], failures)
                self._keys.move_to_end(key)
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)

    def all(self) -> list[tuple[str, KeyKind, Failures]]:
        with self._lock:
            return [(key, kind, failures) for key, (kind, failures) in self._keys.items()]

    def drop(self, key: str) -> bool:
        with self._lock:
            return self._keys.pop(key, None) is not None

    def prune(self, before: float) -> None:
        with self._lock:
            stale = [k for k, (_, f) in self._keys.items() if f.count == 0 or f.last < before]
            for key in stale:
                del self._keys[key]


class LoginThrottle:
    """Failures per key under ``rules``, kept in ``book`` (this process's memory unless
    given one shared by every process: ``store/login_failures.py``); thread-safe.

    ``clock`` must be the book's: a monotonic one for memory, wall time for a shared book."""

    def __init__(
        self,
        rules: Rules | None = None,
        clock: Callable[[], float] = time.monotonic,
        book: Book | None = None,
    ):
        self.rules = rules or Rules()
        self.clock = clock
        self.book: Book = book or MemoryBook()
        self._begun = 0

    async def run(self, call: Callable[..., T], *args: object) -> T:
        """``call(*args)`` (one of this throttle's, or an attempt's end) from an event loop:
        inline for a book in memory, in a worker thread for one in the database."""
        if self.book.blocking:
            return await run_in_threadpool(call, *args)
        return call(*args)

    def begin(self, keys: Keys) -> Attempt:
        """Start an attempt, counted as failed until :meth:`Attempt.succeeded`.

        Raises :class:`Throttled` (and counts nothing) while either key must wait."""
        pairs = self._pairs(keys)
        now = self.clock()

        def count(current: dict[str, Failures]) -> dict[str, Failures]:
            for key, kind in pairs:
                wait = current.get(key, Failures()).retry_after(self.rules.of(kind), now)
                if wait > 0:
                    raise Throttled(wait, kind)
            return {key: current.get(key, Failures()).failed(self.rules.of(kind), now)
                    for key, kind in pairs}  # fmt: skip

        self.book.change(pairs, count)
        self._begun += 1
        if self._begun % PRUNE_EVERY == 0:
            self.book.prune(now - self._longest_memory())
        return Attempt(self, keys)

    def entries(self) -> list[Entry]:
        """Every key with failures not yet forgotten, accounts first, most failures first."""
        now, wall = self.clock(), datetime.now(UTC)
        self.book.prune(now - self._longest_memory())
        found = [
            Entry(
                key=key,
                kind=kind,
                failures=failures.count,
                locked=failures.locked(self.rules.of(kind), now),
                retry_after=failures.retry_after(self.rules.of(kind), now),
                last_failure_at=wall - timedelta(seconds=now - failures.last),
            )
            for key, kind, failures in self.book.all()
            if failures.count > 0 and not failures.stale(self.rules.of(kind), now)
        ]
        return sorted(found, key=lambda e: (e.kind is not KeyKind.ACCOUNT, -e.failures, e.key))

    def clear(self, key: str) -> bool:
        """Forget a key's failures (an administrator lifts a lockout); False if it had none."""
        return self.book.drop(key)

    def _longest_memory(self) -> float:
        """Seconds after its last failure beyond which no key is remembered."""
        schedules = (self.rules.account, self.rules.client)
        return max(max(s.forget_seconds, s.lockout_seconds) for s in schedules)

    def _succeeded(self, keys: Keys) -> None:
        def clear_and_forgive(current: dict[str, Failures]) -> dict[str, Failures]:
            ended = {key: failures.forgiven() for key, failures in current.items()}
            if keys.account is not None and keys.account in ended:
                ended[keys.account] = Failures()
            return ended

        self.book.change(self._pairs(keys), clear_and_forgive)

    def _abandoned(self, keys: Keys) -> None:
        def forgive(current: dict[str, Failures]) -> dict[str, Failures]:
            return {key: failures.forgiven() for key, failures in current.items()}

        self.book.change(self._pairs(keys), forgive)

    @staticmethod
    def _pairs(keys: Keys) -> Pairs:
        pairs = [(keys.client, KeyKind.CLIENT)]
        if keys.account is not None:
            pairs.insert(0, (keys.account, KeyKind.ACCOUNT))
        return pairs


@dataclass(slots=True)
class Attempt:
    """One login attempt under way; say how it ended (a failure is already counted)."""

    throttle: LoginThrottle
    keys: Keys
    done: bool = False

    def succeeded(self) -> None:
        """Right: the account's failures are cleared, the client's advance count forgiven."""
        self._end(self.throttle._succeeded)

    def failed(self) -> None:
        """Wrong: it stays counted."""
        self._end(lambda _keys: None)

    def abandoned(self) -> None:
        """Not decided (the directory did not answer): it does not count."""
        self._end(self.throttle._abandoned)

    def _end(self, action: Callable[[Keys], None]) -> None:
        if not self.done:
            self.done = True
            action(self.keys)
