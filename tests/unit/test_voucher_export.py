"""Top-up card exports: the CSV file, the printable PDF and the QR codes drawn on it."""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import subprocess
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pikepdf
import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from printwarden.domain.vouchers import Batch, Mistyped, display, generate, parse
from printwarden.payments.voucher_export import (
    CARD_W,
    CSV_HEADER,
    PAD,
    PER_PAGE,
    QR_BOX,
    QR_QUIET,
    Rectangle,
    batch_mask,
    card_origin,
    csv_cell,
    qr_rectangles,
    rectangles,
    redeem_link,
    to_csv,
    to_pdf,
)

PROPERTY = settings(max_examples=200, deadline=None, database=None)
URL = "https://print.example.edu/redeem"
DPI = 300


def batch(count: int, **changes: object) -> Batch:
    fields: dict[str, object] = {
        "batch_id": "spring-2026.a",
        "value": 1050,
        "currency": "EUR",
        "valid_until": date(2026, 12, 31),
        "count": count,
    }
    fields.update(changes)
    return Batch(**fields)  # type: ignore[arg-type]


def painted(rects: Sequence[Rectangle], size: int) -> list[list[int]]:
    """The matrix the rectangles paint (a module painted twice fails)."""
    grid = [[0] * size for _ in range(size)]
    for x, y, width, height in rects:
        for row in range(y, y + height):
            for column in range(x, x + width):
                assert not grid[row][column], f"module {column},{row} painted twice"
                grid[row][column] = 1
    return grid


def as_lists(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    return [[1 if module else 0 for module in row] for row in matrix]


def pdf_text(pdf: bytes) -> str:
    """What ``pdftotext`` (poppler) reads in ``pdf``."""
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, timeout=60, check=True
    )
    return done.stdout.decode()


# --- CSV ---------------------------------------------------------------------------------


def test_the_csv_reads_back_with_every_code() -> None:
    codes = generate(25)
    text = to_csv(batch(25), codes)
    assert text.startswith("batch_id,code,value,currency,valid_until\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["code"] for row in rows] == codes
    assert all(parse(row["code"]) == parse(code) for row, code in zip(rows, codes, strict=True))
    assert {tuple(row[name] for name in CSV_HEADER if name != "code") for row in rows} == {
        ("spring-2026.a", "10.50", "EUR", "2026-12-31")
    }


def test_the_csv_takes_codes_in_any_form_and_writes_them_formatted() -> None:
    codes = [parse(code).lower() for code in generate(3)]
    rows = list(csv.reader(io.StringIO(to_csv(batch(3), codes), newline="")))[1:]
    assert [row[1] for row in rows] == [display(code) for code in codes]


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(1050, 2, "10.50"), (7, 2, "0.07"), (1000, 0, "1000"), (1000, 3, "1.000")],
)
def test_the_csv_value_is_exact_in_the_currencys_minor_units(
    value: int, digits: int, text: str
) -> None:
    codes = generate(1)
    rows = list(csv.reader(io.StringIO(to_csv(batch(1, value=value), codes, minor_digits=digits))))
    assert rows[1][2] == text


def test_no_end_date_is_an_empty_cell() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(batch(1, valid_until=None), generate(1)))))
    assert rows[1][4] == ""


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_is_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="formula"):
        csv_cell(cell)


def test_ordinary_cells_pass() -> None:
    assert csv_cell("spring-2026.a") == "spring-2026.a"
    assert csv_cell("") == ""


def test_the_codes_must_be_the_batchs() -> None:
    codes = generate(3)
    with pytest.raises(ValueError, match="has 4 cards, not 3"):
        to_csv(batch(4), codes)
    with pytest.raises(ValueError, match="the same code twice"):
        to_csv(batch(3), [codes[0], codes[1], parse(codes[0])])
    typo = codes[0][:-1] + ("0" if codes[0][-1] != "0" else "1")
    with pytest.raises(Mistyped):
        to_csv(batch(3), [typo, *codes[1:]])
    with pytest.raises(ValueError, match="has 4 cards"):
        to_pdf(batch(4), codes, URL)


