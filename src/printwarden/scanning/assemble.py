"""Scanned pages made into the document the user asked for: PDF, PDF/A-2b, JPEG or TIFF.

Every page is checked first (:func:`~.pages.inspect_page`). Then:

``pdf``
    Images become pages losslessly (img2pdf: a JPEG is embedded as it is), sized by the
    resolution the image claims or else ``resolution``; one-page PDFs are appended as
    they are (pikepdf). One file, ``<base_name>.pdf``.
``pdfa``
    The same document written as PDF/A-2b by pikepdf's PDF/A writer (lossless, and
    validated as it is written); what that writer cannot approve (a font that is not
    embedded, say) is converted by Ghostscript instead. Either way the file's XMP
    metadata must claim PDF/A-2.
``jpeg``
    One JPEG per page, ``<base_name>.jpg``, or ``<base_name>-1.jpg``, ``-2.jpg``… for
    several; a JPEG page is kept byte for byte.
``tiff``
    One multi-page TIFF, ``<base_name>.tif``: Group 4 for black and white pages, LZW for
    the others (written one page at a time, so memory holds one page).

With ``colour=False`` colour pages become grey (a JPEG is re-encoded with its own luma
quantisation; a PDF page goes through Ghostscript). PDF pages that must become pixels are
rendered by Ghostscript at ``resolution``. Every file is written beside its final name,
fsync'd, made 0600 and renamed into place (all the JPEGs of a scan, or none); on failure
nothing is left behind and :class:`AssemblyError` says why.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import IO, BinaryIO, Literal, cast, get_args

import img2pdf
import pikepdf
from PIL import Image, ImageCms, TiffImagePlugin

from printwarden.analysis import ghostscript, pdfwrite
from printwarden.analysis.ghostscript import ToolError
from printwarden.analysis.imagepdf import IMG2PDF_ERRORS
from printwarden.files import fsync_dir
from printwarden.scanning.pages import MAX_PIXELS, BadPage, PageInfo, inspect_page

log = logging.getLogger(__name__)

Format = Literal["pdf", "pdfa", "jpeg", "tiff"]
FORMATS: tuple[Format, ...] = get_args(Format)
SUFFIXES: dict[Format, str] = {"pdf": ".pdf", "pdfa": ".pdf", "jpeg": ".jpg", "tiff": ".tif"}
RESOLUTIONS = range(50, 1201)
JPEG_QUALITY = 90
GS_PAGE_SECONDS = 60.0
PDFA_PART = "2"
MAX_NAME = 200
_DIRECT_MODES = frozenset({"1", "L", "RGB", "CMYK"})  # what img2pdf embeds without help
_SRGB_PROFILES = (
    files("pikepdf") / "pdfa" / "data" / "sRGB.icc",
    Path("/usr/share/color/icc/ghostscript/srgb.icc"),
)
_FAILURES: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    RuntimeError,  # Ghostscript's ToolError, Pillow's, pikepdf's
    pikepdf.PdfError,
    *IMG2PDF_ERRORS,
)
_LOSSLESS = (
    "-dAutoFilterColorImages=false",
    "-dAutoFilterGrayImages=false",
    "-dColorImageFilter=/FlateEncode",
    "-dGrayImageFilter=/FlateEncode",
)
"""Ghostscript keeps JPEG images as they are; these keep the others lossless too."""
_PDFA_DEF = """%!
/ICCProfile ({icc}) def
[/_objdef {{icc_PDFA}} /type /stream /OBJ pdfmark
[{{icc_PDFA}} << /N 3 >> /PUT pdfmark
[{{icc_PDFA}} ICCProfile (r) file /PUT pdfmark
[/_objdef {{OutputIntent_PDFA}} /type /dict /OBJ pdfmark
[{{OutputIntent_PDFA}} << /Type /OutputIntent /S /GTS_PDFA1
  /DestOutputProfile {{icc_PDFA}} /OutputConditionIdentifier (sRGB) >> /PUT pdfmark
[{{Catalog}} << /OutputIntents [ {{OutputIntent_PDFA}} ] >> /PUT pdfmark
"""
"""Ghostscript's PDF/A definitions: an sRGB output intent from the profile at ``icc``."""


class AssemblyError(RuntimeError):
    """The pages could not be made into the document asked for."""


@dataclass(frozen=True)
class _Job:
    pages: Sequence[Path]
    infos: Sequence[PageInfo]
    colour: bool
    resolution: int
    work: Path

    def dpi(self, index: int) -> tuple[float, float]:
        """The resolution of the page's pixels (a PDF page is rendered at ours)."""
        info = self.infos[index]
        if info.dpi is None or info.media_type == "application/pdf":
            return float(self.resolution), float(self.resolution)
        return info.dpi

    def to_grey(self, index: int) -> bool:
        return not self.colour and self.infos[index].mode == "colour"


def assemble(
    pages: Sequence[Path],
    fmt: Format,
    out_dir: Path,
    base_name: str,
    *,
    colour: bool = True,
    resolution: int = 300,
) -> list[Path]:
    """Make ``pages`` into ``fmt`` file(s) in ``out_dir``; the paths written, in order."""
    names = output_names(fmt, base_name, len(pages))
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution {resolution} is outside {RESOLUTIONS.start}..1200 dpi")
    infos = [_inspect(number, page) for number, page in enumerate(pages, 1)]
    targets = [out_dir / name for name in names]
    try:
        with tempfile.TemporaryDirectory(prefix="printwarden-scan-") as work:
            job = _Job(pages, infos, colour, resolution, Path(work))
            _WRITERS[fmt](job, targets)
    except AssemblyError:
        raise
    except _FAILURES as exc:
        raise AssemblyError(f"could not make the {fmt} document: {exc}") from exc
    return targets


def output_names(fmt: Format, base_name: str, pages: int) -> list[str]:
    """The file names :func:`assemble` writes (checking ``fmt`` and ``base_name``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if pages < 1:
        raise ValueError("no pages to assemble")
    bad = (
        not base_name
        or len(base_name) > MAX_NAME
        or base_name.startswith(".")
        or any(c in base_name for c in "/\\\0")
        or not base_name.isprintable()
    )
    if bad:
        raise ValueError(f"unusable base name {base_name!r}")
    suffix = SUFFIXES[fmt]
    if fmt != "jpeg" or pages == 1:
        return [base_name + suffix]
    return [f"{base_name}-{number}{suffix}" for number in range(1, pages + 1)]


def _inspect(number: int, page: Path) -> PageInfo:
    try:
        return inspect_page(page)
    except BadPage as exc:
        raise AssemblyError(f"page {number}: {exc}") from exc


# Writing files --------------------------------------------------------------------------


def publish(target: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``target`` through ``write``: beside it first, fsync'd, 0600, then renamed."""
    with staged([target]) as [part]:
        write_part(part, write)
    return target


@contextlib.contextmanager
def staged(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Hidden part files beside ``targets``: renamed onto them all when the block ends
    well, removed when it fails."""
    parts = [t.with_name(f".{t.name}.{secrets.token_hex(6)}.part") for t in targets]
    try:
        yield parts
        for part, target in zip(parts, targets, strict=True):
            os.replace(part, target)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    for directory in {target.parent for target in targets}:
        fsync_dir(directory)


def write_part(part: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create ``part`` (0600, which must not exist), write it through ``write``, fsync it."""
    fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w+b") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def publish_copy(source: Path, target: Path) -> Path:
    """:func:`publish` ``target`` as a copy of the file ``source``."""
    with source.open("rb") as data:
        return publish(target, lambda handle: shutil.copyfileobj(data, handle, 1 << 20))


def _writer(data: bytes) -> Callable[[BinaryIO], object]:
    return lambda handle: handle.write(data)


# PDF and PDF/A --------------------------------------------------------------------------


def _write_pdf(job: _Job, targets: list[Path]) -> None:
    with _merged_pdf(job) as pdf:
        publish(targets[0], pdf.save)


def _write_pdfa(job: _Job, targets: list[Path]) -> None:
    with _merged_pdf(job) as pdf:
        _save_pdfa(pdf, targets[0], job.work)


def make_pdfa(source: Path, target: Path) -> None:
    """Write the PDF ``source`` as PDF/A-2b to ``target`` (see :func:`assemble`)."""
    try:
        with (
            tempfile.TemporaryDirectory(prefix="printwarden-pdfa-") as work,
            pikepdf.open(source) as pdf,
        ):
            _save_pdfa(pdf, target, Path(work))
    except AssemblyError:
        raise
    except _FAILURES as exc:
        raise AssemblyError(f"could not make a PDF/A document: {exc}") from exc


@contextlib.contextmanager
def _merged_pdf(job: _Job) -> Iterator[pikepdf.Pdf]:
    """Every page as one PDF (the one-page sources stay open until it is written)."""
    with contextlib.ExitStack() as stack:
        merged = stack.enter_context(pikepdf.new())
        for index in range(len(job.pages)):
            source = stack.enter_context(_page_pdf(job, index))
            merged.pages.extend(source.pages)
        yield merged


def _page_pdf(job: _Job, index: int) -> pikepdf.Pdf:
    page, info = job.pages[index], job.infos[index]
    if info.media_type == "application/pdf":
        if job.to_grey(index):
            page = pdfwrite.to_pdf(
                page, job.work / f"grey-{index}.pdf", grayscale=True, timeout=GS_PAGE_SECONDS
            )
        return pikepdf.open(page)
    layout = img2pdf.get_fixed_dpi_layout_fun(job.dpi(index))
    document = img2pdf.convert(_img2pdf_input(job, index), layout_fun=layout)
    return pikepdf.open(io.BytesIO(document))


def _img2pdf_input(job: _Job, index: int) -> str | bytes:
    """The page as img2pdf should take it: the file itself when it can, else new bytes."""
    page, info = job.pages[index], job.infos[index]
    if info.media_type == "image/jpeg" and job.to_grey(index):
        return _grey_jpeg(page, job.dpi(index))
    if not job.to_grey(index) and _embeds_directly(page):
        return str(page)
    with _page_image(job, index) as image:
        return _encode(image, "PNG", job.dpi(index))


def _embeds_directly(page: Path) -> bool:
    with Image.open(page) as image:
        return image.mode in _DIRECT_MODES and "transparency" not in image.info


def _save_pdfa(pdf: pikepdf.Pdf, target: Path, work: Path) -> None:
    """Write ``pdf`` as PDF/A-2b: pikepdf's validated writer, else Ghostscript."""
    if not _pikepdf_pdfa(pdf, target):
        plain, converted = work / "plain.pdf", work / "pdfa.pdf"
        pdf.save(plain)
        _ghostscript_pdfa(plain, converted, work, len(pdf.pages))
        publish_copy(converted, target)
    _check_pdfa_claim(target)


def _pikepdf_pdfa(pdf: pikepdf.Pdf, target: Path) -> bool:
    """Write ``pdf`` as PDF/A with pikepdf; whether its validator approved (else nothing
    is written)."""
    try:
        from pikepdf import pdfa
    except ImportError:
        log.info("pikepdf.pdfa is not installed: PDF/A by Ghostscript")
        return False
    try:
        publish(target, lambda handle: pdfa.save(pdf, handle, PDFA_PART + "b"))
    except pdfa.PdfaError as exc:
        log.info("pikepdf cannot write %s as PDF/A (%s): Ghostscript", target.name, exc)
        return False
    return True


def _ghostscript_pdfa(source: Path, target: Path, work: Path, pages: int) -> None:
    icc = work / "srgb.icc"
    icc.write_bytes(_srgb_profile())
    definitions = work / "pdfa_def.ps"
    definitions.write_text(_PDFA_DEF.format(icc=_ps_string(str(icc))), encoding="utf-8")
    args = [
        f"--permit-file-read={icc}",
        f"-dPDFA={PDFA_PART}",
        "-dPDFACompatibilityPolicy=1",
        "-sColorConversionStrategy=RGB",
        *_LOSSLESS,
        "-sDEVICE=pdfwrite",
        f"-sOutputFile={target}",
        str(definitions),
        str(source.resolve()),
    ]
    ghostscript.run(args, timeout=GS_PAGE_SECONDS + 5.0 * pages)


def _srgb_profile() -> bytes:
    """An sRGB ICC profile (version 2 where one is installed, else LittleCMS's own)."""
    for candidate in _SRGB_PROFILES:
        with contextlib.suppress(OSError):
            return candidate.read_bytes()
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _ps_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _check_pdfa_claim(target: Path) -> None:
    with pikepdf.open(target) as pdf:
        status = pdf.open_metadata().pdfa_status
    if not status.startswith(PDFA_PART):
        raise AssemblyError(f"the PDF/A output claims {status or 'no PDF/A part'}, not PDF/A-2")


# JPEG and TIFF --------------------------------------------------------------------------


def _write_jpegs(job: _Job, targets: list[Path]) -> None:
    with staged(targets) as parts:
        for index, part in enumerate(parts):
            write_part(part, _writer(_page_jpeg(job, index)))


def _page_jpeg(job: _Job, index: int) -> bytes:
    page, info = job.pages[index], job.infos[index]
    if info.media_type == "image/jpeg":
        return _grey_jpeg(page, job.dpi(index)) if job.to_grey(index) else page.read_bytes()
    with _page_image(job, index) as image:
        if image.mode not in ("L", "RGB", "CMYK"):
            image = image.convert("L" if image.mode == "1" else "RGB")
        return _encode(image, "JPEG", job.dpi(index), quality=JPEG_QUALITY)


def _grey_jpeg(page: Path, dpi: tuple[float, float]) -> bytes:
    """A colour JPEG as a grey one: its luma channel, with its own luma quantisation."""
    with Image.open(page, formats=["JPEG"]) as image:
        tables = getattr(image, "quantization", None) or {}
        image.draft("L", image.size)
        grey = image.convert("L") if image.mode != "L" else image
        options = {"qtables": [tables[0]]} if 0 in tables else {"quality": JPEG_QUALITY}
        return _encode(grey, "JPEG", dpi, **options)


def _write_tiff(job: _Job, targets: list[Path]) -> None:
    def write(handle: BinaryIO) -> None:
        with TiffImagePlugin.AppendingTiffWriter(handle) as frames:
            for index in range(len(job.pages)):
                with _page_image(job, index) as image:
                    compression = "group4" if image.mode == "1" else "tiff_lzw"
                    dpi = job.dpi(index)
                    image.save(cast(IO[bytes], frames), "TIFF", compression=compression, dpi=dpi)
                frames.newFrame()

    publish(targets[0], write)


# Pages as pixels ------------------------------------------------------------------------


@contextlib.contextmanager
def _page_image(job: _Job, index: int) -> Iterator[Image.Image]:
    """The page decoded, as "1", "L", "RGB" or "CMYK" (grey when it must be)."""
    page, info = job.pages[index], job.infos[index]
    if info.media_type == "application/pdf":
        _check_render_size(job, index)
        source = _render(page, job.work / f"page-{index}.png", _device(job, index), job.resolution)
    else:
        source = Image.open(page)
    with source:
        if job.to_grey(index) and info.media_type == "image/jpeg":
            source.draft("L", source.size)
        source.load()
        image = _plain(source)
        if job.to_grey(index) and image.mode != "L":
            image = image.convert("RGB") if image.mode == "CMYK" else image
            image = image.convert("L")
        yield image


def _plain(image: Image.Image) -> Image.Image:
    """``image`` without transparency (on white) and in a mode every writer takes."""
    if image.mode in _DIRECT_MODES and "transparency" not in image.info:
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    grey = image.mode in ("L", "LA", "La")
    if image.mode[-1] not in "Aa":
        return image.convert("L" if grey else "RGB")
    mode = "L" if grey else "RGB"
    background = Image.new(mode, image.size, 255 if grey else (255, 255, 255))
    background.paste(image.convert(mode), mask=image.getchannel(image.getbands()[-1]))
    return background


def _check_render_size(job: _Job, index: int) -> None:
    """Refuse to render a PDF page into more pixels than a page may have."""
    info = job.infos[index]
    dpi_x, dpi_y = info.dpi or (72.0, 72.0)  # a page without images: its size in points
    pixels = (info.width / dpi_x * job.resolution) * (info.height / dpi_y * job.resolution)
    if pixels > MAX_PIXELS:
        raise AssemblyError(
            f"page {index + 1} would be {pixels / 1e6:.0f} million pixels at "
            f"{job.resolution} dpi, more than {MAX_PIXELS / 1e6:.0f} million"
        )


def _device(job: _Job, index: int) -> str:
    mode = job.infos[index].mode
    if mode == "bw":
        return "pngmono"
    return "png16m" if mode == "colour" and job.colour else "pnggray"


def _render(page: Path, target: Path, device: str, resolution: int) -> Image.Image:
    """A one-page PDF rendered by Ghostscript."""
    args = [f"-sDEVICE={device}", f"-r{resolution}", f"-sOutputFile={target}"]
    ghostscript.run([*args, "-f", str(page.resolve())], timeout=GS_PAGE_SECONDS)
    if not target.is_file():
        raise ToolError("Ghostscript rendered no page")
    return Image.open(target, formats=["PNG"])


def _encode(image: Image.Image, fmt: str, dpi: tuple[float, float], **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, dpi=dpi, **options)
    return out.getvalue()


_WRITERS: dict[Format, Callable[[_Job, list[Path]], None]] = {
    "pdf": _write_pdf,
    "pdfa": _write_pdfa,
    "jpeg": _write_jpegs,
    "tiff": _write_tiff,
}
