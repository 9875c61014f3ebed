"""The Ghostscript steps of the format chain: PostScript/EPS to PDF, PDF to PostScript, and
PDF to PWG raster or Apple raster (URF) for printers that take nothing else.

Each step is one bounded ``gs`` run (see :mod:`.ghostscript`) writing a temporary file that
is renamed into place, so a target either is whole or does not exist. PostScript keeps its
own page sizes (its ``setpagedevice`` wins, as on a PostScript printer); an EPS figure has
no page, so it is scaled onto the job's paper. Raster pages are the PDF's pages rendered at
the printer's resolution, in sRGB or sGray 8 bits (or 1-bit black where that is all a
printer takes), PackBits-compressed by Ghostscript's ``pwgraster`` and ``urf`` devices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from printwarden.analysis.ghostscript import MAX_OUTPUT_BYTES, run
from printwarden.analysis.pdfwrite import CONVERT_TIMEOUT, pdfwrite_args

Points = tuple[float, float]
RASTER_MAX_BYTES = 8 << 30  # raster is big: 25 MB for an uncompressible A4 page at 300 dpi
EPS_MARKERS = (b"EPSF", b"\xc5\xd0\xd3\xc6")
# CUPS colour space numbers the pwgraster and urf devices take (cups/raster.h).
SPACE_K, SPACE_SGRAY, SPACE_SRGB = 3, 18, 19


@dataclass(frozen=True, slots=True)
class RasterSettings:
    """How to render a PDF for a raster printer: ``resolution`` in dpi, ``colour`` (sRGB 8)
    or grey (sGray 8), ``bilevel`` (1-bit black: a printer that takes only ``black_1``),
    and ``duplex`` / ``tumble`` for the page headers."""

    resolution: int = 300
    colour: bool = True
    bilevel: bool = False
    duplex: bool = False
    tumble: bool = False

    def args(self) -> list[str]:
        space, bits = SPACE_SRGB, 8
        if self.bilevel:
            space, bits = SPACE_K, 1
        elif not self.colour:
            space = SPACE_SGRAY
        args = [f"-r{self.resolution}", f"-dcupsColorSpace={space}", f"-dcupsBitsPerColor={bits}"]
        if self.duplex:
            args += ["-dDuplex=true", f"-dTumble={'true' if self.tumble else 'false'}"]
        return args


def is_eps(source: Path) -> bool:
    """Whether a PostScript file is an Encapsulated PostScript figure."""
    with source.open("rb") as handle:
        first_line = handle.read(64).split(b"\n", 1)[0]
    return any(marker in first_line for marker in EPS_MARKERS)


def postscript_to_pdf(
    source: Path, target: Path, paper: Points | None = None, timeout: float = CONVERT_TIMEOUT
) -> Path:
    """PostScript to PDF; an EPS figure is fitted onto ``paper`` (portrait points)."""
    fit = paper if paper is not None and is_eps(source) else None
    args = pdfwrite_args(_partial(target), grayscale=False, fit=fit, postscript=True)
    if fit is not None:
        args.append("-dEPSFitPage")
    return _run(args, source, target, timeout)


def pdf_to_postscript(source: Path, target: Path, timeout: float = CONVERT_TIMEOUT) -> Path:
    """PDF to PostScript level 2 (``ps2write``), for printers that take only PostScript."""
    args = ["-sDEVICE=ps2write", f"-sOutputFile={_partial(target)}"]
    return _run(args, source, target, timeout)


def pdf_to_raster(
    source: Path,
    target: Path,
    device: str,
    settings: RasterSettings,
    timeout: float = CONVERT_TIMEOUT,
) -> Path:
    """PDF to ``device`` raster: ``pwgraster`` (PWG 5102.4) or ``urf`` (Apple raster)."""
    if device not in ("pwgraster", "urf"):
        raise ValueError(f"not a raster device: {device!r}")
    args = [f"-sDEVICE={device}", *settings.args(), f"-sOutputFile={_partial(target)}"]
    return _run(args, source, target, timeout, RASTER_MAX_BYTES)


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp")


def _run(
    args: list[str],
    source: Path,
    target: Path,
    timeout: float,
    max_output: int = MAX_OUTPUT_BYTES,
) -> Path:
    partial = _partial(target)
    try:
        run([*args, "-f", str(source.resolve())], timeout, max_output=max_output)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
