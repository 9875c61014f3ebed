"""The steps of the format chain with the real tools: Ghostscript, img2pdf, fpdf2.

Each output is analysed as the provider does it (pages, colour, paper size) and, where the
layout matters, measured in the PDF itself.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from printwarden.analysis import analyze, detect, text
from printwarden.analysis.chain import Setup, run_chain
from printwarden.analysis.conversions import ConversionFailed
from printwarden.analysis.imagepdf import image_to_pdf
from printwarden.analysis.papersize import pwg_points
from printwarden.analysis.render import RasterSettings, is_eps, postscript_to_pdf
from printwarden.analysis.textpdf import pages_of, text_to_pdf
from printwarden.domain import formats
from printwarden.domain.formats import Chain
from printwarden.testing.corpus.generate import POSTSCRIPT, PS_COLOUR, build_pdf

A4 = (595.28, 841.89)
PHOTO_4X6 = (288.0, 432.0)
EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 100 50
1 0 0 setrgbcolor 0 0 100 50 rectfill
%%EOF
"""


def test_pwg_media_names_give_their_paper_in_points() -> None:
    assert pwg_points("iso_a4_210x297mm") == pytest.approx(A4, abs=0.01)
    assert pwg_points("na_index-4x6_4x6in") == pytest.approx(PHOTO_4X6)
    assert pwg_points("na_letter_8.5x11in") == pytest.approx((612, 792))
    assert pwg_points("custom_min_0x0mm") is None
    assert pwg_points("A4") is None


def _chain(source: str, accepted: set[str]) -> Chain:
    chain = formats.cheapest(source, frozenset(accepted))
    assert chain is not None
    return chain


def _boxes(path: Path) -> list[tuple[int, int, int]]:
    """(width, height, /Rotate) of each page, in points."""
    with pikepdf.open(path) as pdf:
        return [
            (round(p.mediabox[2]), round(p.mediabox[3]), int(p.obj.get("/Rotate", 0)))
            for p in pdf.pages
        ]


def _placement(path: Path) -> tuple[float, float]:
    """The size (points) the first page's image is drawn at (its ``cm`` operator)."""
    with pikepdf.open(path) as pdf:
        content = pdf.pages[0].Contents.read_bytes().decode()
    found = re.search(r"([\d.]+) 0 0 ([\d.]+) [\d.]+ [\d.]+ cm", content)
    assert found is not None, content
    return float(found.group(1)), float(found.group(2))


def _image(tmp_path: Path, name: str, image: Image.Image, **save: Any) -> Path:
    path = tmp_path / name
    image.save(path, **save)
    return path


# --- PostScript and EPS -----------------------------------------------------------------------


def test_postscript_becomes_a_pdf_with_its_pages_and_colour(tmp_path: Path) -> None:
    source = tmp_path / "doc.ps"
    source.write_bytes(POSTSCRIPT)
    [output] = run_chain(source, _chain(formats.POSTSCRIPT, {formats.PDF}), tmp_path, Setup())
    found = analyze(output, formats.PDF)
    assert (found.pages, found.colour_pages, found.paper_size) == (3, PS_COLOUR, "letter")


def test_an_eps_figure_is_fitted_onto_the_jobs_paper(tmp_path: Path) -> None:
    source = tmp_path / "figure.eps"
    source.write_bytes(EPS)
    assert is_eps(source)
    assert detect.resolve(source, "application/octet-stream") == formats.POSTSCRIPT
    output = postscript_to_pdf(source, tmp_path / "figure.pdf", PHOTO_4X6)
    assert _boxes(output) == [(288, 432, 0)]
    assert analyze(output, formats.PDF).colour_pages == (1,)


def test_broken_postscript_is_a_conversion_failure(tmp_path: Path) -> None:
    source = tmp_path / "broken.ps"
    source.write_bytes(b"%!PS\n/undefined-thing-here cvx exec\n")
    with pytest.raises(ConversionFailed, match="application/postscript to application/pdf"):
        run_chain(source, _chain(formats.POSTSCRIPT, {formats.PDF}), tmp_path, Setup())
    assert not list(tmp_path.glob("step-*"))


