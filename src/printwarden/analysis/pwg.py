"""PWG raster (PWG 5102.4, ``image/pwg-raster``): pages, colour, paper size, duplex.

The stream is the sync word ``RaS2`` then, per page, a 1796-byte big-endian header
followed by line-repeat/PackBits page data (see :mod:`.rle`), which is decoded to find
where the next page starts.

A page is colour when its colour space is a colour one (RGB family or CMYK family) and
it holds a colour pixel (see :mod:`.colour`: RGB channels spreading more than the
tolerance, or C, M or Y ink above it). Grey spaces (sGray, W,
K, Device1…) are grey without looking at pixels; any other multi-colorant space
(Lab, ICC, DeviceN…) or a depth below 8 bits per colour is judged colour by its space.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from printwarden.analysis import papersize
from printwarden.analysis.colour import chunk_has_colour
from printwarden.analysis.model import Analysis, unknown
from printwarden.analysis.rle import ByteSource, Probe, RasterError, geometry, read_page

FORMAT = "image/pwg-raster"
SYNC = b"RaS2"
HEADER_SIZE = 1796
MAX_DIMENSION = 1 << 20

_GREY_SPACES = frozenset({0, 3, 12, 13, 14, 18, 48})
_RGB_SPACES = frozenset({1, 2, 17, 19, 20})
_CMY_CHANNELS: dict[int, tuple[int, int, int]] = {
    4: (0, 1, 2),  # CMY
    5: (0, 1, 2),  # YMC
    6: (0, 1, 2),  # CMYK
    7: (0, 1, 2),  # YMCK
    8: (1, 2, 3),  # KCMY
    9: (1, 2, 3),  # KCMYcm
}


@dataclass(frozen=True, slots=True)
class PwgPage:
    """The fields of one page header that analysis uses."""

    duplex: bool
    resolution: tuple[int, int]
    copies: int
    page_size: tuple[int, int]
    width: int
    height: int
    bits_per_colour: int
    bits_per_pixel: int
    bytes_per_line: int
    colour_order: int
    colour_space: int
    num_colours: int
    size_name: str


def parse_header(raw: bytes) -> PwgPage:
    """Decode one 1796-byte page header (no validation)."""

    def u32(offset: int) -> int:
        return int(struct.unpack_from(">I", raw, offset)[0])

    name = raw[1732:1796].split(b"\0", 1)[0].decode("ascii", "replace")
    return PwgPage(
        duplex=u32(272) != 0,
        resolution=(u32(276), u32(280)),
        copies=u32(340),
        page_size=(u32(352), u32(356)),
        width=u32(372),
        height=u32(376),
        bits_per_colour=u32(384),
        bits_per_pixel=u32(388),
        bytes_per_line=u32(392),
        colour_order=u32(396),
        colour_space=u32(400),
        num_colours=u32(420),
        size_name=name,
    )


def check(page: PwgPage) -> None:
    """Raise :class:`RasterError` unless the header describes a decodable page."""
    bpp = page.bits_per_pixel
    if not (0 < page.width <= MAX_DIMENSION and 0 < page.height <= MAX_DIMENSION):
        raise RasterError(f"implausible page size {page.width}x{page.height} pixels")
    if bpp not in (1, 2, 4) and (bpp % 8 or not 8 <= bpp <= 256):
        raise RasterError(f"unsupported bits per pixel {bpp}")
    if page.bytes_per_line != (page.width * bpp + 7) // 8:
        raise RasterError("bytes per line do not match width and bits per pixel")
    if page.colour_order != 0:
        raise RasterError("colour order is not chunky")


def colour_rule(page: PwgPage, tolerance: int) -> bool | Probe:
    """A fixed colour verdict for the page, or a probe to run over its pixels."""
    if page.colour_space in _GREY_SPACES or page.num_colours == 1:
        return False
    cmyk = page.colour_space in _CMY_CHANNELS
    channels = _CMY_CHANNELS.get(page.colour_space, (0, 1, 2))
    known = cmyk or page.colour_space in _RGB_SPACES
    if not known or page.bits_per_colour not in (8, 16):
        return True
    step = page.bits_per_colour // 8
    return partial(
        chunk_has_colour,
        stride=page.bits_per_pixel // 8,
        offsets=tuple(c * step for c in channels),
        tolerance=tolerance,
        cmyk=cmyk,
    )


def pages(
    buf: ByteSource, tolerance: int, *, colour: bool = True
) -> Iterator[tuple[PwgPage, bool]]:
    """Each page header with its colour verdict; raises :class:`RasterError`."""
    if buf[0:4] != SYNC:
        raise RasterError("missing RaS2 sync word")
    pos = len(SYNC)
    while pos < len(buf):
        if pos + HEADER_SIZE > len(buf):
            raise RasterError("page header is truncated")
        page = parse_header(buf[pos : pos + HEADER_SIZE])
        check(page)
        rule = colour_rule(page, tolerance) if colour else False
        layout = geometry(page.width, page.height, page.bits_per_pixel)
        probe = None if isinstance(rule, bool) else rule
        pos, seen = read_page(buf, pos + HEADER_SIZE, layout, probe)
        yield page, rule if isinstance(rule, bool) else seen


def analyze(buf: ByteSource, tolerance: int, *, colour: bool = True) -> Analysis:
    """Analyse a whole PWG raster stream; a corrupt one gives ``pages=None``."""
    try:
        found = list(pages(buf, tolerance, colour=colour))
    except RasterError as exc:
        return unknown(FORMAT, f"corrupt PWG raster: {exc}")
    if not found:
        return Analysis(format=FORMAT, pages=0, colour_pages=())
    first = found[0][0]
    return Analysis(
        format=FORMAT,
        pages=len(found),
        colour_pages=tuple(n for n, (_, is_colour) in enumerate(found, 1) if is_colour),
        paper_size=papersize.from_pwg_name(first.size_name)
        or papersize.from_points(*first.page_size),
        duplex=first.duplex,
        copies=first.copies or None,
    )