# --- the QR code's modules -------------------------------------------------------------------


def test_the_rectangles_paint_segnos_matrix_exactly() -> None:
    link = redeem_link(URL, generate(1)[0])
    for mask in range(8):
        size, rects = qr_rectangles(link, mask)
        expected = segno.make_qr(link, error="m", mask=mask).matrix
        assert size == len(expected)
        assert painted(rects, size) == as_lists(expected)


def test_without_a_mask_the_rectangles_are_segnos_own_choice() -> None:
    link = redeem_link(URL, generate(1)[0])
    size, rects = qr_rectangles(link)
    assert painted(rects, size) == as_lists(segno.make_qr(link, error="m").matrix)
    assert painted(rects, size) == as_lists(segno.make(link, error="m").matrix)


@PROPERTY
@given(st.integers(1, 12).flatmap(lambda n: st.lists(st.binary(min_size=n, max_size=n))))
def test_rectangles_cover_any_matrix_exactly(rows: list[bytes]) -> None:
    matrix = [bytes(1 if byte & 1 else 0 for byte in row) for row in rows]
    rects = rectangles(matrix)
    width = len(matrix[0]) if matrix else 0
    grid = painted(rects, max(width, len(matrix)))
    assert [row[:width] for row in grid[: len(matrix)]] == as_lists(matrix)


def test_runs_are_merged_down_the_rows() -> None:
    assert rectangles([b"\x01\x01\x00", b"\x01\x01\x00", b"\x00\x01\x01"]) == [
        (0, 0, 2, 2),
        (1, 2, 2, 1),
    ]


def test_the_batch_mask_is_segnos_pick_for_a_single_card() -> None:
    link = redeem_link(URL, generate(1)[0])
    assert batch_mask([link]) == segno.make_qr(link, error="m").mask
    assert batch_mask([redeem_link(URL, code) for code in generate(20)]) in range(8)


# --- the redeem link -------------------------------------------------------------------------


def test_the_link_carries_the_canonical_code() -> None:
    code = generate(1)[0]
    assert redeem_link(URL, code.lower()) == f"{URL}?code={parse(code)}"
    assert redeem_link(URL + "?site=a", code) == f"{URL}?site=a&code={parse(code)}"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://print.example.edu/redeem",
        "print.example.edu/redeem",
        "https:///redeem",
        "https://print.example.edu/redeem#x",
        "https://print.example.edu/re deem",
        "https://print.example.edu/rédeem",
        "https://print.example.edu/" + "r" * 100,
    ],
)
def test_a_bad_redeem_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="redeem URL"):
        redeem_link(url, generate(1)[0])


# --- the PDF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, PER_PAGE, PER_PAGE + 1, 23])
def test_the_pdf_has_a_page_per_ten_cards_and_every_code(count: int) -> None:
    codes = generate(count)
    pdf = to_pdf(batch(count), codes, URL)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == math.ceil(count / PER_PAGE)
        assert {round(float(side)) for side in document.pages[0].mediabox} == {0, 595, 842}
    text = pdf_text(pdf)
    assert sorted(re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", text)) == (
        sorted(codes)
    )
    for words in ("Print credit", "10.50 EUR", "Valid until 2026-12-31", "Batch spring-2026.a"):
        assert text.count(words) == count, words


def test_a_card_without_an_end_date_says_so() -> None:
    assert "No expiry" in pdf_text(to_pdf(batch(1, valid_until=None), generate(1), URL))


def test_a_long_batch_id_and_a_big_value_still_fit_the_card() -> None:
    made = batch(1, batch_id="b" * 64, value=123_456_789_00)
    text = pdf_text(to_pdf(made, generate(1), URL))
    assert "b" * 64 in text
    assert "123456789.00 EUR" in text


