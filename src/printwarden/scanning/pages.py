"""One uploaded page, checked: what it is (from its bytes, never its name), its size, its
resolution and whether it is colour, grey or black and white.

Pages come from devices and scanners and are not trusted: a page is a JPEG, PNG or TIFF
image of one frame, or a PDF of exactly one page, no larger than ``max_pixels`` (Pillow's
own decompression-bomb guard applies too), and complete (a JPEG is decoded at 1/8 scale,
which reads all of its data; a PNG's chunks are checked; a TIFF is decoded). Anything else
raises :class:`BadPage`.
"""

from __future__ import annotations

from pathlib import Path

from printwarden.scanning.page_info import MAX_PIXELS, BadPage, MediaType, PageInfo

__all__ = ["MAX_PIXELS", "SUFFIXES", "BadPage", "PageInfo", "inspect_page", "sniff"]

PDF_HEADER_WINDOW = 1024  # readers accept "%PDF-" anywhere in the first 1 KiB
_MAGIC: tuple[tuple[bytes, MediaType], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
# A kept page's file name suffix, by what it is.
SUFFIXES: dict[MediaType, str] = {"image/jpeg": ".jpg", "image/png": ".png",
                                  "image/tiff": ".tif", "application/pdf": ".pdf"}  # fmt: skip


def inspect_page(path: Path, *, max_pixels: int = MAX_PIXELS) -> PageInfo:
    """Check the page at ``path``; raise :class:`BadPage` saying why it is not acceptable.
    (pikepdf and Pillow load here, on a server's first page: ``scanning/page_check.py``.)"""
    from printwarden.scanning import page_check

    media_type = sniff(path)
    if media_type == "application/pdf":
        return page_check.inspect_pdf(path, max_pixels)
    return page_check.inspect_image(path, media_type, max_pixels)


def sniff(path: Path) -> MediaType:
    """The page's media type, from its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(PDF_HEADER_WINDOW)
    except OSError as exc:
        raise BadPage(f"cannot read the page: {exc.strerror or exc}") from exc
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if b"%PDF-" in head:
        return "application/pdf"
    what = "empty" if not head else "not a JPEG, PNG, TIFF or PDF file"
    raise BadPage(f"the page is {what}")
