"""Which document format a spooled file is: its magic bytes, else its declared MIME type."""

from __future__ import annotations

from pathlib import Path

PDF = "application/pdf"
POSTSCRIPT = "application/postscript"
PWG = "image/pwg-raster"
URF = "image/urf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
GIF = "image/gif"
TEXT = "text/plain"
PCL = "application/vnd.hp-pcl"
OCTET = "application/octet-stream"
# Recognised only to be refused: office documents (OOXML and OpenDocument are ZIP files,
# older Office files OLE2 compound files) that no printer here can be sent.
ZIP = "application/zip"
OLE = "application/x-ole-storage"
# Photos and scans: each becomes a page of its own when made a PDF.
PHOTOS = frozenset({JPEG, PNG, TIFF, GIF})

_ALIASES = {
    "application/x-pdf": PDF,
    "application/ps": POSTSCRIPT,
    "application/x-postscript": POSTSCRIPT,
    "application/eps": POSTSCRIPT,
    "application/x-eps": POSTSCRIPT,
    "image/eps": POSTSCRIPT,
    "image/x-eps": POSTSCRIPT,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/tif": TIFF,
    "image/x-tiff": TIFF,
    "application/pcl": PCL,
    "application/x-pcl": PCL,
    "application/vnd.hp-pclxl": PCL,
}
_GENERIC = frozenset({OCTET, "application/vnd.cups-raw", ""})
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"%!", POSTSCRIPT),
    (b"\x04%!", POSTSCRIPT),
    (b"\xc5\xd0\xd3\xc6", POSTSCRIPT),  # EPS with a DOS binary header
    (b"RaS2", PWG),
    (b"UNIRAST\0", URF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"II*\0", TIFF),
    (b"MM\0*", TIFF),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"PK\x03\x04", ZIP),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", OLE),
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
        return resolve_head(handle.read(SNIFF_BYTES), document_format)


def resolve_head(head: bytes, document_format: str) -> str:
    """:func:`resolve` for the first :data:`SNIFF_BYTES` bytes of a document (or all of a
    shorter one): what the provider checks while a document is still arriving."""
    declared = normalize(document_format)
    found = sniff(head)
    if found is not None:
        return found
    if declared not in _GENERIC:
        return declared
    return TEXT if looks_like_text(head) else OCTET
