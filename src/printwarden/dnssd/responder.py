"""The DNS-SD responder: :func:`~printwarden.dnssd.answers.answer` served over UDP and TCP.

One port number for both (RFC 7766: TCP is not optional; a truncated UDP answer sends the
client there). Over TCP each message has its two-byte length (RFC 1035 4.2.2); connections
are capped in number, idle ones closed, and a message longer than ``max_message`` ends its
connection. A bad packet costs an answer (FORMERR) or nothing, never the server: it is
counted in :attr:`Responder.errors` and logged at most once a second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

from printwarden.dnssd.answers import FORMERR, HEADER, Authority, answer

__all__ = ["Responder", "serve_in_thread"]

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
IDLE_SECONDS = 10.0
MAX_MESSAGE = 16384  # bytes of a query over TCP; a query is a question, an OPT and a TSIG
LOG_EVERY_SECONDS = 1.0
BIND_ATTEMPTS = 20  # port 0: a free UDP port whose TCP twin is taken is tried again


class Responder:
    """An authoritative DNS server for ``authority`` on ``host``:``port`` (UDP and TCP;
    port 0 picks a free one, see :attr:`port`). Start with :meth:`start` in a running
    event loop; :meth:`set_authority` swaps the zone between two queries."""

    def __init__(
        self,
        authority: Authority,
        host: str = "127.0.0.1",
        port: int = 53,
        *,
        max_connections: int = MAX_CONNECTIONS,
        idle_seconds: float = IDLE_SECONDS,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.authority = authority
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.idle_seconds = idle_seconds
        self.max_message = max_message
        self.queries = 0  # messages received, over either transport
        self.errors = 0  # of them, bad ones (FORMERR, unanswerable, oversized) and failures
        self.rejected = 0  # TCP connections closed at once: too many open
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._logged_at = 0.0
        self._unlogged = 0

    def set_authority(self, authority: Authority) -> None:
        """Answer from ``authority`` from the next query on (atomic: one attribute)."""
        self.authority = authority

    @property
    def connections(self) -> int:
        """TCP connections open now."""
        return len(self._connections)

    async def start(self) -> None:
        """Listen on UDP and TCP; return once both are bound."""
        loop = asyncio.get_running_loop()
        for attempt in range(BIND_ATTEMPTS):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(self.host, self.port)
            )
            port: int = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                if self.port != 0 or attempt == BIND_ATTEMPTS - 1:
                    raise
                continue
            self._udp, self.port = udp, port
            log.info("DNS-SD responder on %s port %d", self.host, port)
            return

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None

    def respond(self, query: bytes, *, tcp: bool) -> bytes | None:
        """Count ``query`` and answer it; a failure is counted and logged, not raised."""
        self.queries += 1
        try:
            reply = answer(self.authority, query, tcp=tcp)
        except Exception:  # one query, not the server
            self._bad("failed to answer a query of %d bytes", len(query), failure=True)
            return None
        if reply is None or reply[3] & 0xF == FORMERR:
            self._bad("malformed query of %d bytes", len(query))
        return reply

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= self.max_connections:
            self.rejected += 1
            writer.close()
            return
        self._connections.add(task)
        try:
            while True:
                async with asyncio.timeout(self.idle_seconds):
                    (size,) = struct.unpack("!H", await reader.readexactly(2))
                    if size > self.max_message or size < HEADER:
                        self.queries += 1
                        self._bad("TCP message of %d bytes: connection closed", size)
                        return
                    query = await reader.readexactly(size)
                reply = self.respond(query, tcp=True)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                async with asyncio.timeout(self.idle_seconds):
                    await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            return  # the client went away, or idled out
        finally:
            self._connections.discard(task)
            writer.close()

    def _bad(self, message: str, *args: object, failure: bool = False) -> None:
        """Count a bad packet; log it unless one was logged less than a second ago."""
        self.errors += 1
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_SECONDS:
            self._unlogged += 1
            return
        if self._unlogged:
            message += f" ({self._unlogged} more since the last one logged)"
        self._logged_at, self._unlogged = now, 0
        log.warning(message, *args, exc_info=failure)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self.responder.respond(data, tcp=False)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS-SD responder: %s", exc)  # an ICMP error for an earlier answer


@contextlib.contextmanager
def serve_in_thread(
    authority: Authority, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[Responder]:
    """A :class:`Responder` running on its own event loop in a thread, for synchronous
    code (tests, scripts); stopped on leaving the block."""
    responder = Responder(authority, host, port, **options)
    started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]]
    started = concurrent.futures.Future()

    async def run() -> None:
        await responder.start()
        try:
            stop = asyncio.Event()
            started.set_result((asyncio.get_running_loop(), stop))
            await stop.wait()
        finally:
            await responder.close()

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:
            if started.done():
                log.exception("DNS-SD responder thread failed")
            else:
                started.set_exception(error)

    thread = threading.Thread(target=main, name="printwarden-dnssd", daemon=True)
    thread.start()
    loop, stop = started.result(timeout=30)
    try:
        yield responder
    finally:
        with contextlib.suppress(RuntimeError):  # the loop has already ended
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
