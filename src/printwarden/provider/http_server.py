"""A lean HTTP/1.1 server on asyncio for the provider (what uvicorn + ASGI did, for less CPU).

One :class:`Connection` per client socket feeds what it reads to the sans-I/O
:class:`~printwarden.provider.http11.RequestParser` and hands each request to the handler
as a :class:`Request` whose body streams in (:class:`Body`); the handler's
:class:`Response` goes back whole. Keep-alive and pipelining, ``Expect: 100-continue``
(answered as soon as the request's head is read), chunked bodies, TLS when given an
``ssl.SSLContext``. Untrusted clients are bounded: the parser's head limits, a deadline for
every state (an idle keep-alive connection, a request head, a pause inside a body), a
bounded read-ahead (reading pauses while the handler lags), and a cap on connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

from printwarden.provider.http11 import (
    CONTINUE,
    BodyData,
    HeadLimits,
    HttpError,
    MessageEnd,
    RequestHead,
    RequestParser,
    response_bytes,
)

log = logging.getLogger("printwarden.provider")

NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Limits and deadlines (seconds) of the server."""

    keep_alive: float = 30.0  # an idle connection between requests
    head: float = 10.0  # from a request's first byte to the end of its head
    body: float = 30.0  # the longest pause inside a request body
    max_connections: int = 1000
    read_ahead: int = 1024 * 1024  # body bytes buffered before reading pauses
    sweep_every: float = 1.0
    shutdown_grace: float = 5.0  # requests in progress may finish within this
    limits: HeadLimits = field(default_factory=HeadLimits)


class Body:
    """A request body as it arrives: ``async for chunk in body``, or :meth:`read`."""

    def __init__(self, connection: Connection | None, expect_continue: bool = False) -> None:
        self._connection = connection
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._expect_continue = expect_continue
        self.done = connection is None
        self.failed = False

    # --- the connection's side ------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        self._wake()

    def end(self) -> None:
        self.done = True
        self._wake()

    def fail(self) -> None:
        self.failed = True
        self._wake()

    @property
    def buffered(self) -> int:
        return self._buffered

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the handler's side ---------------------------------------------------------------

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of what is still to be read."""
        if data:
            self._chunks.appendleft(data)
            self._buffered += len(data)

    async def read(self) -> bytes:
        """The next bytes of the body; ``b""`` at its end. ConnectionError if the client
        went away before sending all of it."""
        while not self._chunks:
            if self.done:
                return b""
            if self.failed:
                raise ConnectionError("the client went away during the request body")
            connection = self._connection
            assert connection is not None
            if self._expect_continue:  # not sent yet: the client waits for it
                self._expect_continue = False
                connection.send_continue()
            self._waiter = connection.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._connection is not None:
            self._connection.consumed()
        return chunk

    def __aiter__(self) -> Body:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read()
        if not chunk:
            raise StopAsyncIteration
        return chunk


@dataclass(slots=True)
class Request:
    """One HTTP request as the handler sees it."""

    method: str
    path: str
    headers: dict[bytes, bytes]  # names lower-cased
    body: Body
    client: str = ""  # the peer's IP address
    tls: bool = False
    content_length: int | None = None
    keep_alive: bool = True
    # What the handler keeps for the connection's later requests (a password it checked).
    connection: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Response:
    """A whole response. ``close``: end the connection after it (e.g. a body left unread
    that may be huge)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    close: bool = False


Handler = Callable[[Request], Awaitable[Response]]


