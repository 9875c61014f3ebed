"""The mail spool: accepted messages, durable before the sender hears 250.

Each message is one private file, ``<id>.msg``: a JSON line with its envelope, then the raw
message. :meth:`Spool.put` writes it under ``tmp/``, fsyncs it, renames it into place and
fsyncs the directory, so that a message once acknowledged survives a crash or power loss.
A message that cannot be processed is moved to ``failed/`` with a ``.why`` file beside it.
Ids sort in the order messages arrived.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from printwarden.files import fsync_dir, private_dir

SUFFIX = ".msg"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope of a message and where it came from."""

    mail_from: str
    recipients: tuple[str, ...]
    client_ip: str = ""
    helo: str = ""
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class Entry:
    """A spooled message."""

    id: str
    envelope: Envelope
    raw: bytes


def new_id() -> str:
    """A unique id that sorts by arrival time."""
    return f"{time.time_ns():020d}-{secrets.token_hex(8)}"


def keyed_id(key: str) -> str:
    """The entry id of a message known by ``key`` (the same for the same key)."""
    return f"{0:020d}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to a new private file at ``path`` through a temporary name, fsync'd."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


class Spool:
    """A directory of accepted messages waiting to be processed."""

    def __init__(self, directory: Path) -> None:
        self.directory = private_dir(directory)
        self.failed = private_dir(directory / "failed")
        for stale in self.directory.glob(".*.tmp"):  # a put() cut short by a crash
            stale.unlink()

    def put(self, envelope: Envelope, raw: bytes, key: str = "") -> str:
        """Keep a message durably; returns its id. A ``key`` (what the message is where it
        came from, e.g. a mailbox's UIDVALIDITY and UID) makes the id: putting it again is
        the same entry, so its documents are submitted under the same ids (once)."""
        entry_id = keyed_id(key) if key else new_id()
        write_durably(self.directory / f"{entry_id}{SUFFIX}", encode(envelope, raw))
        return entry_id

    def ids(self) -> list[str]:
        """The ids of the messages waiting, oldest first."""
        return sorted(p.name[: -len(SUFFIX)] for p in self.directory.glob(f"*{SUFFIX}"))

    def read(self, entry_id: str) -> Entry:
        """A spooled message; ValueError when its file is damaged."""
        return decode(entry_id, (self.directory / f"{entry_id}{SUFFIX}").read_bytes())

    def remove(self, entry_id: str) -> None:
        """Forget a processed message (durably)."""
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{entry_id}{SUFFIX}").unlink()
        fsync_dir(self.directory)

    def set_aside(self, entry_id: str, why: str) -> None:
        """Move a message that cannot be processed to ``failed/``, with the reason."""
        name = f"{entry_id}{SUFFIX}"
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.directory / name, self.failed / name)
        write_durably(self.failed / f"{entry_id}.why", why.encode())
        fsync_dir(self.directory)


def encode(envelope: Envelope, raw: bytes) -> bytes:
    """An entry's bytes: the envelope's JSON line, then the message."""
    return json.dumps(asdict(envelope), separators=(",", ":")).encode() + b"\n" + raw


def decode(entry_id: str, data: bytes) -> Entry:
    """An entry from its bytes; ValueError when they are damaged."""
    line, newline, raw = data.partition(b"\n")
    if not newline:
        raise ValueError(f"spool entry {entry_id} has no envelope")
    fields = json.loads(line)
    fields["recipients"] = tuple(fields.get("recipients", ()))
    return Entry(entry_id, Envelope(**fields), raw)
