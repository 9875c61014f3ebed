"""HTTP/1.1 request framing, sans I/O: bytes in, request events out; responses as bytes.

:class:`RequestParser` wraps ``httptools`` (llhttp, the parser uvicorn and Node use) and
adds the rules a server facing untrusted clients needs: a bounded request head (size and
header count), one way of framing a body (a request with both ``Content-Length`` and
``Transfer-Encoding`` is refused, as is any transfer coding but ``chunked``: request
smuggling), HTTP/1.0 and 1.1 only. It never touches a socket; the server
(``provider/http_server.py``) feeds it what it reads and acts on the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote

import httptools

__all__ = [
    "BodyData",
    "HeadLimits",
    "HttpError",
    "MessageEnd",
    "RequestHead",
    "RequestParser",
    "response_bytes",
]


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """What one request head may be."""

    max_head_bytes: int = 32 * 1024  # request line and headers (cupsd takes 32 KiB too)
    max_headers: int = 100


DEFAULT_LIMITS = HeadLimits()


class HttpError(Exception):
    """A request that cannot be served: answer ``status`` and close the connection."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(slots=True)
class RequestHead:
    """A request's line and headers (names lower-cased; a repeated header's last value)."""

    method: str
    path: str
    query: str
    headers: dict[bytes, bytes]
    keep_alive: bool
    content_length: int | None
    chunked: bool
    expect_continue: bool

    def header(self, name: bytes, default: bytes = b"") -> bytes:
        return self.headers.get(name, default)


@dataclass(slots=True)
class BodyData:
    """Bytes of the current request's body (chunked framing removed)."""

    data: bytes


@dataclass(slots=True)
class MessageEnd:
    """The current request's body is complete."""


Event = RequestHead | BodyData | MessageEnd


class RequestParser:
    """Feed it what the connection reads; it returns the events those bytes complete.

    Raises :class:`HttpError` for a request that breaks the protocol or the limits; the
    connection must then be answered with that status and closed (the parser is spent).
    """

    def __init__(self, limits: HeadLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._count = 0
        self._size = 0  # of the request head's line and headers so far
        self.head_open = False  # a request head has begun and not ended
        self.head_bytes = 0  # its bytes so far (at least)

    def feed(self, data: bytes) -> list[Event]:
        was_open = self.head_open
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            upgrade = HttpError(HTTPStatus.NOT_IMPLEMENTED, "protocol upgrades are not supported")
            raise upgrade from None
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HttpError):  # raised by a callback below
                raise exc.__context__ from None
            raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed request: {exc}") from None
        if self.head_open:
            # All of ``data`` is head if the head was open before it or nothing else ended
            # in it; else the head began somewhere after an earlier request's end.
            self.head_bytes += len(data) if was_open or not self._events else 1
            if self.head_bytes > self.limits.max_head_bytes:
                raise self._too_large()
        events, self._events = self._events, []
        return events

    def _too_large(self) -> HttpError:
        return HttpError(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"a request head may be at most {self.limits.max_head_bytes} bytes",
        )

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url, self._headers, self._count, self._size = b"", {}, 0, 0
        self.head_open, self.head_bytes = True, 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._size += len(url)
        if len(self._url) > self.limits.max_head_bytes:
            raise HttpError(HTTPStatus.REQUEST_URI_TOO_LONG, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count += 1
        if self._count > self.limits.max_headers:
            raise HttpError(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"a request may have at most {self.limits.max_headers} headers",
            )
        # The head's size however the reads split it (``feed`` bounds a head still open).
        self._size += len(name) + len(value) + 4
        if self._size > self.limits.max_head_bytes:
            raise self._too_large()
        self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        parser, headers = self._parser, self._headers
        if parser.get_http_version() not in ("1.1", "1.0"):
            raise HttpError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP/1.0 or 1.1 only")
        coding = headers.get(b"transfer-encoding")
        chunked = coding is not None
        if coding is not None and coding.strip().lower() != b"chunked":
            # llhttp frames "gzip, chunked" as chunked; nobody here would undo the gzip.
            raise HttpError(HTTPStatus.NOT_IMPLEMENTED, "only the chunked transfer coding")
        length = headers.get(b"content-length")
        expect = headers.get(b"expect")
        if expect is not None and expect.lower() != b"100-continue":
            raise HttpError(HTTPStatus.EXPECTATION_FAILED, "only Expect: 100-continue")
        path, query = _target(self._url)
        self._events.append(
            RequestHead(
                method=parser.get_method().decode("ascii"),
                path=path,
                query=query,
                headers=headers,
                keep_alive=parser.should_keep_alive(),
                content_length=int(length) if length is not None else None,
                chunked=chunked,
                expect_continue=expect is not None,
            )
        )
        self.head_open, self.head_bytes = False, 0

    def on_body(self, body: bytes) -> None:
        self._events.append(BodyData(body))

    def on_message_complete(self) -> None:
        self._events.append(MessageEnd())


def _target(raw: bytes) -> tuple[str, str]:
    """The path (percent-decoded) and query of a request target."""
    if raw.startswith(b"/"):  # origin form, what clients send: no need to parse a URL
        path, _, query = raw.partition(b"?")
    else:  # absolute form (http://host/path), or "*"
        try:
            url = httptools.parse_url(raw)
        except httptools.HttpParserInvalidURLError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request target") from None
        path, query = url.path or b"/", url.query or b""
    text = path.decode("latin-1")
    if "%" in text:
        text = unquote(text, "latin-1")
    return text, query.decode("latin-1")


_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def response_bytes(
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
    *,
    keep_alive: bool = True,
) -> bytes:
    """A whole response: status line, ``headers``, ``Content-Length`` and
    ``Connection: close`` when the connection ends after it, then ``body``."""
    reason = _REASONS.get(status, b"Unknown")
    lines = [b"HTTP/1.1 %d %s" % (status, reason)]
    lines.extend(name + b": " + value for name, value in headers)
    lines.append(b"content-length: %d" % len(body))
    if not keep_alive:
        lines.append(b"connection: close")
    lines.append(b"\r\n")
    return b"\r\n".join(lines) + body
