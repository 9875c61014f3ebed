"""A small synchronous IPP client over HTTP (httpx), for ``ipp://`` and ``ipps://`` printers.

Documents are streamed to the printer in chunks (HTTP chunked transfer encoding), never
held whole by the client. Proxy settings from the environment are ignored: printers are
reached directly.
"""

from __future__ import annotations

import functools
import itertools
import ssl
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO, Self, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import httpx

from printwarden.provider.ipp.builders import AttributeInput, make_attribute, operation_group
from printwarden.provider.ipp.codec import (
    IncompleteMessage,
    IppParseError,
    decode_message,
    encode_message,
)
from printwarden.provider.ipp.model import Attribute, AttributeGroup, Message, TextWithLanguage
from printwarden.provider.ipp.tags import GroupTag, Operation, ValueTag, is_successful

Document: TypeAlias = "bytes | IO[bytes] | Iterable[bytes]"

DEFAULT_PORT = 631
CHUNK_SIZE = 64 * 1024
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# Printer responses (Get-Printer-Attributes above all) are far bigger than requests.
RESPONSE_MAX_ATTRIBUTES = 200_000
RESPONSE_MAX_VALUE_LENGTH = 0xFFFF
_SCHEMES = {"ipp": "http", "ipps": "https", "http": "http", "https": "https"}


class IppClientError(Exception):
    """Base of the client's errors."""


class PrinterUnreachable(IppClientError):
    """The printer could not be connected to, or did not answer in time."""


class IppProtocolError(IppClientError):
    """The printer's answer was not a valid IPP response (``http_status`` when HTTP failed)."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class IppError(IppClientError):
    """The printer answered with a non-successful status code."""

    def __init__(self, status: int, message: str, response: Message | None = None) -> None:
        super().__init__(f"IPP status 0x{status:04x}: {message}" if message else f"0x{status:04x}")
        self.status = status
        self.message = message
        self.response = response


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process and setting, shared by every client.

    Building one loads the CA bundle (~13 ms, more under load), and httpx builds it for
    each new client even for plain ``ipp://``; the provider makes a client per delivery.
    An ``SSLContext`` is safe to share between connections and threads.
    """
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def http_url(uri: str) -> str:
    """The HTTP URL for a printer URI: ``ipp`` → ``http``, ``ipps`` → ``https``, port 631."""
    parts = urlsplit(uri)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ValueError(f"not an ipp:// or ipps:// printer URI: {uri!r}")
    netloc = parts.netloc
    if parts.port is None and parts.scheme.lower() in ("ipp", "ipps"):
        netloc = f"{netloc}:{DEFAULT_PORT}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


