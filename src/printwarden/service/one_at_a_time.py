"""One request at a time for each key: a second waits, on the event loop, for the first.

A site uploads its journal one batch after the other; a second upload of the same site at
the same time is not what a Site Server does. Taking turns per site keeps one site — a
stolen site token, say — from holding more than one upload's share of what uploads may
hold in memory at once (``service/byte_budget.py``), or queueing ahead of every other site.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class OneAtATime:
    """``async with turns.turn(key):`` one holder per key; keys no one waits for are
    forgotten. For one event loop."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._wanted: dict[str, int] = {}

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._wanted[key] = self._wanted.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._wanted[key] -= 1
            if not self._wanted[key]:
                del self._wanted[key], self._locks[key]

    def __len__(self) -> int:
        """Keys held or waited for."""
        return len(self._locks)
