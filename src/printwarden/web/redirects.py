"""Where to go after login: only paths of this web interface (no open redirects)."""

from __future__ import annotations

import re

from printwarden.web.sessions import WebSession

# A path under /web/, of plain characters: no scheme, no "//host", no backslash, no CR/LF.
_SAFE = re.compile(r"/web/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def home_of(session: WebSession) -> str:
    return "/web/admin/" if session.admin else "/web/portal/"


def safe_next(path: str, session: WebSession | None) -> str:
    """``path`` if it is a page of this interface the session's role may open, else home."""
    fallback = home_of(session) if session is not None else "/web/"
    if not _SAFE.fullmatch(path) or "//" in path or path.startswith("/web/login"):
        return fallback
    if session is not None:
        area = "/web/admin/" if session.admin else "/web/portal/"
        if not path.startswith(area):
            return fallback
    return path
