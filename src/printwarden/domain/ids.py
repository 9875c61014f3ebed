"""Globally unique ids for ledger transactions and other writes that cross the network."""

from __future__ import annotations

import os
import re
import time
import uuid

_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id() -> str:
    """Return a new UUIDv7 (RFC 9562) as text: time-ordered, so ledger inserts stay local."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def normalize_id(text: str) -> str:
    """Validate a caller-supplied id (UUID of any version, or ULID) and return its canonical form.

    Raises ``ValueError`` for anything else.
    """
    candidate = text.strip()
    if _ULID.match(candidate.upper()):
        return candidate.upper()
    try:
        return str(uuid.UUID(candidate))
    except ValueError:
        raise ValueError(f"not a UUID or ULID: {text!r}") from None
