"""Site Servers calling in (``POST /sites/{name}/status``), recorded without a write each.

Each site sends its status every second or so (``site/heartbeat.py``); HQ needs from it
whether the site is reachable now (``store/sites.reachable``) and, when it changed, what it
says. So a status is written when it says something new; otherwise only its time is noted
here, and the times noted are written together, one statement, at most every
:data:`FLUSH_SECONDS` (by whichever call comes then), which also reads every site's
forced-offline flag for the answers until the next: a status with no news touches no
database. A hundred sites on SQLite then cost about one write a second instead of two
hundred (which starved every other writer).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from printwarden.domain.site_status import essentials
from printwarden.store import sites
from printwarden.store.db import Database
from printwarden.store.models import SiteRow

FLUSH_SECONDS = 1.0
_SITES = cast(Table, SiteRow.__table__)
_FORCED = select(_SITES.c.name, _SITES.c.forced_offline, _SITES.c.key_generation)
_TOUCH = (
    update(_SITES).where(_SITES.c.name == bindparam("site")).values(last_contact=bindparam("at"))
)


class SiteContacts:
    """The statuses this process stored last and the contacts it has yet to write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, datetime] = {}
        self._forced: dict[str, bool] = {}  # each site's forced-offline flag, at the last write
        self._generations: dict[str, int] = {}  # and its card key generation
        self._flushed = time.monotonic()
        self.writes = 0  # transactions that wrote (for tests and metrics)

    def heard_quietly(self, name: str, status: dict[str, Any]) -> bool | None:
        """:meth:`heard` when that needs no database (no news, no write due: most calls,
        answered without leaving the event loop); else None, and nothing noted."""
        news = essentials(status)
        with self._lock:
            forced = self._forced.get(name)
            if forced is None or self._stored.get(name) != news or self._flush_due():
                return None
            self._pending[name] = datetime.now(UTC)
            return forced

    def heard(self, database: Database, name: str, status: dict[str, Any]) -> bool:
        """``name`` called in with ``status``; whether an administrator forces it offline (as
        read at the last write: at most about :data:`FLUSH_SECONDS` old; a site whose long
        poll hears HQ learns it at once from the poll). NotFound for an unknown site."""
        news = essentials(status)
        with self._lock:
            changed = self._stored.get(name) != news
            if not changed:
                self._pending[name] = datetime.now(UTC)
            due = self._flush_due()
            flush, self._pending = (self._pending, {}) if due else ({}, self._pending)
            if due:
                self._flushed = time.monotonic()
            forced = self._forced.get(name)
        if not (changed or flush) and forced is not None:
            return forced  # nothing to write, nothing to read
        with database.session() as session:
            row = sites.find_site(session, name)
            if changed:
                sites.record_status(session, row, status)
            if flush:
                touched = [{"site": site, "at": at} for site, at in flush.items()]
                session.connection().execute(_TOUCH, touched)
            read = session.execute(_FORCED).all()
        known = {site: bool(flag) for site, flag, _ in read}
        with self._lock:
            self.writes += 1
            self._forced = known
            self._generations = {site: generation for site, _, generation in read}
            if changed:
                self._stored[name] = news
        return bool(known[name])

    def generation(self, name: str) -> int | None:
        """``name``'s card key generation, as read at the last write (None: not yet read)."""
        with self._lock:
            return self._generations.get(name)

    def _flush_due(self) -> bool:
        """Whether noted contacts wait and the period is over (the lock held)."""
        return bool(self._pending) and time.monotonic() - self._flushed >= FLUSH_SECONDS
