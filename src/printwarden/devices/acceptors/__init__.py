"""Cash acceptors of a pay-station kiosk: the small interface the kiosk bridge drives.

A driver reports each note or coin the acceptor credited as an :class:`Insertion` whose
``event_id`` stays the same across restarts of the bridge (the acceptor's serial number, a
wrap cycle the driver keeps on disk, and the acceptor's event counter), so that the print
server can credit each insertion once however often it is sent.

The bridge's loop: :meth:`Acceptor.poll`, send each insertion, and only once the server has
taken it :meth:`Acceptor.acknowledge` it. Until then every poll returns it again, and so does
a new driver over the same state file after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class AcceptorError(Exception):
    """The acceptor did not answer, or answered what the driver cannot use."""


@dataclass(frozen=True)
class Insertion:
    """One credited note or coin: ``value`` in minor units (cents) of ``currency``."""

    event_id: str
    value: int
    currency: str


def event_id(serial: str, cycle: int, counter: int) -> str:
    """The id of the event ``counter`` of wrap cycle ``cycle`` of acceptor ``serial``."""
    return f"{serial}-{cycle}-{counter}"


class Acceptor(Protocol):
    """A bill or coin acceptor. Methods raise :class:`AcceptorError` when it fails."""

    def open(self) -> None:
        """Connect to the acceptor and read the saved progress; it starts inhibited."""

    def close(self) -> None:
        """Disconnect (the acceptor is inhibited first where it still answers)."""

    def identity(self) -> str:
        """The acceptor's serial number."""
        ...

    def set_accepting(self, on: bool) -> None:
        """Enable every channel (``on``) or inhibit them all."""

    def poll(self) -> list[Insertion]:
        """Every credited insertion not yet acknowledged, oldest first (new ones included)."""
        ...

    def acknowledge(self, event_id: str) -> None:
        """The insertion ``event_id`` was delivered: save progress past it (unknown ids are
        ignored). Progress only moves past insertions acknowledged in order."""
