"""Images: JPEG, PNG and GIF are one page, a TIFF one page per frame (a scanned or faxed
document); a page is colour when a pixel is not grey (decoded with Pillow). A GIF prints its
first frame only, as :mod:`.imagepdf` converts it.

Pillow's decompression-bomb limit applies: a larger image is reported undecodable.
"""

from __future__ import annotations

import warnings
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
    UserWarning,
)


def analyze(path: Path, document_format: str, tolerance: int) -> Analysis:
    """Analyse an image; an undecodable one gives ``pages=None``."""
    try:
        colours = _colours(path, tolerance)
    except _DECODE_ERRORS as exc:
        return unknown(document_format, f"undecodable image: {exc}")
    colour_pages = tuple(page for page, colour in enumerate(colours, 1) if colour)
    return Analysis(format=document_format, pages=len(colours), colour_pages=colour_pages)


def _colours(path: Path, tolerance: int) -> list[bool]:
    """For each page the image prints (a TIFF's frames; one otherwise), whether it is colour.

    Pillow only warns of a TIFF's corrupt tags (the file's own structure): an error here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        return _frame_colours(path, tolerance)


def _frame_colours(path: Path, tolerance: int) -> list[bool]:
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft(image.mode, (DRAFT_SIDE, DRAFT_SIDE))
        frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
        colours = []
        for frame in range(frames):
            if frame:
                image.seek(frame)
            image.load()
            colours.append(image_has_colour(image, tolerance))
        return colours
