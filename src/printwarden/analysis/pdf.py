"""PDF: page count with pikepdf; colour per page by content scan, rendering only the rest.

A damaged PDF (one that only opens by rebuilding its cross-reference table, as a
truncated file does) is not analysed: a rebuilt file can lose pages or their content.

Most pages are judged from their content stream (:mod:`.pdfscan`); the pages it cannot
judge are rendered together in one low-resolution Ghostscript run (:mod:`.rendered`).
Content in a hidden layer does not count; a PDF whose printed layers depend on more than
its default configuration goes through Ghostscript whole.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import replace
from pathlib import Path

import pikepdf

from printwarden.analysis import ghostscript, papersize
from printwarden.analysis.model import Analysis, Limits, unknown
from printwarden.analysis.pdflayers import layers
from printwarden.analysis.pdfscan import Scanner
from printwarden.analysis.pdfspaces import ColourStatus
from printwarden.analysis.rendered import colour_pages as rendered_pages

FORMAT = "application/pdf"


def analyze(source: Path | bytes, limits: Limits, *, colour: bool = True) -> Analysis:
    """Pages, paper size and (when ``colour``) colour pages of a PDF: a file, or its bytes."""
    try:
        opened = io.BytesIO(source) if isinstance(source, bytes) else source
        # Inherited page attributes are looked up where read (``mediabox``, ``inherited``):
        # pushing them down every page at open costs more than the rest of a 1-page scan.
        pdf = pikepdf.open(opened, attempt_recovery=False, inherit_page_attributes=False)
    except pikepdf.PasswordError:
        return unknown(FORMAT, "encrypted PDF that needs a password")
    except (pikepdf.PikepdfError, OSError, ValueError, RuntimeError) as exc:
        return unknown(FORMAT, f"unreadable or damaged PDF: {exc}")
    with pdf:
        try:
            count = len(pdf.pages)
            size = _paper_size(pdf) if count else None
        except (pikepdf.PikepdfError, ValueError, TypeError, RuntimeError) as exc:
            return unknown(FORMAT, f"unreadable PDF page tree: {exc}")
        base = Analysis(format=FORMAT, pages=count, paper_size=size)
        if not colour:
            return base
        return _with_colour(base, pdf, source, limits)


def _with_colour(
    base: Analysis, pdf: pikepdf.Pdf, source: Path | bytes, limits: Limits
) -> Analysis:
    verdicts = scan(pdf, limits.tolerance)
    to_render = [n for n, v in enumerate(verdicts, 1) if v is ColourStatus.RENDER]
    try:
        rendered = _rendered(source, to_render, limits)
    except ghostscript.ToolError as exc:
        return replace(base, detail=f"colour unknown: {exc}")
    colour = [n for n, v in enumerate(verdicts, 1) if v is ColourStatus.COLOUR or n in rendered]
    return replace(base, colour_pages=tuple(colour))


def _rendered(source: Path | bytes, pages: list[int], limits: Limits) -> frozenset[int]:
    """The colour pages among ``pages`` by rendering (Ghostscript reads a file)."""
    if not pages:
        return frozenset()
    if isinstance(source, Path):
        return rendered_pages(source, pages, limits.render_dpi, limits.tolerance, limits.timeout)
    with tempfile.TemporaryDirectory(prefix="printwarden-pdf-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(source)
        return rendered_pages(path, pages, limits.render_dpi, limits.tolerance, limits.timeout)


def scan(pdf: pikepdf.Pdf, tolerance: int) -> list[ColourStatus]:
    """The content-scan verdict of every page (all RENDER for PDFs whose printed layers
    the default configuration does not tell, :mod:`.pdflayers`)."""
    shown = layers(pdf.Root)
    if shown is None:
        return [ColourStatus.RENDER] * len(pdf.pages)
    scanner = Scanner(tolerance, shown)
    return [scanner.page(page) for page in pdf.pages]


def _paper_size(pdf: pikepdf.Pdf) -> str | None:
    box = pdf.pages[0].mediabox
    x0, y0, x1, y1 = (float(v) for v in box)
    return papersize.from_points(abs(x1 - x0), abs(y1 - y0))
