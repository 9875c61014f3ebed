"""A batch of top-up cards as a CSV file and as printable A4 sheets (PDF).

The sheets hold 2 × 5 cards of credit-card size (85.6 × 54 mm) that touch, with cut marks in
the margins. Each card's QR code (segno) is drawn as filled rectangles, one per run of dark
modules (merged down the rows), in one path per card: no image per card, so 10,000 cards take
seconds. segno's choice of the QR mask pattern (the ISO 18004 penalty evaluation) is most of
its time, so the mask is chosen once per batch, on a sample of its cards: every mask decodes.
segno and fpdf2 load with the first cards.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from printwarden.domain.money import Currency
from printwarden.domain.vouchers import Batch, display, parse
from printwarden.payments.csv_cells import FORMULA_START

if TYPE_CHECKING:
    from fpdf import FPDF

CSV_HEADER = ("batch_id", "code", "value", "currency", "valid_until")
PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
CARD_W, CARD_H = 85.6, 54.0  # ISO/IEC 7810 ID-1
COLUMNS, ROWS = 2, 5
PER_PAGE = COLUMNS * ROWS
LEFT = (PAGE_W - COLUMNS * CARD_W) / 2
TOP = (PAGE_H - ROWS * CARD_H) / 2
PAD = 5.0
QR_BOX = 34.0  # mm, the QR code with its quiet zone
QR_QUIET = 4  # modules
QR_ERROR = "m"
MASK_SAMPLE = 5
MARK_GAP, MARK_LENGTH = 2.0, 7.0  # mm, cut marks
MAX_URL = 120
PT = 25.4 / 72  # mm per point
COURIER_ADVANCE = 0.6  # em, every Courier glyph

Rectangle = tuple[int, int, int, int]
"""``(x, y, width, height)`` in modules, from the top left corner of the symbol."""
_DARK = re.compile(rb"[^\x00]+")


def to_csv(batch: Batch, codes: Sequence[str], *, minor_digits: int = 2) -> str:
    """The batch's codes as CSV (``batch_id,code,value,currency,valid_until``, CRLF lines):
    one row per code, formatted, the value a decimal text (``10.00``) in a currency of
    ``minor_digits`` decimals (the configured one's), ``valid_until`` ISO or empty."""
    value = value_text(batch, minor_digits)
    until = batch.valid_until.isoformat() if batch.valid_until else ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for code in checked_codes(batch, codes):
        row = (batch.batch_id, display(code), value, batch.currency, until)
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def value_text(batch: Batch, minor_digits: int) -> str:
    """A card's value as a decimal text, ``1000`` → ``"10.00"`` (integer arithmetic)."""
    return Currency(batch.currency, minor_digits).format(batch.value)


def csv_cell(text: str) -> str:
    """``text``, refused (``ValueError``) when a spreadsheet would run it as a formula."""
    if text.startswith(FORMULA_START):
        raise ValueError(f"refusing a CSV cell a spreadsheet would read as a formula: {text!r}")
    return text


def checked_codes(batch: Batch, codes: Sequence[str]) -> list[str]:
    """``codes`` as canonical codes: valid, different, as many as the batch has."""
    canonical = [parse(code) for code in codes]
    if len(canonical) != batch.count:
        raise ValueError(f"batch {batch.batch_id} has {batch.count} cards, not {len(codes)}")
    if len(set(canonical)) != len(canonical):
        raise ValueError(f"batch {batch.batch_id}: the same code twice")
    return canonical


def redeem_link(redeem_url: str, code: str) -> str:
    """The address a card's QR code opens: ``redeem_url?code=CODE`` (canonical code)."""
    parts = urlsplit(redeem_url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or parts.fragment
        or len(redeem_url) > MAX_URL
        or not all("!" <= char <= "~" for char in redeem_url)
    ):
        raise ValueError(f"redeem URL: an http(s) address of up to {MAX_URL} ASCII characters")
    return f"{redeem_url}{'&' if parts.query else '?'}code={parse(code)}"


def batch_mask(links: Sequence[str]) -> int:
    """The QR mask pattern segno's evaluation picks most often for the first links (the
    lowest of a tie)."""
    import segno  # loaded on first use, with the first cards

    picks = Counter(segno.make_qr(link, error=QR_ERROR).mask for link in links[:MASK_SAMPLE])
    return max(sorted(picks), key=picks.__getitem__)


def qr_rectangles(link: str, mask: int | None = None) -> tuple[int, list[Rectangle]]:
    """``link``'s QR code (error correction M) as its size in modules (no quiet zone) and
    rectangles covering its dark modules exactly, each module once."""
    import segno

    matrix = segno.make_qr(link, error=QR_ERROR, mask=mask).matrix
    return len(matrix), rectangles(matrix)


def rectangles(matrix: Sequence[Sequence[int]]) -> list[Rectangle]:
    """The runs of dark modules of each row, a run merged with the same run below it."""
    done: list[Rectangle] = []
    above: dict[tuple[int, int], int] = {}  # (start, end) of a run -> its first row
    for y, row in enumerate([*matrix, b""]):
        here = {run.span(): 0 for run in _DARK.finditer(bytes(row))}
        for span in here:
            here[span] = above.pop(span, y)
        done.extend((start, top, end - start, y - top) for (start, end), top in above.items())
        above = here
    return done


def to_pdf(batch: Batch, codes: Sequence[str], redeem_url: str, *, minor_digits: int = 2) -> bytes:
    """Printable A4 sheets of the batch's cards, :data:`PER_PAGE` a page: each with its
    value, code (monospace), valid-until date, batch id and a QR code of its redeem link."""
    canonical = checked_codes(batch, codes)
    links = [redeem_link(redeem_url, code) for code in canonical]
    mask = batch_mask(links)
    pdf = _document(batch)
    card = _CardText(pdf, batch, minor_digits)
    for index, (code, link) in enumerate(zip(canonical, links, strict=True)):
        if index % PER_PAGE == 0:
            pdf.add_page()
            _cut_marks(pdf)
        x, y = card_origin(index)
        card.draw(x, y, display(code))
        _draw_qr(pdf, x + CARD_W - QR_BOX - PAD / 2, y + PAD / 2, *qr_rectangles(link, mask))
    return bytes(pdf.output())


def card_origin(index: int) -> tuple[float, float]:
    """The top left corner (mm) of the ``index``th card on its page, row by row."""
    place = index % PER_PAGE
    return LEFT + (place % COLUMNS) * CARD_W, TOP + (place // COLUMNS) * CARD_H


def _document(batch: Batch) -> FPDF:
    from fpdf import FPDF  # fpdf2 and its fonts (about 30 MB) load with the first cards

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_title(f"Print credit cards, batch {batch.batch_id}")
    pdf.set_creator("printwarden")
    pdf.set_line_width(0.2)
    return pdf


def _cut_marks(pdf: FPDF) -> None:
    """Marks in the margins, in line with the cards' edges."""
    for column in range(COLUMNS + 1):
        x = LEFT + column * CARD_W
        pdf.line(x, TOP - MARK_GAP - MARK_LENGTH, x, TOP - MARK_GAP)
        bottom = TOP + ROWS * CARD_H + MARK_GAP
        pdf.line(x, bottom, x, bottom + MARK_LENGTH)
    for row in range(ROWS + 1):
        y = TOP + row * CARD_H
        pdf.line(LEFT - MARK_GAP - MARK_LENGTH, y, LEFT - MARK_GAP, y)
        right = LEFT + COLUMNS * CARD_W + MARK_GAP
        pdf.line(right, y, right + MARK_LENGTH, y)


class _CardText:
    """A card's words; the sizes that depend on the batch only are worked out once."""

    def __init__(self, pdf: FPDF, batch: Batch, minor_digits: int) -> None:
        self.pdf = pdf
        self.value = f"{value_text(batch, minor_digits)} {batch.currency}"
        self.until = (
            f"Valid until {batch.valid_until.isoformat()}" if batch.valid_until else "No expiry"
        )
        self.batch = f"Batch {batch.batch_id}"
        pdf.set_font("Helvetica", "B", 18)
        room = CARD_W - QR_BOX - 2 * PAD
        self.value_size = min(18.0, 18.0 * room / pdf.get_string_width(self.value))
        width = CARD_W - 2 * PAD
        self.batch_size = min(7.0, width / (len(self.batch) * COURIER_ADVANCE * PT))

    def draw(self, x: float, y: float, code: str) -> None:
        pdf, left = self.pdf, x + PAD
        pdf.set_font("Helvetica", "B", 11)
        pdf.text(left, y + 9, "Print credit")
        pdf.set_font("Helvetica", "B", self.value_size)
        pdf.text(left, y + 19, self.value)
        pdf.set_font("Helvetica", "", 8)
        pdf.text(left, y + 26, self.until)
        pdf.set_font("Courier", "B", 12)
        pdf.text(left, y + 44, code)
        pdf.set_font("Courier", "", self.batch_size)
        pdf.text(left, y + CARD_H - 4, self.batch)


def _draw_qr(pdf: FPDF, x: float, y: float, size: int, dark: list[Rectangle]) -> None:
    """The QR code's modules in the box of :data:`QR_BOX` mm at ``(x, y)`` (quiet zone
    included), as one filled path in module units. fpdf2 has no public call for raw content,
    and a ``rect`` call per run takes several times as long as all the rest."""
    module = QR_BOX / (size + 2 * QR_QUIET) * pdf.k  # points
    left = (x + QR_QUIET * module / pdf.k) * pdf.k
    top = (pdf.h - y - QR_QUIET * module / pdf.k) * pdf.k
    ops = [f"q 0 g {module:.4f} 0 0 {-module:.4f} {left:.3f} {top:.3f} cm"]
    ops.extend(f"{rx} {ry} {width} {height} re" for rx, ry, width, height in dark)
    ops.append("f Q")
    pdf._out("\n".join(ops))


def to_zip(batch: Batch, codes: Sequence[str], redeem_url: str, *, minor_digits: int = 2) -> bytes:
    """A ZIP of the batch's CSV and printable PDF (named ``topup-cards-<batch id>.csv|pdf``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        name = f"topup-cards-{batch.batch_id}"
        archive.writestr(f"{name}.csv", to_csv(batch, codes, minor_digits=minor_digits))
        archive.writestr(f"{name}.pdf", to_pdf(batch, codes, redeem_url, minor_digits=minor_digits))
    return buffer.getvalue()
