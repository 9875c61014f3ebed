"""Ghostscript rewrites of a document before it goes to a printer: PDF out, grey, fitted."""

from __future__ import annotations

from pathlib import Path

from printwarden.analysis.ghostscript import run

CONVERT_TIMEOUT = 120.0
PDFWRITE = ("-sDEVICE=pdfwrite", "-dAutoRotatePages=/None", "-dUCRandBGInfo=/Remove")
"""PDF out; without the black generation and undercolour removal functions that
pdfwrite would otherwise write into the output (Ghostscript's own, device-dependent: with
them a printer may put a neutral RGB grey down in C, M and Y)."""
GRAY = (
    "-sColorConversionStrategy=Gray",
    "-dProcessColorModel=/DeviceGray",
    "-dPreserveAnnots=false",
)
"""Grey output; annotations drawn into the page (in grey) rather than kept as they were:
an annotation without an appearance stream would be drawn by the printer in its own
colour."""


def pdfwrite_args(
    target: Path,
    *,
    grayscale: bool,
    fit: tuple[float, float] | None = None,
    postscript: bool = False,
) -> list[str]:
    """Arguments for a ``pdfwrite`` run to ``target``; ``fit`` is a (width, height) in
    points to scale every page onto (``-dPSFitPage`` for PostScript, else ``-dPDFFitPage``)."""
    args = [*PDFWRITE, f"-sOutputFile={target}"]
    if grayscale:
        args += GRAY
    if fit is not None:
        width, height = fit
        args += [
            f"-dDEVICEWIDTHPOINTS={width:.2f}",
            f"-dDEVICEHEIGHTPOINTS={height:.2f}",
            "-dFIXEDMEDIA",
            "-dPSFitPage" if postscript else "-dPDFFitPage",
        ]
    return args


def to_pdf(
    source: Path,
    target: Path,
    *,
    grayscale: bool,
    fit: tuple[float, float] | None = None,
    postscript: bool = False,
    timeout: float = CONVERT_TIMEOUT,
) -> Path:
    """Write ``source`` (PDF or PostScript) as a PDF to ``target``, in grey and fitted to a
    paper size if asked. Raises :class:`~.ghostscript.ToolError`."""
    args = pdfwrite_args(target, grayscale=grayscale, fit=fit, postscript=postscript)
    run([*args, "-f", str(source.resolve())], timeout)
    return target
