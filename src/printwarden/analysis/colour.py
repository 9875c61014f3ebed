"""Is a colour, a run of pixels or an image grey? Near-grey counts as grey.

An RGB pixel is colour when the spread of its channels (max - min, 0-255 scale) exceeds
the tolerance. A CMYK pixel is colour when its C, M or Y ink exceeds the tolerance: CMYK
states inks directly, so a rich black or a C=M=Y grey still uses colour toner.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageChops

_SLACK = 1e-3
"""Rounding slack (0-255 scale) for colours given as decimal fractions."""
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def rgb_exceeds(values: Sequence[float], tolerance: int) -> bool:
    """Whether RGB components in 0..1 spread more than the tolerance."""
    first = values[:3]
    return (max(first) - min(first)) * 255 > tolerance + _SLACK


def cmyk_exceeds(values: Sequence[float], tolerance: int) -> bool:
    """Whether CMYK components in 0..1 put more C, M or Y ink than the tolerance."""
    return max(values[:3]) * 255 > tolerance + _SLACK


def chunk_has_colour(
    chunk: bytes, stride: int, offsets: Sequence[int], tolerance: int, *, cmyk: bool = False
) -> bool:
    """Whether packed pixels (``stride`` bytes each) hold a colour one.

    ``offsets`` locate the R, G, B (or C, M, Y) bytes within a pixel.
    """
    a, b, c = (chunk[o::stride] for o in offsets[:3])
    if cmyk:
        return max(max(a), max(b), max(c)) > tolerance
    if a == b == c:
        return False
    return any(max(x, y, z) - min(x, y, z) > tolerance for x, y, z in zip(a, b, c, strict=False))


def image_has_colour(image: Image.Image, tolerance: int) -> bool:
    """Whether a Pillow image has a colour pixel (transparent areas count as white)."""
    if image.mode in _GREY_MODES:
        return False
    if image.mode == "CMYK":
        c, m, y = image.split()[:3]
        return _high(ImageChops.lighter(ImageChops.lighter(c, m), y)) > tolerance
    return _high(_spread(_on_white(image).split())) > tolerance


def _on_white(image: Image.Image) -> Image.Image:
    if "A" not in image.getbands() and image.mode != "P":
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _spread(bands: Sequence[Image.Image]) -> Image.Image:
    a, b, c = bands
    return ImageChops.lighter(
        ImageChops.lighter(ImageChops.difference(a, b), ImageChops.difference(b, c)),
        ImageChops.difference(a, c),
    )


def _high(band: Image.Image) -> float:
    high = band.getextrema()[1]
    return float(high) if isinstance(high, int | float) else 0.0