# --- images -----------------------------------------------------------------------------------


def test_a_jpeg_keeps_its_resolution_on_the_jobs_paper(tmp_path: Path) -> None:
    # 1200 x 1800 pixels at 300 dpi is 4 x 6 inches: drawn at 288 x 432 points on A4.
    source = _image(tmp_path, "photo.jpg", Image.new("RGB", (1200, 1800), "red"), dpi=(300, 300))
    output = image_to_pdf(source, tmp_path / "photo.pdf", A4)
    assert _boxes(output) == [(595, 842, 0)]
    assert _placement(output) == (288.0, 432.0)
    found = analyze(output, formats.PDF)
    assert (found.pages, found.colour_pages, found.paper_size) == (1, (1,), "A4")


def test_a_jpeg_goes_into_the_pdf_without_re_encoding(tmp_path: Path) -> None:
    source = _image(tmp_path, "photo.jpg", Image.new("RGB", (64, 48), "blue"), quality=70)
    output = image_to_pdf(source, tmp_path / "photo.pdf", A4)
    with pikepdf.open(output) as pdf:
        [image] = list(pdf.pages[0].Resources.XObject.values())
        assert image.Filter == pikepdf.Name.DCTDecode
        assert image.read_raw_bytes() == source.read_bytes()


def test_a_big_image_is_shrunk_to_the_paper_and_a_landscape_one_turns_the_page(
    tmp_path: Path,
) -> None:
    source = _image(tmp_path, "wide.png", Image.new("RGB", (4000, 2000), "white"))
    output = image_to_pdf(source, tmp_path / "wide.pdf", PHOTO_4X6)
    assert _boxes(output) == [(432, 288, 0)]  # 4x6 turned landscape
    width, height = _placement(output)
    assert width == pytest.approx(432, abs=0.5)
    assert height == pytest.approx(216, abs=0.5)
    assert analyze(output, formats.PDF).paper_size == "102x152mm"


def test_a_jpegs_exif_orientation_is_honoured(tmp_path: Path) -> None:
    # Stored landscape, shown portrait (EXIF orientation 6: turn 90 degrees clockwise).
    image = Image.new("RGB", (1800, 1200), "green")
    exif = image.getexif()
    exif[0x0112] = 6
    source = _image(tmp_path, "turned.jpg", image, dpi=(300, 300), exif=exif.tobytes())
    output = image_to_pdf(source, tmp_path / "turned.pdf", A4)
    [(width, height, rotate)] = _boxes(output)
    shown = (height, width) if rotate in (90, 270) else (width, height)
    assert shown == (595, 842)  # portrait on the paper, as a viewer shows the photo


