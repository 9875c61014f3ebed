"""PostScript: interpreted by Ghostscript into a PDF, which is then analysed as a PDF."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from printwarden.analysis import ghostscript, pdf
from printwarden.analysis.model import Analysis, Limits, unknown

FORMAT = "application/postscript"


def analyze(path: Path, limits: Limits, *, colour: bool = True) -> Analysis:
    """Pages, paper size and colour pages of a PostScript file."""
    with tempfile.TemporaryDirectory(prefix="printwarden-ps-") as tmp:
        converted = Path(tmp) / "converted.pdf"
        try:
            ghostscript.to_pdf(path, converted, limits.timeout)
        except ghostscript.ToolError as exc:
            return unknown(FORMAT, f"PostScript could not be interpreted: {exc}")
        return replace(pdf.analyze(converted, limits, colour=colour), format=FORMAT)
