"""Apple URF (``image/urf``, "UNIRAST"): pages, colour, paper size, duplex.

The file header is ``UNIRAST\\0`` and a big-endian page count (0 = not stated). Each page
has a 32-byte header - bits per pixel, colour space, duplex, quality, media type, input
slot, output bin, copies (one byte each), finishings, width, height, resolution (32-bit
big-endian) and 8 reserved bytes - then line-repeat/PackBits data (see :mod:`.rle`).

Colour follows the PWG rule: sGray/DeviceW pages are grey; sRGB, AdobeRGB, DeviceRGB and
DeviceCMYK pages are colour when they hold a colour pixel (see :mod:`.colour`); CIELab
pages are judged colour by their space.
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

FORMAT = "image/urf"
MAGIC = b"UNIRAST\0"
FILE_HEADER_SIZE = 12
PAGE_HEADER_SIZE = 32
MAX_DIMENSION = 1 << 20

_GREY_SPACES = frozenset({0, 4})
_COLOUR_SPACES = frozenset({1, 2, 3, 5, 6})
_BITS = frozenset({1, 8, 16, 24, 32, 48, 64})


@dataclass(frozen=True, slots=True)
class UrfPage:
    """The fields of one URF page header that analysis uses."""

    bits_per_pixel: int
    colour_space: int
    duplex: int
    copies: int
    width: int
    height: int
    resolution: int


def parse_header(raw: bytes) -> UrfPage:
    """Decode one 32-byte page header (no validation)."""
    bpp, space, duplex, _quality, _media, _slot, _bin, copies = raw[:8]
    _finishings, width, height, resolution = struct.unpack_from(">4I", raw, 8)
    return UrfPage(bpp, space, duplex, copies, width, height, resolution)


def check(page: UrfPage) -> None:
    """Raise :class:`RasterError` unless the header describes a decodable page."""
    if not (0 < page.width <= MAX_DIMENSION and 0 < page.height <= MAX_DIMENSION):
        raise RasterError(f"implausible page size {page.width}x{page.height} pixels")
    if page.bits_per_pixel not in _BITS:
        raise RasterError(f"unsupported bits per pixel {page.bits_per_pixel}")
    if page.colour_space not in _GREY_SPACES | _COLOUR_SPACES:
        raise RasterError(f"unknown colour space {page.colour_space}")
    if page.resolution == 0:
        raise RasterError("resolution is zero")


def colour_rule(page: UrfPage, tolerance: int) -> bool | Probe:
    """A fixed colour verdict for the page, or a probe to run over its pixels."""
    if page.colour_space in _GREY_SPACES or page.bits_per_pixel < 24:
        return False
    if page.colour_space == 2:
        return True
    step = 2 if page.bits_per_pixel in (48, 64) else 1
    return partial(
        chunk_has_colour,
        stride=page.bits_per_pixel // 8,
        offsets=(0, step, 2 * step),
        tolerance=tolerance,
        cmyk=page.colour_space == 6,
    )


def pages(
    buf: ByteSource, tolerance: int, *, colour: bool = True
) -> Iterator[tuple[UrfPage, bool]]:
    """Each page header with its colour verdict; raises :class:`RasterError`."""
    if buf[0:8] != MAGIC:
        raise RasterError("missing UNIRAST header")
    if len(buf) < FILE_HEADER_SIZE:
        raise RasterError("file header is truncated")
    declared = int(struct.unpack(">I", buf[8:12])[0])
    pos, count = FILE_HEADER_SIZE, 0
    while pos < len(buf) and (declared == 0 or count < declared):
        if pos + PAGE_HEADER_SIZE > len(buf):
            raise RasterError("page header is truncated")
        page = parse_header(buf[pos : pos + PAGE_HEADER_SIZE])
        check(page)
        rule = colour_rule(page, tolerance) if colour else False
        layout = geometry(page.width, page.height, page.bits_per_pixel)
        probe = None if isinstance(rule, bool) else rule
        pos, seen = read_page(buf, pos + PAGE_HEADER_SIZE, layout, probe)
        count += 1
        yield page, rule if isinstance(rule, bool) else seen
    if declared and count != declared:
        raise RasterError(f"header declares {declared} pages but the file holds {count}")
    if pos != len(buf):
        raise RasterError("unexpected data after the last page")


def analyze(buf: ByteSource, tolerance: int, *, colour: bool = True) -> Analysis:
    """Analyse a whole URF stream; a corrupt one gives ``pages=None``."""
    try:
        found = list(pages(buf, tolerance, colour=colour))
    except RasterError as exc:
        return unknown(FORMAT, f"corrupt URF: {exc}")
    if not found:
        return Analysis(format=FORMAT, pages=0, colour_pages=())
    first = found[0][0]
    res = first.resolution
    return Analysis(
        format=FORMAT,
        pages=len(found),
        colour_pages=tuple(n for n, (_, is_colour) in enumerate(found, 1) if is_colour),
        paper_size=papersize.from_pixels(first.width, first.height, res, res),
        duplex=None if first.duplex == 0 else first.duplex > 1,
        copies=first.copies or None,
    )
