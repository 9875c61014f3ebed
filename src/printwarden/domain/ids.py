"""Globally unique ids for ledger transactions and other writes that cross the network."""

from __future__ import annotations

import os
import re
import time
import uuid

_CANONICAL_UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.ASCII
)
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", re.IGNORECASE | re.ASCII)
_UUID_HEX = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})"
_UUID = re.compile(
    rf"^(?-i:urn:uuid:)?(?:{_UUID_HEX}|\{{{_UUID_HEX}\}})$", re.IGNORECASE | re.ASCII
)


def new_id() -> str:
    """Return a new UUIDv7 (RFC 9562) as text: time-ordered, so ledger inserts stay local."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    text = f"{value:032x}"  # as str(uuid.UUID(int=value)), without building the object
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def normalize_id(text: str) -> str:
    """Validate a caller-supplied id (UUID of any version, or ULID) and return its canonical form.

    Raises ``ValueError`` for anything else.
    """
    if _CANONICAL_UUID.match(text):
        return text  # already canonical (the common case: ids this project made)
    candidate = text.strip()
    if _ULID.match(candidate):
        return candidate.upper()
    if _UUID.match(candidate):
        return str(uuid.UUID(candidate))
    raise ValueError(f"not a UUID or ULID: {text!r}")
