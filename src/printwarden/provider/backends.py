"""Sending a spooled document to a real printer: ``ipp(s)://``, ``socket://`` and ``file://``.

What a back-end takes, gives and raises is in :mod:`.delivery`.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

from printwarden.provider.delivery import (
    Backend,
    Delivered,
    Delivery,
    DeliveryUncertain,
    PrinterUnavailable,
)
from printwarden.provider.ipp_backend import IppBackend

CHUNK = 64 * 1024


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
        return IppBackend(uri)
    raise ValueError(f"unsupported printer URI scheme {scheme!r}")
