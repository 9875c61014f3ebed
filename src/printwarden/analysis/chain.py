"""Running a conversion chain (:class:`printwarden.domain.formats.Chain`) on a document.

Each step writes its own file in a work directory the caller owns; the last file is the
document to send. A step that fails raises :class:`~.conversions.ConversionFailed`, saying
which step and why; the source is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpdf.errors import FPDFException

from printwarden.analysis.conversions import ConversionFailed
from printwarden.analysis.ghostscript import ToolError
from printwarden.analysis.imagepdf import ImageConversionFailed, image_to_pdf
from printwarden.analysis.pdfwrite import CONVERT_TIMEOUT
from printwarden.analysis.render import (
    RasterSettings,
    pdf_to_postscript,
    pdf_to_raster,
    postscript_to_pdf,
)
from printwarden.analysis.textpdf import text_to_pdf
from printwarden.domain import formats
from printwarden.domain.formats import Chain, Step

A4_POINTS = (595.28, 841.89)
SUFFIXES = {
    formats.PDF: ".pdf",
    formats.POSTSCRIPT: ".ps",
    formats.PWG_RASTER: ".pwg",
    formats.URF: ".urf",
}
RASTER_DEVICES = {formats.PWG_RASTER: "pwgraster", formats.URF: "urf"}
_STEP_ERRORS = (ToolError, ImageConversionFailed, FPDFException, OSError, ValueError, RuntimeError)


@dataclass(frozen=True, slots=True)
class Setup:
    """What the steps need to know of the job and the printer: the job's ``paper``
    (portrait points) for images, text and EPS; ``raster`` for raster printers."""

    paper: tuple[float, float] = A4_POINTS
    raster: RasterSettings = field(default_factory=RasterSettings)
    timeout: float = CONVERT_TIMEOUT


def run_chain(source: Path, chain: Chain, workdir: Path, setup: Setup) -> list[Path]:
    """Run every step of ``chain`` on ``source``; the file each step wrote, in order (the
    last is the document to send; none for an empty chain)."""
    outputs: list[Path] = []
    current = source
    for index, step in enumerate(chain.steps):
        target = workdir / f"step-{index}{SUFFIXES.get(step.target, '.out')}"
        try:
            current = _run_step(step, current, target, setup)
        except _STEP_ERRORS as exc:
            raise ConversionFailed(f"{step.source} to {step.target}: {exc}") from exc
        outputs.append(current)
    return outputs


def _run_step(step: Step, source: Path, target: Path, setup: Setup) -> Path:
    if step.tool == formats.IMAGE:
        return image_to_pdf(source, target, setup.paper)
    if step.tool == formats.TEXT_LAYOUT:
        return text_to_pdf(source, target, setup.paper)
    if step.tool == formats.GHOSTSCRIPT and step.target == formats.PDF:
        return postscript_to_pdf(source, target, setup.paper, setup.timeout)
    if step.tool == formats.GHOSTSCRIPT and step.target == formats.POSTSCRIPT:
        return pdf_to_postscript(source, target, setup.timeout)
    if step.tool == formats.RASTER and step.target in RASTER_DEVICES:
        device = RASTER_DEVICES[step.target]
        return pdf_to_raster(source, target, device, setup.raster, setup.timeout)
    raise ValueError(f"no way to run {step.tool} from {step.source} to {step.target}")
