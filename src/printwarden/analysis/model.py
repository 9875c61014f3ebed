"""What job analysis reports, and the limits it works within."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TOLERANCE = 8
"""Largest channel spread (0-255 scale) of a pixel or colour still judged grey."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds and knobs of one analysis.

    ``timeout`` bounds each Ghostscript run (seconds), ``max_bytes`` the input file;
    ``tolerance`` is the grey tolerance; ``render_dpi`` the resolution of the
    Ghostscript ``inkcov`` run for pages the content scan cannot judge (72, as
    ``inkcov`` itself, so that answers match it).
    """

    timeout: float = 60.0
    max_bytes: int = 1 << 30
    tolerance: int = DEFAULT_TOLERANCE
    render_dpi: int = 72


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Analysis:
    """Pages and colour of one document.

    ``pages`` is ``None`` when the pages could not be counted ("pages unknown": the cost
    policy then charges by printer-reported pages); ``colour_pages`` holds the 1-based
    numbers of the pages judged colour, or ``None`` when colour was not determined.
    ``detail`` says why something is unknown or what failed.
    """

    format: str
    pages: int | None
    colour_pages: tuple[int, ...] | None = None
    paper_size: str | None = None
    duplex: bool | None = None
    copies: int | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.pages is not None and self.pages < 0:
            raise ValueError("pages must be >= 0")
        if self.colour_pages is not None:
            limit = self.pages if self.pages is not None else 0
            if any(not 1 <= p <= limit for p in self.colour_pages):
                raise ValueError("colour_pages must be page numbers within pages")

    @property
    def colour_page_count(self) -> int | None:
        """How many pages are colour; ``None`` when unknown."""
        return None if self.colour_pages is None else len(self.colour_pages)


def unknown(document_format: str, detail: str) -> Analysis:
    """An analysis that could not count pages."""
    return Analysis(format=document_format, pages=None, detail=detail)
