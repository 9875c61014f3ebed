"""Scheduled work in background threads of the App Server: directory sync, top-ups. Among
several processes on one PostgreSQL only the leader runs it (``service/leadership.py``)."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime

from printwarden.directory.source import read_snapshot
from printwarden.service.state import AppState
from printwarden.store import sync, topups

log = logging.getLogger("printwarden.directory")


class DirectorySyncer:
    """Syncs users from the configured directory every ``sync_interval_minutes``."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def interval_seconds(self) -> float:
        return self.state.settings.directory.sync_interval_minutes * 60.0

    def start(self) -> None:
        config = self.state.settings.directory
        if config.source != "ldap" or config.sync_interval_minutes == 0:
            return
        self.thread = threading.Thread(target=self._run, name="directory-sync", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval_seconds):
            if self.state.leadership.leads():
                self.sync_once()

    def sync_once(self) -> None:
        try:
            snapshot = read_snapshot(self.state.settings.directory)
            with self.state.database.session() as session:
                report = sync.sync_directory(session, self.state.secret, snapshot)
            log.info("directory sync: %s", report)
        except Exception:
            log.exception("directory sync failed; will try again at the next interval")


class TopUpScheduler:
    """Applies scheduled credit top-ups: at start, then every ``interval`` seconds. Each
    period's top-up has a fixed transaction id, so running again (or in another worker)
    never credits twice."""

    def __init__(self, state: AppState, interval: float = 60.0) -> None:
        self.state = state
        self.interval = interval
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.state.authority.at_hq:
            return  # a Site Server's local app: top-ups are HQ's, and reach sites as balances
        self.thread = threading.Thread(target=self._run, name="topups", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _run(self) -> None:
        """Run just after start-up, then every ``interval``, and at once when this process
        becomes the leader (the one before may have died with top-ups due)."""
        last, led = -math.inf, False
        while not self.stopped.wait(1.0):
            leads = self.state.leadership.leads()
            if leads and (not led or time.monotonic() - last >= self.interval):
                self.run_once()
                last = time.monotonic()
            led = leads

    def run_once(self) -> int:
        if not self.state.leadership.leads():
            return 0
        try:
            with self.state.database.session() as session:
                applied = topups.apply_due(session, datetime.now(UTC))
        except Exception:
            log.exception("scheduled top-ups failed; will try again at the next interval")
            return 0
        if applied:
            log.info("scheduled top-ups: %d applied", applied)
        return applied