class IppClient:
    """An IPP client bound to one printer URI.

    ``verify_tls=False`` turns certificate checks off for ``ipps`` (self-signed printers);
    it is never the default. ``transport`` replaces httpx's network transport (tests);
    ``auth`` signs in with HTTP Basic (user, password).
    """

    def __init__(
        self,
        uri: str,
        *,
        user_name: str = "printwarden",
        language: str = "en",
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        verify_tls: bool = True,
        transport: httpx.BaseTransport | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self.url = http_url(uri)
        self.user_name = user_name
        self.language = language
        self._ids = itertools.count(1)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            verify=_tls_context(verify_tls),
            trust_env=False,
            transport=transport,
            headers={"User-Agent": "printwarden-ipp/1"},
            auth=httpx.BasicAuth(*auth) if auth is not None else None,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- operations ----------------------------------------------------------------------

    def get_printer_attributes(self, requested: Sequence[str] | None = None) -> AttributeGroup:
        """The printer's attributes (``requested`` names or groups, default all)."""
        response = self.request(Operation.GET_PRINTER_ATTRIBUTES, _requested(requested))
        return _required_group(response, GroupTag.PRINTER)

    def print_job(
        self,
        document: Document,
        *,
        document_format: str = "application/octet-stream",
        job_name: str = "document",
        requesting_user_name: str | None = None,
        attributes: Mapping[str, AttributeInput] | None = None,
    ) -> int:
        """Send a Print-Job with ``document`` streamed after the header; return the job id.

        ``attributes`` are Job Template attributes (job group), e.g. ``{"copies": 2}``.
        """
        operation = self._job_operation(document_format, job_name, requesting_user_name)
        job = [_job_group(attributes)]
        response = self.request(Operation.PRINT_JOB, operation, job, document=document)
        job_id = _required_group(response, GroupTag.JOB).value("job-id")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            raise IppProtocolError("Print-Job response has no integer job-id")
        return job_id

    def validate_job(
        self,
        *,
        document_format: str = "application/octet-stream",
        job_name: str = "document",
        requesting_user_name: str | None = None,
        attributes: Mapping[str, AttributeInput] | None = None,
    ) -> Message:
        """Send a Validate-Job; return the response or raise :class:`IppError`."""
        operation = self._job_operation(document_format, job_name, requesting_user_name)
        return self.request(Operation.VALIDATE_JOB, operation, [_job_group(attributes)])

    def get_job_attributes(
        self, job_id: int, requested: Sequence[str] | None = None
    ) -> AttributeGroup:
        """The attributes of job ``job_id``."""
        operation = [Attribute.of("job-id", ValueTag.INTEGER, job_id), *_requested(requested)]
        response = self.request(Operation.GET_JOB_ATTRIBUTES, operation)
        return _required_group(response, GroupTag.JOB)

    def cancel_job(self, job_id: int, *, requesting_user_name: str | None = None) -> None:
        """Cancel job ``job_id``."""
        user = requesting_user_name or self.user_name
        operation = [Attribute.of("job-id", ValueTag.INTEGER, job_id), _user(user)]
        self.request(Operation.CANCEL_JOB, operation)

    # --- transport -----------------------------------------------------------------------

    def request(
        self,
        operation: int,
        operation_attributes: Iterable[Attribute] = (),
        groups: Iterable[AttributeGroup] = (),
        *,
        document: Document | None = None,
    ) -> Message:
        """Send one request to the printer and return its successful response.

        The operation group gets charset, natural language and ``printer-uri`` first, then
        ``operation_attributes``, then ``requesting-user-name`` unless they hold one.
        Empty ``groups`` are left out.
        Raises :class:`IppError`, :class:`PrinterUnreachable` or :class:`IppProtocolError`.
        """
        first = operation_group(self.language)
        first.add(Attribute.of("printer-uri", ValueTag.URI, self.uri))
        for attribute in operation_attributes:
            first.add(attribute)
        if "requesting-user-name" not in first:
            first.add(_user(self.user_name))
        request_id = next(self._ids)
        message = Message(
            code=operation,
            request_id=request_id,
            groups=[first, *(group for group in groups if len(group))],
        )
        response = self._exchange(encode_message(message), document)
        if response.request_id != request_id:
            raise IppProtocolError(f"response request-id {response.request_id} != {request_id}")
        if not is_successful(response.code):
            raise IppError(response.code, _status_message(response), response)
        return response

    def _exchange(self, header: bytes, document: Document | None) -> Message:
        body = _body(header, document)
        headers = {"Content-Type": "application/ipp"}
        try:
            with self._http.stream("POST", self.url, content=body, headers=headers) as response:
                return _parse_response(response)
        except (httpx.TimeoutException, httpx.NetworkError) as exc:
            raise PrinterUnreachable(f"{self.uri}: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            raise IppProtocolError(f"{self.uri}: {type(exc).__name__}: {exc}") from exc

    def _job_operation(
        self, document_format: str, job_name: str, requesting_user_name: str | None
    ) -> list[Attribute]:
        return [
            _user(requesting_user_name or self.user_name),
            Attribute.of("job-name", ValueTag.NAME_WITHOUT_LANGUAGE, job_name),
            Attribute.of("document-format", ValueTag.MIME_MEDIA_TYPE, document_format),
        ]


def _body(header: bytes, document: Document | None) -> Iterator[bytes]:
    yield header
    if document is None:
        return
    if isinstance(document, bytes | bytearray | memoryview):
        view = memoryview(document)
        for start in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])
    elif hasattr(document, "read"):
        while chunk := document.read(CHUNK_SIZE):
            yield chunk
    else:
        yield from (bytes(chunk) for chunk in document if chunk)


def _parse_response(response: httpx.Response) -> Message:
    if response.status_code != 200:
        raise IppProtocolError(f"HTTP {response.status_code}", http_status=response.status_code)
    content_type = response.headers.get("Content-Type", "")
    if not content_type.lower().startswith("application/ipp"):
        raise IppProtocolError(f"response Content-Type is {content_type!r}, not application/ipp")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise IppProtocolError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        message, _ = decode_message(
            bytes(body),
            max_attributes=RESPONSE_MAX_ATTRIBUTES,
            max_value_length=RESPONSE_MAX_VALUE_LENGTH,
        )
    except (IncompleteMessage, IppParseError) as exc:
        raise IppProtocolError(f"malformed IPP response: {exc}") from exc
    return message


def _user(name: str) -> Attribute:
    return Attribute.of("requesting-user-name", ValueTag.NAME_WITHOUT_LANGUAGE, name)


def _status_message(response: Message) -> str:
    text = response.value("status-message")
    if isinstance(text, TextWithLanguage):
        return text.text
    return text if isinstance(text, str) else ""


def _requested(requested: Sequence[str] | None) -> list[Attribute]:
    if not requested:
        return []
    return [Attribute("requested-attributes", ValueTag.KEYWORD, list(requested))]


def _job_group(attributes: Mapping[str, AttributeInput] | None) -> AttributeGroup:
    group = AttributeGroup(GroupTag.JOB)
    for name, value in (attributes or {}).items():
        group.add(make_attribute(name, value))
    return group


def _required_group(response: Message, tag: int) -> AttributeGroup:
    group = response.group(tag)
    if group is None:
        raise IppProtocolError(f"response has no attribute group 0x{tag:02x}")
    return group
