"""Scanned pages for the simulators and the tests: clean, OCR-friendly JPEGs of paper."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAPER_MM = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Pack my box with five dozen liquor jugs.",
    "Sphinx of black quartz, judge my vow.",
)
POINT_SIZE = 14  # large enough for Tesseract at 150 dpi and above
MARGIN_INCH = 1.0
ACCENT = (200, 30, 30)  # a red rule across the top of colour pages

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def page_text(number: int) -> str:
    """The first line of page ``number`` (what OCR should find on it)."""
    return f"printwarden scan page {number}"


def page_size(paper: str, dpi: int) -> tuple[int, int]:
    """Width and height in pixels of ``paper`` ("A4" or "Letter") at ``dpi``."""
    try:
        width_mm, height_mm = PAPER_MM[paper]
    except KeyError:
        raise ValueError(f"unknown paper {paper!r}; known: {', '.join(PAPER_MM)}") from None
    return round(width_mm / 25.4 * dpi), round(height_mm / 25.4 * dpi)


@functools.lru_cache(maxsize=16)
def _font(pixels: int) -> Font:
    """DejaVu Sans at ``pixels`` high, or PIL's default font when it is not installed."""
    if FONT_PATH.is_file():
        return ImageFont.truetype(str(FONT_PATH), pixels)
    return ImageFont.load_default(pixels)


def _lines(number: int, text: str | None) -> list[str]:
    """The lines of page ``number``: the given text, or the heading and a few sentences."""
    if text is not None:
        return text.splitlines() or [""]
    return [page_text(number), *SENTENCES]


def _text_block(lines: list[str], font: Font, line_height: int, width: int) -> Image.Image:
    """The lines drawn black on white, on a canvas just big enough for them."""
    block = Image.new("L", (width, line_height * len(lines)), 255)
    draw = ImageDraw.Draw(block)
    for index, line in enumerate(lines):
        draw.text((0, index * line_height), line, fill=0, font=font)
    return block


def generate_page(
    number: int,
    *,
    dpi: int = 300,
    colour: bool = False,
    paper: str = "A4",
    text: str | None = None,
    quality: int = 75,
) -> bytes:
    """A JPEG of scanned page ``number``: ``paper`` at ``dpi``, greyscale ("L") or RGB,
    with lines of large black text (the first is :func:`page_text` unless ``text`` is given).
    The same arguments give the same bytes."""
    if not 10 <= dpi <= 1200:
        raise ValueError(f"dpi {dpi} out of range 10..1200")
    width, height = page_size(paper, dpi)
    pixels = max(8, round(POINT_SIZE / 72 * dpi))
    margin = round(MARGIN_INCH * dpi)
    inner = (width - 2 * margin, height - 2 * margin)
    block = _text_block(_lines(number, text), _font(pixels), round(pixels * 1.6), inner[0])
    page = Image.new("L", (width, height), 255)
    page.paste(block.crop((0, 0, inner[0], min(block.height, inner[1]))), (margin, margin))
    if colour:
        page = page.convert("RGB")
        stripe = (margin, margin // 2, width - margin, margin // 2 + max(2, dpi // 30))
        ImageDraw.Draw(page).rectangle(stripe, fill=ACCENT)
    out = io.BytesIO()
    page.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()
