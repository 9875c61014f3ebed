"""Conversions a job policy orders before a document prints: grey, duplex, N-up, fit.

Only PDF and PostScript change in content (Ghostscript for grey and fit, pikepdf for
N-up and the duplex viewer preference, and for the process colorants that Ghostscript's
grey output still names, :mod:`.greyspots`); the result is a PDF, re-analysed with the
same analysis as any job so that the server charges what really prints. Other formats
are sent as they are: grey and duplex then fall to the printer through IPP attributes
(``Converted.colour_mode`` and ``Converted.sides``), and N-up or fit cannot be done. A
failure raises :class:`ConversionFailed` and leaves the source file untouched.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from printwarden.analysis import detect, nup, papersize
from printwarden.analysis.api import analyze
from printwarden.analysis.ghostscript import ToolError
from printwarden.analysis.greyspots import rename_process_colorants
from printwarden.analysis.model import Analysis
from printwarden.analysis.pdfwrite import CONVERT_TIMEOUT, to_pdf

CONTENT_FORMATS = frozenset({detect.PDF, detect.POSTSCRIPT})
DUPLEX_SIDES = "two-sided-long-edge"
MONOCHROME = "monochrome"
_SIZE_MM = re.compile(r"^(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)mm$")


class ConversionFailed(Exception):
    """A conversion could not be done; ``str()`` says why. The original job is intact."""


@dataclass(frozen=True, slots=True)
class ConversionOrder:
    """What to do to a document. ``nup`` is pages per sheet side (1, 2 or 4); ``fit_to``
    a paper size name (``"A4"``, ``"letter"``, ``"210x297mm"``…) to scale pages onto."""

    grayscale: bool = False
    duplex: bool = False
    nup: int = 1
    fit_to: str = ""

    def __post_init__(self) -> None:
        if self.nup not in (1, *nup.LAYOUTS):
            raise ValueError(f"nup must be 1, 2 or 4, not {self.nup}")
        if self.fit_to:
            fit_points(self.fit_to)

    def is_identity(self) -> bool:
        """Whether this conversion changes nothing."""
        return not (self.grayscale or self.duplex or self.nup > 1 or self.fit_to)


@dataclass(frozen=True, slots=True)
class Converted:
    """The document to send and what it costs.

    ``path`` is a new PDF in the work directory, or the source itself when its content was
    not changed (then the caller must not delete it as a conversion output). ``pages``,
    ``colour_pages`` and ``paper_size`` describe ``path`` (``None``: unknown, as in
    :class:`~.model.Analysis`). Up to the caller: send ``sides`` and ``colour_mode`` as
    the IPP ``sides`` and ``print-color-mode`` attributes when they are not ``None``;
    ``colour_pages`` is 0 on the strength of ``colour_mode`` for formats not converted.
    """

    path: Path
    document_format: str
    pages: int | None
    colour_pages: int | None
    paper_size: str | None
    sides: str | None
    colour_mode: str | None = None


def convert(
    source: Path,
    document_format: str,
    conversion: ConversionOrder,
    workdir: Path,
    *,
    timeout: float = CONVERT_TIMEOUT,
) -> Converted:
    """Apply ``conversion`` to ``source``; a new document goes to
    ``workdir/<source stem>.converted.pdf``, written under a temporary name then renamed."""
    try:
        found = detect.resolve(source, document_format)
    except OSError as exc:
        raise ConversionFailed(f"cannot read the document: {exc}") from exc
    if found not in CONTENT_FORMATS or not _changes_content(conversion, found):
        return _as_is(source, found, conversion)
    target = _target(source, workdir)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".convert-") as scratch:
        expected = _pages_in(source) if found == detect.PDF else None
        produced = _rewrite(source, found, conversion, Path(scratch), timeout)
        analysis = _verified(produced, conversion, expected)
        os.replace(produced, target)
    return _converted(target, analysis, conversion)


def fit_points(name: str) -> tuple[float, float]:
    """Portrait (width, height) in points of a paper size name; ValueError if unknown."""
    match = _SIZE_MM.match(name.strip().lower())
    if match:
        mm = sorted((float(match.group(1)), float(match.group(2))))
    else:
        known = {n.lower(): (w, h) for n, w, h in papersize._KNOWN_MM}
        if name.strip().lower() not in known:
            raise ValueError(f"unknown paper size {name!r}")
        mm = list(known[name.strip().lower()])
    width, height = (v / papersize.MM_PER_POINT for v in mm)
    return width, height


def _changes_content(conversion: ConversionOrder, found: str) -> bool:
    duplex_in_pdf = conversion.duplex and found == detect.PDF
    return conversion.grayscale or conversion.nup > 1 or bool(conversion.fit_to) or duplex_in_pdf


def _as_is(source: Path, found: str, conversion: ConversionOrder) -> Converted:
    """The source unchanged, with grey and duplex left to IPP attributes."""
    if conversion.nup > 1 or conversion.fit_to:
        done = "N-up" if conversion.nup > 1 else "fitting to a paper size"
        raise ConversionFailed(f"{done} needs a PDF or PostScript document, not {found}")
    analysis = analyze(source, found)
    grey = conversion.grayscale
    return Converted(
        path=source,
        document_format=found,
        pages=analysis.pages,
        colour_pages=0 if grey else analysis.colour_page_count,
        paper_size=analysis.paper_size,
        sides=DUPLEX_SIDES if conversion.duplex else None,
        colour_mode=MONOCHROME if grey else None,
    )


def _target(source: Path, workdir: Path) -> Path:
    target = workdir / f"{source.stem}.converted.pdf"
    if target.resolve() == source.resolve():
        target = workdir / f"{source.stem}.converted-again.pdf"
    return target


def _pages_in(source: Path) -> int:
    """Pages of a PDF source; a damaged or locked PDF is refused, as analysis does."""
    try:
        with pikepdf.open(source, attempt_recovery=False) as pdf:
            return len(pdf.pages)
    except pikepdf.PasswordError as exc:
        raise ConversionFailed("encrypted PDF that needs a password") from exc
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        raise ConversionFailed(f"unreadable or damaged PDF: {exc}") from exc


def _rewrite(
    source: Path, found: str, conversion: ConversionOrder, scratch: Path, timeout: float
) -> Path:
    """Run the steps (Ghostscript, then pikepdf) in ``scratch``; the last output's path."""
    current = source
    postscript = found == detect.POSTSCRIPT
    if conversion.grayscale or conversion.fit_to or postscript:
        fit = fit_points(conversion.fit_to) if conversion.fit_to else None
        try:
            current = to_pdf(
                current,
                scratch / "gs.pdf",
                grayscale=conversion.grayscale,
                fit=fit,
                postscript=postscript,
                timeout=timeout,
            )
        except ToolError as exc:
            raise ConversionFailed(f"Ghostscript could not convert the document: {exc}") from exc
    if conversion.grayscale:
        current = _grey_spots(current, scratch / "grey.pdf")
    if conversion.nup > 1 or conversion.duplex:
        current = _rearrange(current, scratch / "pages.pdf", conversion)
    return current


