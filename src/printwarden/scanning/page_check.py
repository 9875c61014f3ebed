"""The inside of a page's check (``scanning/pages.py``): its pixels, resolution and mode
read by Pillow or pikepdf, which load with this module, on first use."""

from __future__ import annotations

import math
from pathlib import Path

import pikepdf
from PIL import Image, UnidentifiedImageError

from printwarden.scanning.page_info import MAX_PDF_POINTS, BadPage, MediaType, PageInfo, PageMode

_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF"}
_GREY_MODES = frozenset({"L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def inspect_image(path: Path, media_type: MediaType, max_pixels: int) -> PageInfo:
    name = _PILLOW_FORMAT[media_type]
    try:
        with Image.open(path, formats=[name]) as image:
            _check_pixels(image.width, image.height, max_pixels)
            frames = getattr(image, "n_frames", 1)
            if frames != 1:
                raise BadPage(f"the {name} has {frames} frames; a page must have one")
            info = PageInfo(
                media_type, image.width, image.height, image_dpi(image), image_mode(image)
            )
            _check_complete(image, name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadPage(f"the {name} is too large to open safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise BadPage(f"the page starts like a {name} but is not one") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, BadPage):
            raise
        raise BadPage(f"the {name} is damaged or incomplete: {exc}") from exc
    return info


def _check_complete(image: Image.Image, name: str) -> None:
    """Read all of the image's data (cheaply where the format allows)."""
    if name == "JPEG":
        image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    elif name == "PNG":
        image.verify()
    else:
        image.load()


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise BadPage(f"the page is {width} x {height} pixels")
    if width * height > max_pixels:
        raise BadPage(
            f"the page is {width} x {height} pixels, more than the limit of {max_pixels:,}"
        )


def image_dpi(image: Image.Image) -> tuple[float, float] | None:
    """The resolution the image claims, or None when it claims none (or nonsense)."""
    dpi = image.info.get("dpi")
    if not isinstance(dpi, tuple) or len(dpi) != 2:
        return None
    try:
        x, y = (round(float(value), 1) for value in dpi)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and 10 <= v <= 10_000 for v in (x, y)):
        return None
    return x, y


def image_mode(image: Image.Image) -> PageMode:
    """Colour, grey or black and white, from how the image is stored."""
    if image.mode == "1":
        return "bw"
    if image.mode in _GREY_MODES:
        return "grey"
    if image.mode in ("P", "PA"):
        palette = image.getpalette("RGB") or []
        triples = zip(palette[0::3], palette[1::3], palette[2::3], strict=False)
        return "grey" if all(r == g == b for r, g, b in triples) else "colour"
    return "colour"


def inspect_pdf(path: Path, max_pixels: int) -> PageInfo:
    try:
        with pikepdf.open(path) as pdf:
            if len(pdf.pages) != 1:
                raise BadPage(f"the PDF has {len(pdf.pages)} pages; a page must be one")
            return _pdf_page_info(pdf.pages[0], max_pixels)
    except pikepdf.PasswordError as exc:
        raise BadPage("the PDF is encrypted") from exc
    except (pikepdf.PdfError, OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, BadPage):
            raise
        raise BadPage(f"the PDF is damaged: {exc}") from exc


def _pdf_page_info(page: pikepdf.Page, max_pixels: int) -> PageInfo:
    box = page.mediabox
    width_pt, height_pt = abs(float(box[2] - box[0])), abs(float(box[3] - box[1]))
    if not (1 <= width_pt <= MAX_PDF_POINTS and 1 <= height_pt <= MAX_PDF_POINTS):
        raise BadPage(f"the PDF page is {width_pt:g} x {height_pt:g} points")
    largest = _largest_image(page)
    if largest is None:
        return PageInfo("application/pdf", round(width_pt), round(height_pt), None, "colour")
    width, height, mode = largest
    _check_pixels(width, height, max_pixels)
    if int(page.obj.get("/Rotate", 0)) % 180:
        width_pt, height_pt = height_pt, width_pt
    dpi = (round(width * 72 / width_pt, 2), round(height * 72 / height_pt, 2))
    return PageInfo("application/pdf", width, height, dpi, mode)


def _largest_image(page: pikepdf.Page) -> tuple[int, int, PageMode] | None:
    """Width, height and mode of the largest image drawn directly on the page."""
    found: list[tuple[int, int, PageMode]] = []
    resources = page.obj.get("/Resources", pikepdf.Dictionary())
    xobjects: pikepdf.Object = resources.get("/XObject", pikepdf.Dictionary())
    for _, xobject in xobjects.items():
        if isinstance(xobject, pikepdf.Stream) and xobject.get("/Subtype") == "/Image":
            size = int(xobject.get("/Width", 0)), int(xobject.get("/Height", 0))
            found.append((*size, _pdf_image_mode(xobject)))
    return max(found, key=lambda item: item[0] * item[1], default=None)


def _pdf_image_mode(image: pikepdf.Stream) -> PageMode:
    if image.get("/ImageMask", False) or int(image.get("/BitsPerComponent", 8)) == 1:
        return "bw"
    space = image.get("/ColorSpace")
    if space == "/DeviceGray" or space == "/CalGray":
        return "grey"
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == "/ICCBased":
        return "grey" if int(space[1].get("/N", 3)) == 1 else "colour"
    return "colour"
