"""Paper size names from physical dimensions or PWG self-describing media names."""

from __future__ import annotations

import re

MM_PER_INCH = 25.4
MM_PER_POINT = MM_PER_INCH / 72
TOLERANCE_MM = 3.0

_KNOWN_MM: tuple[tuple[str, float, float], ...] = (
    ("A3", 297, 420),
    ("A4", 210, 297),
    ("A5", 148, 210),
    ("A6", 105, 148),
    ("B4", 250, 353),
    ("B5", 176, 250),
    ("letter", 215.9, 279.4),
    ("legal", 215.9, 355.6),
    ("tabloid", 279.4, 431.8),
    ("executive", 184.15, 266.7),
    ("statement", 139.7, 215.9),
)

_PWG_NAME = re.compile(r"^[a-z0-9-]+_[a-z0-9.-]+_(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)(mm|in)$")


def from_mm(width: float, height: float) -> str | None:
    """``"A4"``, ``"letter"``… for a known size (either orientation), else ``"WxHmm"``."""
    if not (width > 0 and height > 0):
        return None
    short, long_ = sorted((width, height))
    for name, w, h in _KNOWN_MM:
        if abs(short - w) <= TOLERANCE_MM and abs(long_ - h) <= TOLERANCE_MM:
            return name
    return f"{round(short)}x{round(long_)}mm"


def from_points(width: float, height: float) -> str | None:
    """Paper size of a page measured in PostScript points."""
    return from_mm(width * MM_PER_POINT, height * MM_PER_POINT)


def from_pixels(width: int, height: int, dpi_x: int, dpi_y: int) -> str | None:
    """Paper size of a raster page of ``width`` x ``height`` pixels at the given resolution."""
    if dpi_x <= 0 or dpi_y <= 0:
        return None
    return from_mm(width / dpi_x * MM_PER_INCH, height / dpi_y * MM_PER_INCH)


def from_pwg_name(name: str) -> str | None:
    """Paper size of a PWG 5101.1 self-describing name such as ``iso_a4_210x297mm``."""
    match = _PWG_NAME.match(name)
    if match is None:
        return None
    scale = MM_PER_INCH if match.group(3) == "in" else 1.0
    return from_mm(float(match.group(1)) * scale, float(match.group(2)) * scale)


def pwg_points(name: str) -> tuple[float, float] | None:
    """Portrait (width, height) in points of a PWG self-describing media name."""
    match = _PWG_NAME.match(name)
    if match is None:
        return None
    scale = MM_PER_INCH if match.group(3) == "in" else 1.0
    width, height = sorted(float(match.group(i)) * scale / MM_PER_POINT for i in (1, 2))
    if not (width > 0 and height > 0):
        return None
    return width, height


def canonical(name: str) -> str | None:
    """The paper size name a person may write (``a4``, ``Letter``) as analysis names it."""
    wanted = name.strip().lower()
    return next((known for known, _, _ in _KNOWN_MM if known.lower() == wanted), None)
