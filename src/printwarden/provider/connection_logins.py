"""A password checked once per connection, not once per request.

An IPP client that logs in with HTTP Basic sends the password with every request: CUPS's
``ipp`` back-end validates, creates, sends and then asks after its job every few seconds,
each a request on the same connection. Each check is an argon2 verification at the server
(tens of milliseconds of its CPU), so the provider remembers, for that connection only and
for at most :data:`REMEMBER_SECONDS`, that this user's password was accepted. The proof is
an HMAC of the password under a key made for the connection (the password itself is not
kept); it dies with the connection. A different user or password on the connection is
checked at the server again, and a refusal is never remembered.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from printwarden.provider.service_client import Login

REMEMBER_SECONDS = 300.0  # a disabled user or a changed password counts within this
_KEY = "password-login"


@dataclass(frozen=True, slots=True)
class _Accepted:
    user: str
    proof: bytes
    login: Login
    until: float


def recall(connection: dict[str, Any], user: str, password: str, now: float) -> Login | None:
    """The login this connection's earlier request got for this user and password, if
    it is still fresh; None otherwise."""
    accepted = connection.get(_KEY)
    if not isinstance(accepted, _Accepted) or now >= accepted.until or accepted.user != user:
        return None
    if not hmac.compare_digest(accepted.proof, _proof(connection, password)):
        return None
    return accepted.login


def remember(
    connection: dict[str, Any], user: str, password: str, login: Login, now: float
) -> None:
    """Remember that the server accepted this user and password (``login``) on this
    connection."""
    connection[_KEY] = _Accepted(user, _proof(connection, password), login,
                                 now + REMEMBER_SECONDS)  # fmt: skip


def _proof(connection: dict[str, Any], password: str) -> bytes:
    key = connection.setdefault(_KEY + "-key", secrets.token_bytes(32))
    return hmac.new(key, password.encode(), sha256).digest()
