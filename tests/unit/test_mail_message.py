"""The documents of a mail message: attachments, their names, TNEF, what is skipped or refused."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest

from printwarden.mail.filenames import MAX_NAME, sanitise
from printwarden.mail.message import Limits, MessageTooLarge, parse
from printwarden.testing.mail import tnef

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def mail(body: str = "Please print.") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.org>"
    msg["To"] = "print@print.example.org"
    msg["Subject"] = "print this"
    msg["Message-ID"] = "<m1@example.org>"
    msg.set_content(body)
    return msg


def test_a_pdf_attachment_is_a_document_and_the_body_is_not() -> None:
    msg = mail()
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    parsed = parse(msg.as_bytes())
    assert [(d.filename, d.content_type, d.data) for d in parsed.documents] == [
        ("report.pdf", "application/pdf", PDF)
    ]
    assert parsed.sender == "ann@example.org"
    assert parsed.message_id == "<m1@example.org>"


def test_a_non_text_part_with_a_name_but_no_disposition_is_a_document() -> None:
    raw = (
        b"From: ann@example.org\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--b\r\nContent-Type: application/pdf; name="old.pdf"\r\n\r\n%PDF-1.4 x\r\n'
        b"--b--\r\n"
    )
    assert [d.filename for d in parse(raw).documents] == ["old.pdf"]


RFC2231 = (
    b"From: ann@example.org\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    b"--b\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment;\r\n"
    b" filename*0*=UTF-8''R%C3%A9sum%C3%A9;\r\n"
    b" filename*1*=.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    b"--b--\r\n"
)


def test_rfc2231_continuations_and_utf8_names_are_decoded() -> None:
    (document,) = parse(RFC2231).documents
    assert document.filename == "Résumé.pdf"
    assert document.data == b"%PDF-1.4\n"


def test_rfc2047_encoded_names_are_decoded() -> None:
    raw = (
        b"From: ann@example.org\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?UTF-8?B?w5xiZXJzaWNodC5wZGY=?="\r\n'
        b"\r\n%PDF-1.4\r\n--b--\r\n"
    )
    assert [d.filename for d in parse(raw).documents] == ["Übersicht.pdf"]


def test_winmail_dat_is_unpacked_into_its_attachments() -> None:
    msg = mail()
    inner = tnef({"budget.pdf": PDF, "notes.txt": b"some notes"})
    msg.add_attachment(inner, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    parsed = parse(msg.as_bytes())
    assert [(d.filename, d.data) for d in parsed.documents] == [
        ("budget.pdf", PDF),
        ("notes.txt", b"some notes"),
    ]
    assert parsed.refusals == ()


def test_a_broken_winmail_dat_is_refused_with_a_reason() -> None:
    msg = mail()
    broken = tnef({"budget.pdf": PDF})[:40]
    msg.add_attachment(broken, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    parsed = parse(msg.as_bytes())
    assert parsed.documents == ()
    assert [r.filename for r in parsed.refusals] == ["winmail.dat"]


def image(size: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * (size - 8)


def test_small_inline_images_are_skipped_and_large_ones_printed() -> None:
    msg = mail()
    msg.add_related(image(2000), maintype="image", subtype="png", cid="<logo>")
    msg.add_attachment(image(20_000), maintype="image", subtype="png", filename="photo.png")
    parsed = parse(msg.as_bytes())
    assert [d.filename for d in parsed.documents] == ["photo.png"]
    assert parsed.refusals == ()


def test_a_large_inline_image_without_a_name_is_printed() -> None:
    msg = mail()
    msg.add_related(image(20_000), maintype="image", subtype="png", cid="<scan>")
    (document,) = parse(msg.as_bytes(), Limits(inline_image_min_bytes=10_000)).documents
    assert document.filename == "attachment-1.png"


def zipped(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (zipped({"a.pdf": PDF}), "ZIP"),
        (b"Rar!\x1a\x07\x00" + b"\x00" * 40, "RAR"),
        (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40, "7-Zip"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 40, "gzip"),
        (b"\x00" * 257 + b"ustar\x0000" + b"\x00" * 240, "tar"),
    ],
)
def test_archives_are_refused_by_content_whatever_their_name(data: bytes, kind: str) -> None:
    msg = mail()
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="innocent.pdf")
    parsed = parse(msg.as_bytes())
    assert parsed.documents == ()
    assert [(r.filename, r.reason) for r in parsed.refusals] == [
        ("innocent.pdf", f"{kind} archives are not printed")
    ]


def test_office_documents_are_zip_containers_but_not_archives() -> None:
    msg = mail()
    docx = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    msg.add_attachment(docx, maintype="application", subtype="octet-stream", filename="a.docx")
    assert [d.filename for d in parse(msg.as_bytes()).documents] == ["a.docx"]


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\report.pdf", "report.pdf"),
        ("..", "fallback.pdf"),
        ("report\x00\r\n.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        (".hidden.pdf", "hidden.pdf"),
    ],
)
def test_names_are_sanitised(name: str, safe: str) -> None:
    assert sanitise(name, "fallback.pdf") == safe


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = sanitise("x" * 500 + ".pdf", "f")
    assert len(name) == MAX_NAME
    assert name.endswith("x.pdf")


def test_a_path_traversal_name_in_a_message_is_sanitised() -> None:
    msg = mail()
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="../../../tmp/x.pdf")
    assert [d.filename for d in parse(msg.as_bytes()).documents] == ["x.pdf"]


def test_the_body_is_printed_only_as_configured() -> None:
    with_attachment = mail("the body")
    with_attachment.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    bare = mail("only a body").as_bytes()
    raw = with_attachment.as_bytes()

    def names(data: bytes, option: str) -> list[str]:
        return [d.filename for d in parse(data, Limits(print_body=option)).documents]  # type: ignore[arg-type]

    assert names(raw, "never") == ["a.pdf"]
    assert names(raw, "always") == ["message.txt", "a.pdf"]
    assert names(raw, "when-no-attachments") == ["a.pdf"]
    assert names(bare, "when-no-attachments") == ["message.txt"]
    assert names(bare, "never") == []
    body = parse(bare, Limits(print_body="always")).documents[0]
    assert body.data.strip() == b"only a body"


def test_an_html_only_body_is_printed_as_html() -> None:
    msg = mail()
    msg.set_content("<p>hello</p>", subtype="html")
    (document,) = parse(msg.as_bytes(), Limits(print_body="always")).documents
    assert document.filename == "message.html"


def test_attachments_over_the_limit_are_refused() -> None:
    msg = mail()
    for index in range(4):
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"{index}.pdf")
    parsed = parse(msg.as_bytes(), Limits(max_attachments=3))
    assert [d.filename for d in parsed.documents] == ["0.pdf", "1.pdf", "2.pdf"]
    assert [r.filename for r in parsed.refusals] == ["3.pdf"]
    assert "at most 3" in parsed.refusals[0].reason


def test_a_message_over_the_size_limit_is_refused_whole() -> None:
    with pytest.raises(MessageTooLarge):
        parse(b"x" * 2000, Limits(max_message_bytes=1000))


def test_empty_attachments_are_refused() -> None:
    msg = mail()
    msg.add_attachment(b"", maintype="application", subtype="pdf", filename="empty.pdf")
    assert [r.reason for r in parse(msg.as_bytes()).refusals] == ["the attachment is empty"]


def test_auto_reply_headers_are_read() -> None:
    msg = mail()
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    msg["List-Id"] = "<l.example.org>"
    parsed = parse(msg.as_bytes())
    assert (parsed.auto_submitted, parsed.precedence, parsed.list_id) == (
        "auto-generated",
        "bulk",
        "<l.example.org>",
    )
