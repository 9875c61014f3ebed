"""What every printer back-end takes and gives: a :class:`Delivery` in, a :class:`Delivered` out.

A back-end raises :class:`PrinterUnavailable` when the printer could not be reached *before*
anything was handed over (safe to retry), :class:`PrinterRejected` when the printer refused the
job (final), and :class:`DeliveryUncertain` when the connection broke mid-transfer on a
protocol that cannot tell whether the printer kept the job (raw socket): the provider then
stops the job rather than risk printing it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class PrinterUnavailable(Exception):
    """Nothing reached the printer; try again later."""


class PrinterRejected(Exception):
    """The printer refused the job; do not retry (``status``: its IPP status, if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DeliveryUncertain(Exception):
    """The transfer broke part-way and the protocol cannot tell whether it printed."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A document to deliver and what the printer should know about it."""

    path: Path
    job_name: str
    user: str
    document_format: str
    copies: int = 1
    sides: str = "one-sided"
    colour_mode: str = "auto"
    media: str = ""
    # Called with the printer's job id as soon as the printer holds the whole job, before
    # the back-end waits for it to finish: from then on a crash must not send it again.
    accepted: Callable[[int | None], None] | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    """What the printer reported, where the protocol reports anything."""

    printer_job_id: int | None = None
    impressions: int | None = None


class Backend(Protocol):
    def deliver(self, delivery: Delivery) -> Delivered: ...
