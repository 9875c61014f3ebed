"""Login rate limiting, in memory: failed attempts per username and per client address.

Per username stops guessing one person's password (from anywhere); per client stops one
address spraying many usernames. A success clears the username's count. Counts live in the
process (no migration, no shared store): with several workers each keeps its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_KEYS = 100_000


@dataclass
class LoginLimiter:
    per_user: int = 5
    per_client: int = 30
    window: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self._wait(f"u:{username.lower()}", self.per_user, now),
                self._wait(f"c:{client}", self.per_client, now),
            ]
        return max(waits)

    def failed(self, username: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._failures.clear()
            for key in (f"u:{username.lower()}", f"c:{client}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{username.lower()}", None)

    def _wait(self, key: str, limit: int, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window - now
