"""Scheduled directory sync, in a background thread of the App Server."""

from __future__ import annotations

import logging
import threading

from printwarden.directory.source import read_snapshot
from printwarden.service.state import AppState
from printwarden.store import sync

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
            self.sync_once()

    def sync_once(self) -> None:
        try:
            snapshot = read_snapshot(self.state.settings.directory)
            with self.state.database.session() as session:
                report = sync.sync_directory(session, self.state.secret, snapshot)
            log.info("directory sync: %s", report)
        except Exception:
            log.exception("directory sync failed; will try again at the next interval")
