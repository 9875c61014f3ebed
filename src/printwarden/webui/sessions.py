"""Web sessions as signed cookies: who is logged in, their CSRF token, nothing else.

The cookie is signed (HMAC-SHA256 via itsdangerous) with a key derived from the server
secret, which a Site Server holds too: a session opened at HQ is still valid at the site
while it answers from its replica. It is not an API token (the API looks bearer tokens up in
``api_tokens``, where no cookie is), and an API token is not a cookie (it carries no
signature). A new session id and CSRF token are minted at every login (no fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from printwarden.domain.accounts import Role
from printwarden.store.models import UserRow

SESSION_COOKIE = "pw_web"
LOGIN_COOKIE = "pw_login"  # the login form's CSRF nonce, before there is a session
LOGIN_FORM_SECONDS = 30 * 60


@dataclass(frozen=True, slots=True)
class WebSession:
    user_id: int
    username: str
    role: str  # "admin" or "user"
    sid: str
    csrf: str
    fingerprint: str  # of the password hash and admin flag: changing either ends sessions

    @property
    def admin(self) -> bool:
        return self.role == Role.ADMIN.value


def fingerprint(user: UserRow) -> str:
    """What ends a session when it changes: the password (hash) and the admin flag."""
    material = f"{user.password_hash or ''}|{user.is_admin}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


def new_session(user: UserRow) -> WebSession:
    role = Role.ADMIN if user.is_admin else Role.USER
    return WebSession(
        user_id=user.id,
        username=user.username,
        role=role.value,
        sid=secrets.token_urlsafe(18),
        csrf=secrets.token_urlsafe(24),
        fingerprint=fingerprint(user),
    )


class CookieSigner:
    """Signs and checks the session and login cookies (different salts: not interchangeable)."""

    def __init__(self, secret: bytes) -> None:
        key = hmac.new(secret, b"printwarden web cookies", hashlib.sha256).hexdigest()
        options: dict[str, Any] = {"signer_kwargs": {"digest_method": hashlib.sha256}}
        self._sessions = URLSafeTimedSerializer(key, salt="web-session", **options)
        self._logins = URLSafeTimedSerializer(key, salt="web-login", **options)

    def session_cookie(self, session: WebSession) -> str:
        return str(self._sessions.dumps(asdict(session)))

    def session(self, cookie: str | None, max_age: int) -> WebSession | None:
        if not cookie:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=max_age)
            return WebSession(**data)
        except (BadSignature, TypeError, ValueError):
            return None

    def login_cookie(self, nonce: str) -> str:
        return str(self._logins.dumps(nonce))

    def login_nonce(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            nonce = self._logins.loads(cookie, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
