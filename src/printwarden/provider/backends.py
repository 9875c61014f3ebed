"""Sending a spooled document to a real printer: ``ipp(s)://``, ``socket://`` and ``file://``.

A back-end raises :class:`PrinterUnavailable` when the printer could not be reached *before*
anything was handed over (safe to retry), :class:`PrinterRejected` when the printer refused the
job (final), and :class:`DeliveryUncertain` when the connection broke mid-transfer on a
protocol that cannot tell whether the printer kept the job (raw socket): the provider then
stops the job rather than risk printing it twice.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

CHUNK = 64 * 1024


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


class FileBackend:
    """``file:///dir``: copies each document into a folder (for tests and archiving)."""

    def __init__(self, uri: str) -> None:
        self.directory = Path(urlsplit(uri).path)

    def deliver(self, delivery: Delivery) -> Delivered:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PrinterUnavailable(str(exc)) from None
        target = self.directory / f"{delivery.path.stem}-{_safe(delivery.job_name)}"
        temporary = target.with_suffix(".part")
        shutil.copyfile(delivery.path, temporary)
        os.replace(temporary, target)
        return Delivered()


class SocketBackend:
    """``socket://host:port`` (raw, "JetDirect" port 9100)."""

    def __init__(self, uri: str, timeout: float = 30.0) -> None:
        parts = urlsplit(uri)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 9100)
        self.timeout = timeout

    def deliver(self, delivery: Delivery) -> Delivered:
        try:
            connection = socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            raise PrinterUnavailable(f"cannot connect to {self.address}: {exc}") from None
        with connection, delivery.path.open("rb") as document:
            try:
                while chunk := document.read(CHUNK):
                    connection.sendall(chunk)
                connection.shutdown(socket.SHUT_WR)
            except OSError as exc:
                raise DeliveryUncertain(f"connection broke while sending: {exc}") from None
        return Delivered()


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return cleaned[:80] or "job"


def backend_for(uri: str) -> Backend:
    """The back-end for a printer URI."""
    scheme = urlsplit(uri).scheme
    if scheme == "file":
        return FileBackend(uri)
    if scheme == "socket":
        return SocketBackend(uri)
    if scheme in ("ipp", "ipps"):
        from printwarden.provider.ipp_backend import IppBackend

        return IppBackend(uri)
    raise ValueError(f"unsupported printer URI scheme {scheme!r}")
