"""Supervised background loops: nothing a loop meets ends it quietly.

Each loop is a function doing one round of work (including its own wait), run again and
again on a thread of its own. An exception in a round is logged (with its traceback the
first time in a row, in one line after that) and counted, and the loop goes on after a
back-off that doubles up to ``backoff_max`` seconds: never a tight loop, never the loop's
death. Per-job failures are handled inside the rounds (a job's failure is that job's, see
``engine.py``); what reaches here is a failure of the round itself. A thread that dies
anyway (a ``BaseException``, a bug here) is restarted by the watchdog, which also runs
whenever ``/metrics`` is read, and counted.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from printwarden.domain.job_states import retry_delay

log = logging.getLogger("printwarden.provider")


@dataclass(slots=True)
class _Loop:
    name: str
    round: Callable[[], None]
    wake: Callable[[], None]
    thread: threading.Thread | None = None


class Supervisor:
    """Runs named loops until :meth:`stop`; restarts those that die."""

    def __init__(
        self, backoff_initial: float = 0.5, backoff_max: float = 30.0, check_seconds: float = 1.0
    ) -> None:
        self.stopping = threading.Event()
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.check_seconds = check_seconds
        self.errors: Counter[str] = Counter()  # rounds that raised, by loop
        self.restarts: Counter[str] = Counter()  # threads that died and were restarted
        self._loops: dict[str, _Loop] = {}
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None

    def spawn(
        self, name: str, round: Callable[[], None], wake: Callable[[], None] = lambda: None
    ) -> None:
        """Run ``round`` over and over on a thread named ``provider-<name>``; ``wake``
        interrupts its wait when the supervisor stops."""
        loop = _Loop(name, round, wake)
        with self._lock:
            self._loops[name] = loop
            self._start(loop)

    def start(self) -> None:
        """Start the watchdog."""
        self._watchdog = threading.Thread(target=self._watch, name="provider-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        with self._lock:
            loops = list(self._loops.values())
        for loop in loops:
            loop.wake()
        for thread in [loop.thread for loop in loops] + [self._watchdog]:
            if thread is not None:
                thread.join(timeout=timeout)

    def alive(self) -> dict[str, bool]:
        """Whether each loop's thread is running."""
        with self._lock:
            return {
                name: loop.thread is not None and loop.thread.is_alive()
                for name, loop in self._loops.items()
            }

    def check(self) -> int:
        """Restart loops whose thread died; how many."""
        restarted = 0
        with self._lock:
            for loop in self._loops.values():
                if self.stopping.is_set() or loop.thread is None or loop.thread.is_alive():
                    continue
                log.error("the %s loop died; restarting it", loop.name)
                self.restarts[loop.name] += 1
                self._start(loop)
                restarted += 1
        return restarted

    def _start(self, loop: _Loop) -> None:
        loop.thread = threading.Thread(
            target=self._run, args=(loop,), name=f"provider-{loop.name}", daemon=True
        )
        loop.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(self.check_seconds):
            try:
                self.check()
            except Exception:  # the watchdog must outlive what it watches
                log.exception("the watchdog's check failed")

    def _run(self, loop: _Loop) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                loop.round()
            except Exception as exc:
                failures += 1
                with self._lock:
                    self.errors[loop.name] += 1
                delay = retry_delay(failures, self.backoff_initial, self.backoff_max)
                if failures == 1:
                    log.exception("the %s loop failed; going on in %.1f s", loop.name, delay)
                else:
                    log.error("the %s loop failed again (%d in a row: %s: %s); going on "
                              "in %.1f s", loop.name, failures, type(exc).__name__, exc,
                              delay)  # fmt: skip
                self.stopping.wait(delay)
            else:
                failures = 0
