"""A sans-I/O ccTalk codec: frames, the messages a bill validator needs, and bill values.

Written from the public ccTalk generic specification. A frame is
``[dest][length][src][header][data…][checksum]``: ``length`` counts the data bytes only, and
with the simple checksum every byte of the frame sums to 0 modulo 256. A reply has header 0
(ACK, its data the answer) or 5 (NAK).

On a one-wire bus the host reads back every byte it sends: :class:`FrameParser` given the
host's own address drops those echoes. The bus has no start-of-frame marker, so a frame whose
checksum fails is dropped whole (its length byte is all there is to go by) and
:class:`ChecksumError` raised; the bytes after it stay buffered.

Bill values: a bill id such as ``EU0005A`` is a two-letter country code, four value digits
and an issue letter. The digits count whole currency units, multiplied by a scaling factor
(the country's minor units per unit, 100 by default: ``EU0005A`` is 500 cents, ``EU0010A``
1000), as the specification's country scaling factor does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

HOST = 1
COIN_ACCEPTOR = 2
BILL_VALIDATOR = 40
BROADCAST = 0

MAX_DATA = 255
BUFFERED_EVENTS = 5  # result pairs in a buffered-events reply
COUNTER_MAX = 255  # an event counter goes 0 (reset), 1…255, then 1 again

# Result B of a bill event whose result A is a bill type (1…16).
BILL_STACKED = 0
BILL_IN_ESCROW = 1
# Result B of a status event (result A 0); a few of them.
MASTER_INHIBIT_ACTIVE = 0
BILL_RETURNED = 1
INVALID_BILL = 2
INHIBITED_BILL = 4

DEFAULT_SCALING = 100
_BILL_ID = re.compile(r"^([A-Z]{2})([0-9]{4})([A-Z])$")


class Header(IntEnum):
    """The headers this codec knows."""

    REPLY = 0
    NAK = 5
    BUSY = 6
    READ_BUFFERED_BILL_EVENTS = 159
    REQUEST_BILL_ID = 157
    MODIFY_MASTER_INHIBIT = 228
    READ_BUFFERED_CREDIT = 229
    MODIFY_INHIBIT_STATUS = 231
    REQUEST_SERIAL_NUMBER = 242
    SIMPLE_POLL = 254


class CcTalkError(Exception):
    """A malformed frame or message."""


class ChecksumError(CcTalkError):
    """A frame whose bytes do not sum to 0 modulo 256."""


class TruncatedFrame(CcTalkError):
    """Fewer bytes than a frame's length byte announces."""


class BillIdError(CcTalkError):
    """A bill id that is not ``CCddddI`` (country, value digits, issue)."""


@dataclass(frozen=True)
class Frame:
    """One ccTalk message (the checksum is computed by :func:`encode`)."""

    dest: int
    src: int
    header: int
    data: bytes = b""


def checksum(body: bytes) -> int:
    """The simple checksum byte that makes ``body`` plus itself sum to 0 modulo 256."""
    return -sum(body) % 256


def encode(frame: Frame) -> bytes:
    """The bytes of ``frame`` on the wire."""
    if len(frame.data) > MAX_DATA:
        raise CcTalkError(f"{len(frame.data)} data bytes (at most {MAX_DATA})")
    body = bytes([frame.dest, len(frame.data), frame.src, frame.header]) + frame.data
    return body + bytes([checksum(body)])


def frame_size(raw: bytes | bytearray) -> int | None:
    """The size of the frame ``raw`` starts with, or None before its length byte came."""
    return None if len(raw) < 2 else raw[1] + 5


def decode(raw: bytes) -> Frame:
    """The one frame that is all of ``raw``."""
    size = frame_size(raw)
    if size is None or len(raw) < size:
        raise TruncatedFrame(f"{len(raw)} bytes of a frame of {size or 'at least 5'}")
    if len(raw) > size:
        raise CcTalkError(f"{len(raw) - size} bytes after a frame of {size}")
    if sum(raw) % 256:
        raise ChecksumError(f"checksum fails on {raw.hex(' ')}")
    return Frame(dest=raw[0], src=raw[2], header=raw[3], data=bytes(raw[4:-1]))


