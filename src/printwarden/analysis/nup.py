"""N-up imposition with pikepdf: 2 or 4 pages per sheet, each placed as a form XObject.

The sheet has the size and orientation of the first page. 2-up halves the sheet across its
long side, so each cell has the other orientation; a page is turned a quarter clockwise
when that fits it larger (portrait pages on a portrait sheet), and the cells are ordered
to read left to right once the sheet is turned to landscape. 4-up is a 2 x 2 grid read
row by row. Pages are scaled to fit their cell, centred, aspect kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import pikepdf

Box = tuple[float, float, float, float]
"""x0, y0, x1, y1."""

LAYOUTS = (2, 4)


@dataclass(frozen=True, slots=True)
class Cell:
    x: float
    y: float
    width: float
    height: float


def impose(pdf: pikepdf.Pdf, n: int) -> None:
    """Replace the pages of ``pdf`` by sheets of ``n`` pages each (ceil(pages / n) sheets)."""
    if n not in LAYOUTS:
        raise ValueError(f"N-up must be one of {LAYOUTS}, not {n}")
    originals = list(pdf.pages)
    if not originals:
        return
    pdf.flatten_annotations("print")
    forms = [page.as_form_xobject() for page in originals]
    sheet = _extent(forms[0])
    width, height = sheet[2] - sheet[0], sheet[3] - sheet[1]
    cells = layout(n, width, height)
    for start in range(0, len(forms), n):
        add_sheet(pdf, forms[start : start + n], cells, (width, height))
    for _ in originals:
        del pdf.pages[0]
    for key in ("/Outlines", "/StructTreeRoot", "/AcroForm"):
        if key in pdf.Root:
            del pdf.Root[key]


def layout(n: int, width: float, height: float) -> list[Cell]:
    """The cells of a ``width`` x ``height`` sheet, in reading order."""
    if n == 4:
        w, h = width / 2, height / 2
        return [Cell(0, h, w, h), Cell(w, h, w, h), Cell(0, 0, w, h), Cell(w, 0, w, h)]
    if height >= width:
        h = height / 2
        return [Cell(0, h, width, h), Cell(0, 0, width, h)]
    w = width / 2
    return [Cell(w, 0, w, height), Cell(0, 0, w, height)]


def placement(box: Box, cell: Cell) -> list[float]:
    """The ``cm`` matrix that fits content ``box`` into ``cell``, turned when larger so."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    upright = min(cell.width / w, cell.height / h)
    turned = min(cell.width / h, cell.height / w)
    if turned > upright * 1.001:
        s = turned
        left = cell.x + (cell.width - s * h) / 2
        bottom = cell.y + (cell.height - s * w) / 2
        # (x, y) -> (y, -x): the page's top ends up at the cell's right.
        return [0, -s, s, 0, left - s * y0, bottom + s * w + s * x0]
    s = upright
    left = cell.x + (cell.width - s * w) / 2
    bottom = cell.y + (cell.height - s * h) / 2
    return [s, 0, 0, s, left - s * x0, bottom - s * y0]


def add_sheet(
    pdf: pikepdf.Pdf, forms: list[pikepdf.Object], cells: list[Cell], size: tuple[float, float]
) -> None:
    """A new sheet of ``size`` at the end of ``pdf`` with each form fitted into its cell."""
    sheet = pdf.add_blank_page(page_size=size)
    names, content = {}, []
    for number, (form, cell) in enumerate(zip(forms, cells, strict=False)):
        name = f"/P{number}"
        names[name] = form
        matrix = " ".join(f"{v:.6f}" for v in placement(_extent(form), cell))
        content.append(f"q {matrix} cm {name} Do Q")
    sheet.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(names))
    sheet.obj.Contents = pdf.make_stream("\n".join(content).encode())


def _extent(form: pikepdf.Object) -> Box:
    """The box a form covers once its own ``/Matrix`` (page rotation) is applied."""
    x0, y0, x1, y1 = (float(v) for v in form.BBox)
    matrix = pikepdf.Matrix(form.Matrix) if "/Matrix" in form else pikepdf.Matrix()
    points = [matrix.transform(p) for p in ((x0, y0), (x0, y1), (x1, y0), (x1, y1))]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)
