"""Document conversions with real Ghostscript and pikepdf: grey, duplex, N-up, fit."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from printwarden.analysis import analyze
from printwarden.analysis.conversions import (
    ConversionFailed,
    ConversionOrder,
    Converted,
    convert,
)
from printwarden.testing.corpus import reference
from printwarden.testing.corpus.generate import A4, POSTSCRIPT, build_pdf

PDF = "application/pdf"
PS = "application/postscript"
A3 = (842, 1191)
COLOUR_KINDS = ["red-rect", "colour-image", "text", "colour-photo", "colour-shading"]


def _pdf(tmp_path: Path, kinds: list[str], size: tuple[int, int] = A4) -> Path:
    path = tmp_path / "doc.pdf"
    build_pdf(kinds, size, lines=5).save(path)
    return path


def _convert(source: Path, conversion: ConversionOrder, fmt: str = PDF) -> Converted:
    workdir = source.parent / "out"
    workdir.mkdir(exist_ok=True)
    return convert(source, fmt, conversion, workdir)


def _sizes(path: Path) -> set[tuple[int, int]]:
    with pikepdf.open(path) as pdf:
        return {(round(p.mediabox[2]), round(p.mediabox[3])) for p in pdf.pages}


def _duplex_preference(path: Path) -> object:
    with pikepdf.open(path) as pdf:
        prefs = pdf.Root.get("/ViewerPreferences", pikepdf.Dictionary())
        return prefs.get("/Duplex")


def test_grayscale_pdf_has_no_colour_page_and_the_same_pages(tmp_path: Path) -> None:
    source = _pdf(tmp_path, COLOUR_KINDS)
    before = source.read_bytes()
    assert analyze(source, PDF).colour_page_count == 4
    result = _convert(source, ConversionOrder(grayscale=True))
    assert (result.pages, result.colour_pages, result.paper_size) == (5, 0, "A4")
    assert result.document_format == PDF
    assert result.path.parent == tmp_path / "out"
    again = analyze(result.path, PDF)
    assert (again.pages, again.colour_page_count) == (5, 0)
    assert source.read_bytes() == before
    assert [p.name for p in result.path.parent.iterdir()] == [result.path.name]


def test_grayscale_postscript_becomes_a_grey_pdf(tmp_path: Path) -> None:
    source = tmp_path / "doc.ps"
    source.write_bytes(POSTSCRIPT)
    result = _convert(source, ConversionOrder(grayscale=True), PS)
    assert (result.document_format, result.pages, result.colour_pages) == (PDF, 3, 0)
    assert result.paper_size == "letter"
    assert analyze(result.path, PDF).colour_page_count == 0


def test_duplex_sets_sides_and_the_pdf_viewer_preference(tmp_path: Path) -> None:
    source = _pdf(tmp_path, COLOUR_KINDS)
    result = _convert(source, ConversionOrder(duplex=True))
    assert result.sides == "two-sided-long-edge"
    assert (result.pages, result.colour_pages) == (5, 4)
    assert _duplex_preference(result.path) == pikepdf.Name.DuplexFlipLongEdge
    assert _duplex_preference(source) is None


def test_formats_not_converted_leave_grey_and_duplex_to_ipp(tmp_path: Path) -> None:
    source = tmp_path / "doc.txt"
    source.write_text("hello\n")
    result = _convert(source, ConversionOrder(grayscale=True, duplex=True), "text/plain")
    assert result.path == source
    assert (result.sides, result.colour_mode) == ("two-sided-long-edge", "monochrome")
    assert (result.document_format, result.pages, result.colour_pages) == ("text/plain", 1, 0)
    with pytest.raises(ConversionFailed, match="N-up needs a PDF or PostScript"):
        _convert(source, ConversionOrder(nup=2), "text/plain")


@pytest.mark.parametrize(("n", "sheets"), [(2, 3), (4, 2)])
def test_nup_puts_pages_on_fewer_sheets_of_the_same_size(
    tmp_path: Path, n: int, sheets: int
) -> None:
    source = _pdf(tmp_path, COLOUR_KINDS)
    result = _convert(source, ConversionOrder(nup=n))
    assert (result.pages, result.paper_size) == (sheets, "A4")
    assert _sizes(result.path) == {A4}
    assert result.colour_pages == sheets


def test_fit_scales_a3_pages_onto_a4(tmp_path: Path) -> None:
    source = _pdf(tmp_path, ["red-rect", "text"], A3)
    assert analyze(source, PDF).paper_size == "A3"
    result = _convert(source, ConversionOrder(fit_to="A4"))
    assert (result.pages, result.colour_pages, result.paper_size) == (2, 1, "A4")
    assert _sizes(result.path) == {A4}


def test_fit_postscript_letter_to_a4(tmp_path: Path) -> None:
    source = tmp_path / "doc.ps"
    source.write_bytes(POSTSCRIPT)
    result = _convert(source, ConversionOrder(fit_to="a4"), PS)
    assert (result.pages, result.colour_pages, result.paper_size) == (3, 1, "A4")


def test_conversions_combine(tmp_path: Path) -> None:
    source = _pdf(tmp_path, COLOUR_KINDS, A3)
    conversion = ConversionOrder(grayscale=True, duplex=True, nup=2, fit_to="A4")
    result = _convert(source, conversion)
    assert (result.pages, result.colour_pages, result.paper_size) == (3, 0, "A4")
    assert result.sides == "two-sided-long-edge"
    assert _sizes(result.path) == {A4}
    assert _duplex_preference(result.path) == pikepdf.Name.DuplexFlipLongEdge


def test_corrupt_pdf_fails_with_a_reason_and_leaves_the_source(tmp_path: Path) -> None:
    whole = build_pdf(COLOUR_KINDS, lines=5)
    source = tmp_path / "doc.pdf"
    whole.save(source)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    before = source.read_bytes()
    with pytest.raises(ConversionFailed, match="damaged PDF"):
        _convert(source, ConversionOrder(grayscale=True))
    assert source.read_bytes() == before
    assert list((tmp_path / "out").iterdir()) == []


def test_ghostscript_failure_is_a_conversion_failure(tmp_path: Path) -> None:
    source = tmp_path / "bad.ps"
    source.write_bytes(b"%!PS\n/undefined-thing cvx exec showpage\n")
    with pytest.raises(ConversionFailed, match="Ghostscript could not convert"):
        _convert(source, ConversionOrder(grayscale=True), PS)
    assert list((tmp_path / "out").iterdir()) == []


def test_identity_sends_the_source_as_it_is(tmp_path: Path) -> None:
    assert ConversionOrder().is_identity()
    assert not ConversionOrder(fit_to="A4").is_identity()
    source = _pdf(tmp_path, COLOUR_KINDS)
    result = _convert(source, ConversionOrder())
    assert result == Converted(source, PDF, 5, 4, "A4", None)


def test_invalid_conversions_are_refused() -> None:
    with pytest.raises(ValueError, match="nup must be"):
        ConversionOrder(nup=3)
    with pytest.raises(ValueError, match="unknown paper size"):
        ConversionOrder(fit_to="A9")
    assert ConversionOrder(fit_to="100x150mm").fit_to == "100x150mm"


def _lab_red_a3(tmp_path: Path, pages: int = 3) -> Path:
    """Issue 17: A3 pages filled with red in a Lab colour space."""
    pdf = pikepdf.new()
    lab = pikepdf.Array(
        [
            pikepdf.Name.Lab,
            pikepdf.Dictionary(WhitePoint=[0.9505, 1.0, 1.089], Range=[-128, 127, -128, 127]),
        ]
    )
    for _ in range(pages):
        page = pdf.add_blank_page(page_size=A3)
        page.obj.Resources = pikepdf.Dictionary(ColorSpace=pikepdf.Dictionary(L=lab))
        page.obj.Contents = pdf.make_stream(b"/L cs 53 80 67 sc 0 0 842 1191 re f")
    path = tmp_path / "lab-red.pdf"
    pdf.save(path)
    return path


@pytest.mark.parametrize(
    ("conversion", "pages"),
    [(ConversionOrder(fit_to="A4"), 3), (ConversionOrder(fit_to="A4", nup=2), 2)],
)
def test_lab_colour_stays_colour_through_fit_and_nup(
    tmp_path: Path, conversion: ConversionOrder, pages: int
) -> None:
    """Ghostscript rewrites Lab as an ICC-based space whose profile header says ``Lab ``;
    its pages must still be charged as colour, also when the output is sent again."""
    source = _lab_red_a3(tmp_path)
    assert analyze(source, PDF).colour_page_count == 3
    result = _convert(source, conversion)
    assert (result.pages, result.colour_pages) == (pages, pages)
    again = analyze(result.path, PDF)
    assert again.colour_pages == reference.colour_pages(result.path) == tuple(range(1, pages + 1))
