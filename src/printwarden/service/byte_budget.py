"""How many bytes of request bodies a kind of request may hold in memory at once.

After a region-wide outage every site uploads its journal together: a 5,000-entry upload is
2.5 MB of JSON and 6.6 MB once parsed, and it stays in memory until the upload's turn comes
(``service/combining.py``). A thousand sites at once would be 9 GB. So an upload is
admitted before its body is read: while the uploads admitted hold more than the budget, the
next waits on the event loop with its body unread (TCP holds the rest at the client), in
arrival order. One upload alone is always admitted, however big (its own limit is
``service/body_limits.py``'s).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ByteBudget:
    """``async with budget.admit(size):`` waits until ``size`` more bytes fit ``capacity``
    (first come, first admitted; an empty budget admits anything). For one event loop."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self.admitted = self.waited = 0

    @asynccontextmanager
    async def admit(self, size: int) -> AsyncIterator[None]:
        size = max(0, size)
        if self._waiting or not self._fits(size):
            await self._wait(size)
        else:
            self.used += size
        self.admitted += 1
        try:
            yield
        finally:
            self.used -= size
            self._wake()

    @property
    def queued(self) -> int:
        """Requests waiting to be admitted."""
        return len(self._waiting)

    def stats(self) -> dict[str, int]:
        return {
            "admitted": self.admitted,
            "waited": self.waited,
            "waiting": self.queued,
            "bytes_admitted": self.used,
        }

    async def _wait(self, size: int) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((size, turn))
        self.waited += 1
        try:
            await turn
        except asyncio.CancelledError:  # the client went away
            if turn.done() and not turn.cancelled():  # admitted meanwhile: give it back
                self.used -= size
            elif (size, turn) in self._waiting:
                self._waiting.remove((size, turn))
            self._wake()
            raise

    def _fits(self, size: int) -> bool:
        return self.used == 0 or self.used + size <= self.capacity

    def _wake(self) -> None:
        """Admit the waiting requests that now fit, in order (the first that does not fit
        holds the ones behind it: a big upload is not starved by small ones)."""
        while self._waiting and self._fits(self._waiting[0][0]):
            size, turn = self._waiting.popleft()
            if not turn.done():
                self.used += size
                turn.set_result(None)
