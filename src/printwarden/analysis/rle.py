"""Line-repeat + PackBits page data shared by PWG raster and Apple URF.

Each line record is one byte "repeat this line N+1 times", then runs until the line is
full: a byte 0-127 repeats the next pixel N+1 times, 129-255 copies 257-N literal
pixels, and 128 fills the rest of the line with white. A pixel ("unit") is
``bits per pixel / 8`` bytes, or one byte of packed pixels below 8 bits per pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, SupportsIndex, overload

FILL_WHITE = 128


class RasterError(ValueError):
    """A raster stream is truncated or malformed."""


class ByteSource(Protocol):
    """Random-access bytes: ``bytes`` or a read-only ``mmap``."""

    def __len__(self) -> int: ...

    @overload
    def __getitem__(self, index: SupportsIndex, /) -> int: ...

    @overload
    def __getitem__(self, index: slice, /) -> bytes: ...


Probe = Callable[[bytes], bool]
"""Says whether a chunk of whole pixels holds colour."""


@dataclass(frozen=True, slots=True)
class Geometry:
    """Line layout of one page: ``units`` pixels of ``unit`` bytes, ``lines`` lines."""

    units: int
    unit: int
    lines: int


def geometry(width: int, height: int, bits_per_pixel: int) -> Geometry:
    """Geometry of a ``width`` x ``height`` page at ``bits_per_pixel``."""
    if bits_per_pixel >= 8:
        return Geometry(units=width, unit=bits_per_pixel // 8, lines=height)
    return Geometry(units=(width * bits_per_pixel + 7) // 8, unit=1, lines=height)


def read_page(buf: ByteSource, pos: int, layout: Geometry, probe: Probe | None) -> tuple[int, bool]:
    """Walk one page's data from ``pos``: its end offset and whether ``probe`` saw colour."""
    lines = 0
    colour = False
    while lines < layout.lines:
        if pos >= len(buf):
            raise RasterError("page data is truncated")
        lines += buf[pos] + 1
        if lines > layout.lines:
            raise RasterError("a line repeat runs past the end of the page")
        pos, seen = _read_line(buf, pos + 1, layout, None if colour else probe)
        colour = colour or seen
    return pos, colour


def _read_line(
    buf: ByteSource, pos: int, layout: Geometry, probe: Probe | None
) -> tuple[int, bool]:
    x = 0
    seen = False
    end = len(buf)
    while x < layout.units:
        if pos >= end:
            raise RasterError("a line is truncated")
        code = buf[pos]
        pos += 1
        if code == FILL_WHITE:
            return pos, seen
        count = code + 1 if code < FILL_WHITE else 257 - code
        size = layout.unit if code < FILL_WHITE else count * layout.unit
        if x + count > layout.units:
            raise RasterError("a run overruns its line")
        if pos + size > end:
            raise RasterError("a run is truncated")
        if probe is not None and not seen:
            seen = probe(buf[pos : pos + size])
        pos += size
        x += count
    return pos, seen
