"""Card and identity numbers as one site receives them: hashed under that site's own key.

HQ keeps each number as its own keyed hash (for lookups at HQ) and sealed (``keys.seal``).
A user sent to a site carries, instead of HQ's hashes, ``HMAC(site key, number)`` of each
number, unsealed for the purpose: a stolen site's replica and key match that site's hashes
only, never HQ's or another site's. A number stored before HQ sealed numbers (migration
0009) cannot be hashed again: it is left out, and counted, until it is set or imported again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from printwarden import keys, security
from printwarden.store.models import SiteRow

log = logging.getLogger("printwarden.replication")


@dataclass(slots=True)
class SiteNumbers:
    """Re-hashes HQ's sealed numbers for one site, at that site's key generation."""

    secret: bytes  # HQ's
    site: str
    generation: int
    key: bytes = field(init=False)
    _opener: keys.Opener = field(init=False, repr=False)
    _hasher: security.NumberHasher = field(init=False, repr=False)
    unsealed_cards: int = 0  # left out: stored before numbers were sealed
    unsealed_identities: int = 0
    unopened: int = 0  # left out: sealed under another secret (HQ's secret was replaced)

    def __post_init__(self) -> None:
        self.key = keys.site_card_key(self.secret, self.site, self.generation)
        self._opener = keys.Opener(self.secret)
        self._hasher = security.NumberHasher(self.key)

    @classmethod
    def of(cls, secret: bytes, site: SiteRow) -> SiteNumbers:
        return cls(secret, site.name, site.key_generation)

    def cards(self, stored: list[tuple[str, bytes | None]]) -> list[str]:
        """The site's hashes of a user's cards, given as ``(HQ's hash, sealed number)``."""
        found = []
        for hashed, sealed in stored:
            if sealed is None:
                self.unsealed_cards += 1
                continue
            number = self._unseal(keys.CARD, hashed, sealed)
            if number is not None:
                found.append(self._hasher.card(number))
        return found

    def identity(self, hashed: str | None, sealed: bytes | None) -> str | None:
        """The site's hash of a user's identity number (None: none, or not sealed)."""
        if hashed is None:
            return None
        if sealed is None:
            self.unsealed_identities += 1
            return None
        number = self._unseal(keys.IDENTITY, hashed, sealed)
        return None if number is None else self._hasher.identity(number)

    def _unseal(self, kind: str, hashed: str, sealed: bytes) -> str | None:
        try:
            return self._opener.open(kind, hashed, bytes(sealed))
        except ValueError:
            self.unopened += 1
            return None

    def user_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A user's columns as the site gets them: its own identity hash, and nothing of
        HQ's secrets — no password hash (offline passwords come from the site's own cache),
        no sealed number."""
        row["identity_hash"] = self.identity(row["identity_hash"], row["identity_sealed"])
        row["identity_sealed"] = None
        row["password_hash"] = None
        return row

    def report(self) -> None:
        """Log the numbers left out (once per page that had any)."""
        if self.unopened:
            log.error("site %s: %d sealed numbers do not open under HQ's secret (was it "
                      "replaced?): left out", self.site, self.unopened)  # fmt: skip
        if self.unsealed_cards or self.unsealed_identities:
            log.warning(
                "site %s: %d cards and %d identity numbers were stored before HQ sealed "
                "numbers and cannot be sent to sites; set or import them again",
                self.site, self.unsealed_cards, self.unsealed_identities,
            )  # fmt: skip
