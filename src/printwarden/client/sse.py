"""A pure Server-Sent Events parser (the WHATWG ``EventSource`` rules): feed it bytes as they
arrive, in chunks of any size, and take the complete messages."""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One dispatched SSE message: its ``event`` type, ``data`` (lines joined by ``\\n``) and
    the stream's last event id when it was dispatched ("" before any ``id:`` field)."""

    event: str
    data: str
    id: str


class SseParser:
    """Turns an SSE byte stream into :class:`Message` objects.

    Lines may end in CRLF, LF or CR, split anywhere across chunks (a multi-byte UTF-8
    character too). Comments (``:``) are skipped, a ``retry:`` of digits is kept in
    :attr:`retry_ms`, and a message is dispatched at each blank line."""

    def __init__(self, last_id: str = "") -> None:
        self.last_id = last_id
        self.retry_ms: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._after_cr = False
        self._started = False
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Message]:
        """The messages that ``chunk`` completes."""
        return self._feed_text(self._decoder.decode(chunk))

    def _feed_text(self, text: str) -> list[Message]:
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = text.endswith("\r")
        lines = (self._buffer + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop()
        found = []
        for line in lines:
            message = self._line(line)
            if message is not None:
                found.append(message)
        return found

    def _line(self, line: str) -> Message | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._field(name, value)
        return None

    def _field(self, name: str, value: str) -> None:
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)

    def _dispatch(self) -> Message | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return Message(event=event or "message", data="\n".join(data), id=self.last_id)
