"""JPEG and PNG: one page, colour when a pixel is not grey (decoded with Pillow).

Pillow's decompression-bomb limit applies: a larger image is reported undecodable.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from printwarden.analysis.colour import image_has_colour
from printwarden.analysis.model import Analysis, unknown

DRAFT_SIDE = 1024
_DECODE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def analyze(path: Path, document_format: str, tolerance: int) -> Analysis:
    """Analyse a single image; an undecodable one gives ``pages=None``."""
    try:
        colour = _has_colour(path, tolerance)
    except _DECODE_ERRORS as exc:
        return unknown(document_format, f"undecodable image: {exc}")
    return Analysis(format=document_format, pages=1, colour_pages=(1,) if colour else ())


def _has_colour(path: Path, tolerance: int) -> bool:
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft(image.mode, (DRAFT_SIDE, DRAFT_SIDE))
        image.load()
        return image_has_colour(image, tolerance)
