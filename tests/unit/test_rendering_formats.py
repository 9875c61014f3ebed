"""The rendering service finds an office document's real format from its content."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from printwarden.rendering import OFFICE_FORMATS, DocumentRefused, RenderFailed, detect_office
from printwarden.rendering.formats import detect_office_stream
from printwarden.testing import office_corpus

REAL = {
    "docx-4": "docx",
    "doc-2": "doc",
    "odt-3": "odt",
    "rtf-2": "rtf",
    "xlsx-2": "xlsx",
    "xls-2": "xls",
    "ods-2": "ods",
    "pptx-3": "pptx",
    "ppt-3": "ppt",
    "odp-3": "odp",
}


@pytest.fixture(scope="module")
def corpus() -> office_corpus.Corpus:
    return office_corpus.build()


@pytest.mark.parametrize(("name", "expected"), sorted(REAL.items()))
def test_documents_made_by_libreoffice(
    corpus: office_corpus.Corpus, tmp_path: Path, name: str, expected: str
) -> None:
    found = detect_office(corpus.path(name))
    assert found is not None
    assert found.name == expected
    assert OFFICE_FORMATS[expected] is found
    renamed = tmp_path / "upload.pdf"  # the name says nothing: the content does
    shutil.copyfile(corpus.path(name), renamed)
    assert detect_office(renamed) is found


def _zip(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def _content_types(main: str) -> bytes:
    return (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Override PartName="/x" ContentType="{main}"/></Types>'
    ).encode()


@pytest.mark.parametrize(
    ("main", "part", "expected"),
    [
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            "word/document.xml",
            "docx",
        ),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "xl/workbook.xml",
            "xlsx",
        ),
        (
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
            "ppt/presentation.xml",
            "pptx",
        ),
        ("application/vnd.ms-word.document.macroEnabled.main+xml", "word/document.xml", "docx"),
        ("application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xl/workbook.xml", "xlsx"),
    ],
)
def test_minimal_ooxml(main: str, part: str, expected: str) -> None:
    handle = _zip({"[Content_Types].xml": _content_types(main), part: b"<x/>"})
    found = detect_office_stream(handle)
    assert found is not None
    assert found.name == expected


def test_ooxml_without_its_parts_is_refused() -> None:
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    with pytest.raises(DocumentRefused, match="damaged"):
        detect_office_stream(_zip({"[Content_Types].xml": _content_types(main)}))


def test_odf_by_its_mimetype_entry() -> None:
    for mimetype, expected in [
        ("application/vnd.oasis.opendocument.text", "odt"),
        ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
        ("application/vnd.oasis.opendocument.presentation-template", "odp"),
    ]:
        handle = _zip({"mimetype": mimetype.encode(), "content.xml": b"<x/>"})
        found = detect_office_stream(handle)
        assert found is not None
        assert found.name == expected
    drawing = _zip({"mimetype": b"application/vnd.oasis.opendocument.graphics"})
    with pytest.raises(DocumentRefused, match="graphics files are not supported"):
        detect_office_stream(drawing)


def test_a_plain_zip_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(_zip({"notes.txt": b"hello", "photo.jpg": b"\xff\xd8\xff"}).getvalue())
    with pytest.raises(DocumentRefused, match="ZIP archive") as caught:
        detect_office(path)
    assert isinstance(caught.value, RenderFailed)
    assert "Word, Excel, PowerPoint" in caught.value.reason


def test_a_broken_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(DocumentRefused, match="damaged ZIP"):
        detect_office(path)


def test_an_executable_named_docx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "invoice.docx"
    shutil.copyfile("/bin/true", path)
    with pytest.raises(DocumentRefused, match="Linux program"):
        detect_office(path)
    path.write_bytes(b"MZ\x90\x00" + b"\0" * 60)
    with pytest.raises(DocumentRefused, match="Windows program"):
        detect_office(path)
    path.write_bytes(b"#!/bin/sh\nrm -rf /\n")
    with pytest.raises(DocumentRefused, match="script"):
        detect_office(path)


def test_an_encrypted_ooxml_is_refused(corpus: office_corpus.Corpus) -> None:
    with pytest.raises(DocumentRefused, match="password-protected"):
        detect_office(corpus.path("docx-encrypted"))


def test_an_encrypted_word_97_document_is_refused(
    corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    data = bytearray(corpus.path("doc-2").read_bytes())
    # Set fEncrypted in the FIB of the WordDocument stream (found by its wIdent 0xA5EC).
    offset = data.find(b"\xec\xa5")
    assert offset > 0
    data[offset + 11] |= 0x01
    path = tmp_path / "locked.doc"
    path.write_bytes(bytes(data))
    with pytest.raises(DocumentRefused, match="Word document is password-protected"):
        detect_office(path)


def test_another_ole2_file_is_refused(corpus: office_corpus.Corpus, tmp_path: Path) -> None:
    data = corpus.path("doc-2").read_bytes()
    # Rename every stream the detection looks for (UTF-16 names in the directory).
    for name in ("WordDocument", "Workbook", "PowerPoint Document"):
        data = data.replace(name.encode("utf-16-le"), ("X" * len(name)).encode("utf-16-le"))
    path = tmp_path / "other.doc"
    path.write_bytes(data)
    with pytest.raises(DocumentRefused, match="not a Word, Excel or PowerPoint"):
        detect_office(path)


def test_rtf_and_text(tmp_path: Path) -> None:
    path = tmp_path / "a"
    path.write_bytes(b"\xef\xbb\xbf{\\rtf1\\ansi hello}")
    found = detect_office(path)
    assert found is not None
    assert found.name == "rtf"
    path.write_bytes(b"plain words\n")
    assert detect_office(path) is None  # the project renders text itself
    found = detect_office(path, text=True)
    assert found is not None
    assert found.name == "txt"


def test_other_documents_are_none(tmp_path: Path) -> None:
    path = tmp_path / "a.docx"
    for data in (b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\x00\x01\x02\x03garbage"):
        path.write_bytes(data)
        assert detect_office(path) is None
