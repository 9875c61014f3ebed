"""Keys by purpose. Each server derives what it signs and seals with from its own secret.

- :func:`purpose_key`: HKDF-SHA256 of a server's secret with a label per purpose, so no two
  uses share a key and no derived key reveals the secret or another derived key.
- Web cookies are signed with an Ed25519 key derived from the signing server's own secret
  (:func:`cookie_key`): HQ gives its *public* key to its sites, which can then check HQ's
  cookies but never make one.
- HQ seals each card and identity number (AES-256-GCM, :func:`seal`) so that it can hash
  them again under a site's key; the sealing key is derived, never stored in the database.
- A site's card key (:func:`site_card_key`) is derived from HQ's secret, the site's name and
  a generation that an administrator raises to re-key a site (a stolen one, say).

HQ's own card and identity hashes stay ``HMAC(secret, "card:" ‖ number)`` as before
(``security.card_hash``), so the hashes already stored stay valid: the secret keys that one
PRF, with inputs that begin ``card:`` or ``identity:``, and is otherwise only HKDF's input.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HQ_ISSUER = "hq"
SITE_SECRET_FILE = "site.key"  # noqa: S105 (a file name): a Site Server's own secret
SEAL_PURPOSE = "number-seal/v1"
COOKIE_PURPOSE = "web-cookies/ed25519/v1"
NONCE_BYTES = 12
CARD, IDENTITY = "card", "identity"


def site_issuer(site: str) -> str:
    """Who a Site Server's cookies say made them."""
    return f"site:{site}"


@lru_cache(maxsize=256)
def purpose_key(secret: bytes, purpose: str) -> bytes:
    """The 256-bit key of ``purpose`` under ``secret`` (HKDF-SHA256, label in ``info``)."""
    if not secret:
        raise ValueError("a purpose key needs a secret")
    info = f"printwarden/{purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def voucher_key(secret: bytes) -> bytes:
    """The key top-up card codes are hashed with: HQ's, shared with every site (so a site can
    check a card offline). A code carries 75 random bits, so hashes and key together do not
    reveal it; a site's journaled redemption carries the code itself (``usecases/vouchers``)."""
    return purpose_key(secret, "voucher-codes/v1")


def beacon_key(secret: bytes) -> bytes:
    """The key HQ signs its sites' beacon tickets with (``domain/beacon.py``)."""
    return purpose_key(secret, "site-beacon/v1")


def cookie_key(secret: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key a server signs its web cookies with."""
    return Ed25519PrivateKey.from_private_bytes(purpose_key(secret, COOKIE_PURPOSE))


def site_card_key(secret: bytes, site: str, generation: int) -> bytes:
    """The key site ``site`` hashes card and identity numbers with, at ``generation``."""
    return purpose_key(secret, f"site-card-key/v1/{site}/{generation}")


@lru_cache(maxsize=8)
def _aead(secret: bytes) -> AESGCM:
    return AESGCM(purpose_key(secret, SEAL_PURPOSE))


def _aad(kind: str, hashed: str) -> bytes:
    """A sealed number is bound to its kind and to HQ's hash of it: it cannot be moved."""
    return f"{kind}:{hashed}".encode()


def seal(secret: bytes, kind: str, hashed: str, number: str) -> bytes:
    """``number`` (already normalized) encrypted and authenticated: nonce ‖ ciphertext ‖ tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _aead(secret).encrypt(nonce, number.encode(), _aad(kind, hashed))


def unseal(secret: bytes, kind: str, hashed: str, sealed: bytes) -> str:
    """The number :func:`seal` sealed; ValueError if it was not sealed so (key, kind, hash)."""
    return Opener(secret).open(kind, hashed, sealed)


class Opener:
    """:func:`unseal` for many numbers under one secret (the cipher set up once)."""

    def __init__(self, secret: bytes) -> None:
        self._aead = _aead(secret)

    def open(self, kind: str, hashed: str, sealed: bytes) -> str:
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, body, _aad(kind, hashed))
        except InvalidTag:
            raise ValueError(f"a sealed {kind} number does not open under this key") from None
        return plain.decode()


def secret_in(path: Path) -> bytes:
    """The secret kept in ``path``: 256 random bits as hex, made on first use (mode 0600)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by a concurrent first start
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    found = path.read_text().strip().encode()
    if not found:
        raise ValueError(f"{path} is empty")
    return found
