"""Errors of the IPP codec."""

from __future__ import annotations


class IppCodecError(Exception):
    """Base of the codec's errors."""


class IncompleteMessage(IppCodecError):
    """The data ended before the end-of-attributes tag: more bytes are needed.

    ``offset`` is where the data ran out. A server that has the whole body answers
    ``client-error-bad-request``.
    """

    def __init__(self, offset: int) -> None:
        super().__init__(f"IPP message incomplete at offset {offset}")
        self.offset = offset


class IppParseError(IppCodecError):
    """Malformed IPP data; ``status`` is the status code a server must answer with.

    ``request_id`` is the request's id when the header could be read (a server echoes it).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        offset: int = 0,
        request_id: int | None = None,
    ) -> None:
        super().__init__(f"{detail} (at offset {offset})")
        self.status = status
        self.detail = detail
        self.offset = offset
        self.request_id = request_id


class IppEncodeError(IppCodecError, ValueError):
    """A message that cannot be encoded (a value of the wrong type, a field too long, ...)."""
