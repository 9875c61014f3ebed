"""IPP over HTTP/1.1 as an ASGI app (served by uvicorn: chunked bodies, 100-continue).

The request header (everything up to the end-of-attributes tag) is decoded as soon as its
bytes arrive; the rest of the body is the document and streams straight into the spool
without being held in memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from printwarden.provider.ipp import (
    IncompleteMessage,
    IppParseError,
    Message,
    StatusCode,
    decode_message,
    encode_message,
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("printwarden.provider")

IPP_TYPE = b"application/ipp"
MAX_HEADER_BYTES = 1024 * 1024
QUEUE_PREFIX = "/ipp/print/"
# CUPS clients (lp, lpstat) address queues as /printers/<name>.
QUEUE_PREFIXES = (QUEUE_PREFIX, "/printers/", "/classes/")
CONTROL_PREFIX = "/control/"
METRICS_PATH = "/metrics"
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class HttpAuthRequired(Exception):
    """The queue requires HTTP Basic authentication and the request had none (or a bad one)."""


class HttpThrottled(Exception):
    """Too many failed logins from this client or for this user: HTTP 429 + Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


# (method, path under /control/) -> (status, JSON answer)
Control = Callable[[str, str], Awaitable[tuple[int, dict[str, Any]]]]
MAX_CONTROL_BODY = 64 * 1024  # a ring carries nothing; a body is read only to be dropped


@dataclass
class IppRequest:
    """A decoded IPP request, the queue its URL names, and the rest of the body."""

    message: Message
    queue: str
    basic_auth: tuple[str, str] | None
    host: str
    body: AsyncIterator[bytes]
    document_size: int | None = None  # as the request's Content-Length tells, when it does
    client: str = ""  # the client's address (the server counts failed logins per address)
    tls: bool = False  # the request came over TLS (ipps://)
    path: str = ""  # the request's path (a token-url queue's token is in it)


class IppHandler(Protocol):
    async def handle(self, request: IppRequest) -> Message: ...

    def error_response(
        self, status: int, detail: str, request_id: int = 0, version: tuple[int, int] = (2, 0)
    ) -> Message: ...


