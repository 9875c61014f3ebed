"""Failed logins: how long to wait after each, and when a key is locked out (pure).

A *key* is what failures are counted against: an account (the username, identity number or
shared account that was tried) or a client (an address, or the device that asked). Each
failure after the first ``free`` ones doubles the wait before the next attempt, starting at
``base_seconds``; from ``lock_after`` failures the key is locked out for ``lockout_seconds``.
Failures are forgotten ``forget_seconds`` after the last one (never before its wait ends).
Times are seconds on a monotonic clock; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class KeyKind(StrEnum):
    """What a key counts: one account (tried from anywhere) or one client (trying anything)."""

    ACCOUNT = "account"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The back-off schedule of one kind of key."""

    free: int
    base_seconds: float
    lock_after: int
    lockout_seconds: float
    forget_seconds: float

    def __post_init__(self) -> None:
        if not 0 < self.free <= self.lock_after:
            raise ValueError("need 0 < free <= lock_after")
        if self.base_seconds <= 0 or self.lockout_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= lockout_seconds")

    def wait_after(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row."""
        if failures < self.free:
            return 0.0
        if failures >= self.lock_after:
            return self.lockout_seconds
        return min(self.base_seconds * 2.0 ** (failures - self.free), self.lockout_seconds)


# Per account first: a few guesses, then waits of 2, 4, 8, 16, 32 s, then 15 minutes.
ACCOUNT_SCHEDULE = Schedule(
    free=5, base_seconds=2.0, lock_after=10, lockout_seconds=900.0, forget_seconds=3600.0
)
# Per client, a higher threshold: one address (an office behind NAT) serves many people.
CLIENT_SCHEDULE = Schedule(
    free=30, base_seconds=1.0, lock_after=60, lockout_seconds=900.0, forget_seconds=3600.0
)


@dataclass(frozen=True, slots=True)
class Rules:
    """The schedules of both kinds of key."""

    account: Schedule = ACCOUNT_SCHEDULE
    client: Schedule = CLIENT_SCHEDULE

    def of(self, kind: KeyKind) -> Schedule:
        return self.account if kind is KeyKind.ACCOUNT else self.client


@dataclass(frozen=True, slots=True)
class Failures:
    """The failures counted against one key."""

    count: int = 0
    last: float = field(default=0.0)

    def retry_after(self, schedule: Schedule, now: float) -> float:
        """Seconds until the next attempt may be made (0: now)."""
        if self.count == 0:
            return 0.0
        return max(0.0, self.last + schedule.wait_after(self.count) - now)

    def locked(self, schedule: Schedule, now: float) -> bool:
        """Locked out: as many failures as lock out, and the lockout still running."""
        return self.count >= schedule.lock_after and self.retry_after(schedule, now) > 0

    def stale(self, schedule: Schedule, now: float) -> bool:
        """Old enough to forget: the wait is over and no failure came for a while."""
        waited = max(schedule.forget_seconds, schedule.wait_after(self.count))
        return now - self.last >= waited

    def failed(self, schedule: Schedule, now: float) -> Failures:
        """One more failure at ``now`` (after forgetting stale ones)."""
        count = 0 if self.stale(schedule, now) else self.count
        return Failures(count + 1, now)

    def forgiven(self) -> Failures:
        """One failure fewer: an attempt counted in advance that turned out right."""
        return replace(self, count=max(0, self.count - 1))
