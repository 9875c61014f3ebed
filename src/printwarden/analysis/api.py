"""The front door: ``analyze(path, document_format)`` for any spooled document."""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from printwarden.analysis import detect, images, pdf, postscript, pwg, text, urf
from printwarden.analysis.model import DEFAULT_LIMITS, Analysis, Limits, unknown
from printwarden.analysis.rle import ByteSource

PAGES_UNKNOWN = "pages unknown"
log = logging.getLogger(__name__)

Handler = Callable[[Path, str, Limits, bool], Analysis]


def analyze(
    path: Path, document_format: str, *, colour: bool = True, limits: Limits = DEFAULT_LIMITS
) -> Analysis:
    """Pages, colour pages, paper size and duplex of a spooled document; never raises.

    ``document_format`` is the declared MIME type; the file's magic bytes win when they
    name a known format. ``colour=False`` skips colour detection (pages only). PCL and
    unknown formats, and any file that cannot be analysed, give ``pages=None`` with a
    ``detail`` saying why.
    """
    declared = detect.normalize(document_format) or detect.OCTET
    try:
        size = path.stat().st_size
        found = detect.resolve(path, document_format)
    except OSError as exc:
        return unknown(declared, f"cannot read the file: {exc}")
    if size > limits.max_bytes:
        return unknown(found, f"file of {size} bytes exceeds the {limits.max_bytes}-byte limit")
    handler = _HANDLERS.get(found)
    if handler is None:
        return unknown(found, PAGES_UNKNOWN)
    try:
        result = handler(path, found, limits, colour)
    except OSError as exc:
        return unknown(found, f"cannot read the file: {exc}")
    except Exception as exc:  # a parser bug must not fail the job: count by the printer
        log.exception("analysis of %s as %s failed", path, found)
        return unknown(found, f"analysis failed: {type(exc).__name__}: {exc}")
    return result if colour else replace(result, colour_pages=None)


@contextmanager
def _mapped(path: Path) -> Iterator[ByteSource]:
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            yield view


def _pdf(path: Path, _: str, limits: Limits, colour: bool) -> Analysis:
    return pdf.analyze(path, limits, colour=colour)


def _postscript(path: Path, _: str, limits: Limits, colour: bool) -> Analysis:
    return postscript.analyze(path, limits, colour=colour)


def _pwg(path: Path, _: str, limits: Limits, colour: bool) -> Analysis:
    with _mapped(path) as buf:
        return pwg.analyze(buf, limits.tolerance, colour=colour)


def _urf(path: Path, _: str, limits: Limits, colour: bool) -> Analysis:
    with _mapped(path) as buf:
        return urf.analyze(buf, limits.tolerance, colour=colour)


def _image(path: Path, found: str, limits: Limits, colour: bool) -> Analysis:
    return images.analyze(path, found, limits.tolerance)


def _text(path: Path, _: str, limits: Limits, colour: bool) -> Analysis:
    return text.analyze(path)


_HANDLERS: dict[str, Handler] = {
    detect.PDF: _pdf,
    detect.POSTSCRIPT: _postscript,
    detect.PWG: _pwg,
    detect.URF: _urf,
    detect.JPEG: _image,
    detect.PNG: _image,
    detect.TIFF: _image,
    detect.GIF: _image,
    detect.TEXT: _text,
}