class BodyReader:
    """Reads an ASGI request body: first the IPP header, then the remaining bytes."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.buffer = b""
        self.more = True
        self.received = 0

    async def _read(self) -> bytes:
        event = await self.receive()
        if event["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        self.more = bool(event.get("more_body", False))
        chunk = bytes(event.get("body", b""))
        self.received += len(chunk)
        return chunk

    def rest_size(self, content_length: int | None) -> int | None:
        """How many bytes follow the IPP header (the document), if the length is known."""
        if content_length is None:
            return None
        return content_length - (self.received - len(self.buffer))

    async def header(self) -> Message:
        while True:
            try:
                message, offset = decode_message(self.buffer)
            except IncompleteMessage:
                if not self.more or len(self.buffer) > MAX_HEADER_BYTES:
                    raise IppParseError(
                        StatusCode.CLIENT_ERROR_BAD_REQUEST, "truncated request"
                    ) from None
                self.buffer += await self._read()
                continue
            self.buffer = self.buffer[offset:]
            return message

    async def rest(self) -> AsyncIterator[bytes]:
        if self.buffer:
            yield self.buffer
            self.buffer = b""
        while self.more:
            chunk = await self._read()
            if chunk:
                yield chunk


class IppApp:
    """The ASGI application: POST ``/ipp/print/<queue>`` with ``application/ipp``."""

    def __init__(
        self,
        handler: IppHandler,
        control: Control | None = None,
        on_startup: Callable[[], None] | None = None,
        on_shutdown: Callable[[], None] | None = None,
        metrics: Callable[[], str] | None = None,
        pages: Callable[[str], tuple[bytes, bytes] | None] | None = None,
    ) -> None:
        self.handler, self.control = handler, control
        self.on_startup, self.on_shutdown = on_startup, on_shutdown
        self.metrics = metrics
        self.pages = pages  # GET path -> (content type, body): icons, queue pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                if self.on_startup:
                    self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                if self.on_shutdown:
                    self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        path: str = scope.get("path", "")
        if path.startswith(CONTROL_PREFIX) and self.control is not None:
            await self._control(scope.get("method", ""), path[len(CONTROL_PREFIX) :], receive, send)
            return
        if path == METRICS_PATH and scope.get("method") == "GET" and self.metrics is not None:
            await _metrics(send, await asyncio.to_thread(self.metrics))
            return
        if scope.get("method") == "GET" and self.pages is not None:
            page = await asyncio.to_thread(self.pages, path)
            if page is not None:
                await _plain(send, 200, page[1], content_type=page[0])
                return
        if scope.get("method") != "POST":
            await _plain(send, 405, b"IPP requests are POSTed\n", [(b"allow", b"POST")])
            return
        queue = queue_from_path(path)
        if queue is None:
            await _plain(send, 404, b"no such queue\n")
            return
        if headers.get(b"content-type", b"").split(b";")[0].strip() != IPP_TYPE:
            await _plain(send, 400, b"expected Content-Type: application/ipp\n")
            return
        reader = BodyReader(receive)
        try:
            message = await reader.header()
        except IppParseError as exc:
            version = _version(reader.buffer)
            request_id = exc.request_id or _request_id(reader.buffer)
            answer = self.handler.error_response(exc.status, exc.detail, request_id, version)
            await _ipp(send, answer)
            return
        except ConnectionError:
            return
        request = IppRequest(
            message=message,
            queue=queue,
            basic_auth=_basic(headers.get(b"authorization", b"")),
            host=headers.get(b"host", b"localhost").decode("latin-1"),
            body=reader.rest(),
            document_size=reader.rest_size(_content_length(headers)),
            client=scope["client"][0] if scope.get("client") else "",
            tls=scope.get("scheme") == "https",
            path=path,
        )
        try:
            response = await self.handler.handle(request)
        except HttpAuthRequired:
            await _drain(request.body)
            challenge = [(b"www-authenticate", b'Basic realm="printwarden"')]
            await _plain(send, 401, b"authentication required\n", challenge)
            return
        except HttpThrottled as exc:
            await _drain(request.body)
            retry = [(b"retry-after", str(exc.retry_after).encode())]
            await _plain(send, 429, f"{exc}\n".encode(), retry)
            return
        except ConnectionError:
            return
        except Exception:
            # An IPP client needs an IPP answer; a bare HTTP 500 tells it nothing.
            log.exception("IPP request 0x%04x failed", message.code)
            response = self.handler.error_response(
                StatusCode.SERVER_ERROR_INTERNAL_ERROR,
                "internal error",
                message.request_id,
                message.version,
            )
        if response.code == StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE:
            # Not drained: the client may be sending gigabytes. Close the connection instead.
            await _ipp(send, response, [(b"connection", b"close")])
            return
        await _drain(request.body)
        await _ipp(send, response)

    async def _control(self, method: str, path: str, receive: Receive, send: Send) -> None:
        assert self.control is not None
        reader, size = BodyReader(receive), 0
        try:
            async for chunk in reader.rest():
                size += len(chunk)
                if size > MAX_CONTROL_BODY:
                    detail = "a control request carries no body"
                    await _json(send, 413, {"detail": detail}, [(b"connection", b"close")])
                    return
        except ConnectionError:
            return
        status, answer = await self.control(method, path)
        await _json(send, status, answer)


async def _metrics(send: Send, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", METRICS_TYPE), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})


def _version(buffer: bytes) -> tuple[int, int]:
    """The request's version for an error answer: its own if we speak it, else 2.0."""
    if len(buffer) >= 2 and buffer[0] in (1, 2):
        return buffer[0], buffer[1]
    return 2, 0


def _request_id(buffer: bytes) -> int:
    """The request-id of a request whose header arrived but whose attributes did not."""
    request_id = int.from_bytes(buffer[4:8], "big") if len(buffer) >= 8 else 0
    return request_id if 0 < request_id < 2**31 else 0


def queue_from_path(path: str) -> str | None:
    """The queue a request path or URI path names ("" for the server itself), or None.

    CUPS clients (``cancel``) send job operations to ``/jobs/``: the request's printer-uri
    or job-uri names the queue.
    """
    for prefix in QUEUE_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :].split("/", 1)[0]
    if path in ("/", "/ipp/print", "/ipp", "/jobs") or path.startswith("/jobs/"):
        return ""
    return None


async def _drain(body: AsyncIterator[bytes]) -> None:
    """Read what the handler left of the body, so the connection stays usable."""
    async for _ in body:
        pass


def _content_length(headers: dict[bytes, bytes]) -> int | None:
    try:
        return int(headers[b"content-length"])
    except (KeyError, ValueError):
        return None


def _basic(header: bytes) -> tuple[str, str] | None:
    if not header.lower().startswith(b"basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


async def _ipp(
    send: Send, message: Message, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = encode_message(message)
    headers = [(b"content-type", IPP_TYPE), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _plain(
    send: Send,
    status: int,
    text: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"text/plain",
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(text)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": text})
