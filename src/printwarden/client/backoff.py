"""The reconnection delays: 1 s doubling to 30 s, back to the start after a success."""

from __future__ import annotations

FIRST = 1.0
CAP = 30.0


class Backoff:
    """Successive waits before reconnecting: ``first``, twice that, … up to ``cap``."""

    def __init__(self, first: float = FIRST, cap: float = CAP) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        """The wait before the next attempt (each call doubles the following one)."""
        delay = min(self._next, self.cap)
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        """Start again from ``first`` (after a connection that worked)."""
        self._next = self.first
