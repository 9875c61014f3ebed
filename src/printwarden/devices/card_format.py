"""Card reads from network card readers: splitting the byte stream into lines, and turning a
line into the card number the server knows (pure, no I/O).

A reader sends each card read as an ASCII line. Any of CR, LF or CRLF ends a line (so a reader
set to another terminator than configured still works); empty lines are ignored. A line then
loses the configured prefix and suffix (when present) and surrounding blanks, is optionally
converted between hexadecimal and decimal, and optionally loses its leading zeros. The server
normalizes card numbers too (upper case, no leading zeros), so conversion is only needed when
a reader reports a card differently from how it was enrolled.

Presets (factory formats):

* ``elatec`` — Elatec TCP converter: the plain ASCII card number, terminated by CR LF; no
  conversion.
* ``rfideas`` — RFIDeas Ethernet 241: ASCII terminated by CR; **no conversion**: the number is
  taken exactly as the reader formats it. Units configured for hexadecimal output (many are)
  match cards enrolled from the same kind of reader as they are; where cards were enrolled by
  their decimal number, use ``rfideas-hex`` (or ``convert = "hex-to-decimal"``).
* ``rfideas-hex`` — as ``rfideas``, converting the reader's hexadecimal to decimal.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

MAX_LINE = 256
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_HEX = set(string.hexdigits)


class CardFormatError(ValueError):
    """A line that is not a card number in the reader's format."""


class Convert(StrEnum):
    NONE = "none"
    HEX_TO_DECIMAL = "hex-to-decimal"
    DECIMAL_TO_HEX = "decimal-to-hex"


class Terminator(StrEnum):
    CR = "cr"
    LF = "lf"
    CRLF = "crlf"

    @property
    def bytes(self) -> bytes:
        return {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}[self.value]


@dataclass(frozen=True, slots=True)
class CardFormat:
    """How one reader frames a card read."""

    terminator: Terminator = Terminator.CRLF
    prefix: str = ""
    suffix: str = ""
    convert: Convert = Convert.NONE
    strip_leading_zeros: bool = False

    def card_number(self, line: bytes | str) -> str:
        """The card number in ``line`` (without its terminator); CardFormatError if none."""
        text = line.decode("ascii", errors="replace") if isinstance(line, bytes) else line
        text = text.strip().removeprefix(self.prefix).removesuffix(self.suffix).strip()
        if not _PRINTABLE.match(text):
            raise CardFormatError(f"not a card number: {text!r}")
        number = _convert(text, self.convert)
        if self.strip_leading_zeros:
            number = number.lstrip("0") or "0"
        return number

    def frame(self, card: str) -> bytes:
        """What a reader in this format sends for ``card`` (as the reader reports it)."""
        return f"{self.prefix}{card}{self.suffix}".encode("ascii") + self.terminator.bytes


def _convert(text: str, convert: Convert) -> str:
    if convert is Convert.HEX_TO_DECIMAL:
        if not set(text) <= _HEX:
            raise CardFormatError(f"not hexadecimal: {text!r}")
        return str(int(text, 16))
    if convert is Convert.DECIMAL_TO_HEX:
        if not text.isdigit():
            raise CardFormatError(f"not decimal: {text!r}")
        return f"{int(text):X}"
    return text


PRESETS: dict[str, CardFormat] = {
    "elatec": CardFormat(Terminator.CRLF),
    "rfideas": CardFormat(Terminator.CR),
    "rfideas-hex": CardFormat(Terminator.CR, convert=Convert.HEX_TO_DECIMAL),
}


def preset(
    name: str,
    *,
    terminator: Terminator | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
    convert: Convert | None = None,
    strip_leading_zeros: bool | None = None,
) -> CardFormat:
    """The preset ``name`` with the given settings overridden (None: the preset's)."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise CardFormatError(f"unknown preset {name!r}: one of {', '.join(PRESETS)}") from None
    changes: dict[str, Any] = {
        "terminator": terminator,
        "prefix": prefix,
        "suffix": suffix,
        "convert": convert,
        "strip_leading_zeros": strip_leading_zeros,
    }
    return replace(base, **{key: value for key, value in changes.items() if value is not None})


class LineSplitter:
    """Bytes in, whole lines out. CR, LF and CRLF each end a line; empty lines are dropped.

    A line longer than ``max_line`` is noise (a reader misconfigured, or not a reader): it is
    discarded up to its terminator and counted in ``discarded``.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.discarded = 0
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        """The lines that ``data`` completes."""
        lines: list[bytes] = []
        for part in re.split(rb"(\r|\n)", data):
            if part in (b"\r", b"\n"):
                self._end_line(lines)
            else:
                self._add(part)
        return lines

    def _add(self, part: bytes) -> None:
        if self._skipping:
            return
        self._buffer += part
        if len(self._buffer) > self.max_line:
            self._buffer.clear()
            self._skipping = True
            self.discarded += 1

    def _end_line(self, lines: list[bytes]) -> None:
        if self._buffer:
            lines.append(bytes(self._buffer))
        self._buffer.clear()
        self._skipping = False
