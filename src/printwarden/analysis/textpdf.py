"""Plain text to PDF: monospace lines on pages of the job's paper, laid out as analysis counts.

A page holds :data:`~.text.LINES_PER_PAGE` lines of :data:`~.text.COLUMNS` characters; longer
lines wrap, tabs stop every 8 columns and a form feed starts a page — exactly the rules of
:func:`.text.count_pages`, so the pages charged at decision time are the pages that print.
The font is scaled to fit 80 columns and 60 lines inside a margin (10–11 pt on A4 or
letter). It is the first monospace TrueType font found (DejaVu Sans Mono, Liberation Mono,
Noto Mono: Debian's ``fonts-dejavu-core``…), embedded as a subset; characters it lacks print
as ``?``. Without one, the PDF core font Courier is used (Latin-1 only). The text is read as
UTF-8, undecodable bytes replaced, as analysis reads it. A document with no text prints one
blank page.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

from printwarden.analysis.text import COLUMNS, LINES_PER_PAGE

Points = tuple[float, float]
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoMono-Regular.ttf"),
)
MAX_MARGIN = 36.0  # half an inch
LEADING = 1.2  # line height, in font sizes
_CONTROLS = dict.fromkeys((*range(32), 127), " ")  # kept one column wide


def pages_of(lines: Iterable[str]) -> Iterator[list[str]]:
    """The rows of each printed page of text given line by line (as :func:`count_pages`)."""
    rows: list[str] = []
    fed = visible = False
    for line in lines:
        for index, piece in enumerate(line.split("\f")):
            if index:
                yield from _section(rows)
                rows, visible, fed = [], False, True
            if piece:
                rows.extend(_wrapped(piece))
                visible = visible or bool(piece.strip("\r\n"))
    if not fed:
        yield from _chunks(rows)
    elif visible:
        yield from _section(rows)


def _section(rows: list[str]) -> Iterator[list[str]]:
    """A form-fed section: at least one page, even when empty."""
    yield from _chunks(rows) if rows else iter([[]])


def _chunks(rows: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(rows), LINES_PER_PAGE):
        yield rows[start : start + LINES_PER_PAGE]


def _wrapped(piece: str) -> list[str]:
    text = piece.rstrip("\r\n").expandtabs(8)
    return [text[start : start + COLUMNS] for start in range(0, max(len(text), 1), COLUMNS)]


def text_to_pdf(source: Path, target: Path, paper: Points) -> Path:
    """Write the text file ``source`` as a PDF to ``target`` on pages of ``paper`` (points)."""
    width, height = paper
    pdf = FPDF(unit="pt", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_creator("printwarden")
    printable = _set_font(pdf)
    margin = min(MAX_MARGIN, 0.05 * min(width, height))
    pdf.set_font_size(1)
    per_point = pdf.get_string_width("M")
    size = min(
        (width - 2 * margin) / (COLUMNS * per_point),
        (height - 2 * margin) / (LINES_PER_PAGE * LEADING),
    )
    pdf.set_font_size(size)
    pages = 0
    with source.open(encoding="utf-8", errors="replace") as lines:
        for rows in pages_of(lines):
            pdf.add_page()
            pages += 1
            for number, row in enumerate(rows):
                shown = printable(row.translate(_CONTROLS)).rstrip()
                if shown:
                    pdf.text(margin, margin + size + number * size * LEADING, shown)
    if not pages:
        pdf.add_page()
    temporary = target.with_name(f".{target.name}.tmp")
    pdf.output(str(temporary))
    os.replace(temporary, target)
    return target


def _set_font(pdf: FPDF) -> functools.partial[str]:
    """Select the monospace font; return what makes a row printable in it."""
    font = monospace_font()
    if font is None:
        pdf.set_font("courier")
        return functools.partial(_latin1)
    pdf.add_font("mono", fname=str(font))
    pdf.set_font("mono")
    current = pdf.current_font
    known = frozenset(current.cmap) if isinstance(current, TTFFont) else frozenset()
    return functools.partial(_known, known)


@functools.cache
def monospace_font() -> Path | None:
    """The first monospace TrueType font of :data:`FONT_CANDIDATES` that exists."""
    return next((path for path in FONT_CANDIDATES if path.is_file()), None)


def _known(known: frozenset[int], row: str) -> str:
    if row.isascii():  # every monospace font has ASCII
        return row
    return "".join(ch if ord(ch) in known else "?" for ch in row)


def _latin1(row: str) -> str:
    return row.encode("latin-1", "replace").decode("latin-1")
