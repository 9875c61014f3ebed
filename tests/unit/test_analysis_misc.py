"""Small pieces of job analysis: formats, paper sizes, text pages, colour rules, tools."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from printwarden.analysis import (
    Analysis,
    Limits,
    analyze,
    analyze_bytes,
    detect,
    ghostscript,
    papersize,
    text,
)
from printwarden.analysis.colour import (
    chunk_has_colour,
    cmyk_exceeds,
    image_has_colour,
    rgb_exceeds,
)


@pytest.mark.parametrize(
    ("declared", "normal"),
    [
        ("application/pdf", "application/pdf"),
        ("Application/PDF; version=1.7", "application/pdf"),
        ("image/jpg", "image/jpeg"),
        ("application/x-postscript", "application/postscript"),
        ("", ""),
    ],
)
def test_normalize(declared: str, normal: str) -> None:
    assert detect.normalize(declared) == normal


@pytest.mark.parametrize(
    ("head", "found"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x1b%-12345X@PJL ENTER LANGUAGE=PDF\r\n%PDF-1.4", "application/pdf"),
        (b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS", "application/postscript"),
        (b"\x1b%-12345X@PJL\r\n\x1bE", "application/vnd.hp-pcl"),
        (b"%!PS-Adobe-3.0\n", "application/postscript"),
        (b"RaS2PwgRaster", "image/pwg-raster"),
        (b"UNIRAST\0\0\0\0\1", "image/urf"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\x1bE\x1b&l0O", "application/vnd.hp-pcl"),
        (b"Dear printer,\n\fpage two\n", None),
        (b"\x00\x01\x02binary", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, found: str | None) -> None:
    assert detect.sniff(head) == found


@pytest.mark.parametrize(
    ("head", "text"),
    [
        (b"Dear printer,\n\fpage two\n", True),
        (b"caf\xc3", True),
        (b"\xc3!abcdef", False),
        (b"\x00\x01", False),
        (b"", False),
    ],
)
def test_looks_like_text(head: bytes, text: bool) -> None:
    assert detect.looks_like_text(head) is text


def test_text_sniffing_only_for_generic_types(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.write_bytes(b"not a pdf at all\n")
    assert analyze(notes, "application/octet-stream").format == "text/plain"
    result = analyze(notes, "application/pdf")
    assert (result.format, result.pages) == ("application/pdf", None)


@pytest.mark.parametrize(
    ("width", "height", "name"),
    [
        (595, 842, "A4"),
        (842, 595, "A4"),
        (612, 792, "letter"),
        (612, 1008, "legal"),
        (842, 1191, "A3"),
        (400, 400, "141x141mm"),
        (0, 842, None),
    ],
)
def test_paper_size_from_points(width: float, height: float, name: str | None) -> None:
    assert papersize.from_points(width, height) == name


@pytest.mark.parametrize(
    ("pwg", "name"),
    [
        ("iso_a4_210x297mm", "A4"),
        ("na_letter_8.5x11in", "letter"),
        ("na_legal_8.5x14in", "legal"),
        ("iso_a5_148x210mm", "A5"),
        ("custom_foo_100x150mm", "100x150mm"),
        ("A4", None),
        ("", None),
    ],
)
def test_paper_size_from_pwg_names(pwg: str, name: str | None) -> None:
    assert papersize.from_pwg_name(pwg) == name


def test_paper_size_from_pixels() -> None:
    assert papersize.from_pixels(2480, 3508, 300, 300) == "A4"
    assert papersize.from_pixels(2550, 3300, 300, 300) == "letter"
    assert papersize.from_pixels(10, 10, 0, 300) is None


@pytest.mark.parametrize(
    ("content", "pages"),
    [
        ("", 0),
        ("one line", 1),
        ("x\n" * 60, 1),
        ("x\n" * 61, 2),
        ("a\fb", 2),
        ("a\f", 1),
        ("a\f\fb", 3),
        ("y" * 81 + "\n", 1),
        (("y" * 160 + "\n") * 30, 1),
        (("y" * 161 + "\n") * 30, 2),
        ("\t" * 11 + "z\n", 1),
        ("a\f \n", 2),
        ("\fa", 2),
        ("\n", 1),
        ("r\r\nr\r\n", 1),
    ],
)
def test_text_pages(content: str, pages: int) -> None:
    assert text.count_pages(io.StringIO(content)) == pages


def test_colour_thresholds() -> None:
    assert not rgb_exceeds((0.5, 0.5 + 8 / 255, 0.5), 8)
    assert rgb_exceeds((0.5, 0.5 + 9 / 255, 0.5), 8)
    assert not cmyk_exceeds((8 / 255, 8 / 255, 8 / 255, 1), 8)
    assert cmyk_exceeds((0, 9 / 255, 0, 0), 8)
    pixels = bytes([10, 10, 10, 10, 20, 10])
    assert chunk_has_colour(pixels, 3, (0, 1, 2), 8)
    assert not chunk_has_colour(pixels, 3, (0, 1, 2), 10)
    assert chunk_has_colour(bytes([0, 0, 9, 255]), 4, (0, 1, 2), 8, cmyk=True)


@pytest.mark.parametrize(
    ("image", "colour"),
    [
        (Image.new("RGB", (4, 4), (120, 124, 120)), False),
        (Image.new("RGB", (4, 4), (120, 140, 120)), True),
        (Image.new("L", (4, 4), 3), False),
        (Image.new("RGBA", (4, 4), (255, 0, 0, 0)), False),
        (Image.new("RGBA", (4, 4), (255, 0, 0, 255)), True),
        (Image.new("CMYK", (4, 4), (0, 0, 0, 255)), False),
        (Image.new("CMYK", (4, 4), (30, 0, 0, 0)), True),
        (Image.new("P", (4, 4), 0), False),
    ],
)
def test_image_colour(image: Image.Image, colour: bool) -> None:
    assert image_has_colour(image, 8) is colour


def test_analysis_rejects_impossible_values() -> None:
    with pytest.raises(ValueError, match="pages"):
        Analysis(format="x", pages=-1)
    with pytest.raises(ValueError, match="colour_pages"):
        Analysis(format="x", pages=2, colour_pages=(3,))
    assert Analysis(format="x", pages=2, colour_pages=(1, 2)).colour_page_count == 2


def test_missing_ghostscript_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ghostscript, "GS", "gs-not-installed-here")
    monkeypatch.setattr("shutil.which", lambda _: None)
    source = tmp_path / "doc.ps"
    source.write_bytes(b"%!PS\nshowpage\n")
    result = analyze(source, "application/postscript")
    assert result.pages is None
    assert "not installed" in result.detail


def test_ghostscript_failure_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "bad.ps"
    source.write_bytes(b"%!PS\nundefined-procedure-xyz\n")
    result = analyze(source, "application/postscript", limits=Limits(timeout=30))
    assert result.pages is None
    assert "Ghostscript failed" in result.detail


def test_endless_postscript_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    source = tmp_path / "spin.ps"
    source.write_bytes(b"%!PS\n{ } loop\n")
    result = analyze(source, "application/postscript", limits=Limits(timeout=1))
    assert result.pages is None
    assert "longer than 1 s" in result.detail


def _pdf_with_inherited_attributes() -> bytes:
    """Two pages whose paper (A3) and resources (an RGB image) sit only on the page tree's
    root node; page 2 draws the image."""
    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page(page_size=(842, 1191))
    image = pdf.make_stream(
        b"\xff\x00\x00" * 4,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=2,
        Height=2,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
    )
    pdf.Root.Pages.MediaBox = pikepdf.Array([0, 0, 842, 1191])
    pdf.Root.Pages.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    for page in pdf.pages:
        del page.obj["/MediaBox"]
        if "/Resources" in page.obj:
            del page.obj["/Resources"]
    pdf.pages[0].obj.Contents = pdf.make_stream(b"0 g 0 0 100 100 re f")
    pdf.pages[1].obj.Contents = pdf.make_stream(b"q 100 0 0 100 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_page_attributes_inherited_from_the_page_tree(tmp_path: Path) -> None:
    data = _pdf_with_inherited_attributes()
    path = tmp_path / "inherited.pdf"
    path.write_bytes(data)
    for found in (analyze(path, "application/pdf"), analyze_bytes(data, "application/pdf")):
        assert (found.pages, found.paper_size, found.colour_pages) == (2, "A3", (2,))
