"""What a print script sees and what it decides: plain values, money in integer cents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ScriptJob:
    """The job as the script sees it. ``pages`` and ``colour_pages`` are per copy (as in
    ``JobUsage``); the script sees totals over all copies. ``cost`` in cents, ``size`` in bytes."""

    pages: int
    colour_pages: int
    copies: int
    cost: int
    document_name: str
    size: int
    duplex: bool
    grayscale: bool
    paper_size: str
    printer: str
    is_held: bool
    username: str
    account: str


@dataclass(frozen=True, slots=True)
class ScriptUser:
    """The job's owner; ``balance`` in cents."""

    username: str
    groups: tuple[str, ...]
    balance: int
    restricted: bool


class KeyValueStore(Protocol):
    """The script's small persistent store of strings (the caller provides it)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ScriptLimits:
    """Per call: wall-clock time, and the script's JavaScript heap."""

    time_ms: int = 100
    memory_mb: int = 32

    def __post_init__(self) -> None:
        if self.time_ms < 1 or self.memory_mb < 4:
            raise ValueError("time_ms must be >= 1 and memory_mb >= 4")


@dataclass(frozen=True, slots=True)
class ScriptOutcome:
    """What the script asked for. When ``error`` is set no action applies (``logs`` are kept)."""

    cancel: bool = False
    cancel_message: str = ""
    cost: int | None = None
    grayscale: bool = False
    duplex: bool = False
    charge_account: str = ""
    hold: bool = False
    comment: str = ""
    logs: tuple[tuple[str, str], ...] = ()
    error: str = ""


class ScriptFailure(Exception):
    """The script could not run to the end; ``broken`` means its engine was stopped (the
    realm must be discarded, and the host that ran it retired)."""

    def __init__(self, message: str, *, broken: bool = False) -> None:
        super().__init__(message)
        self.broken = broken
