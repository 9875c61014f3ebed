"""A job's pages as its plan lays them out (:mod:`printwarden.domain.imposition`), with
pikepdf: the selected pages of its PDF documents in order, turned or in grey where an
override says so, ``number-up`` of them on each impression, and blank sides where a
document starts a new sheet.

Each side has the size of the job's first page. With several pages per impression the
pages are drawn as form XObjects on a grid of the impression (its arrangement chosen to
fit the pages largest, pages turned a quarter where that fits them larger, as
:mod:`.nup` places them), read left to right, top to bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pikepdf

from printwarden.analysis.ghostscript import ToolError
from printwarden.analysis.nup import Cell as Box
from printwarden.analysis.nup import add_sheet
from printwarden.analysis.pdfwrite import to_pdf
from printwarden.domain.imposition import ORIENTATIONS, Cell, Override, Plan, grid, settings_of


class ImpositionFailed(Exception):
    """The documents could not be laid out; ``str()`` says why."""


def page_counts(documents: Sequence[Path]) -> list[int]:
    """Pages of each PDF."""
    counts = []
    for document in documents:
        try:
            with pikepdf.open(document) as pdf:
                counts.append(len(pdf.pages))
        except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
            raise ImpositionFailed(f"unreadable PDF: {exc}") from exc
    return counts


def impose(
    documents: Sequence[Path],
    plan: Plan,
    target: Path,
    *,
    overrides: Sequence[Override] = (),
    scratch: Path,
) -> Path:
    """Write ``plan``'s impressions of the PDF ``documents`` to ``target``."""
    grey = _grey_copies(documents, plan, overrides, scratch)
    try:
        opened = [pikepdf.open(path) for path in documents]
        greys = {number: pikepdf.open(path) for number, path in grey.items()}
        try:
            with pikepdf.new() as out:
                _lay_out(out, plan, opened, greys, overrides)
                out.save(target)
        finally:
            for pdf in [*opened, *greys.values()]:
                pdf.close()
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        raise ImpositionFailed(f"could not lay out the pages: {exc}") from exc
    return target


def _lay_out(
    out: pikepdf.Pdf,
    plan: Plan,
    opened: Sequence[pikepdf.Pdf],
    greys: Mapping[int, pikepdf.Pdf],
    overrides: Sequence[Override],
) -> None:
    """Each page of the plan, in order (blank sides inline when one page per side); with
    more per side, those pages are then drawn onto sides and removed."""
    placed: list[list[int]] = []
    for impression in plan.impressions:
        if not impression and plan.number_up == 1:
            _blank(out)
        placed.append([_append(out, cell, opened, greys, overrides) for cell in impression])
    if plan.number_up == 1:
        return
    pages = len(out.pages)
    sheet = _size(out.pages[0])  # every side the size of the job's first page
    forms = [page.as_form_xobject() for page in out.pages]
    for indices in placed:
        if not indices:
            out.add_blank_page(page_size=sheet)
            continue
        _side(out, [forms[i] for i in indices], sheet, plan.number_up)
    for _ in range(pages):
        del out.pages[0]


def _append(
    out: pikepdf.Pdf,
    cell: Cell,
    opened: Sequence[pikepdf.Pdf],
    greys: Mapping[int, pikepdf.Pdf],
    overrides: Sequence[Override],
) -> int:
    """Append one page (grey or turned as overridden); its index in ``out``."""
    settings = settings_of(cell, overrides)
    grey = settings.get("print-color-mode") == "monochrome"
    source = (greys.get(cell.document) if grey else None) or opened[cell.document - 1]
    original = source.pages[cell.page - 1]
    out.pages.append(original)
    orientation = settings.get("orientation-requested")
    if isinstance(orientation, int) and ORIENTATIONS.get(orientation):
        turn = int(original.obj.get("/Rotate", 0)) + ORIENTATIONS[orientation]
        out.pages[-1].obj.Rotate = turn % 360
    return len(out.pages) - 1


def _blank(out: pikepdf.Pdf) -> None:
    """A blank side the size of the side before it."""
    size = _size(out.pages[-1]) if len(out.pages) else (595.0, 842.0)
    out.add_blank_page(page_size=size)


def _side(
    out: pikepdf.Pdf, forms: list[pikepdf.Object], sheet: tuple[float, float], up: int
) -> None:
    columns, rows = grid(up, sheet, sheet)
    width, height = sheet[0] / columns, sheet[1] / rows
    cells = [
        Box(column * width, sheet[1] - (row + 1) * height, width, height)
        for row in range(rows)
        for column in range(columns)
    ]
    add_sheet(out, forms, cells, sheet)


def _grey_copies(
    documents: Sequence[Path], plan: Plan, overrides: Sequence[Override], scratch: Path
) -> dict[int, Path]:
    """A grey copy of each document with a page an override prints in monochrome."""
    wanted = {
        cell.document
        for impression in plan.impressions
        for cell in impression
        if settings_of(cell, overrides).get("print-color-mode") == "monochrome"
    }
    copies = {}
    for number in sorted(wanted):
        target = scratch / f"grey-{number}.pdf"
        try:
            copies[number] = to_pdf(documents[number - 1], target, grayscale=True)
        except ToolError as exc:
            raise ImpositionFailed(f"could not print pages in grey: {exc}") from exc
    return copies


def _size(page: pikepdf.Page) -> tuple[float, float]:
    """The page's size as it shows (turned by its /Rotate)."""
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    width, height = abs(x1 - x0), abs(y1 - y0)
    if int(page.obj.get("/Rotate", 0)) % 180:
        return height, width
    return width, height
