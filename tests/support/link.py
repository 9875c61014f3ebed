"""A tiny real HTTP/1.1 server (keep-alive) in a thread, to put behind a WAN link."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    """``GET /anything?sleep=SECONDS`` answers ``ok <path>`` after sleeping."""

    protocol_version = "HTTP/1.1"
    timeout = 15  # a forgotten connection cannot keep a handler thread forever

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        time.sleep(float(query.get("sleep", ["0"])[0]))
        body = f"ok {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_server(host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """Serve on a free port of ``host``; yield ``(host, port)``; join every thread on exit."""
    server = ThreadingHTTPServer((host, 0), _Handler)
    server.daemon_threads = False  # so that server_close() joins the handler threads
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="http-server")
    thread.start()
    try:
        yield host, server.server_address[1]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