def drawn_qr_codes(pdf: bytes) -> list[tuple[int, list[Rectangle]]]:
    """Each path of the first page drawn in module units (a ``cm`` that scales, then ``re``
    operations up to ``f``): its module size in hundredths of a point and its rectangles."""
    found: list[tuple[int, list[Rectangle]]] = []
    with pikepdf.open(io.BytesIO(pdf)) as document:
        current: list[Rectangle] | None = None
        for instruction in pikepdf.parse_content_stream(document.pages[0]):
            operands, name = instruction.operands, str(instruction.operator)
            if name == "cm" and float(operands[0]) > 1:
                current = []
                found.append((round(float(operands[0]) * 100), current))
            elif name == "re" and current is not None:
                x, y, width, height = (int(operand) for operand in operands)
                current.append((x, y, width, height))
            elif name in ("f", "Q"):
                current = None
    return found


def test_each_card_draws_its_own_links_qr_code_in_the_pdf() -> None:
    codes = generate(PER_PAGE)
    pdf = to_pdf(batch(PER_PAGE), codes, URL)
    links = [redeem_link(URL, code) for code in codes]
    mask = batch_mask(links)
    drawn = drawn_qr_codes(pdf)
    assert len(drawn) == PER_PAGE
    for (_, rects), link in zip(drawn, links, strict=True):
        size = len(segno.make_qr(link, error="m", mask=mask).matrix)
        assert painted(rects, size) == as_lists(segno.make_qr(link, error="m", mask=mask).matrix)


def render_qr(pdf: bytes, place: int, tmp_path: Path) -> tuple[Image.Image, float, float]:
    """The QR box of the ``place``th card of page 1 rendered by poppler's pdftoppm at
    :data:`DPI`, and where in it the box's top left corner falls (pixels)."""
    x, y = card_origin(place)
    left, top = (x + CARD_W - QR_BOX - PAD / 2) * DPI / 25.4, (y + PAD / 2) * DPI / 25.4
    source = tmp_path / "cards.pdf"
    source.write_bytes(pdf)
    side = str(round(QR_BOX * DPI / 25.4) + 2)
    crop = ["-x", str(int(left)), "-y", str(int(top)), "-W", side, "-H", side]
    page = ["-f", "1", "-l", "1", "-singlefile"]
    subprocess.run(
        [
            "pdftoppm",
            "-gray",
            "-png",
            "-r",
            str(DPI),
            *page,
            *crop,
            str(source),
            str(tmp_path / "qr"),
        ],
        check=True,
        timeout=60,
    )
    return Image.open(tmp_path / "qr.png"), left - int(left), top - int(top)


def read_modules(image: Image.Image, left: float, top: float, size: int) -> list[list[int]]:
    """Dark (1) or light (0) at the centre of each of ``size`` x ``size`` modules."""
    module = QR_BOX / size * DPI / 25.4
    grey = image.convert("L")

    def dark(row: int, col: int) -> int:
        at = (int(left + (col + 0.5) * module), int(top + (row + 0.5) * module))
        value = grey.getpixel(at)
        assert isinstance(value, int)
        return 1 if value < 128 else 0

    return [[dark(row, col) for col in range(size)] for row in range(size)]


def test_the_printed_qr_code_is_the_links_with_its_quiet_zone(tmp_path: Path) -> None:
    """Rendered by poppler and read back module by module: segno's matrix of the card's
    link, white all around (no QR decoder needed)."""
    codes = generate(4)
    pdf = to_pdf(batch(4), codes, URL)
    mask = batch_mask([redeem_link(URL, code) for code in codes])
    for place in (0, 3):
        link = redeem_link(URL, codes[place])
        expected = as_lists(segno.make_qr(link, error="m", mask=mask).matrix)
        size = len(expected) + 2 * QR_QUIET
        image, left, top = render_qr(pdf, place, tmp_path)
        with image:
            read = read_modules(image, left, top, size)
        light, side = [[0] * size] * QR_QUIET, [0] * QR_QUIET
        assert read == light + [side + row + side for row in expected] + light


def test_a_phone_would_read_the_qr_code(tmp_path: Path) -> None:
    assert shutil.which("zbarimg"), "zbarimg (Debian's zbar-tools, which make test installs)"
    code = generate(1)[0]
    image, _, _ = render_qr(to_pdf(batch(1), [code], URL), 0, tmp_path)
    image.close()
    done = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "qr.png")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == redeem_link(URL, code)
