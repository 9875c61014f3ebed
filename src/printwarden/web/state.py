"""What the web interface keeps per process: the cookie signer, and the sessions it knows
ended or were checked lately (failed logins are counted by the App Server's one login
throttle, ``AppState.logins``).

A logout is written to the database and told to every process (``store/web_sessions.py``);
each process also checks a session against the database every ``CHECK_SECONDS``, and on
every request while it may be missing other processes' notices."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import Request

from printwarden.store import web_sessions
from printwarden.store.db import Database
from printwarden.store.notices import Notices
from printwarden.web.sessions import CookieSigner

CHECK_SECONDS = 5.0  # a disabled user's session ends in this process within this time


@dataclass
class WebState:
    signer: CookieSigner
    max_age: int
    database: Database | None = None  # where logouts are shared (None: this process only)
    # "auto": Secure cookies when the request came over HTTPS; "always" / "never" to force.
    secure_cookies: str = field(
        default_factory=lambda: os.environ.get("PRINTWARDEN_WEB_SECURE_COOKIES", "auto")
    )
    _ended: dict[str, float] = field(default_factory=dict)  # sid → when the cookie expires
    _checked: dict[str, float] = field(default_factory=dict)  # sid → valid until
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: Callable[[], bool] = lambda: True  # whether other processes' logouts are heard

    def listen(self, notices: Notices) -> None:
        """Hear other processes' logouts; trust recent checks only while they are heard."""
        notices.on(web_sessions.ENDED, self._heard)
        self._current = notices.current

    def end(self, sid: str) -> None:
        """A logout: this session id is refused, by every process, until its cookie would
        have expired (blocking: call it from a worker thread)."""
        self._ended_here(sid)
        if self.database is not None:
            ends_at = datetime.now(UTC) + timedelta(seconds=self.max_age)
            with self.database.session() as session:
                web_sessions.end(session, sid, ends_at)

    def ended(self, sid: str) -> bool:
        return sid in self._ended

    def recently_checked(self, sid: str) -> bool:
        until = self._checked.get(sid)
        return until is not None and until > time.monotonic() and self._current()

    def _heard(self, sid: str) -> None:
        if sid:
            self._ended_here(sid)
        else:  # logouts may have been missed: check every session again
            with self._lock:
                self._checked.clear()

    def _ended_here(self, sid: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._ended = {k: v for k, v in self._ended.items() if v > now}
            self._ended[sid] = now + self.max_age
            self._checked.pop(sid, None)

    def checked(self, sid: str) -> None:
        with self._lock:
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[sid] = time.monotonic() + CHECK_SECONDS

    def secure(self, request: Request) -> bool:
        if self.secure_cookies in ("always", "never"):
            return self.secure_cookies == "always"
        return request.url.scheme == "https"


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.webui
    return state
