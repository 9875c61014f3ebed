"""What a checked page is, and the error of one that is not acceptable
(``scanning/pages.py`` checks them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaType = Literal["image/jpeg", "image/png", "image/tiff", "application/pdf"]
PageMode = Literal["colour", "grey", "bw"]

MAX_PIXELS = 60_000_000
MAX_PDF_POINTS = 14_400  # the largest page side PDF allows (200 inches)


class BadPage(ValueError):
    """An uploaded page that is not one whole JPEG, PNG, TIFF or one-page PDF."""


@dataclass(frozen=True)
class PageInfo:
    """What a page is. For an image: its pixels and the resolution it claims. For a PDF: the
    pixels of its largest image and the resolution that image has on the page, or, with no
    image on the page, the page's size in points and no resolution."""

    media_type: MediaType
    width: int
    height: int
    dpi: tuple[float, float] | None
    mode: PageMode

    @property
    def pixels(self) -> int:
        return self.width * self.height
