"""IPP over HTTP/1.1: the provider's routes, on the lean server of ``provider/http_server``.

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
from dataclasses import dataclass, field
from typing import Any, Protocol

from printwarden.provider.http_server import Body, Request, Response
from printwarden.provider.ipp import (
    IncompleteMessage,
    IppParseError,
    Message,
    StatusCode,
    decode_message,
    encode_message,
)

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
    connection: dict[str, Any] = field(default_factory=dict)  # kept for its later requests


class IppHandler(Protocol):
    async def handle(self, request: IppRequest) -> Message: ...

    def error_response(
        self, status: int, detail: str, request_id: int = 0, version: tuple[int, int] = (2, 0)
    ) -> Message: ...


class IppApp:
    """The provider's HTTP routes: POST ``/ipp/print/<queue>`` with ``application/ipp``,
    ``/control/…`` (the doorbell) and ``GET /metrics``; served by ``provider/http_server``."""

    def __init__(
        self,
        handler: IppHandler,
        control: Control | None = None,
        metrics: Callable[[], str] | None = None,
        pages: Callable[[str], tuple[bytes, bytes] | None] | None = None,
    ) -> None:
        self.handler, self.control, self.metrics = handler, control, metrics
        self.pages = pages  # GET path -> (content type, body): icons, queue pages

    async def __call__(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path.startswith(CONTROL_PREFIX) and self.control is not None:
            return await self._control(method, path[len(CONTROL_PREFIX) :], request.body)
        if path == METRICS_PATH and method == "GET" and self.metrics is not None:
            text = await asyncio.to_thread(self.metrics)
            return Response(200, [(b"content-type", METRICS_TYPE)], text.encode())
        if method == "GET" and self.pages is not None:
            page = await asyncio.to_thread(self.pages, path)
            if page is not None:
                return _plain(200, page[1], content_type=page[0])
        if method != "POST":
            return _plain(405, b"IPP requests are POSTed\n", [(b"allow", b"POST")])
        queue = queue_from_path(path)
        if queue is None:
            return _plain(404, b"no such queue\n")
        headers = request.headers
        if headers.get(b"content-type", b"").split(b";")[0].strip() != IPP_TYPE:
            return _plain(400, b"expected Content-Type: application/ipp\n")
        try:
            message, header_size = await read_ipp_header(request.body)
        except IppHeaderError as exc:
            version, request_id = _version(exc.buffer), exc.request_id or _request_id(exc.buffer)
            answer = self.handler.error_response(exc.status, exc.detail, request_id, version)
            return _ipp(answer)
        length = request.content_length
        ipp_request = IppRequest(
            message=message,
            queue=queue,
            basic_auth=_basic(headers.get(b"authorization", b"")),
            host=headers.get(b"host", b"localhost").decode("latin-1"),
            body=request.body,
            document_size=length - header_size if length is not None else None,
            client=request.client,
            tls=request.tls,
            path=path,
            connection=request.connection,
        )
        return await self._answer(ipp_request)

    async def _answer(self, request: IppRequest) -> Response:
        message = request.message
        try:
            response = await self.handler.handle(request)
        except HttpAuthRequired:
            await _drain(request.body)
            challenge = [(b"www-authenticate", b'Basic realm="printwarden"')]
            return _plain(401, b"authentication required\n", challenge)
        except HttpThrottled as exc:
            await _drain(request.body)
            retry = [(b"retry-after", str(exc.retry_after).encode())]
            return _plain(429, f"{exc}\n".encode(), retry)
        except ConnectionError:
            raise  # the client went away: nothing to answer
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
            return _ipp(response, close=True)
        await _drain(request.body)
        return _ipp(response)

    async def _control(self, method: str, path: str, body: Body) -> Response:
        assert self.control is not None
        size = 0
        async for chunk in body:
            size += len(chunk)
            if size > MAX_CONTROL_BODY:
                return _json(413, {"detail": "a control request carries no body"}, close=True)
        status, answer = await self.control(method, path)
        return _json(status, answer)


class IppHeaderError(IppParseError):
    """The IPP header of a request could not be decoded; ``buffer`` is what arrived of it."""

    def __init__(self, error: IppParseError, buffer: bytes) -> None:
        super().__init__(
            error.status, error.detail, offset=error.offset, request_id=error.request_id
        )
        self.buffer = buffer


async def read_ipp_header(body: Body) -> tuple[Message, int]:
    """Decode the IPP header at the start of ``body`` as its bytes arrive; the bytes after
    it stay in ``body`` (the document). Returns the message and the header's size."""
    buffer = b""
    while True:
        chunk = await body.read()
        buffer = buffer + chunk if buffer else chunk
        try:
            message, offset = decode_message(buffer)
        except IncompleteMessage:
            if not chunk or len(buffer) > MAX_HEADER_BYTES:
                error = IppParseError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "truncated request")
                raise IppHeaderError(error, buffer) from None
            continue
        except IppParseError as exc:
            raise IppHeaderError(exc, buffer) from None
        body.unread(buffer[offset:])
        return message, offset


def _json(status: int, body: dict[str, Any], close: bool = False) -> Response:
    return Response(status, [(b"content-type", b"application/json")], json.dumps(body).encode(),
                    close)  # fmt: skip


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


def _basic(header: bytes) -> tuple[str, str] | None:
    if not header.lower().startswith(b"basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def _ipp(message: Message, close: bool = False) -> Response:
    return Response(200, [(b"content-type", IPP_TYPE)], encode_message(message), close)


def _plain(
    status: int,
    text: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"text/plain",
) -> Response:
    return Response(status, [(b"content-type", content_type), *(extra or [])], text)
