"""What the simulators' HTTP servers share: a threaded server that can end every open
connection (so that its threads end and ``server_close`` joins them), and a handler base
that logs quietly and answers with a body and its length."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)


class TrackedServer(ThreadingHTTPServer):
    """One thread per connection, every one ended and joined on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection, so that its thread ends."""
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):  # closed by the client meanwhile
                    connection.shutdown(socket.SHUT_RDWR)


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; requests logged at debug level only."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection ends after this
    default_media_type = "application/octet-stream"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes = b"", media_type: str = "",
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        self.send_response(status)
        if body:
            self.send_header("Content-Type", media_type or self.default_media_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Served:
    """A simulator served from a background thread: :meth:`start`, :meth:`stop`, or
    ``with``. Subclasses set ``host`` and ``port`` (0: any) and make their server."""

    host: str
    port: int
    running_name = "simulator"
    _server: TrackedServer | None = None
    _thread: threading.Thread | None = None

    def make_server(self) -> TrackedServer:
        raise NotImplementedError

    def start(self) -> None:
        """Listen and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError(f"the {self.running_name} is running already")
        self._server = self.make_server()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"{self.running_name}-{self.port}", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end open connections and wait for every thread."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()
