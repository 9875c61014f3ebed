"""Keeping each printer's capabilities current: asked over IPP at start, periodically and
after a failure; remembered on disk so that a printer that is off when the provider starts
is still described as it was last seen.

Nothing here may hold the provider up. :meth:`PrinterWatch.start` waits at most
``first_wait`` seconds for the first answers (the printers are asked in parallel); a printer
that has not answered by then is described by what was last known of it, the configuration
and the defaults of :mod:`.capabilities`, and is asked again by the watch's thread. That
thread catches every failure of one round, logs it and carries on: it cannot die of a
printer's answer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from printwarden.files import write_private
from printwarden.provider.capabilities import (
    IPP_SCHEMES,
    REQUESTED,
    Capabilities,
    Learnt,
    effective,
    learn,
    queue_formats,
    queue_paper_sizes,
)
from printwarden.provider.config import PrinterConfig, ProviderConfig, QueueConfig
from printwarden.provider.ipp.client import IppClient, IppClientError
from printwarden.provider.printer_status import PrinterStatus
from printwarden.provider.supervisor import Supervisor

log = logging.getLogger("printwarden.provider")
STATE_FILE = "printers.json"
ASK_TIMEOUT = 10.0
CONNECT_TIMEOUT = 3.0

Fetch = Callable[[PrinterConfig], Learnt]
_MISSING = object()


def ask_printer(printer: PrinterConfig) -> Learnt:
    """``Get-Printer-Attributes`` of an ``ipp(s)://`` printer; raises IppClientError."""
    with IppClient(printer.uri, timeout=ASK_TIMEOUT, connect_timeout=CONNECT_TIMEOUT) as client:
        group = client.get_printer_attributes(REQUESTED)
    return learn(group, printer.uri, time.time())


