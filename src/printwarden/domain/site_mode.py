"""A Site Server's mode: ONLINE → OFFLINE → RECONCILING → ONLINE, with hysteresis.

Pure: callers feed it what they saw (a contact with the App Server succeeded or failed, the
journal was uploaded, an administrator forced the site offline) and the current time; it
answers with the mode and keeps the outage history. Going offline takes
``failures_to_go_offline`` failures in a row; coming back takes ``successes_to_return``
successes in a row spread over at least ``settle_seconds`` — so a link that flaps every
second does not make the site thrash between modes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SiteMode(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    RECONCILING = "reconciling"


@dataclass(slots=True)
class Outage:
    started: float
    ended: float | None = None
    reason: str = ""

    def duration(self, now: float) -> float:
        return (self.ended if self.ended is not None else now) - self.started


@dataclass(slots=True)
class ModeMachine:
    """The mode and why; ``changes`` counts mode changes (for metrics)."""

    failures_to_go_offline: int = 2
    successes_to_return: int = 3
    settle_seconds: float = 2.0
    mode: SiteMode = SiteMode.ONLINE
    forced_offline: bool = False
    changes: int = 0
    outages: list[Outage] = field(default_factory=list)
    _failures: int = 0
    _successes: int = 0
    _first_success: float = 0.0

    def failure(self, now: float, reason: str = "no answer") -> SiteMode:
        """A contact with the App Server failed (timeout, refused, 5xx)."""
        self._successes = 0
        self._failures += 1
        if self.mode is SiteMode.RECONCILING:
            self._set(SiteMode.OFFLINE, now)
        elif self.mode is SiteMode.ONLINE and self._failures >= self.failures_to_go_offline:
            self._go_offline(now, reason)
        return self.mode

    def success(self, now: float) -> SiteMode:
        """A contact succeeded. Offline, enough of them in a row start reconciliation."""
        self._failures = 0
        if self.mode is not SiteMode.OFFLINE or self.forced_offline:
            return self.mode
        if self._successes == 0:
            self._first_success = now
        self._successes += 1
        settled = now - self._first_success >= self.settle_seconds
        if self._successes >= self.successes_to_return and settled:
            self._set(SiteMode.RECONCILING, now)
        return self.mode

    def reconciled(self, now: float) -> SiteMode:
        """The journal is uploaded and the replica refreshed: back online."""
        if self.mode is SiteMode.RECONCILING:
            self._set(SiteMode.ONLINE, now)
            if self.outages and self.outages[-1].ended is None:
                self.outages[-1].ended = now
        return self.mode

    def start_offline(self, now: float, reason: str) -> SiteMode:
        """Begin offline (e.g. restarted with journal entries HQ has not seen): the link
        must prove itself and the journal go up before the site forwards anything."""
        if self.mode is not SiteMode.OFFLINE:
            self._go_offline(now, reason)
        return self.mode

    def force(self, offline: bool, now: float) -> SiteMode:
        """An administrator takes the site offline for maintenance, or lets it return."""
        self.forced_offline = offline
        if offline and self.mode is not SiteMode.OFFLINE:
            self._go_offline(now, "forced offline by an administrator")
        return self.mode

    def _go_offline(self, now: float, reason: str) -> None:
        self._set(SiteMode.OFFLINE, now)
        self.outages.append(Outage(now, None, reason))
        del self.outages[:-50]

    def _set(self, mode: SiteMode, now: float) -> None:
        if mode is not self.mode:
            self.mode = mode
            self.changes += 1
        self._successes = 0
        self._first_success = now
