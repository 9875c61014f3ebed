"""Conversions applied before a document goes to a printer: greyscale, PostScript → PDF."""

from __future__ import annotations

from pathlib import Path

from printwarden.analysis.ghostscript import run

CONVERT_TIMEOUT = 120.0


def to_pdf(source: Path, target: Path, *, grayscale: bool) -> Path:
    """Write ``source`` (PDF or PostScript) as a PDF to ``target``, in grey if asked."""
    args = ["-sDEVICE=pdfwrite", f"-sOutputFile={target}"]
    if grayscale:
        args += ["-sColorConversionStrategy=Gray", "-dProcessColorModel=/DeviceGray"]
    run([*args, str(source)], CONVERT_TIMEOUT)
    return target
