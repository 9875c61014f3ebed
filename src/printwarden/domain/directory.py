"""Records that come from a user directory (internal, CSV or LDAP), before they are stored."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """One user as a directory source describes them.

    ``cards`` are plain card numbers as read from the source; the store keeps only keyed
    hashes of them.
    """

    username: str
    full_name: str = ""
    email: str = ""
    groups: frozenset[str] = field(default_factory=frozenset)
    cards: tuple[str, ...] = ()
    identity_number: str = ""


@dataclass(frozen=True, slots=True)
class DirectorySnapshot:
    """Everything one sync read from a source: its users and the groups it knows."""

    users: tuple[DirectoryUser, ...]
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class CsvUser:
    """One row of a CSV user file (``directory/csv_source.py``): each field is ``None`` when
    its column is absent or its cell is empty."""

    username: str
    full_name: str | None = None
    email: str | None = None
    groups: tuple[str, ...] | None = None
    cards: tuple[str, ...] | None = None
    identity_number: str | None = None
    pin: str | None = None
    restricted: bool | None = None
    credit_limit: int | None = None