def test_png_with_transparency_tiff_pages_and_gif(tmp_path: Path) -> None:
    png = _image(tmp_path, "alpha.png", Image.new("RGBA", (100, 100), (0, 0, 255, 128)))
    pages = [Image.new("L", (200, 300), shade) for shade in (0, 100, 200)]
    tiff = tmp_path / "scan.tiff"
    pages[0].save(tiff, save_all=True, append_images=pages[1:], dpi=(100, 100))
    frames = [Image.new("P", (50, 50), index) for index in range(3)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    expected = {png: (formats.PNG, 1), tiff: (formats.TIFF, 3), gif: (formats.GIF, 1)}
    for source, (mime, pages_printed) in expected.items():
        assert detect.resolve(source, "application/octet-stream") == mime
        assert analyze(source, mime).pages == pages_printed
        output = image_to_pdf(source, tmp_path / f"{source.stem}.pdf", A4)
        assert analyze(output, formats.PDF).pages == pages_printed


def test_an_undecodable_image_is_a_conversion_failure(tmp_path: Path) -> None:
    source = tmp_path / "broken.jpg"
    source.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    with pytest.raises(ConversionFailed, match="image/jpeg to application/pdf"):
        run_chain(source, _chain(formats.JPEG, {formats.PDF}), tmp_path, Setup())


# --- text -------------------------------------------------------------------------------------


def test_text_prints_on_the_jobs_paper_with_the_pages_analysis_counted(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    lines = [f"line {n:03d}\twith a tab" for n in range(130)]
    lines[5] = "x" * 200  # wraps onto three rows
    source.write_text("\n".join(lines) + "\n\fafter a form feed: ünïcödé ✓ 中\n")
    counted = analyze(source, formats.TEXT).pages
    assert counted == 4
    for paper, box in ((A4, (595, 842, 0)), (PHOTO_4X6, (288, 432, 0))):
        output = text_to_pdf(source, tmp_path / "notes.pdf", paper)
        assert _boxes(output) == [box] * counted
        found = analyze(output, formats.PDF)
        assert (found.pages, found.colour_pages) == (counted, ())
    with pikepdf.open(output) as pdf:
        fonts = pdf.pages[0].Resources.Font
        assert any("Mono" in str(fonts[name].BaseFont) for name in fonts.keys())  # noqa: SIM118


def test_an_empty_text_prints_one_blank_page(tmp_path: Path) -> None:
    source = tmp_path / "empty.txt"
    source.write_text("")
    assert analyze(text_to_pdf(source, tmp_path / "empty.pdf", A4), formats.PDF).pages == 1


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from("ab \t\n\f\r") | st.characters(), max_size=3000))
def test_the_layout_has_the_pages_analysis_counts(document: str) -> None:
    lines = io.StringIO(document, newline=None)
    laid_out = list(pages_of(lines))
    lines.seek(0)
    assert len(laid_out) == text.count_pages(lines)
    assert all(len(page) <= text.LINES_PER_PAGE for page in laid_out)
    assert all(len(row) <= text.COLUMNS for page in laid_out for row in page)


# --- raster and PostScript out ----------------------------------------------------------------


def _two_page_pdf(tmp_path: Path) -> Path:
    source = tmp_path / "doc.pdf"
    build_pdf(["red-rect", "text"], lines=5).save(source)
    return source


@pytest.mark.parametrize("target", [formats.PWG_RASTER, formats.URF])
def test_pdf_renders_to_raster_page_for_page(tmp_path: Path, target: str) -> None:
    source = _two_page_pdf(tmp_path)
    setup = Setup(raster=RasterSettings(resolution=150, colour=True, duplex=True))
    [output] = run_chain(source, _chain(formats.PDF, {target}), tmp_path, setup)
    assert detect.resolve(output, "application/octet-stream") == target
    found = analyze(output, target)
    assert (found.pages, found.colour_pages, found.paper_size) == (2, (1,), "A4")
    grey = Setup(raster=RasterSettings(resolution=150, colour=False))
    (tmp_path / "grey").mkdir()
    [output] = run_chain(source, _chain(formats.PDF, {target}), tmp_path / "grey", grey)
    assert analyze(output, target).colour_pages == ()


def test_a_jpeg_reaches_a_raster_only_printer_through_pdf(tmp_path: Path) -> None:
    source = _image(tmp_path, "photo.jpg", Image.new("RGB", (300, 200), "red"), dpi=(100, 100))
    chain = _chain(formats.JPEG, {formats.PWG_RASTER})
    setup = Setup(paper=PHOTO_4X6, raster=RasterSettings(resolution=100))
    pdf, raster = run_chain(source, chain, tmp_path, setup)
    assert analyze(pdf, formats.PDF).paper_size == "102x152mm"
    found = analyze(raster, formats.PWG_RASTER)
    assert (found.pages, found.colour_pages, found.paper_size) == (1, (1,), "102x152mm")


def test_pdf_becomes_postscript_for_a_postscript_printer(tmp_path: Path) -> None:
    source = _two_page_pdf(tmp_path)
    [output] = run_chain(source, _chain(formats.PDF, {formats.POSTSCRIPT}), tmp_path, Setup())
    assert output.read_bytes().startswith(b"%!PS")
    assert analyze(output, formats.POSTSCRIPT).pages == 2