class PrinterWatch:
    """The current :class:`Capabilities` of every printer of a provider."""

    def __init__(
        self,
        config: ProviderConfig,
        directory: Path | None = None,
        *,
        fetch: Fetch = ask_printer,
        refresh_seconds: float | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.config = config
        self.fetch = fetch
        self.refresh_seconds = refresh_seconds or config.printer_refresh_seconds
        self.path = directory / STATE_FILE if directory is not None else None
        self._lock = threading.Lock()
        self._learnt: dict[str, Learnt] = self._load()
        self._origin = dict.fromkeys(self._learnt, "last known")
        self._current = self._describe()
        self._per_queue_cache: dict[tuple[str, str, str, str], Any] = {}
        self._listeners: list[Callable[[], None]] = []
        self._status_listeners: list[Callable[[str], None]] = []
        self._unreachable: set[str] = set()  # IPP printers whose last ask failed
        self._wanted: set[str] = set()
        self._wake = threading.Event()
        self.supervisor = supervisor or Supervisor()
        self._stop = self.supervisor.stopping
        self.rounds = 0

    # --- what the rest of the provider reads -----------------------------------------------

    def get(self, name: str) -> Capabilities | None:
        with self._lock:
            return self._current.get(name)

    def all(self) -> dict[str, Capabilities]:
        with self._lock:
            return dict(self._current)

    def status(self, name: str) -> PrinterStatus | None:
        """What the printer ``name`` last said of its state (supplies, alerts…); None if it
        was never heard from (or cannot be asked)."""
        printer = self.config.printer(name)
        with self._lock:
            learnt = self._learnt.get(name)
        if printer is None or learnt is None or learnt.uri != printer.uri:
            return None
        if learnt.status is not None and name in self._unreachable:
            reasons = (*(r for r in learnt.status.reasons if r != "none"), "offline-report")
            return replace(learnt.status, reasons=reasons)
        return learnt.status

    def learnt(self, name: str) -> Learnt | None:
        """Everything the printer ``name`` last said of itself, if it was heard from."""
        with self._lock:
            return self._learnt.get(name)

    def queue_formats(self, queue: QueueConfig) -> frozenset[str]:
        """What ``queue`` accepts (see :func:`.capabilities.queue_formats`)."""
        return self._per_queue("formats", queue, queue_formats)  # type: ignore[no-any-return]

    def queue_paper_sizes(self, queue: QueueConfig) -> frozenset[str] | None:
        return self._per_queue("paper", queue, queue_paper_sizes)  # type: ignore[no-any-return]

    def _per_queue(
        self, what: str, queue: QueueConfig, compute: Callable[[QueueConfig, Any], Any]
    ) -> Any:
        """``compute(queue, capabilities)``, remembered until the capabilities change (every
        submission asks; the printers change seldom)."""
        key = (what, queue.name, queue.kind, queue.printer)
        cached = self._per_queue_cache.get(key, _MISSING)  # a dict read needs no lock
        if cached is not _MISSING:
            return cached
        with self._lock:
            current = self._current  # replaced, never changed in place
        value = compute(queue, current)
        with self._lock:
            if self._current is current:  # else changed meanwhile: not remembered
                self._per_queue_cache[key] = value
        return value

    def registration(self) -> dict[str, Any]:
        """The provider's registration, its printers described as they are now."""
        described = self.config.registration()
        current = self.all()
        described["printers"] = [current[p.name].description() for p in self.config.printers]
        return described

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called (from the watch's thread) after a printer's capabilities changed."""
        self._listeners.append(listener)

    def on_status(self, listener: Callable[[str], None]) -> None:
        """Called with a printer's name after what it says of its state changed."""
        self._status_listeners.append(listener)

    # --- keeping it current --------------------------------------------------------------

    def start(self, first_wait: float | None = None) -> None:
        """Ask every IPP printer now, waiting at most ``first_wait`` seconds for the
        answers; then keep asking in the background."""
        wait_for = self.config.printer_first_wait_seconds if first_wait is None else first_wait
        if wait_for > 0:
            self.refresh(deadline=time.monotonic() + wait_for)
        self.supervisor.spawn("printers", self._round, self._wake.set)

    def stop(self) -> None:
        """Stop (with the supervisor, which the provider shares with its other loops)."""
        self.supervisor.stop()

    def stale(self, name: str) -> None:
        """The printer refused or failed a job: ask it again soon (not waiting for it)."""
        with self._lock:
            self._wanted.add(name)
        self._wake.set()

    def answered(self, name: str) -> None:
        """The printer took a job: if its last ask had failed, ask it again now."""
        with self._lock:
            if name not in self._unreachable:
                return
        self.stale(name)

    def refresh(self, names: set[str] | None = None, deadline: float | None = None) -> set[str]:
        """Ask the IPP printers (all, or ``names``) now; the names whose capabilities
        changed. Answers later than ``deadline`` (monotonic) are applied when they come."""
        asked = [
            p
            for p in self.config.printers
            if urlsplit(p.uri).scheme in IPP_SCHEMES and (names is None or p.name in names)
        ]
        if not asked:
            return set()
        pool = ThreadPoolExecutor(max_workers=min(8, len(asked)), thread_name_prefix="ask")
        futures = {pool.submit(self._ask, printer): printer for printer in asked}
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, _ = wait(futures, timeout=timeout)
        pool.shutdown(wait=False)  # late answers still land in _ask
        self.rounds += 1
        return {futures[f].name for f in done if f.result()}

    def _ask(self, printer: PrinterConfig) -> bool:
        """Ask one printer and record its answer; whether its capabilities changed."""
        try:
            learnt = self.fetch(printer)
        except IppClientError as exc:
            known = self.get(printer.name)
            log.info("printer %s did not describe itself (%s); its formats: %s", printer.name,
                     exc, known.origin if known else "defaults")  # fmt: skip
            self._reachable(printer.name, False)
            return False
        except Exception:  # a bug must not stop the watch; the printer keeps what it had
            log.exception("reading printer %s's attributes failed", printer.name)
            return False
        return self._record(printer.name, learnt)

    def _reachable(self, name: str, reached: bool) -> None:
        """Remember whether the printer answered; its state listeners hear of a change."""
        with self._lock:
            changed = (name in self._unreachable) == reached
            (self._unreachable.discard if reached else self._unreachable.add)(name)
        if changed and not reached:
            self._tell_status(name)

    def _tell_status(self, name: str) -> None:
        for status_listener in self._status_listeners:
            try:
                status_listener(name)
            except Exception:  # a listener's bug must not stop the watch
                log.exception("a listener of printer %s's state failed", name)

    def _record(self, name: str, learnt: Learnt) -> bool:
        with self._lock:
            was_unreachable = name in self._unreachable
            self._unreachable.discard(name)
            before = self._current.get(name)
            previous = self._learnt.get(name)
            self._learnt[name] = learnt
            self._origin[name] = "printer"
            self._current = self._describe()
            self._per_queue_cache.clear()
            changed = self._current.get(name) != before
            if changed:
                self._save()
        if changed:
            now = self._current[name]
            log.info("printer %s takes %s (from %s)", name,
                     ", ".join(sorted(now.formats or ())) or "any format", now.origin)  # fmt: skip
            for listener in self._listeners:
                listener()
        if was_unreachable or previous is None or previous.status != learnt.status:
            self._tell_status(name)
        return changed

    def _round(self) -> None:
        """Wait for the next refresh (or a printer gone stale), then ask (supervised: a
        failing round is logged and backed off, never the loop's death)."""
        self._wake.wait(timeout=self.refresh_seconds)
        self._wake.clear()
        if self._stop.is_set():
            return
        with self._lock:
            wanted, self._wanted = self._wanted, set()
        self.refresh(wanted or None, deadline=time.monotonic() + ASK_TIMEOUT + 5)

    def _describe(self) -> dict[str, Capabilities]:
        return {
            p.name: effective(p, self._learnt.get(p.name), self._origin.get(p.name, ""))
            for p in self.config.printers
        }

    # --- last known, on disk -------------------------------------------------------------

    def _load(self) -> dict[str, Learnt]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(name): Learnt.from_json(data) for name, data in stored.items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("ignoring %s (%s): printers will be asked again", self.path, exc)
            return {}

    def _save(self) -> None:
        if self.path is None:
            return
        text = json.dumps({n: learnt.to_json() for n, learnt in self._learnt.items()}, indent=1)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            write_private(temporary, text)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("could not keep the printers' capabilities in %s: %s", self.path, exc)