class Connection(asyncio.Protocol):
    """One client connection: requests in order, one handled at a time."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.loop = server.loop
        self.settings = server.settings
        self.parser = RequestParser(self.settings.limits)
        self.transport: asyncio.Transport | None = None
        self.client = ""
        self.queue: deque[Request] = deque()  # parsed, not answered yet; [0] is handled
        self.receiving: Body | None = None  # the body the parser is filling
        self.busy = False
        self.paused = False
        self.deadline = NEVER
        self.head_started = False
        self.state: dict[str, Any] = {}  # the handler's, for this connection's requests

    # --- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        if len(server.connections) >= self.settings.max_connections:
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, b"too many connections\n")
            return
        server.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if isinstance(peer, tuple) else ""
        self.deadline = self.loop.time() + self.settings.keep_alive

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None
        for request in self.queue:
            if not request.body.done:
                request.body.fail()
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.parser.feed(data)
        except HttpError as exc:
            self._refuse(exc.status, f"{exc.detail}\n".encode())
            return
        for event in events:
            if type(event) is BodyData:
                assert self.receiving is not None
                self.receiving.feed(event.data)
            elif type(event) is RequestHead:
                self._begin(event)
            elif type(event) is MessageEnd:
                assert self.receiving is not None
                self.receiving.end()
                self.receiving = None
        receiving = self.receiving
        if receiving is not None and receiving.buffered > self.settings.read_ahead:
            self._pause()  # the handler lags: no more until it has read (no deadline meanwhile)
        self._set_deadline()
        if not self.busy and self.queue:
            self._next()

    def eof_received(self) -> bool | None:
        if self.receiving is not None:
            self.receiving.fail()
        if not self.busy and not self.queue and self.transport is not None:
            self.transport.close()
        return None

    # --- requests -------------------------------------------------------------------------

    def _begin(self, head: RequestHead) -> None:
        # ``Expect: 100-continue`` is answered at once, as cupsd does (and uvicorn did: its
        # apps read at once), so the document is on its way while the handler starts; a
        # request pipelined behind another is answered when its handler first reads.
        early = head.expect_continue and not self.queue and not self.busy
        body = Body(self, head.expect_continue and not early)
        if early:
            self.send_continue()
        self.receiving = body
        self.queue.append(
            Request(
                method=head.method,
                path=head.path,
                headers=head.headers,
                body=body,
                client=self.client,
                tls=self.server.tls,
                content_length=head.content_length,
                keep_alive=head.keep_alive,
                connection=self.state,
            )
        )

    def _next(self) -> None:
        self.busy = True
        self.loop.create_task(self._serve(self.queue[0]))

    async def _serve(self, request: Request) -> None:
        try:
            response = await self.server.handler(request)
        except ConnectionError:
            response = None
        except Exception:
            log.exception("%s %s failed", request.method, request.path[:200])
            response = Response(500, [(b"content-type", b"text/plain")], b"internal error\n")
        self._respond(request, response)

    def _respond(self, request: Request, response: Response | None) -> None:
        transport = self.transport
        self.busy = False
        if transport is None or transport.is_closing():
            return
        if response is None:
            transport.close()
            return
        self.queue.popleft()
        keep = (
            request.keep_alive
            and not response.close
            and request.body.done
            and not self.server.closing
        )
        transport.write(
            response_bytes(response.status, response.headers, response.body, keep_alive=keep)
        )
        if not keep:
            self.queue.clear()
            transport.close()
            return
        if self.queue:
            self._next()
        self._set_deadline()

    def send_continue(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(CONTINUE)

    def consumed(self) -> None:
        """The handler read from the body: read on if reading was paused."""
        body = self.receiving
        if self.paused and (body is None or body.buffered <= self.settings.read_ahead // 2):
            self.paused = False
            if self.transport is not None:
                self.transport.resume_reading()
            self._set_deadline()

    def _pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    # --- deadlines ------------------------------------------------------------------------

    def _set_deadline(self) -> None:
        now = self.loop.time()
        if self.receiving is not None:  # inside a body: it must keep coming
            self.deadline = NEVER if self.paused else now + self.settings.body
            self.head_started = False
        elif self.parser.head_open:  # part of a head
            if not self.head_started:
                self.head_started = True
                self.deadline = now + self.settings.head
        elif self.busy or self.queue:  # the server's turn
            self.head_started = False
            self.deadline = NEVER
        else:
            self.head_started = False
            self.deadline = now + self.settings.keep_alive

    def expire(self, now: float) -> None:
        """Called by the server's sweep: end a connection past its deadline."""
        if now < self.deadline or self.transport is None:
            return
        if self.head_started:
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, b"the request head took too long\n")
            return
        for request in self.queue:
            if not request.body.done:
                request.body.fail()
        self.transport.abort()

    def _refuse(self, status: int, text: bytes) -> None:
        """Answer ``status`` and end the connection (the request cannot be served)."""
        transport = self.transport
        if transport is None:
            return
        # The answer to the request being handled when its own body is what failed (its
        # handler's answer is dropped: the connection closes); never ahead of an answer due.
        handled = self.busy and bool(self.queue) and self.receiving is self.queue[0].body
        if (not self.busy or handled) and not transport.is_closing():
            headers = [(b"content-type", b"text/plain")]
            transport.write(response_bytes(status, headers, text, keep_alive=False))
        if self.receiving is not None:
            self.receiving.fail()
        transport.close()
        self.deadline = NEVER

    def close_if_idle(self) -> None:
        if not self.busy and not self.queue and self.transport is not None:
            self.transport.close()


class HttpServer:
    """Serves ``handler`` on one address; TLS when ``ssl_context`` is given."""

    def __init__(
        self,
        handler: Handler,
        settings: ServerSettings | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.settings = settings or ServerSettings()
        self.ssl_context = ssl_context
        self.tls = ssl_context is not None
        self.connections: set[Connection] = set()
        self.closing = False
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop  # the running loop, from start()

    async def start(self, host: str, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: Connection(self),
            host,
            port,
            ssl=self.ssl_context,
            ssl_handshake_timeout=self.settings.head if self.ssl_context else None,
            backlog=1024,
            reuse_address=True,
        )
        self._sweeper = self.loop.create_task(self._sweep())

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_every)
            now = self.loop.time()
            for connection in list(self.connections):
                connection.expire(now)

    async def stop(self) -> None:
        """Stop listening, let requests in progress finish (within the grace), close."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_if_idle()
        deadline = self.loop.time() + self.settings.shutdown_grace
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
            for connection in list(self.connections):
                connection.close_if_idle()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()


@dataclass(frozen=True, slots=True)
class Listener:
    """A server and the address it listens on."""

    server: HttpServer
    host: str
    port: int


async def serve_until_signalled(*listeners: Listener) -> None:
    """Run every listener until SIGTERM or SIGINT, then stop them all gracefully. One that
    cannot start (its port taken) stops those already started and fails the whole."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    started: list[HttpServer] = []
    try:
        for listener in listeners:
            await listener.server.start(listener.host, listener.port)
            started.append(listener.server)
        await stopping.wait()
    finally:
        await asyncio.gather(*(server.stop() for server in started))
