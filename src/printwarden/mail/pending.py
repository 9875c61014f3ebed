"""Messages held until a person confirms them, kept on disk under an unguessable token.

The token (256 random bits) goes only into the confirmation mail; the file is named by its
SHA-256, so reading the directory reveals no token. Each file (0600) holds a JSON line (the
sender, the user who may confirm or none, the expiry, the spool id) and the spooled message.
A message expires after ``hours``; :meth:`PendingStore.confirm` processes it as the
confirming user and then forgets it (processing is idempotent, so a crash between the two
only processes it again).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from printwarden.files import fsync_dir, private_dir
from printwarden.mail import spool
from printwarden.mail.target import Outcome
from printwarden.security import token_hash


class UnknownToken(LookupError):
    """No held message has this token (never had, expired, or already confirmed)."""


class NotYours(PermissionError):
    """The held message belongs to another user."""


@dataclass(frozen=True, slots=True)
class Held:
    """A message waiting for confirmation."""

    entry: spool.Entry
    sender: str
    username: str | None  # who must confirm; None: whoever confirms gets the address linked
    expires: float


Process = Callable[[Held, str], list[Outcome]]


class PendingStore:
    """The held messages of one spool."""

    def __init__(
        self, directory: Path, hours: float = 24.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = private_dir(directory)
        self.hours = hours
        self.clock = clock
        self._lock = threading.Lock()

    def hold(self, entry: spool.Entry, sender: str, username: str | None) -> str:
        """Keep ``entry`` until confirmed; returns the token for the confirmation link."""
        token = secrets.token_urlsafe(32)
        meta = {
            "id": entry.id,
            "sender": sender,
            "username": username,
            "expires": self.clock() + self.hours * 3600,
        }
        data = json.dumps(meta).encode() + b"\n" + spool.encode(entry.envelope, entry.raw)
        spool.write_durably(self._path(token), data)
        return token

    def load(self, token: str) -> Held:
        """The message held under ``token``; :class:`UnknownToken` if none (or expired)."""
        held = self._read(self._path(token))
        if held is None or held.expires <= self.clock():
            raise UnknownToken("no such message waiting for confirmation")
        return held

    def confirm(self, token: str, username: str, process: Process) -> list[Outcome]:
        """Process the held message as ``username`` and forget it."""
        with self._lock:
            held = self.load(token)
            if held.username is not None and held.username != username:
                raise NotYours("this message was sent for another user")
            outcomes = process(held, username)
            self._remove(self._path(token))
        return outcomes

    def expire(self) -> int:
        """Forget expired messages (and unreadable files); returns how many."""
        count = 0
        with self._lock:
            for path in self.directory.glob("*.held"):
                held = self._read(path)
                if held is None or held.expires <= self.clock():
                    self._remove(path)
                    count += 1
        return count

    def _path(self, token: str) -> Path:
        return self.directory / f"{token_hash(token)}.held"

    def _read(self, path: Path) -> Held | None:
        try:
            data = path.read_bytes()
            line, _, rest = data.partition(b"\n")
            meta = json.loads(line)
            entry = spool.decode(str(meta["id"]), rest)
            return Held(entry, str(meta["sender"]), meta["username"], float(meta["expires"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None

    def _remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(self.directory)
