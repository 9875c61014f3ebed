"""The one login throttle of a process: failed attempts per account and per client, in memory.

Every login surface (API and web login, device card / identity + PIN / password, IPP Basic
through a provider, shared-account PINs) goes through :meth:`LoginThrottle.begin` with two
keys — the account tried and the client trying — before any secret is checked. The schedule
(back-off, lockout) is the pure ``domain.login_throttle``; the counts live here, per process:
a Site Server has its own, and several App Server workers would each keep theirs.

An attempt is counted as a failure *when it begins* and forgiven if it turns out right, so
that many concurrent guesses cannot all slip in before the first one is counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from printwarden.domain.login_throttle import Failures, KeyKind, Rules

MAX_KEYS = 100_000  # the least recently failed keys are dropped beyond this


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


class LoginThrottle:
    """Failures per key under ``rules``; thread-safe."""

    def __init__(self, rules: Rules | None = None, clock: Callable[[], float] = time.monotonic):
        self.rules = rules or Rules()
        self.clock = clock
        self._keys: OrderedDict[str, tuple[KeyKind, Failures]] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, keys: Keys) -> Attempt:
        """Start an attempt, counted as failed until :meth:`Attempt.succeeded`.

        Raises :class:`Throttled` (and counts nothing) while either key must wait."""
        pairs = [(keys.client, KeyKind.CLIENT)]
        if keys.account is not None:
            pairs.insert(0, (keys.account, KeyKind.ACCOUNT))
        now = self.clock()
        with self._lock:
            for key, kind in pairs:
                wait = self._failures(key, kind).retry_after(self.rules.of(kind), now)
                if wait > 0:
                    raise Throttled(wait, kind)
            for key, kind in pairs:
                self._store(key, kind, self._failures(key, kind).failed(self.rules.of(kind), now))
        return Attempt(self, keys)

    def entries(self) -> list[Entry]:
        """Every key with failures not yet forgotten, accounts first, most failures first."""
        now, wall = self.clock(), datetime.now(UTC)
        with self._lock:
            self._forget_stale(now)
            found = [
                Entry(
                    key=key,
                    kind=kind,
                    failures=failures.count,
                    locked=failures.locked(self.rules.of(kind), now),
                    retry_after=failures.retry_after(self.rules.of(kind), now),
                    last_failure_at=wall - timedelta(seconds=now - failures.last),
                )
                for key, (kind, failures) in self._keys.items()
            ]
        return sorted(found, key=lambda e: (e.kind is not KeyKind.ACCOUNT, -e.failures, e.key))

    def clear(self, key: str) -> bool:
        """Forget a key's failures (an administrator lifts a lockout); False if it had none."""
        with self._lock:
            return self._keys.pop(key, None) is not None

    def _succeeded(self, keys: Keys) -> None:
        with self._lock:
            if keys.account is not None:
                self._keys.pop(keys.account, None)
            self._forgive(keys.client)

    def _abandoned(self, keys: Keys) -> None:
        with self._lock:
            if keys.account is not None:
                self._forgive(keys.account)
            self._forgive(keys.client)

    def _forgive(self, key: str) -> None:
        found = self._keys.get(key)
        if found is not None:
            kind, failures = found
            self._keys[key] = (kind, failures.forgiven())

    def _failures(self, key: str, kind: KeyKind) -> Failures:
        found = self._keys.get(key)
        return found[1] if found is not None and found[0] is kind else Failures()

    def _store(self, key: str, kind: KeyKind, failures: Failures) -> None:
        self._keys[key] = (kind, failures)
        self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)

    def _forget_stale(self, now: float) -> None:
        stale = [
            key
            for key, (kind, failures) in self._keys.items()
            if failures.count == 0 or failures.stale(self.rules.of(kind), now)
        ]
        for key in stale:
            del self._keys[key]


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
