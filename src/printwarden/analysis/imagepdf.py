"""Images to PDF: each image (a TIFF's every frame, a GIF's first) on a page of the job's paper.

img2pdf does the work: a JPEG goes into the PDF as it is (no re-encoding, so no loss and
little time), other images losslessly. The image keeps its own resolution (its DPI, 96 when
it names none) and is shrunk only when it would not fit the paper; the page turns to
landscape for a landscape image, and a JPEG's EXIF orientation is honoured (the page is
rotated, as a viewer shows the photo). Pillow's decompression-bomb limit applies.
"""

from __future__ import annotations

import os
from pathlib import Path

import img2pdf
from PIL import Image

Points = tuple[float, float]
# What img2pdf raises for an image it cannot take.
IMG2PDF_ERRORS: tuple[type[Exception], ...] = (
    img2pdf.AlphaChannelError,
    img2pdf.ExifOrientationError,
    img2pdf.ImageOpenError,
    img2pdf.JpegColorspaceError,
    img2pdf.NegativeDimensionError,
    img2pdf.PdfTooLargeError,
    img2pdf.UnsupportedColorspaceError,
)
_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    Image.DecompressionBombError,
    *IMG2PDF_ERRORS,
)


class ImageConversionFailed(Exception):
    """The image could not be put on a page; ``str()`` says why."""


def image_to_pdf(source: Path, target: Path, paper: Points) -> Path:
    """Write ``source`` as a PDF to ``target`` on pages of ``paper`` (portrait points)."""
    layout = img2pdf.get_layout_fun(pagesize=paper, fit=img2pdf.FitMode.shrink, auto_orient=True)
    try:
        data = bytes(img2pdf.convert(str(source), layout_fun=layout))
    except _ERRORS as exc:
        raise ImageConversionFailed(f"cannot convert the image: {exc}") from exc
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)
    return target
