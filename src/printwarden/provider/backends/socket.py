"""The ``socket://host:port`` back-end: the raw ("JetDirect", port 9100) protocol."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from printwarden.provider.delivery import (
    Delivered,
    Delivery,
    DeliveryUncertain,
    PrinterUnavailable,
)

CHUNK = 64 * 1024


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