def _grey_spots(source: Path, target: Path) -> Path:
    """Ghostscript's grey output with its process-colorant separations renamed
    (:mod:`.greyspots`); the source itself when there were none."""
    try:
        changed = rename_process_colorants(source, target)
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        raise ConversionFailed(f"could not check the grey output: {exc}") from exc
    return target if changed else source


def _rearrange(source: Path, target: Path, conversion: ConversionOrder) -> Path:
    """N-up and the duplex viewer preference, with pikepdf."""
    try:
        with pikepdf.open(source) as pdf:
            if conversion.nup > 1:
                nup.impose(pdf, conversion.nup)
            if conversion.duplex:
                prefs = pdf.Root.get("/ViewerPreferences", pikepdf.Dictionary())
                prefs.Duplex = pikepdf.Name.DuplexFlipLongEdge
                pdf.Root.ViewerPreferences = prefs
            pdf.save(target)
    except pikepdf.PasswordError as exc:
        raise ConversionFailed("encrypted PDF that needs a password") from exc
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        raise ConversionFailed(f"could not rearrange the pages: {exc}") from exc
    return target


def _verified(path: Path, conversion: ConversionOrder, pages_in: int | None) -> Analysis:
    """The analysis of the output, which must have the pages expected and, for grey, no
    colour page."""
    analysis = analyze(path, detect.PDF)
    if analysis.pages is None:
        raise ConversionFailed(f"the converted document is unreadable: {analysis.detail}")
    if pages_in is not None and analysis.pages != math.ceil(pages_in / conversion.nup):
        raise ConversionFailed(
            f"the converted document has {analysis.pages} pages for {pages_in} {conversion.nup}-up"
        )
    if conversion.grayscale:
        colour = analysis.colour_page_count
        if colour is None:
            raise ConversionFailed(f"greyscale could not be verified: {analysis.detail}")
        if colour:
            raise ConversionFailed(f"{colour} pages still in colour after greyscale conversion")
    return analysis


def _converted(target: Path, analysis: Analysis, conversion: ConversionOrder) -> Converted:
    return Converted(
        path=target,
        document_format=detect.PDF,
        pages=analysis.pages,
        colour_pages=analysis.colour_page_count,
        paper_size=analysis.paper_size,
        sides=DUPLEX_SIDES if conversion.duplex else None,
    )
