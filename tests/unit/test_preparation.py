"""Preparing a job for its printer: the policy's conversions and the format chain composed,
with the real tools, and what the job is charged for afterwards."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from printwarden.analysis import analyze
from printwarden.analysis.conversions import ConversionOrder
from printwarden.domain import formats
from printwarden.provider.capabilities import Capabilities, effective
from printwarden.provider.config import PrinterConfig
from printwarden.provider.preparation import Undeliverable, clear_scratch, prepare
from printwarden.testing.corpus.generate import build_pdf

PDF_ONLY = effective(PrinterConfig(name="pdf", uri="socket://h:9100", formats=[formats.PDF]), None)
ANY = effective(PrinterConfig(name="any", uri="socket://h:9100"), None)
MONO_RASTER = Capabilities(
    name="raster",
    formats=frozenset({formats.PWG_RASTER}),
    colour=False,
    duplex=False,
    media=("na_letter_8.5x11in", "iso_a4_210x297mm"),
    raster_resolutions=(150,),
    raster_types=frozenset({"sgray_8"}),
)


def _jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (1200, 1800), "red").save(path, "JPEG", dpi=(300, 300))
    return path


def _size(path: Path) -> tuple[int, int]:
    with pikepdf.open(path) as pdf:
        box = pdf.pages[0].mediabox
        return round(box[2]), round(box[3])


def test_a_format_the_printer_takes_is_sent_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "doc.pdf"
    build_pdf(["text"], lines=3).save(source)
    prepared = prepare(source, formats.OCTET_STREAM, {}, ConversionOrder(), PDF_ONLY,
                       tmp_path / "x", scratch=tmp_path)  # fmt: skip
    assert (prepared.path, prepared.document_format, prepared.changed) == (
        source,
        formats.PDF,
        False,
    )
    assert prepared.pages is None  # the job's analysis stands
    assert prepare(source, formats.PDF, {}, ConversionOrder(), ANY, tmp_path / "x",
                   scratch=tmp_path).path == source  # fmt: skip


def test_a_jpeg_is_laid_out_on_the_jobs_paper(tmp_path: Path) -> None:
    prepared = prepare(_jpeg(tmp_path), formats.JPEG, {"media": "na_index-4x6_4x6in"},
                       ConversionOrder(), PDF_ONLY, tmp_path / "job", scratch=tmp_path)  # fmt: skip
    assert prepared.document_format == formats.PDF
    assert prepared.path == tmp_path / "job.pdf"
    assert _size(prepared.path) == (288, 432)
    assert (prepared.changed, prepared.pages, prepared.paper_size) == (True, None, "102x152mm")
    assert prepared.media is None  # as the job asked


def test_without_media_the_printers_default_paper(tmp_path: Path) -> None:
    prepared = prepare(_jpeg(tmp_path), formats.JPEG, {}, ConversionOrder(), PDF_ONLY,
                       tmp_path / "job", scratch=tmp_path)  # fmt: skip
    assert _size(prepared.path) == (595, 842)  # the configuration's default: A4
    assert prepared.paper_size == "A4"


def test_a_grey_policy_on_text_for_a_raster_printer(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("".join(f"line {n}\n" for n in range(130)))  # 3 pages
    prepared = prepare(source, formats.TEXT, {"sides": "two-sided-long-edge"},
                       ConversionOrder(grayscale=True, nup=2), MONO_RASTER, tmp_path / "job",
                       scratch=tmp_path)  # fmt: skip
    assert prepared.document_format == formats.PWG_RASTER
    assert prepared.path.read_bytes().startswith(b"RaS2")
    assert (prepared.pages, prepared.colour_pages) == (2, 0)  # 3 pages 2-up
    assert analyze(prepared.path, formats.PWG_RASTER).pages == 2
    assert prepared.sides == "one-sided"  # no duplex unit
    assert prepared.colour_mode is None


def test_a_colour_pdf_rendered_for_a_monochrome_raster_printer_has_no_colour_page(
    tmp_path: Path,
) -> None:
    source = tmp_path / "doc.pdf"
    build_pdf(["red-rect", "text"], lines=3).save(source)
    prepared = prepare(source, formats.PDF, {"print-color-mode": "color"}, ConversionOrder(),
                       MONO_RASTER, tmp_path / "job", scratch=tmp_path)  # fmt: skip
    assert (prepared.pages, prepared.colour_pages) == (None, 0)
    assert prepared.colour_mode == "auto"  # never "color" to a monochrome printer
    assert analyze(prepared.path, formats.PWG_RASTER).colour_pages == ()


def test_paper_the_printer_lacks_is_fitted_where_the_queue_fits(tmp_path: Path) -> None:
    source = tmp_path / "a3.pdf"
    build_pdf(["text"], (842, 1191), lines=3).save(source)
    prepared = prepare(source, formats.PDF, {"media": "iso_a3_297x420mm"}, ConversionOrder(),
                       PDF_ONLY, tmp_path / "job", scratch=tmp_path, fit_to_paper=True)  # fmt: skip
    assert prepared.media == "iso_a4_210x297mm"
    assert prepared.paper_size == "A4"
    assert _size(prepared.path) == (595, 842)
    unfitted = prepare(source, formats.PDF, {"media": "iso_a3_297x420mm"}, ConversionOrder(),
                       PDF_ONLY, tmp_path / "other", scratch=tmp_path)  # fmt: skip
    assert unfitted.path == source


@pytest.mark.parametrize(
    ("data", "declared", "why"),
    [
        (b"UNIRAST\x00" + bytes(64), "image/urf", "cannot be converted"),
        (b"\xff\xd8\xff\xe0" + bytes(64), formats.JPEG, "could not convert"),
        (bytes(range(256)), formats.OCTET_STREAM, "cannot be converted"),
    ],
)
def test_what_cannot_reach_the_printer_is_undeliverable(
    tmp_path: Path, data: bytes, declared: str, why: str
) -> None:
    source = tmp_path / "doc"
    source.write_bytes(data)
    with pytest.raises(Undeliverable, match=why):
        prepare(
            source, declared, {}, ConversionOrder(), PDF_ONLY, tmp_path / "job", scratch=tmp_path
        )
    assert not list(tmp_path.glob("job*"))
    assert not list(tmp_path.glob("prepare-*"))


def test_a_crash_leaves_scratch_that_the_next_start_clears(tmp_path: Path) -> None:
    leftover = tmp_path / "prepare-abc123"
    leftover.mkdir()
    (leftover / "step-0.pdf").write_bytes(b"%PDF half")
    (tmp_path / "keep.txt").write_text("not ours")
    clear_scratch(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_an_image_policy_conversion_goes_through_pdf(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), "blue").save(out, "PNG")
    source = tmp_path / "blue.png"
    source.write_bytes(out.getvalue())
    prepared = prepare(source, formats.PNG, {}, ConversionOrder(grayscale=True), ANY,
                       tmp_path / "job", scratch=tmp_path)  # fmt: skip
    assert prepared.document_format == formats.PDF  # before: a PNG left to the printer
    assert (prepared.pages, prepared.colour_pages) == (1, 0)
