"""Web Print and Email to Print: a document a person hands the server, rendered to PDF and
then submitted to a queue's provider like any print job. Pure rules, no I/O: the states a
submission goes through and how a person sees them, the print options, and the limits an
administrator sets (the replicated setting ``web-print``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

SETTING_KEY = "web-print"
MIB = 1024 * 1024


class NotPrintable(Exception):
    """This document cannot be printed; the message says why, for the person."""


class Stage(StrEnum):
    """Where a submission is, on the server that took it."""

    RENDERING = "rendering"  # waiting for, or in, the renderer
    READY = "ready"  # rendered: its preview and cost wait for the person to print it
    SUBMITTED = "submitted"  # waiting for its provider to fetch it
    ACCEPTED = "accepted"  # in the provider's spool: the job's own states follow
    FAILED = "failed"  # could not be rendered
    REFUSED = "refused"  # a limit, or the provider refused it
    CANCELED = "canceled"  # by its owner, before the provider had it


FINAL = frozenset({Stage.ACCEPTED, Stage.FAILED, Stage.REFUSED, Stage.CANCELED})


class Kind(StrEnum):
    """Families of formats an administrator may allow."""

    PDF = "pdf"
    IMAGE = "image"
    TEXT = "text"
    POSTSCRIPT = "postscript"
    OFFICE = "office"


# What a held-job record's status (or a direct job's fate) looks like to the person, in the
# reference product's words.
HELD_WORDING = {
    "held": "Held in a queue",
    "releasing": "Printing",
    "printed": "Printed",
    "canceled": "Canceled",
    "expired": "Expired",
    "failed": "Failed",
}


def wording(
    stage: str, detail: str, held_status: str = "", held_reason: str = "", held: bool = True
) -> str:
    """How a submission's state reads in "My jobs": ``held_status`` is its held-job
    record's status once its provider has reported it; ``held``: its queue holds jobs."""
    if stage == Stage.RENDERING:
        return "Rendering"
    if stage == Stage.READY:
        return "Ready: check the preview and print"
    if stage == Stage.SUBMITTED:
        return "Sent to the print server"
    if stage == Stage.FAILED:
        return f"Could not render: {detail}"
    if stage == Stage.REFUSED:
        return f"Denied: {detail}"
    if stage == Stage.CANCELED:
        return "Canceled"
    if held_status:
        text = HELD_WORDING.get(held_status, held_status.capitalize())
        return f"{text}: {held_reason}" if held_reason and held_status != "held" else text
    if held:
        return "At the print server"  # spooled; its held-job record is on its way
    return detail or "Sent to the printer"


def settling(stage: str, held_status: str, held: bool) -> bool:
    """Whether the state will change by itself soon (a page showing it refreshes)."""
    if stage in (Stage.RENDERING, Stage.SUBMITTED):
        return True
    return stage == Stage.ACCEPTED and held and not held_status


@dataclass(frozen=True, slots=True)
class PrintOptions:
    """What the person chose. ``pages``: page ranges as they typed them ("" = all)."""

    copies: int = 1
    grayscale: bool = False
    duplex: bool = False
    pages: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.copies <= 999:
            raise ValueError("copies must be 1 to 999")
        parse_ranges(self.pages)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrintOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """``"1-3, 5"`` as ((1, 3), (5, 5)); "" is every page. ValueError says what is wrong."""
    ranges = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"page range {part!r}: use numbers like 1-3,5")
        first, last = int(low), int(high or low)
        if first < 1 or last < first or last > 100_000:
            raise ValueError(f"page range {part!r} is not a range of pages")
        ranges.append((first, last))
    if len(ranges) > 100:
        raise ValueError("at most 100 page ranges")
    return tuple(ranges)


def selected_pages(ranges: tuple[tuple[int, int], ...], page_count: int) -> list[int]:
    """The 0-based pages of a ``page_count``-page document that ``ranges`` select, in
    document order and each once; every page when ``ranges`` is empty."""
    if not ranges:
        return list(range(page_count))
    wanted = {page for first, last in ranges for page in range(first, last + 1)}
    return [page - 1 for page in range(1, page_count + 1) if page in wanted]


@dataclass(frozen=True, slots=True)
class WebPrintPolicy:
    """What an administrator allows (setting ``web-print``, replicated to every site).

    Empty ``allowed_groups``/``allowed_networks`` allow everyone/everywhere."""

    enabled: bool = True
    max_bytes: int = 50 * MIB
    max_pages: int = 500
    allowed_groups: tuple[str, ...] = ()
    allowed_kinds: tuple[str, ...] = tuple(kind.value for kind in Kind)
    allowed_networks: tuple[str, ...] = ()
    allow_direct: bool = False  # may a submission go to a queue that prints at once?
    keep_hours: int = 24  # a rendered submission not printed is removed after this
    # Email to Print: extra local parts of the mail domain → "provider/queue".
    addresses: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.max_bytes <= 2048 * MIB:
            raise ValueError("max_bytes must be 1 byte to 2 GiB")
        if not 1 <= self.max_pages <= 100_000:
            raise ValueError("max_pages must be 1 to 100000")
        if not 1 <= self.keep_hours <= 24 * 30:
            raise ValueError("keep_hours must be 1 to 720")
        unknown = set(self.allowed_kinds) - {kind.value for kind in Kind}
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}: use {[k.value for k in Kind]}")
        for network in self.allowed_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        for alias, key in self.addresses.items():
            if not alias or "@" in alias or "/" not in key:
                raise ValueError(f'address {alias!r}: a local part → "provider/queue"')

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebPrintPolicy:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown web-print settings: {sorted(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def refusal(self, groups: frozenset[str], client: str) -> str:
        """Why this person may not use Web Print from ``client`` ("" if they may)."""
        if not self.enabled:
            return "Web Print is turned off"
        if self.allowed_groups and not groups & set(self.allowed_groups):
            return "Web Print is not available to your groups"
        if self.allowed_networks and not _in_networks(client, self.allowed_networks):
            return "Web Print is not available from this network"
        return ""

    def kind_refusal(self, kind: Kind) -> str:
        if kind.value not in self.allowed_kinds:
            return f"{kind.value} documents are not accepted here"
        return ""


def _in_networks(client: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a rendered document prints, per copy, as the provider's analysis will find it."""

    pages: int
    colour_pages: int
    paper_size: str
    notes: tuple[str, ...] = field(default=())
