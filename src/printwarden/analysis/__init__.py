"""Job analysis for the Print Provider: pages, colour pages, paper size of a spooled file.

``analyze(path, document_format)`` is the front door; each format has its own module:
PDF (:mod:`.pdf`), PostScript, PWG raster, Apple URF, JPEG/PNG, plain text. PCL and
unknown formats report "pages unknown". What counts as colour is in :mod:`.colour`
(pixels) and :mod:`.pdfspaces` (PDF colour spaces).

The front door loads the document libraries (pikepdf, Pillow, …: tens of megabytes) when
first used, not with the package: a light module of it (``detect``, ``ghostscript``) costs
a process that never analyses a document nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from printwarden.analysis.model import DEFAULT_LIMITS, DEFAULT_TOLERANCE, Analysis, Limits

if TYPE_CHECKING:
    from printwarden.analysis.api import PAGES_UNKNOWN, analyze, analyze_bytes

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TOLERANCE",
    "PAGES_UNKNOWN",
    "Analysis",
    "Limits",
    "analyze",
    "analyze_bytes",
]
_FRONT_DOOR = frozenset({"PAGES_UNKNOWN", "analyze", "analyze_bytes"})


def __getattr__(name: str) -> Any:
    if name in _FRONT_DOOR:
        from printwarden.analysis import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
