"""A Web Print or Email to Print document made printable: converted to PDF, the pages asked
for kept, analysed, previewed. The document libraries it needs (pikepdf, Pillow, fpdf2
and their fonts: about 40 MB) load with the first document, not with every App Server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

import pikepdf

from printwarden.analysis import detect, ghostscript
from printwarden.analysis.api import analyze
from printwarden.analysis.conversions import fit_points
from printwarden.analysis.imagepdf import image_to_pdf
from printwarden.analysis.render import postscript_to_pdf
from printwarden.analysis.textpdf import text_to_pdf
from printwarden.domain.web_print import (
    NotPrintable,
    PrintOptions,
    Rendered,
    WebPrintPolicy,
    parse_ranges,
    selected_pages,
)

log = logging.getLogger("printwarden.web_print")


def convert(source: Path, target: Path, found: str, paper: str) -> None:
    """``source``, of the format ``found``, as a PDF at ``target`` on ``paper``."""
    fit = fit_points(paper)
    try:
        if found == detect.PDF:
            _check_pdf(source)
            shutil.copyfile(source, target)
        elif found in detect.PHOTOS:
            image_to_pdf(source, target, fit)
        elif found == detect.POSTSCRIPT:
            postscript_to_pdf(source, target, fit)
        else:
            text_to_pdf(source, target, fit)
    except NotPrintable:
        raise
    except Exception as exc:
        log.info("web print: %s did not convert (%s)", found, exc)
        raise NotPrintable(f"the {found} document could not be read") from None


def select_and_analyse(
    target: Path, options: PrintOptions, rules: WebPrintPolicy, paper: str
) -> Rendered:
    """Keep the pages asked for, then analyse what will print (``paper`` if it says none)."""
    ranges = parse_ranges(options.pages)
    if ranges:
        _keep_pages(target, ranges)
    found = analyze(target, detect.PDF)
    if not found.pages:
        raise NotPrintable(found.detail or "the document has no pages")
    if found.pages > rules.max_pages:
        raise NotPrintable(f"{found.pages} pages: at most {rules.max_pages} are allowed")
    colour = 0 if options.grayscale else len(found.colour_pages or ())
    return Rendered(found.pages, colour, found.paper_size or paper)


def render_preview(pdf: Path, page: int, target: Path, dpi: int) -> None:
    """A PNG of ``page`` of ``pdf`` at ``target`` (private to this user)."""
    partial = target.with_suffix(".part")
    args = ["-sDEVICE=png16m", f"-r{dpi}", f"-dFirstPage={page}", f"-dLastPage={page}",
            f"-sOutputFile={partial}", str(pdf)]  # fmt: skip
    ghostscript.run(args, timeout=20.0)
    os.replace(partial, target)
    with contextlib.suppress(OSError):
        target.chmod(0o600)


def _check_pdf(source: Path) -> None:
    try:
        with pikepdf.open(source):
            pass
    except pikepdf.PasswordError:
        raise NotPrintable("the PDF is password-protected: remove the password first") from None
    except pikepdf.PdfError:
        raise NotPrintable("the PDF is damaged and cannot be read") from None


def _keep_pages(target: Path, ranges: tuple[tuple[int, int], ...]) -> None:
    with pikepdf.open(target, allow_overwriting_input=True) as pdf:
        keep = selected_pages(ranges, len(pdf.pages))
        if not keep:
            raise NotPrintable(f"the page range selects none of the {len(pdf.pages)} pages")
        for index in reversed(range(len(pdf.pages))):
            if index not in keep:
                del pdf.pages[index]
        pdf.save(target)
