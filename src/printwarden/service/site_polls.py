"""At most a few long polls for changes per site at once, in this process.

A Site Server keeps one long poll open; after a cut HQ may still hold the ones the cut
silenced until they time out, so a site can briefly have a few. A stolen site token could
open thousands and hold a socket, a task and a bell waiter each. So each site keeps its
newest :data:`MAX_POLLS_PER_SITE` polls: a new one beyond them ends the oldest, which
answers at once with what it has (an answer like any other: the site simply asks again,
it is not refused).
"""

from __future__ import annotations

import logging
import threading

from printwarden.store.change_bell import Waiter

log = logging.getLogger("printwarden.sites")

MAX_POLLS_PER_SITE = 4


class SitePolls:
    """The open long polls of each site (thread-safe)."""

    def __init__(self, limit: int = MAX_POLLS_PER_SITE) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[str, list[Waiter]] = {}
        self.ended = 0  # polls ended early because newer ones came (for tests and metrics)

    def opened(self, site: str, waiter: Waiter) -> None:
        """``waiter``'s poll opened for ``site``; the oldest beyond the limit are ended."""
        with self._lock:
            polls = self._open.setdefault(site, [])
            polls.append(waiter)
            excess = polls[: -self.limit]
            del polls[: -self.limit]
            self.ended += len(excess)
        for old in excess:
            old.end()
        if excess:
            log.info("site %s: %d long polls open, the oldest answered now", site, self.limit)

    def closed(self, site: str, waiter: Waiter) -> None:
        """``waiter``'s poll answered or its client left."""
        with self._lock:
            polls = self._open.get(site, [])
            if waiter in polls:
                polls.remove(waiter)
            if not polls:
                self._open.pop(site, None)

    def count(self, site: str) -> int:
        with self._lock:
            return len(self._open.get(site, ()))
