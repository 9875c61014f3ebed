"""Each queue as an IPP printer an operator runs: accepting or not, paused, holding new jobs,
shut down, and the description attributes an operator sets (Set-Printer-Attributes).

Kept in ``queues.json`` (0600) in the provider's data directory, so that a paused queue
stays paused across a restart. The queue's ``printer-state`` itself is computed by
:mod:`.printer_states` from these flags, its jobs and its printer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from printwarden.files import write_private

log = logging.getLogger("printwarden.provider")
STATE_FILE = "queues.json"
# Set-Printer-Attributes: what an operator may describe, and the longest value (octets).
SETTABLE = {
    "printer-info": 127,
    "printer-location": 127,
    "printer-organization": 255,
    "printer-organizational-unit": 255,
    "printer-geo-location": 1023,
    "printer-message-from-operator": 127,
}
IDENTIFY_SECONDS = 60.0  # how long a queue shows that it was asked to identify itself
HELD_NEW_JOBS = "printwarden-held-new-jobs"  # job attribute: held by Hold-New-Jobs


@dataclass(frozen=True, slots=True)
class QueueState:
    """What an operator made of a queue; ``described`` holds the settable attributes set."""

    accepting: bool = True
    paused: bool = False
    hold_new_jobs: bool = False
    shutdown: bool = False
    described: dict[str, str] = field(default_factory=dict)
    config_changed: float = 0.0
    identify_until: float = 0.0
    identify_message: str = ""

    def text(self, name: str, default: str = "") -> str:
        return self.described.get(name, default)

    def identifying(self, now: float) -> bool:
        return now < self.identify_until

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueState:
        described = data.get("described", {})
        return cls(
            accepting=bool(data.get("accepting", True)),
            paused=bool(data.get("paused", False)),
            hold_new_jobs=bool(data.get("hold_new_jobs", False)),
            shutdown=bool(data.get("shutdown", False)),
            described={str(k): str(v) for k, v in described.items() if k in SETTABLE},
            config_changed=float(data.get("config_changed", 0.0)),
        )


Listener = Callable[[str, QueueState, QueueState], None]  # queue, before, after


class QueueStates:
    """The operator's state of every queue of a provider."""

    def __init__(self, queues: Iterable[str], directory: Path | None = None) -> None:
        self.path = directory / STATE_FILE if directory is not None else None
        self._lock = threading.Lock()
        started = time.time()
        self._states = {name: QueueState(config_changed=started) for name in queues}
        self._states.update({k: v for k, v in self._load().items() if k in self._states})
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Called with the queue, its state before and after, after every change."""
        self._listeners.append(listener)

    def get(self, queue: str) -> QueueState:
        with self._lock:
            return self._states.get(queue, QueueState())

    def change(self, queue: str, **changes: Any) -> QueueState:
        """Change flags of ``queue`` (``accepting``, ``paused``…) and keep them."""
        return self._apply(queue, lambda state: replace(state, **changes))

    def describe(self, queue: str, values: dict[str, str]) -> QueueState:
        """Set-Printer-Attributes: set (``""``: clear) settable attributes of ``queue``."""
        now = time.time()

        def update(state: QueueState) -> QueueState:
            described = {**state.described, **values}
            described = {k: v for k, v in described.items() if v}
            return replace(state, described=described, config_changed=now)

        return self._apply(queue, update)

    def identify(self, queue: str, message: str) -> QueueState:
        """Identify-Printer answered by the queue itself: show it for a while."""
        until = time.time() + IDENTIFY_SECONDS
        return self._apply(
            queue, lambda state: replace(state, identify_until=until, identify_message=message)
        )

    def _apply(self, queue: str, update: Callable[[QueueState], QueueState]) -> QueueState:
        with self._lock:
            if queue not in self._states:
                raise KeyError(queue)
            before = self._states[queue]
            after = self._states[queue] = update(before)
            self._save()
        for listener in self._listeners:
            try:
                listener(queue, before, after)
            except Exception:  # a listener's failure is not the operator's
                log.exception("a listener of queue %s failed", queue)
        return after

    def _load(self) -> dict[str, QueueState]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(name): QueueState.from_json(data) for name, data in stored.items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring %s (%s): queues start accepting and running", self.path, exc)
            return {}

    def _save(self) -> None:
        if self.path is None:
            return
        text = json.dumps({name: state.to_json() for name, state in self._states.items()})
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            write_private(temporary, text)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("could not keep the queues' state in %s: %s", self.path, exc)
