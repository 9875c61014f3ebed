"""The print side of Email to Print, as the mail package sees it (implemented elsewhere)."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Attachment:
    """One document of a message, decoded onto disk."""

    filename: str  # decoded (RFC 2047/2231), sanitised: no path parts, no control chars, ≤ 200
    content_type: str  # as declared (the print side sniffs the real type itself)
    path: pathlib.Path  # a file holding the decoded bytes (inside a private 0700 directory)
    size: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one document: held for release, or refused and why."""

    filename: str
    held: bool
    detail: str  # e.g. "held for release at Library colour (3 pages, 0.45)" or the refusal


class PrintTarget(Protocol):
    """The print side, called from a worker thread (synchronous, may block on a database).

    ``submit`` must be idempotent on ``message_id``: a message is processed again after a
    crash, and each document then arrives with the same ``message_id``
    (``"<spool id>/<queue>/<document index>"``, see docs/email-print.md)."""

    def queue_for(self, recipient: str) -> str | None:
        """The queue an address prints to ("" never); None: not ours (550 at RCPT TO)."""
        ...

    def user_for(self, sender: str) -> str | None:
        """The username this address belongs to, or None."""
        ...

    def submit(self, username: str, queue: str, attachment: Attachment, message_id: str) -> Outcome:
        """Hold one document for ``username`` on ``queue``."""
        ...

    def link_sender(self, username: str, sender: str) -> None:
        """Associate ``sender`` with ``username`` (after a confirmation)."""
        ...

    def confirmation_url(self, token: str) -> str:
        """The web page where a person confirms a held message."""
        ...
