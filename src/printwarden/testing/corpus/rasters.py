"""Writers for the raster formats under test: line-repeat/PackBits encoding, URF and PWG.

Used by the corpus generator (URF from Ghostscript renders) and by property tests.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

FILL_WHITE = 128


def encode_line(pixels: Sequence[bytes]) -> bytes:
    """PackBits-encode one line of equal-size pixels (runs of at most 128)."""
    out = bytearray()
    x = 0
    while x < len(pixels):
        run = 1
        while run < 128 and x + run < len(pixels) and pixels[x + run] == pixels[x]:
            run += 1
        if run > 1 or x + 1 == len(pixels):
            out += bytes([run - 1]) + pixels[x]
            x += run
            continue
        start = x
        while x < len(pixels) and x - start < 128:
            if x + 1 < len(pixels) and pixels[x + 1] == pixels[x]:
                break
            x += 1
        if x - start == 1:
            out += bytes([0]) + pixels[start]
            continue
        out += bytes([257 - (x - start)]) + b"".join(pixels[start:x])
    return bytes(out)


def encode_page(rows: Sequence[bytes], unit: int) -> bytes:
    """Encode a page of raw rows (``unit`` bytes a pixel), merging repeated rows."""
    out = bytearray()
    for row, repeat in _runs_of_rows(rows):
        pixels = [row[i : i + unit] for i in range(0, len(row), unit)]
        out += bytes([repeat - 1]) + encode_line(pixels)
    return bytes(out)


def _runs_of_rows(rows: Sequence[bytes]) -> Iterator[tuple[bytes, int]]:
    i = 0
    while i < len(rows):
        repeat = 1
        while repeat < 256 and i + repeat < len(rows) and rows[i + repeat] == rows[i]:
            repeat += 1
        yield rows[i], repeat
        i += repeat


def urf_page_header(
    bpp: int, space: int, width: int, height: int, dpi: int, *, duplex: int = 1, copies: int = 1
) -> bytes:
    """A 32-byte URF page header."""
    head = bytes([bpp, space, duplex, 4, 0, 0, 0, copies])
    return head + struct.pack(">4I", 0, width, height, dpi) + bytes(8)


def urf_file(pages: Sequence[tuple[bytes, bytes]], *, declare: bool = True) -> bytes:
    """A URF file from (page header, encoded data) pairs."""
    count = len(pages) if declare else 0
    body = b"".join(header + data for header, data in pages)
    return b"UNIRAST\0" + struct.pack(">I", count) + body


def pwg_page_header(
    width: int,
    height: int,
    *,
    bits_per_colour: int = 8,
    colours: int = 3,
    space: int = 19,
    dpi: int = 72,
    duplex: bool = False,
    size_name: str = "",
) -> bytes:
    """A 1796-byte PWG raster page header with the fields analysis reads."""
    header = bytearray(1796)
    header[0:9] = b"PwgRaster"
    bpp = bits_per_colour * colours

    def put(offset: int, value: int) -> None:
        struct.pack_into(">I", header, offset, value)

    put(272, int(duplex))
    put(276, dpi)
    put(280, dpi)
    put(340, 1)
    put(352, width * 72 // dpi)
    put(356, height * 72 // dpi)
    put(372, width)
    put(376, height)
    put(384, bits_per_colour)
    put(388, bpp)
    put(392, (width * bpp + 7) // 8)
    put(400, space)
    put(420, colours)
    name = size_name.encode("ascii")[:63]
    header[1732 : 1732 + len(name)] = name
    return bytes(header)


def pwg_file(pages: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A PWG raster stream from (page header, encoded data) pairs."""
    return b"RaS2" + b"".join(header + data for header, data in pages)
