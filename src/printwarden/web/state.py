"""What the web interface keeps per process: the cookie signer and logouts (failed logins
are counted by the App Server's one login throttle, ``AppState.logins``)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from fastapi import Request

from printwarden.web.sessions import CookieSigner

CHECK_SECONDS = 5.0  # a disabled user's session ends in this process within this time


@dataclass
class WebState:
    signer: CookieSigner
    max_age: int
    # "auto": Secure cookies when the request came over HTTPS; "always" / "never" to force.
    secure_cookies: str = field(
        default_factory=lambda: os.environ.get("PRINTWARDEN_WEB_SECURE_COOKIES", "auto")
    )
    _ended: dict[str, float] = field(default_factory=dict)  # sid → when the cookie expires
    _checked: dict[str, float] = field(default_factory=dict)  # sid → valid until
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def end(self, sid: str) -> None:
        """A logout: this session id is refused until its cookie would have expired."""
        now = time.monotonic()
        with self._lock:
            self._ended = {k: v for k, v in self._ended.items() if v > now}
            self._ended[sid] = now + self.max_age
            self._checked.pop(sid, None)

    def ended(self, sid: str) -> bool:
        return sid in self._ended

    def recently_checked(self, sid: str) -> bool:
        until = self._checked.get(sid)
        return until is not None and until > time.monotonic()

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
