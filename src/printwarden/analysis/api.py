"""The front door: ``analyze(path, document_format)`` for any spooled document."""

from __future__ import annotations

import logging
import mmap
import os
import tempfile
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


def analyze_bytes(
    data: bytes, document_format: str, *, colour: bool = True, limits: Limits = DEFAULT_LIMITS
) -> Analysis:
    """:func:`analyze` for a document held in memory (a small spooled one): the same
    answers, without a file for PDF, PWG and Apple raster; other formats are analysed from
    a temporary copy."""
    found = detect.resolve_head(data[: detect.SNIFF_BYTES], document_format)
    if len(data) > limits.max_bytes:
        limit = limits.max_bytes
        return unknown(found, f"file of {len(data)} bytes exceeds the {limit}-byte limit")
    if found not in _HANDLERS:
        return unknown(found, PAGES_UNKNOWN)
    reader = _IN_MEMORY.get(found)
    if reader is None:
        with tempfile.TemporaryDirectory(prefix="printwarden-analysis-") as tmp:
            path = Path(tmp) / "document"
            path.write_bytes(data)
            return analyze(path, document_format, colour=colour, limits=limits)
    try:
        result = reader(data, limits, colour)
    except Exception as exc:  # a parser bug must not fail the job: count by the printer
        log.exception("analysis of %d bytes as %s failed", len(data), found)
        return unknown(found, f"analysis failed: {type(exc).__name__}: {exc}")
    return result if colour else replace(result, colour_pages=None)


_IN_MEMORY: dict[str, Callable[[bytes, Limits, bool], Analysis]] = {
    detect.PDF: lambda data, limits, colour: pdf.analyze(data, limits, colour=colour),
    detect.PWG: lambda data, limits, colour: pwg.analyze(data, limits.tolerance, colour=colour),
    detect.URF: lambda data, limits, colour: urf.analyze(data, limits.tolerance, colour=colour),
}


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
