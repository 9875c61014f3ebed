"""Secrets at rest: argon2 for passwords and PINs, keyed hashes for card numbers and tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or PIN."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches ``stored_hash``; False for a missing hash or empty secret."""
    if not stored_hash or not secret:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash no secret matches, made with the same parameters as every real one."""
    return hash_secret(secrets.token_hex(16))


def check_secret(stored_hash: str | None, secret: str) -> bool:
    """Like :func:`verify_secret`, but always one full argon2 verification: against a dummy
    hash when there is no stored one (an unknown user, a user without a PIN), so that the
    answer takes as long whether or not the user exists."""
    if not stored_hash:
        verify_secret(_dummy_hash(), secret or "-")
        return False
    return verify_secret(stored_hash, secret or "-") and bool(secret)


def normalize_card(card_number: str) -> str:
    """Card numbers compare without surrounding spaces and leading zeros, case-insensitively."""
    stripped = card_number.strip().upper()
    return stripped.lstrip("0") or "0"


def card_hash(key: bytes, card_number: str) -> str:
    """HMAC-SHA256 of a normalized card number under the server secret.

    Lookup by card needs a deterministic hash; the key keeps a stolen database from being
    matched against the small space of possible card numbers.
    """
    digest = hmac.new(key, b"card:" + normalize_card(card_number).encode(), hashlib.sha256)
    return digest.hexdigest()


def identity_hash(key: bytes, identity_number: str) -> str:
    """Keyed hash of a user's identity number (looked up like a card, at ID + PIN login)."""
    digest = hmac.new(key, b"identity:" + identity_number.strip().encode(), hashlib.sha256)
    return digest.hexdigest()


class NumberHasher:
    """:func:`card_hash` and :func:`identity_hash` under one key, for many numbers: the
    HMAC's keyed state is made once (a site's snapshot hashes every card of every user)."""

    def __init__(self, key: bytes) -> None:
        self._card = hmac.new(key, b"card:", hashlib.sha256)
        self._identity = hmac.new(key, b"identity:", hashlib.sha256)

    def card(self, card_number: str) -> str:
        digest = self._card.copy()
        digest.update(normalize_card(card_number).encode())
        return digest.hexdigest()

    def identity(self, identity_number: str) -> str:
        digest = self._identity.copy()
        digest.update(identity_number.strip().encode())
        return digest.hexdigest()


def voucher_hash(key: bytes, code: str) -> str:
    """Keyed hash of a top-up card's canonical code (``domain.vouchers.parse``)."""
    return hmac.new(key, b"voucher:" + code.encode(), hashlib.sha256).hexdigest()


class VoucherHasher:
    """:func:`voucher_hash` under one key for many codes (a batch of up to 10,000)."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, b"voucher:", hashlib.sha256)

    def hash(self, code: str) -> str:
        digest = self._keyed.copy()
        digest.update(code.encode())
        return digest.hexdigest()


def new_token(role: str) -> str:
    """A new bearer token; its role prefix helps people recognise leaked tokens."""
    return f"pw_{role}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """SHA-256 of a bearer token: tokens carry 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()
