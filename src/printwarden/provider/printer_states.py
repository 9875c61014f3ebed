"""A queue's ``printer-state``, ``printer-state-reasons`` and ``printer-state-message``, and
when they last changed.

The state follows what the operator did (:mod:`.queue_admin`: paused, shut down, holding
new jobs, asked to identify), whether the engine is working on one of the queue's jobs, and
what the real printer behind it says (its state reasons: a jam there is the queue's news).
:func:`describe` is pure; :class:`PrinterStates` recomputes it when something it follows
changes, keeps the time of each change (``printer-state-change-time``) and tells listeners
(event subscriptions).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from printwarden.provider import clock
from printwarden.provider.config import ProviderConfig
from printwarden.provider.printer_status import PrinterStatus
from printwarden.provider.queue_admin import QueueState, QueueStates

log = logging.getLogger("printwarden.provider")
IDLE, PROCESSING, STOPPED = 3, 4, 5
# The real printer's reasons that are the queue's own business, not the printer's news.
OWN_REASONS = frozenset({"none", "paused", "moving-to-paused", "hold-new-jobs"})


@dataclass(frozen=True, slots=True)
class PrinterState:
    """How a queue shows itself as an IPP printer."""

    state: int
    reasons: tuple[str, ...]
    message: str
    accepting: bool


def describe(
    admin: QueueState, working: bool, printer: PrinterStatus | None, now: float
) -> PrinterState:
    """The state of a queue: what its operator did, whether a job of it is being worked on,
    and what its printer (``None``: not asked, or no single printer) says."""
    reasons: list[str] = []
    message = ""
    state = PROCESSING if working else IDLE
    if admin.shutdown:
        state, message = STOPPED, "shut down by an operator"
        reasons.append("shutdown")
    elif admin.paused:
        state, message = STOPPED, "paused by an operator"
        reasons.append("moving-to-paused" if working else "paused")
    if admin.hold_new_jobs:
        reasons.append("hold-new-jobs")
    if printer is not None:
        reasons += [r for r in printer.reasons if r not in OWN_REASONS and r not in reasons]
        if printer.state == STOPPED and state != STOPPED:
            state = STOPPED
            message = f"the printer has stopped: {printer.message}".rstrip(": ")
        elif not message and printer.message and printer.reasons not in ((), ("none",)):
            message = printer.message
    if admin.identifying(now):
        reasons.append("identify-printer-requested")
        message = admin.identify_message or "identify the printer"
    return PrinterState(state, tuple(reasons) or ("none",), message[:255], admin.accepting)


Listener = Callable[[str, PrinterState, PrinterState], None]  # queue, before, after


class PrinterStates:
    """The current :class:`PrinterState` of every queue and when it last changed."""

    def __init__(
        self,
        config: ProviderConfig,
        admin: QueueStates,
        working: Callable[[str], bool],
        printer_status: Callable[[str], PrinterStatus | None],
    ) -> None:
        self.config, self.admin = config, admin
        self._working, self._status = working, printer_status
        self._lock = threading.Lock()
        self._current: dict[str, tuple[PrinterState, float]] = {}
        self._listeners: list[Listener] = []
        for queue in config.queues:
            self._current[queue.name] = (self._describe(queue.name, time.time()), clock.started())

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def current(self, queue: str) -> tuple[PrinterState, float]:
        """The queue's state now and the time it last changed (recomputed: an identify
        request may have run out)."""
        self.refresh(queue)
        with self._lock:
            return self._current[queue]

    def refresh(self, queue: str) -> None:
        """Recompute the state of ``queue``; listeners hear of a change."""
        if self.config.queue(queue) is None:
            return
        now = time.time()
        after = self._describe(queue, now)
        with self._lock:
            before, _ = self._current[queue]
            if after == before:
                return
            self._current[queue] = (after, now)
        for listener in self._listeners:
            try:
                listener(queue, before, after)
            except Exception:  # news of a state is not the state
                log.exception("a listener of queue %s's state failed", queue)

    def printer_changed(self, printer: str) -> None:
        """The printer ``printer`` said something new of its state."""
        for queue in self.config.queues:
            if queue.printer == printer:
                self.refresh(queue.name)

    def _describe(self, queue: str, now: float) -> PrinterState:
        config = self.config.queue(queue)
        printer = self._status(config.printer) if config is not None and config.printer else None
        return describe(self.admin.get(queue), self._working(queue), printer, now)
