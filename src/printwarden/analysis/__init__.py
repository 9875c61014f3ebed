"""Job analysis for the Print Provider: pages, colour pages, paper size of a spooled file.

``analyze(path, document_format)`` is the front door; each format has its own module:
PDF (:mod:`.pdf`), PostScript, PWG raster, Apple URF, JPEG/PNG, plain text. PCL and
unknown formats report "pages unknown". What counts as colour is in :mod:`.colour`
(pixels) and :mod:`.pdfspaces` (PDF colour spaces).
"""

from printwarden.analysis.api import PAGES_UNKNOWN, analyze, analyze_bytes
from printwarden.analysis.model import DEFAULT_LIMITS, DEFAULT_TOLERANCE, Analysis, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TOLERANCE",
    "PAGES_UNKNOWN",
    "Analysis",
    "Limits",
    "analyze",
    "analyze_bytes",
]
