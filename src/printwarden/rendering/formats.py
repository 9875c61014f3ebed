"""Which office format a document really is, from its content (never from its name).

OOXML (``.docx``/``.xlsx``/``.pptx``) and OpenDocument (``.odt``/``.ods``/``.odp``) are ZIP
containers told apart by their ``[Content_Types].xml`` or ``mimetype`` entry and their
parts; the legacy Office formats (``.doc``/``.xls``/``.ppt``) are OLE2 compound files told
apart by their streams (read with ``olefile``); RTF starts with ``{\\rtf``. What looks like an
office document but must not be rendered — a plain ZIP archive, a password-protected
document (an encrypted OOXML is an OLE2 file with ``EncryptionInfo``), an executable — is
refused with :class:`DocumentRefused` and a reason a user can read.

Pure: reads the file, nothing else. ``olefile`` loads with the first OLE2 file.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, BinaryIO

from printwarden.analysis.detect import looks_like_text
from printwarden.rendering.errors import DocumentRefused

if TYPE_CHECKING:
    import olefile

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
HEAD_BYTES = 4096
_SMALL_ENTRY = 1 << 20  # [Content_Types].xml and mimetype are read only up to this size


@dataclass(frozen=True)
class OfficeType:
    """One office format LibreOffice renders here."""

    name: str  # short name and usual extension: "docx"
    mime: str
    family: str  # "writer", "calc" or "impress"
    import_filter: str  # LibreOffice's import filter, so that nothing is left to guessing
    description: str  # for people: "a Word document"

    def __str__(self) -> str:
        """The MIME type, like the formats of :mod:`printwarden.analysis.detect`."""
        return self.mime


def _types(*types: OfficeType) -> Mapping[str, OfficeType]:
    return MappingProxyType({t.name: t for t in types})


DOCX = OfficeType(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "writer",
    "MS Word 2007 XML",
    "a Word document",
)
XLSX = OfficeType(
    "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "calc",
    "Calc MS Excel 2007 XML",
    "an Excel workbook",
)
PPTX = OfficeType(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "impress",
    "Impress MS PowerPoint 2007 XML",
    "a PowerPoint presentation",
)
DOC = OfficeType("doc", "application/msword", "writer", "MS Word 97", "a Word 97-2003 document")
XLS = OfficeType(
    "xls", "application/vnd.ms-excel", "calc", "MS Excel 97", "an Excel 97-2003 workbook"
)
PPT = OfficeType(
    "ppt",
    "application/vnd.ms-powerpoint",
    "impress",
    "MS PowerPoint 97",
    "a PowerPoint 97-2003 presentation",
)
ODT = OfficeType(
    "odt", "application/vnd.oasis.opendocument.text", "writer", "writer8", "an OpenDocument text"
)
ODS = OfficeType(
    "ods",
    "application/vnd.oasis.opendocument.spreadsheet",
    "calc",
    "calc8",
    "an OpenDocument spreadsheet",
)
ODP = OfficeType(
    "odp",
    "application/vnd.oasis.opendocument.presentation",
    "impress",
    "impress8",
    "an OpenDocument presentation",
)
RTF = OfficeType("rtf", "application/rtf", "writer", "Rich Text Format", "an RTF document")
TEXT = OfficeType("txt", "text/plain", "writer", "Text (encoded)", "a text file")

OFFICE_FORMATS: Mapping[str, OfficeType] = _types(
    DOCX, XLSX, PPTX, DOC, XLS, PPT, ODT, ODS, ODP, RTF, TEXT
)
"""Every format rendered here, by short name (``"docx"``)."""

# ODF: the mimetype entry (templates are rendered as their documents).
_ODF = {
    "application/vnd.oasis.opendocument.text": ODT,
    "application/vnd.oasis.opendocument.text-template": ODT,
    "application/vnd.oasis.opendocument.spreadsheet": ODS,
    "application/vnd.oasis.opendocument.spreadsheet-template": ODS,
    "application/vnd.oasis.opendocument.presentation": ODP,
    "application/vnd.oasis.opendocument.presentation-template": ODP,
}
# OOXML: the main part's content type (macro-enabled and template variants included; macros
# never run: LibreOffice's macro security stays at its default).
_OOXML_MAIN = re.compile(
    rb"application/vnd\.(?:"
    rb"openxmlformats-officedocument\.(?P<x>wordprocessingml|spreadsheetml|presentationml)"
    rb"|ms-(?P<m>word|excel|powerpoint)\.[a-z]+\.macroenabled)"
    rb"[a-z.]*\.main\+xml",
    re.IGNORECASE,
)
_OOXML_KIND = {
    "wordprocessingml": DOCX,
    "word": DOCX,
    "spreadsheetml": XLSX,
    "excel": XLSX,
    "presentationml": PPTX,
    "powerpoint": PPTX,
}
_OOXML_DIR = {DOCX: "word/", XLSX: "xl/", PPTX: "ppt/"}

_EXECUTABLES = (
    (b"\x7fELF", "a Linux program"),
    (b"MZ", "a Windows program"),
    (b"\xfe\xed\xfa\xce", "a macOS program"),
    (b"\xfe\xed\xfa\xcf", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "a macOS program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java program"),
    (b"#!", "a script"),
)


def detect_office(path: Path, *, text: bool = False) -> OfficeType | None:
    """The office format of the file at ``path``, found from its content.

    ``None`` when it is no office document at all (a PDF, an image, unknown bytes: not this
    package's business). Raises :class:`DocumentRefused` for what looks like one but is
    not to be rendered: a plain ZIP archive, another OLE2 file, a password-protected
    document, an executable. Plain text is :data:`TEXT` only with ``text=True`` (the
    project converts text itself)."""
    with path.open("rb") as handle:
        return detect_office_stream(handle, text=text)


def detect_office_stream(handle: BinaryIO, *, text: bool = False) -> OfficeType | None:
    """:func:`detect_office` for an open, seekable binary file."""
    handle.seek(0)
    head = handle.read(HEAD_BYTES)
    if head.startswith(ZIP_MAGIC):
        handle.seek(0)
        return _zip_type(handle)
    if head.startswith(OLE_MAGIC):
        handle.seek(0)
        return _ole_type(handle)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return RTF
    for magic, what in _EXECUTABLES:
        if head.startswith(magic):
            raise DocumentRefused(f"this file is {what}, not a document")
    if text and looks_like_text(head):
        return TEXT
    return None


def _zip_type(handle: BinaryIO) -> OfficeType:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentRefused("this file is a damaged ZIP archive, not a document") from exc
    with archive:
        names = set(archive.namelist())
        found = _odf_type(archive, names) or _ooxml_type(archive, names)
    if found is None:
        raise DocumentRefused(
            "this file is a ZIP archive, not a Word, Excel, PowerPoint or OpenDocument file"
        )
    return found


def _small_entry(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as entry:
            return entry.read(_SMALL_ENTRY)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise DocumentRefused("this document is damaged (its ZIP container is broken)") from exc


def _odf_type(archive: zipfile.ZipFile, names: set[str]) -> OfficeType | None:
    if "mimetype" not in names:
        return None
    mimetype = _small_entry(archive, "mimetype").strip().decode("ascii", "replace")
    if mimetype in _ODF:
        if "content.xml" not in names:
            raise DocumentRefused("this OpenDocument file is damaged (it has no content)")
        return _ODF[mimetype]
    if mimetype.startswith("application/vnd.oasis.opendocument."):
        kind = mimetype.rsplit(".", 1)[-1]
        raise DocumentRefused(f"OpenDocument {kind} files are not supported")
    return None


def _ooxml_type(archive: zipfile.ZipFile, names: set[str]) -> OfficeType | None:
    if "[Content_Types].xml" not in names:
        return None
    match = _OOXML_MAIN.search(_small_entry(archive, "[Content_Types].xml"))
    if match is None:
        return None
    kind = (match.group("x") or match.group("m")).decode().lower()
    found = _OOXML_KIND[kind]
    if not any(name.startswith(_OOXML_DIR[found]) for name in names):
        raise DocumentRefused(f"this file claims to be {found.description} but is damaged")
    return found


def _ole_type(handle: BinaryIO) -> OfficeType:
    import olefile  # loaded on first use: most documents are not OLE2 files

    try:
        ole = olefile.OleFileIO(handle)
    except (OSError, ValueError, struct.error) as exc:
        raise DocumentRefused("this file is a damaged Office 97-2003 file") from exc
    try:
        streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=False)}
        if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
            raise DocumentRefused(
                "this document is password-protected; remove the password and send it again"
            )
        if "WordDocument" in streams:
            if _word_encrypted(ole):
                raise DocumentRefused(
                    "this Word document is password-protected; "
                    "remove the password and send it again"
                )
            return DOC
        if "Workbook" in streams or "Book" in streams:
            if _excel_encrypted(ole, "Workbook" if "Workbook" in streams else "Book"):
                raise DocumentRefused(
                    "this Excel workbook is password-protected; "
                    "remove the password and send it again"
                )
            return XLS
        if "PowerPoint Document" in streams:
            if "EncryptedSummary" in streams:
                raise DocumentRefused(
                    "this PowerPoint presentation is password-protected; "
                    "remove the password and send it again"
                )
            return PPT
    except (OSError, ValueError, struct.error) as exc:
        raise DocumentRefused("this file is a damaged Office 97-2003 file") from exc
    finally:
        ole.close()
    raise DocumentRefused(
        "this file is an Office 97-2003 container but not a Word, Excel or PowerPoint file"
    )


def _word_encrypted(ole: olefile.OleFileIO) -> bool:
    """The FIB's ``fEncrypted`` bit (MS-DOC 2.5.2: flags at offset 10, bit 8)."""
    with ole.openstream("WordDocument") as stream:
        fib = stream.read(12)
    if len(fib) < 12:
        raise DocumentRefused("this Word document is damaged")
    flags: int = struct.unpack_from("<H", fib, 10)[0]
    return bool(flags & 0x0100)


def _excel_encrypted(ole: olefile.OleFileIO, name: str, max_records: int = 4096) -> bool:
    """A FILEPASS record (0x002F) in the workbook globals, before their EOF (0x000A)."""
    with ole.openstream(name) as stream:
        for _ in range(max_records):
            header = stream.read(4)
            if len(header) < 4:
                return False
            kind, size = struct.unpack("<HH", header)
            if kind == 0x002F:
                return True
            if kind == 0x000A:
                return False
            stream.seek(size, 1)
    return False
