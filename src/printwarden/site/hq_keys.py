"""The keys a Site Server gets from HQ (``GET /sites/{name}/keys``), kept in its data dir.

Its own card key, to hash swiped card and identity numbers as HQ hashed them for this site,
and HQ's public cookie key, to accept HQ's web sessions while offline. Never HQ's secret.
The file is written whole (a temporary file renamed) and readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from printwarden.api.sites import SiteKeysOut

FILE_NAME = "hq-keys.json"


@dataclass(frozen=True, slots=True)
class HqKeys:
    site: str
    generation: int
    card_key: bytes
    hq_cookie_key: bytes
    voucher_key: bytes = b""

    @classmethod
    def from_json(cls, found: dict[str, Any]) -> HqKeys:
        return cls(
            site=str(found["site"]),
            generation=int(found["key_generation"]),
            card_key=bytes.fromhex(str(found["card_key"])),
            hq_cookie_key=bytes.fromhex(str(found["hq_cookie_key"])),
            voucher_key=bytes.fromhex(str(found.get("voucher_key") or "")),
        )

    @classmethod
    def of(cls, answer: SiteKeysOut) -> HqKeys:
        """The keys in HQ's answer."""
        return cls.from_json(answer.model_dump())

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "key_generation": self.generation,
            "card_key": self.card_key.hex(),
            "hq_cookie_key": self.hq_cookie_key.hex(),
            "voucher_key": self.voucher_key.hex(),
        }


def load(path: Path) -> HqKeys | None:
    """The keys kept in ``path``, or None if there are none yet."""
    try:
        return HqKeys.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def save(path: Path, keys: HqKeys) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys.to_json(), handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
