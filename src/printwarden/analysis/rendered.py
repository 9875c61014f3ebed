"""Pages judged by rendering: what the content scan leaves to Ghostscript.

Ghostscript renders the pages in CMYK at low resolution (72 dpi, as ``inkcov``) with the
tuned colour conversion (:func:`.ghostscript.colour_args`), streaming them as PAM images;
a page is colour when any pixel carries more C, M or Y ink than the tolerance. The
tolerance is applied to each finished pixel, after transparency is composited: a colour
painted at 2 % opacity leaves ink below it. (A transfer function on ``inkcov`` would
apply it to each colour before compositing, and not to images at all.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from PIL import Image, ImageChops

from printwarden.analysis import ghostscript
from printwarden.analysis.ghostscript import ToolError

MAX_PAGE_PIXELS = 64_000_000
_HEADER_LIMIT = 512


def colour_pages(
    path: Path, pages: Sequence[int], dpi: int, tolerance: int, timeout: float
) -> frozenset[int]:
    """Which of ``pages`` (1-based) of a PDF carry colour ink above ``tolerance``."""
    if not pages:
        return frozenset()
    with tempfile.TemporaryDirectory(prefix="printwarden-gs-") as tmp:
        args = [
            "-sPageList=" + ",".join(str(p) for p in pages),
            "-sDEVICE=pamcmyk32",
            f"-r{dpi}",
            "-sOutputFile=-",
            *ghostscript.colour_args(Path(tmp)),
            str(path.resolve()),
        ]
        inks = ghostscript.run_reading(args, timeout, read_inks)
    if len(inks) != len(pages):
        raise ToolError(f"Ghostscript rendered {len(inks)} of {len(pages)} pages")
    return frozenset(page for page, ink in zip(pages, inks, strict=True) if ink > tolerance)


def read_inks(stream: IO[bytes]) -> list[int]:
    """The largest C, M or Y value (0-255) of each page of a PAM stream."""
    inks: list[int] = []
    while True:
        size = _header(stream)
        if size is None:
            return inks
        width, height = size
        data = stream.read(width * height * 4)
        if len(data) != width * height * 4:
            raise ToolError("Ghostscript's output ended inside a page")
        c, m, y, _ = Image.frombytes("CMYK", size, data).split()
        high = ImageChops.lighter(ImageChops.lighter(c, m), y).getextrema()[1]
        inks.append(int(high) if isinstance(high, int | float) else 0)


def _header(stream: IO[bytes]) -> tuple[int, int] | None:
    """The size of the next page, or ``None`` at the end of the stream."""
    fields: dict[str, str] = {}
    first = stream.readline(_HEADER_LIMIT)
    if not first:
        return None
    if first.strip() != b"P7":
        raise ToolError("Ghostscript's output is not a PAM stream")
    while True:
        line = stream.readline(_HEADER_LIMIT).strip()
        if not line:
            raise ToolError("Ghostscript's output ended inside a page header")
        if line == b"ENDHDR":
            break
        key, _, value = line.decode("ascii", "replace").partition(" ")
        fields[key] = value.strip()
    try:
        width, height = int(fields["WIDTH"]), int(fields["HEIGHT"])
        depth, top = int(fields["DEPTH"]), int(fields["MAXVAL"])
    except (KeyError, ValueError) as exc:
        raise ToolError("a PAM page header without its size") from exc
    if depth != 4 or top != 255 or width * height > MAX_PAGE_PIXELS:
        raise ToolError(f"an unexpected rendered page ({width}x{height}x{depth})")
    return width, height
