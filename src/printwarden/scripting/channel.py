"""Length-prefixed JSON frames over a pipe: how a server talks to its script host.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object).
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 << 20
CHUNK = 1 << 16  # per read: a larger buffer is mmapped and unmapped on every call


class ChannelClosed(Exception):
    """The other end closed the pipe (or died)."""


class ChannelTimeout(Exception):
    """No whole frame arrived before the deadline."""


def encode(message: dict[str, Any]) -> bytes:
    """``message`` as one frame."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    """The object in a frame's body."""
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("a frame must hold a JSON object")
    return message


def write(fd: int, message: dict[str, Any]) -> None:
    """Send ``message``; ``ChannelClosed`` when the reader is gone."""
    data = memoryview(encode(message))
    try:
        while data:
            data = data[os.write(fd, data) :]
    except (BrokenPipeError, ConnectionResetError):
        raise ChannelClosed from None


def read(fd: int, deadline: float | None = None) -> dict[str, Any]:
    """The next message; ``deadline`` is a ``time.monotonic()`` value, ``None`` waits.

    Reads in large chunks: one request has one answer, so nothing follows a frame."""
    data = _read_some(fd, deadline)
    while len(data) < HEADER.size:
        data += _read_some(fd, deadline)
    (size,) = HEADER.unpack_from(data)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    chunks, have = [data], len(data)
    while have < HEADER.size + size:
        chunk = _read_some(fd, deadline)
        chunks.append(chunk)
        have += len(chunk)
    return decode(b"".join(chunks)[HEADER.size : HEADER.size + size])


def _read_some(fd: int, deadline: float | None) -> bytes:
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise ChannelTimeout
    chunk = os.read(fd, CHUNK)
    if not chunk:
        raise ChannelClosed
    return chunk
