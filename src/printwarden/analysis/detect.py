"""Which document format a spooled file is: its magic bytes, else its declared MIME type."""

from __future__ import annotations

from pathlib import Path

PDF = "application/pdf"
POSTSCRIPT = "application/postscript"
PWG = "image/pwg-raster"
URF = "image/urf"
JPEG = "image/jpeg"
PNG = "image/png"
TEXT = "text/plain"
PCL = "application/vnd.hp-pcl"
OCTET = "application/octet-stream"

_ALIASES = {
    "application/x-pdf": PDF,
    "application/ps": POSTSCRIPT,
    "application/x-postscript": POSTSCRIPT,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "application/pcl": PCL,
    "application/x-pcl": PCL,
    "application/vnd.hp-pclxl": PCL,
}
_GENERIC = frozenset({OCTET, "application/vnd.cups-raw", ""})
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"%!", POSTSCRIPT),
    (b"\x04%!", POSTSCRIPT),
    (b"RaS2", PWG),
    (b"UNIRAST\0", URF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\x1bE", PCL),
    (b"\x1b%-12345X", PCL),
)
SNIFF_BYTES = 1024


def normalize(document_format: str) -> str:
    """Lower-case MIME type without parameters, aliases folded (``image/jpg`` → jpeg)."""
    base = document_format.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def sniff(head: bytes) -> str | None:
    """The format that the first bytes of a file announce, if any."""
    stripped = head.lstrip(b"\0")
    for magic, found in _MAGIC:
        if stripped.startswith(magic):
            return _pjl_language(head) if magic == b"\x1b%-12345X" else found
    if b"%PDF-" in head:
        return PDF
    return None


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes are printable UTF-8 text (tabs, newlines, form feeds too)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text) and all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)


def _pjl_language(head: bytes) -> str:
    upper = head.upper()
    if b"LANGUAGE=PDF" in upper:
        return PDF
    if b"LANGUAGE=POSTSCRIPT" in upper:
        return POSTSCRIPT
    return PCL


def resolve(path: Path, document_format: str) -> str:
    """The format to analyse ``path`` as: what its magic bytes say, else the declared type;
    a file declared only generically (octet-stream) that reads as text is ``text/plain``."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    declared = normalize(document_format)
    found = sniff(head)
    if found is not None:
        return found
    if declared not in _GENERIC:
        return declared
    return TEXT if looks_like_text(head) else OCTET
