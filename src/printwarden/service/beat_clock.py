"""One timer that beats every long poll a Site Server holds open with ``beats``: each beat,
the poll sends a byte of whitespace, so that the site hears its link is alive several times
a second and knows within a fraction of a second when it is cut (``site/upstream.py``).

One timer for all (as the User Client's heartbeat): a thousand polls each with its own
timer would cost several times the CPU.
"""

from __future__ import annotations

import asyncio
import logging

from printwarden.service.supervised import supervised
from printwarden.store.change_bell import Waiter

log = logging.getLogger("printwarden.sites")

BEAT_SECONDS = 0.25
# A quiet poll's beats (its site hears its link on the beacon): only so that no proxy on the
# way closes an idle connection (60 s is a common idle timeout).
QUIET_BEAT_SECONDS = 20.0


class BeatClock:
    """Beats the waiters registered with it every ``interval`` seconds (one event loop)."""

    def __init__(self, interval: float = BEAT_SECONDS) -> None:
        self.interval = interval
        self._waiters: set[Waiter] = set()
        self.beats = 0
        self.counts = {"loop_restarts": 0}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Beat from now on, supervised (in the running event loop)."""
        task = supervised(self._run, "beat clock", self.counts, log)
        self._task = asyncio.get_running_loop().create_task(task)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def add(self, waiter: Waiter) -> None:
        self._waiters.add(waiter)

    def discard(self, waiter: Waiter) -> None:
        self._waiters.discard(waiter)

    def __len__(self) -> int:
        return len(self._waiters)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.beats += 1
            for waiter in list(self._waiters):
                waiter.beat()

    def stats(self) -> dict[str, int]:
        return {"beats": self.beats, "beating_polls": len(self._waiters), **self.counts}
