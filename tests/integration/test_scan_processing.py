"""Integrated Scanning's processing, with the real tools: pages checked, made into PDF,
PDF/A, JPEG and TIFF, OCR'd by OCRmyPDF and Tesseract, in the bounded pool.

Text is read back with ``pdftotext`` (poppler-utils), or pdfminer.six (a dependency of
OCRmyPDF) where that is not installed.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import stat
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import img2pdf
import pikepdf
import pytest
from fpdf import FPDF
from PIL import Image, ImageSequence

from printwarden.scanning import assemble as assemble_module
from printwarden.scanning import ocr as ocr_module
from printwarden.scanning.assemble import AssemblyError, assemble, output_names
from printwarden.scanning.ocr import OcrError, child_environment, ocr_pdf
from printwarden.scanning.pages import BadPage, PageInfo, inspect_page
from printwarden.scanning.pool import ProcessingPool, ProcessRequest
from printwarden.scanning.sample_pages import generate_page, page_text

A4_POINTS = (595.28, 841.89)
MM = 72 / 25.4


# Pages ------------------------------------------------------------------------------------


def jpeg_page(directory: Path, number: int, *, dpi: int = 150, colour: bool = False) -> Path:
    path = directory / f"page-{number}{'-colour' if colour else ''}-{dpi}.jpg"
    path.write_bytes(generate_page(number, dpi=dpi, colour=colour))
    return path


def converted_page(source: Path, target: Path, mode: str, **options: Any) -> Path:
    """``source`` saved as ``target`` (format from its suffix) in Pillow ``mode``."""
    with Image.open(source) as image:
        image.convert(mode).save(target, **options)
    return target


def pdf_page(directory: Path, source: Path) -> Path:
    """A one-page PDF of the image ``source`` (as a scanner would send it)."""
    path = directory / f"{source.stem}.pdf"
    path.write_bytes(img2pdf.convert(str(source)))
    return path


def text_pdf(directory: Path, text: str = "Born digital text") -> Path:
    """A one-page A4 PDF with real (not embedded: Helvetica) text on it."""
    document = FPDF(format="A4")
    document.add_page()
    document.set_font("helvetica", size=20)
    document.cell(text=text)
    path = directory / "text.pdf"
    document.output(str(path))
    return path


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming ``width`` x ``height`` one-bit pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def text_of(pdf: Path) -> str:
    if shutil.which("pdftotext"):
        done = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout
    from pdfminer.high_level import extract_text

    return str(extract_text(str(pdf)))


def images_of(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    found: list[pikepdf.Object] = []
    for page in pdf.pages:
        xobjects = page.obj.Resources.get("/XObject", pikepdf.Dictionary())
        found += [x for _, x in xobjects.items() if x.get("/Subtype") == "/Image"]
    return found


def page_size(page: pikepdf.Page) -> tuple[float, float]:
    box = page.mediabox
    return float(box[2] - box[0]), float(box[3] - box[1])


def tiff_frames(path: Path) -> list[tuple[str, tuple[int, int], dict[Any, Any]]]:
    """Mode, size and info of every frame of a TIFF."""
    with Image.open(path) as image:
        return [(f.mode, f.size, dict(f.info)) for f in ImageSequence.Iterator(image)]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


# Checking pages -----------------------------------------------------------------------------


def test_pages_are_known_by_their_content(tmp_path: Path) -> None:
    grey = jpeg_page(tmp_path, 1)
    colour = jpeg_page(tmp_path, 2, colour=True)
    bw = converted_page(grey, tmp_path / "bw.tif", "1", compression="group4", dpi=(150, 150))
    no_dpi = converted_page(colour, tmp_path / "page.png", "RGB")
    misnamed = grey.rename(tmp_path / "grey.pdf")

    assert inspect_page(misnamed) == PageInfo("image/jpeg", 1240, 1754, (150.0, 150.0), "grey")
    assert inspect_page(colour).mode == "colour"
    assert inspect_page(bw) == PageInfo("image/tiff", 1240, 1754, (150.0, 150.0), "bw")
    assert inspect_page(no_dpi) == PageInfo("image/png", 1240, 1754, None, "colour")
    scanned = inspect_page(pdf_page(tmp_path, colour))
    assert scanned == PageInfo("application/pdf", 1240, 1754, (150.0, 150.0), "colour")
    assert inspect_page(text_pdf(tmp_path)) == PageInfo("application/pdf", 595, 842, None, "colour")


def _two_page_pdf(directory: Path) -> bytes:
    page = jpeg_page(directory, 1, dpi=50)
    return bytes(img2pdf.convert([str(page), str(page)]))


def _encrypted_pdf(directory: Path) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(pdf_page(directory, jpeg_page(directory, 1, dpi=50))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    return out.getvalue()


def _two_frame_tiff(directory: Path) -> bytes:
    out = io.BytesIO()
    frames = [Image.new("L", (100, 100), 255), Image.new("L", (100, 100), 0)]
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


BAD_PAGES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "text named .jpg": (lambda d: b"not an image at all\n", "not a JPEG, PNG, TIFF or PDF"),
    "empty": (lambda d: b"", "empty"),
    "two-page PDF": (_two_page_pdf, "has 2 pages"),
    "encrypted PDF": (_encrypted_pdf, "encrypted"),
    "decompression bomb": (lambda d: png_claiming(30_000, 30_000), "too large"),
    "over the pixel limit": (lambda d: png_claiming(8_000, 8_000), "more than the limit"),
    "truncated JPEG": (
        lambda d: generate_page(1, dpi=100)[: len(generate_page(1, dpi=100)) // 2],
        "damaged or incomplete",
    ),
    "truncated PNG": (lambda d: png_claiming(100, 100)[:-12], "damaged or incomplete"),
    "two-frame TIFF": (_two_frame_tiff, "2 frames"),
    "JPEG magic, no JPEG": (lambda d: b"\xff\xd8\xff" + b"\0" * 100, "is not one"),
}


@pytest.mark.parametrize("kind", list(BAD_PAGES))
def test_bad_pages_are_refused(tmp_path: Path, kind: str) -> None:
    make, message = BAD_PAGES[kind]
    page = tmp_path / "upload.jpg"
    page.write_bytes(make(tmp_path))
    with pytest.raises(BadPage, match=message):
        inspect_page(page)


# Assembly ---------------------------------------------------------------------------------


def test_pdf_embeds_jpegs_unchanged_at_their_size(tmp_path: Path, out_dir: Path) -> None:
    grey, colour = jpeg_page(tmp_path, 1), jpeg_page(tmp_path, 2, colour=True)
    no_dpi = converted_page(grey, tmp_path / "nodpi.png", "1")  # 1240 x 1754, no dpi
    scanned = pdf_page(tmp_path, jpeg_page(tmp_path, 4, dpi=100))

    files = assemble([grey, colour, no_dpi, scanned], "pdf", out_dir, "scan", resolution=200)

    assert files == [out_dir / "scan.pdf"]
    assert os.listdir(out_dir) == ["scan.pdf"]
    assert mode_of(files[0]) == 0o600
    with pikepdf.open(files[0]) as pdf:
        assert len(pdf.pages) == 4
        for number in (0, 1, 3):
            assert page_size(pdf.pages[number]) == pytest.approx(A4_POINTS, abs=MM)
        assert page_size(pdf.pages[2]) == pytest.approx((1240 / 200 * 72, 1754 / 200 * 72))
        images = images_of(pdf)
        assert images[0].read_raw_bytes() == grey.read_bytes()
        assert images[1].read_raw_bytes() == colour.read_bytes()
        assert images[1].ColorSpace == "/DeviceRGB"


def test_pdfa_claims_part_2_and_keeps_jpegs(tmp_path: Path, out_dir: Path) -> None:
    grey, colour = jpeg_page(tmp_path, 1), jpeg_page(tmp_path, 2, colour=True)

    [path] = assemble([grey, colour], "pdfa", out_dir, "archive")

    with pikepdf.open(path) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
        assert [i.read_raw_bytes() for i in images_of(pdf)] == [
            grey.read_bytes(),
            colour.read_bytes(),
        ]
    pdfa = pytest.importorskip("pikepdf.pdfa")
    assert pdfa.validate_written(path, "2b").passed
    assert mode_of(path) == 0o600


def test_pdfa_of_a_page_pikepdf_cannot_approve_goes_through_ghostscript(
    tmp_path: Path, out_dir: Path
) -> None:
    """A font that is not embedded: Ghostscript embeds one."""
    pages = [jpeg_page(tmp_path, 1), text_pdf(tmp_path, "Typed cover sheet")]

    [path] = assemble(pages, "pdfa", out_dir, "mixed")

    with pikepdf.open(path) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
        assert len(pdf.pages) == 2
    assert "Typed cover sheet" in text_of(path)
    assert os.listdir(out_dir) == ["mixed.pdf"]


def test_jpeg_one_file_per_page(tmp_path: Path, out_dir: Path) -> None:
    grey = jpeg_page(tmp_path, 1)
    png = converted_page(jpeg_page(tmp_path, 2, colour=True), tmp_path / "p.png", "RGBA")
    scanned = pdf_page(tmp_path, jpeg_page(tmp_path, 3, dpi=300))

    [single] = assemble([grey], "jpeg", out_dir, "one")
    several = assemble([grey, png, scanned], "jpeg", out_dir, "many", resolution=100)

    assert single == out_dir / "one.jpg"
    assert single.read_bytes() == grey.read_bytes()
    assert [p.name for p in several] == ["many-1.jpg", "many-2.jpg", "many-3.jpg"]
    assert several[0].read_bytes() == grey.read_bytes()
    with Image.open(several[1]) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1240, 1754))
    with Image.open(several[2]) as image:  # rendered at the requested resolution
        assert image.size == pytest.approx((827, 1169), abs=1)
        assert image.info["dpi"] == pytest.approx((100, 100))
    assert {mode_of(p) for p in [single, *several]} == {0o600}


def test_tiff_one_multipage_file(tmp_path: Path, out_dir: Path) -> None:
    grey, colour = jpeg_page(tmp_path, 1), jpeg_page(tmp_path, 2, colour=True)
    bw = converted_page(grey, tmp_path / "bw.png", "1", dpi=(150, 150))

    [path] = assemble([grey, colour, bw], "tiff", out_dir, "scan")

    assert path == out_dir / "scan.tif"
    assert mode_of(path) == 0o600
    frames = tiff_frames(path)
    assert [(mode, info["compression"], size) for mode, size, info in frames] == [
        ("L", "tiff_lzw", (1240, 1754)),
        ("RGB", "tiff_lzw", (1240, 1754)),
        ("1", "group4", (1240, 1754)),
    ]


def test_greyscale_turns_colour_pages_grey(tmp_path: Path, out_dir: Path) -> None:
    grey, colour = jpeg_page(tmp_path, 1), jpeg_page(tmp_path, 2, colour=True)
    scanned = pdf_page(tmp_path, jpeg_page(tmp_path, 3, colour=True, dpi=100))
    pages = [grey, colour, scanned]

    [pdf_path] = assemble(pages, "pdf", out_dir, "grey", colour=False)
    jpegs = assemble(pages, "jpeg", out_dir, "grey", colour=False)
    [tiff] = assemble(pages, "tiff", out_dir, "grey", colour=False)

    with pikepdf.open(pdf_path) as pdf:
        images = images_of(pdf)
        assert [i.ColorSpace for i in images] == ["/DeviceGray"] * 3
        assert images[0].read_raw_bytes() == grey.read_bytes()  # grey already: untouched
    for path in jpegs:
        with Image.open(path) as image:
            assert image.mode == "L"
    assert jpegs[0].read_bytes() == grey.read_bytes()
    assert [mode for mode, _, _ in tiff_frames(tiff)] == ["L", "L", "L"]


def test_assembly_failures_say_which_page_and_leave_nothing(tmp_path: Path, out_dir: Path) -> None:
    good, bad = jpeg_page(tmp_path, 1), tmp_path / "bad.jpg"
    bad.write_bytes(b"GIF89a")

    with pytest.raises(AssemblyError, match="page 2: the page is not a JPEG"):
        assemble([good, bad], "pdf", out_dir, "scan")
    for name in ("", ".hidden", "../escape", "a/b"):
        with pytest.raises(ValueError, match="base name"):
            assemble([good], "pdf", out_dir, name)
    with pytest.raises(ValueError, match="unknown format"):
        output_names("gif", "scan", 1)  # type: ignore[arg-type]
    huge = tmp_path / "huge.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(14_400, 14_400))
        pdf.save(huge)
    with pytest.raises(AssemblyError, match="page 2 would be 3600 million pixels"):
        assemble([good, huge], "tiff", out_dir, "scan")
    assert os.listdir(out_dir) == []


def test_jpegs_are_all_written_or_none(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = assemble_module._page_jpeg

    def failing_second(job: Any, index: int) -> bytes:
        if index == 1:
            raise OSError("disk trouble")
        return real(job, index)

    monkeypatch.setattr(assemble_module, "_page_jpeg", failing_second)
    pages = [jpeg_page(tmp_path, n, dpi=50) for n in (1, 2, 3)]

    with pytest.raises(AssemblyError, match="disk trouble"):
        assemble(pages, "jpeg", out_dir, "scan")
    assert os.listdir(out_dir) == []


# OCR --------------------------------------------------------------------------------------


def test_ocr_makes_a_searchable_pdf_and_leaves_text_pages_alone(
    tmp_path: Path, out_dir: Path
) -> None:
    pages = [jpeg_page(tmp_path, 7, dpi=200), text_pdf(tmp_path, "Typed cover sheet")]
    [plain] = assemble(pages, "pdf", tmp_path, "plain")
    assert page_text(7) not in text_of(plain)

    ocr_pdf(plain, out_dir / "searchable.pdf", jobs=2)

    text = text_of(out_dir / "searchable.pdf")
    assert page_text(7) in text
    assert "Typed cover sheet" in text
    assert mode_of(out_dir / "searchable.pdf") == 0o600
    assert os.listdir(out_dir) == ["searchable.pdf"]


def test_ocr_to_pdfa(tmp_path: Path, out_dir: Path) -> None:
    [plain] = assemble([jpeg_page(tmp_path, 3, dpi=200)], "pdf", tmp_path, "plain")

    ocr_pdf(plain, out_dir / "archive.pdf", pdfa=True)

    with pikepdf.open(out_dir / "archive.pdf") as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
    assert page_text(3) in text_of(out_dir / "archive.pdf")


def test_ocr_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [plain] = assemble([jpeg_page(tmp_path, 1, dpi=100)], "pdf", tmp_path, "plain")
    target = tmp_path / "never.pdf"

    with pytest.raises(OcrError, match="language data"):
        ocr_pdf(plain, target, language="zzz")
    with pytest.raises(OcrError, match=r"longer than 0\.2 s"):
        ocr_pdf(plain, target, timeout=0.2)
    with pytest.raises(ValueError, match="language"):
        ocr_pdf(plain, target, language="--help")
    monkeypatch.setattr(ocr_module, "MEMORY_LIMIT", 64 << 20)  # the limits are applied
    with pytest.raises(OcrError, match="OCR failed"):
        ocr_pdf(plain, target)
    assert not target.exists()


def test_ocr_runs_with_a_clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTWARDEN_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")

    env = child_environment(tmp_path)

    assert set(env) <= {"PATH", "LANG", "HOME", "TMPDIR", "TESSDATA_PREFIX"}
    assert env["HOME"] == str(tmp_path)
    assert "do-not-leak" not in " ".join(env.values())


# The pool ---------------------------------------------------------------------------------


def request(
    pages: Sequence[Path], out_dir: Path, name: str, *, fmt: str = "pdf", ocr: bool = False
) -> ProcessRequest:
    return ProcessRequest(
        pages=tuple(pages),
        fmt=fmt,  # type: ignore[arg-type]
        ocr=ocr,
        colour=True,
        resolution=150,
        out_dir=out_dir,
        base_name=name,
    )


class Recorder:
    """The real :func:`assemble`, made slow, recording when each call ran and the pool's
    counts as it started."""

    def __init__(self, pool: ProcessingPool | None = None, pause: float = 0.3) -> None:
        self.pool, self.pause = pool, pause
        self.real = assemble_module.assemble  # before the test puts this recorder in its place
        self.spans: list[tuple[float, float]] = []
        self.stats: list[dict[str, int]] = []
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> list[Path]:
        started = time.monotonic()
        if self.pool is not None:
            self.stats.append(self.pool.stats())
        time.sleep(self.pause)
        result = self.real(*args, **kwargs)
        with self._lock:
            self.spans.append((started, time.monotonic()))
        return result

    def most_at_once(self) -> int:
        edges = sorted([(s, 1) for s, _ in self.spans] + [(e, -1) for _, e in self.spans])
        running = most = 0
        for _, step in edges:
            running += step
            most = max(most, running)
        return most


async def _process_all(pool: ProcessingPool, requests: list[ProcessRequest]) -> list[Any]:
    try:
        return await asyncio.gather(*(pool.process(r) for r in requests), return_exceptions=True)
    finally:
        await pool.aclose()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_pool_runs_no_more_than_its_workers(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    pool = ProcessingPool(workers=workers)
    recorder = Recorder(pool)
    monkeypatch.setattr(assemble_module, "assemble", recorder)
    page = jpeg_page(tmp_path, 1, dpi=50)

    results = asyncio.run(
        _process_all(pool, [request([page], out_dir, f"scan-{n}") for n in range(3)])
    )

    assert [r.files for r in results] == [(out_dir / f"scan-{n}.pdf",) for n in range(3)]
    assert recorder.most_at_once() == workers
    assert max(stats["in_progress"] for stats in recorder.stats) <= workers
    assert recorder.stats[0]["waiting"] == 3 - workers
    if workers == 1:
        assert [stats["waiting"] for stats in recorder.stats] == [2, 1, 0]
        assert [stats["done"] for stats in recorder.stats] == [0, 1, 2]
    assert pool.stats() == {"in_progress": 0, "waiting": 0, "done": 3, "failed": 0}


def test_ocr_over_the_page_cap_is_skipped_with_a_note(tmp_path: Path, out_dir: Path) -> None:
    pages = [jpeg_page(tmp_path, n, dpi=100) for n in (1, 2)]
    pool = ProcessingPool(workers=1, ocr_page_cap=1)

    [result] = asyncio.run(_process_all(pool, [request(pages, out_dir, "big", ocr=True)]))

    assert result.note == "OCR skipped: 2 pages is more than the 1-page limit"
    assert (result.files, result.pages, result.ocr_done) == ((out_dir / "big.pdf",), 2, False)
    assert page_text(1) not in text_of(out_dir / "big.pdf")


def test_ocr_applies_to_pdf_only(tmp_path: Path, out_dir: Path) -> None:
    pool = ProcessingPool(workers=1)
    scan = request([jpeg_page(tmp_path, 1, dpi=100)], out_dir, "photo", fmt="jpeg", ocr=True)

    [result] = asyncio.run(_process_all(pool, [scan]))

    assert result.files == (out_dir / "photo.jpg",)
    assert not result.ocr_done
    assert result.note == "OCR not done: it applies to PDF output, not jpeg"


def test_the_pool_ocrs_into_pdfa_and_survives_failures(tmp_path: Path, out_dir: Path) -> None:
    good = jpeg_page(tmp_path, 5, dpi=200)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + b"\0" * 64)
    no_language = ProcessRequest(
        (good,), "pdf", True, True, 200, out_dir, "fallback", language="zzz"
    )
    pool = ProcessingPool(workers=1)

    failed, searchable, fallback = asyncio.run(
        _process_all(
            pool,
            [
                request([good, bad], out_dir, "broken"),
                request([good], out_dir, "searchable", fmt="pdfa", ocr=True),
                no_language,
            ],
        )
    )

    assert isinstance(failed, AssemblyError)
    assert "page 2" in str(failed)
    assert (searchable.files, searchable.ocr_done, searchable.note) == (
        (out_dir / "searchable.pdf",),
        True,
        "",
    )
    with pikepdf.open(out_dir / "searchable.pdf") as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
    assert page_text(5) in text_of(out_dir / "searchable.pdf")
    assert not fallback.ocr_done
    assert fallback.note.startswith("OCR failed: OCR failed (exit status 3)")
    assert fallback.files == (out_dir / "fallback.pdf",)
    assert pool.stats() == {"in_progress": 0, "waiting": 0, "done": 2, "failed": 1}
    assert sorted(os.listdir(out_dir)) == ["fallback.pdf", "searchable.pdf"]


def test_a_closed_pool_takes_no_more_scans(tmp_path: Path, out_dir: Path) -> None:
    async def scenario() -> None:
        pool = ProcessingPool(workers=1)
        await pool.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await pool.process(request([jpeg_page(tmp_path, 1, dpi=50)], out_dir, "late"))

    asyncio.run(scenario())


def test_a_caller_that_stops_waiting_keeps_its_slot_until_the_work_ends(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(assemble_module, "assemble", recorder)
    page = jpeg_page(tmp_path, 1, dpi=50)

    async def scenario() -> ProcessingPool:
        pool = ProcessingPool(workers=1)
        first = asyncio.create_task(pool.process(request([page], out_dir, "gone")))
        await asyncio.sleep(0.05)
        first.cancel()
        await pool.process(request([page], out_dir, "next"))
        await pool.aclose()
        return pool

    pool = asyncio.run(scenario())

    assert recorder.most_at_once() == 1
    assert sorted(os.listdir(out_dir)) == ["gone.pdf", "next.pdf"]
    assert pool.stats() == {"in_progress": 0, "waiting": 0, "done": 2, "failed": 0}