class FrameParser:
    """Frames out of bytes that come in any pieces; drops frames sent from ``own_address``."""

    def __init__(self, own_address: int | None = None) -> None:
        self.own_address = own_address
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """How many bytes of an incomplete frame are buffered."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames ``chunk`` completes, in order. A bad frame raises :class:`ChecksumError`
        once it is dropped; frames after it are returned by the next call (``feed(b"")``)."""
        self._buffer += chunk
        return list(self._frames())

    def clear(self) -> None:
        """Forget buffered bytes."""
        self._buffer.clear()

    def _frames(self) -> Iterator[Frame]:
        while (size := frame_size(self._buffer)) is not None and len(self._buffer) >= size:
            raw = bytes(self._buffer[:size])
            del self._buffer[:size]
            frame = decode(raw)
            if frame.src != self.own_address:
                yield frame


# --- messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventBuffer:
    """A buffered-events reply (headers 159 and 229): the event counter and the result pairs
    ``(A, B)``, newest first. For bills A is the bill type (B: 0 stacked, 1 in escrow) or 0
    (B: a status or error code); for coins A is the coin position or 0 (B: an error code)."""

    counter: int
    results: tuple[tuple[int, int], ...]

    def encode(self) -> bytes:
        """The reply's data bytes (missing pairs are sent as ``(0, 0)``)."""
        pairs = list(self.results[:BUFFERED_EVENTS])
        pairs += [(0, 0)] * (BUFFERED_EVENTS - len(pairs))
        return bytes([self.counter, *(byte for pair in pairs for byte in pair)])

    @classmethod
    def decode(cls, data: bytes) -> EventBuffer:
        """The buffer from a reply's data bytes."""
        if len(data) != 1 + 2 * BUFFERED_EVENTS:
            raise CcTalkError(f"a buffered-events reply has 11 data bytes, not {len(data)}")
        pairs = tuple((data[i], data[i + 1]) for i in range(1, len(data), 2))
        return cls(counter=data[0], results=pairs)


def encode_serial_number(number: int) -> bytes:
    """A serial-number reply's data: three bytes, least significant first."""
    return number.to_bytes(3, "little")


def decode_serial_number(data: bytes) -> int:
    """The serial number in a serial-number reply's data."""
    if len(data) != 3:
        raise CcTalkError(f"a serial number has 3 bytes, not {len(data)}")
    return int.from_bytes(data, "little")


def inhibit_mask(enabled: bool, channels: int = 16) -> bytes:
    """Header 231's data: one bit a channel, least significant first, 1 where enabled."""
    bits = (1 << channels) - 1 if enabled else 0
    return bits.to_bytes((channels + 7) // 8, "little")


def enabled_channels(mask: bytes) -> frozenset[int]:
    """The channels (from 1) that a header 231 mask enables."""
    bits = int.from_bytes(mask, "little")
    return frozenset(n + 1 for n in range(8 * len(mask)) if bits >> n & 1)


def master_inhibit(enabled: bool) -> bytes:
    """Header 228's data: bit 0 set for normal operation, clear for master inhibit."""
    return bytes([1 if enabled else 0])


def bill_value(bill_id: str, scaling: int = DEFAULT_SCALING) -> tuple[str, int]:
    """The country code and the value in minor units of ``bill_id`` (``EU0005A`` → ``("EU",
    500)``); the value digits are whole units times ``scaling``."""
    match = _BILL_ID.match(bill_id)
    if match is None:
        raise BillIdError(f"not a bill id: {bill_id!r}")
    return match[1], int(match[2]) * scaling


def bill_id(country: str, value: int, scaling: int = DEFAULT_SCALING, issue: str = "A") -> str:
    """The bill id of a note of ``value`` minor units: the inverse of :func:`bill_value`."""
    units, rest = divmod(value, scaling)
    if rest or not 0 < units <= 9999:
        raise BillIdError(f"{value} is not a bill id's value at scaling {scaling}")
    return f"{country}{units:04d}{issue}"


# --- event counters --------------------------------------------------------------------------


def next_counter(counter: int) -> int:
    """The counter after ``counter``: 255 goes to 1, never back to 0."""
    return 1 if counter >= COUNTER_MAX else counter + 1


def events_between(last: int, current: int) -> int:
    """How many events happened from counter ``last`` to ``current`` (both read from one
    acceptor, no reset between; 0 for ``current`` means a reset with no event since)."""
    if current == 0 or current == last:
        return 0
    if last == 0:
        return current
    return (current - last) % COUNTER_MAX
