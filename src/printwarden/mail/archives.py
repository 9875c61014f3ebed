"""Archives recognised by their content, not their name (no I/O).

Office documents that are ZIP containers (OOXML: ``[Content_Types].xml``; OpenDocument: a
``mimetype`` entry) are documents, not archives."""

from __future__ import annotations

import io
import zipfile

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"Rar!\x1a\x07", "RAR"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (0, b"LZIP", "lzip"),
    (0, b"MSCF", "cabinet"),
    (0, b"!<arch>\n", "ar"),
    (257, b"ustar", "tar"),
)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OFFICE_ENTRIES = ("[Content_Types].xml", "mimetype")


def archive_kind(data: bytes) -> str | None:
    """The kind of archive ``data`` is ("ZIP", "RAR", "tar", …), or None."""
    for offset, magic, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if data[:4] in _ZIP and not _is_office(data):
        return "ZIP"
    return None


def _is_office(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return False
    return any(entry in names for entry in _OFFICE_ENTRIES)
