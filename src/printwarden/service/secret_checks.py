"""Where passwords and PINs are checked: a few threads of their own, at a lower CPU priority.

An argon2 verification costs about 0.1 s of wall time and 0.14 s of CPU (its lanes run in
parallel). Run in the request worker threads, a flood of wrong passwords takes every thread
and every core; here it takes at most ``workers`` threads, never a request worker or a
database connection, and on Linux those threads run at nice +10 (the nice value is per
thread there, and the threads argon2 starts inherit it), so requests that check no secret
are served first. Checks beyond ``max_waiting`` are refused at once (:class:`Throttled`,
answered 429) rather than queued without bound — but for those that must not be refused
(:meth:`SecretChecks.run_unrefused`: a printed job's PIN, whose charge a refusal would lose),
which wait their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

from printwarden.service.throttle import Throttled

P = ParamSpec("P")
T = TypeVar("T")

NICE = 10
BUSY_RETRY_SECONDS = 1.0


def _lower_priority() -> None:
    if sys.platform == "linux":  # elsewhere the nice value is the whole process's
        with contextlib.suppress(OSError):  # a lower priority is never refused on Linux
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class SecretChecks:
    """Runs secret checks (argon2, LDAP binds) on ``workers`` low-priority threads."""

    def __init__(self, workers: int = 0, max_waiting: int = 256) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.max_waiting = max_waiting
        self._pool = ThreadPoolExecutor(
            self.workers, thread_name_prefix="secret-check", initializer=_lower_priority
        )
        self._waiting = 0
        self._lock = threading.Lock()

    async def run(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``check(*args)`` on a check thread; the caller's event loop is free meanwhile.
        :class:`Throttled` at once when ``max_waiting`` checks are waiting already."""
        self._enter(refuse=True)
        return await self._run(check, *args, **kwargs)

    async def run_unrefused(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run`, never refused: for a check whose refusal would lose what already
        happened (a printed job's PIN). It waits its turn, counted among the waiting; its
        callers are components reporting what printed, not the public."""
        self._enter(refuse=False)
        return await self._run(check, *args, **kwargs)

    async def _run(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            context = contextvars.copy_context()  # e.g. whether a site answers offline
            future = self._pool.submit(context.run, partial(check, *args, **kwargs))
            return await asyncio.wrap_future(future)
        finally:
            self._leave()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _enter(self, *, refuse: bool) -> None:
        with self._lock:
            if refuse and self._waiting >= self.max_waiting:
                raise Throttled(BUSY_RETRY_SECONDS, None)
            self._waiting += 1

    def _leave(self) -> None:
        with self._lock:
            self._waiting -= 1
