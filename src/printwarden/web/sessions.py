"""Web sessions as signed cookies: who is logged in, their CSRF token, nothing else.

Each server signs its cookies with its own Ed25519 key (``keys.cookie_key``, derived from
its own secret) and names itself in them (``issuer``: ``hq`` or ``site:<name>``). HQ accepts
only its own. A Site Server accepts its own and, with the public key HQ gives it, HQ's: a
session opened at HQ stays valid at the site while the site answers from its replica, but
nothing on a site box can make a cookie HQ or another site accepts. A cookie is not an API
token (the API looks bearer tokens up in ``api_tokens``, where no cookie is), and an API
token is not a cookie (it carries no signature). A new session id and CSRF token are minted
at every login (no fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from itsdangerous import BadData, URLSafeTimedSerializer
from itsdangerous.signer import SigningAlgorithm

from printwarden import keys
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
    fingerprint: str  # of the password stamp and admin flag: changing either ends sessions
    issuer: str  # the server that made it: "hq" or "site:<name>"

    @property
    def admin(self) -> bool:
        return self.role == Role.ADMIN.value


def fingerprint(user: UserRow) -> str:
    """What ends a session when it changes: the password (its stamp, which a site's replica
    has too, unlike the hash) and the admin flag."""
    material = f"{user.password_stamp or ''}|{user.is_admin}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


def new_session(user: UserRow, issuer: str) -> WebSession:
    role = Role.ADMIN if user.is_admin else Role.USER
    return WebSession(
        user_id=user.id,
        username=user.username,
        role=role.value,
        sid=secrets.token_urlsafe(18),
        csrf=secrets.token_urlsafe(24),
        fingerprint=fingerprint(user),
        issuer=issuer,
    )


class Ed25519Signing(SigningAlgorithm):
    """itsdangerous signatures by an Ed25519 key, over itsdangerous' derived key (of the
    salt) and the value; without the private key it only checks."""

    def __init__(self, public: Ed25519PublicKey, private: Ed25519PrivateKey | None = None):
        self._public, self._private = public, private

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        if self._private is None:
            raise BadData("this key only checks signatures")
        return self._private.sign(key + value)

    def verify_signature(self, key: bytes, value: bytes, sig: bytes) -> bool:
        try:
            self._public.verify(sig, key + value)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class _Issuer:
    """The serializers of one issuer's session and login cookies (different salts)."""

    name: str
    sessions: URLSafeTimedSerializer
    logins: URLSafeTimedSerializer

    @classmethod
    def of(cls, name: str, algorithm: Ed25519Signing) -> _Issuer:
        # The "secret" is a label: the key lives in ``algorithm``.
        label = f"printwarden web cookies of {name}"
        options: dict[str, Any] = {
            "signer_kwargs": {"algorithm": algorithm, "digest_method": hashlib.sha256}
        }
        return cls(
            name,
            URLSafeTimedSerializer(label, salt=f"web-session {name}", **options),
            URLSafeTimedSerializer(label, salt=f"web-login {name}", **options),
        )


class CookieSigner:
    """Signs this server's cookies and checks those of the issuers it trusts: itself, and at
    a site HQ (:meth:`trust`). A cookie must name the issuer whose key signed it."""

    def __init__(self, issuer: str, secret: bytes) -> None:
        private = keys.cookie_key(secret)
        self.issuer = issuer
        self._public = private.public_key()
        self._own = _Issuer.of(issuer, Ed25519Signing(self._public, private))
        self._trusted: dict[str, _Issuer] = {issuer: self._own}

    def public_key(self) -> bytes:
        """This server's public cookie key (raw), which its sites get from HQ."""
        return self._public.public_bytes_raw()

    def trust(self, issuer: str, public_key: bytes) -> None:
        """Also accept ``issuer``'s cookies, checked with its raw Ed25519 ``public_key``."""
        if issuer == self.issuer:
            raise ValueError("a server trusts its own key already")
        public = Ed25519PublicKey.from_public_bytes(public_key)
        self._trusted = {**self._trusted, issuer: _Issuer.of(issuer, Ed25519Signing(public))}

    def session_cookie(self, session: WebSession) -> str:
        if session.issuer != self.issuer:
            raise ValueError(f"a session of {session.issuer!r} is not {self.issuer!r}'s to sign")
        return str(self._own.sessions.dumps(asdict(session)))

    def session(self, cookie: str | None, max_age: int) -> WebSession | None:
        """The session ``cookie`` holds, if a trusted issuer signed it (and says so) within
        ``max_age`` seconds."""
        if not cookie:
            return None
        for issuer in self._trusted.values():
            try:
                data = issuer.sessions.loads(cookie, max_age=max_age)
            except BadData:
                continue
            try:
                found = WebSession(**data)
            except TypeError:
                return None
            return found if found.issuer == issuer.name else None
        return None

    def login_cookie(self, nonce: str) -> str:
        return str(self._own.logins.dumps({"iss": self.issuer, "nonce": nonce}))

    def login_nonce(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        for issuer in self._trusted.values():
            try:
                data = issuer.logins.loads(cookie, max_age=LOGIN_FORM_SECONDS)
            except BadData:
                continue
            if not isinstance(data, dict) or data.get("iss") != issuer.name:
                return None
            nonce = data.get("nonce")
            return nonce if isinstance(nonce, str) else None
        return None


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
