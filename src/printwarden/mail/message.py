"""The documents in a mail message (no I/O): raw RFC 5322 bytes in, documents and refusals out.

A document is every attachment (``Content-Disposition: attachment``, or a non-text part with
a file name, or an inline image of at least ``inline_image_min_bytes``: smaller ones are
signature logos and are skipped), with Outlook's ``winmail.dat`` (``application/ms-tnef``)
unpacked into its attachments; archives (by content) are refused. File names come decoded
from RFC 2231 and RFC 2047 and sanitised (:mod:`printwarden.mail.filenames`). The body is a
document too when ``print_body`` says so.
"""

from __future__ import annotations

import email
import email.header
import email.utils
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message

from tnefparse.tnef import TNEF

from printwarden.mail.archives import archive_kind
from printwarden.mail.filenames import fallback_name, sanitise
from printwarden.mail.settings import PrintBody

TNEF_MAGIC = b"\x78\x9f\x3e\x22"
TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")


class MessageTooLarge(ValueError):
    """The message is over the configured maximum size."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What :func:`parse` accepts."""

    max_message_bytes: int = 25 * 1024 * 1024
    max_attachments: int = 20
    inline_image_min_bytes: int = 10 * 1024
    print_body: PrintBody = "never"


@dataclass(frozen=True, slots=True)
class Document:
    """A document to print: its sanitised name, declared type and decoded bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    """A part that will not print, and why."""

    filename: str
    reason: str


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message as Email to Print sees it."""

    documents: tuple[Document, ...]
    refusals: tuple[Refusal, ...]
    sender: str  # the From: address ("" when there is none usable)
    message_id: str  # the Message-ID header ("" when missing)
    subject: str
    auto_submitted: str
    precedence: str
    list_id: str


def parse(raw: bytes, limits: Limits = Limits()) -> Parsed:
    """The documents and refusals of ``raw``; :class:`MessageTooLarge` over the limit."""
    if len(raw) > limits.max_message_bytes:
        raise MessageTooLarge(f"message of {len(raw)} bytes, over {limits.max_message_bytes}")
    msg = email.message_from_bytes(raw, policy=policy.default)
    found: list[Document] = []
    refusals: list[Refusal] = []
    for part in msg.walk():
        if not part.is_multipart():
            _collect(part, limits, found, refusals)
    documents = _with_body(msg, found, limits.print_body)
    kept = documents[: limits.max_attachments]
    for extra in documents[limits.max_attachments :]:
        reason = f"too many attachments (at most {limits.max_attachments} per message)"
        refusals.append(Refusal(extra.filename, reason))
    return Parsed(
        documents=tuple(kept),
        refusals=tuple(refusals),
        sender=from_address(msg),
        message_id=_header(msg, "Message-ID"),
        subject=_header(msg, "Subject"),
        auto_submitted=_header(msg, "Auto-Submitted"),
        precedence=_header(msg, "Precedence"),
        list_id=_header(msg, "List-Id"),
    )


def from_address(msg: Message) -> str:
    """The single From: address of ``msg``, lower-cased; "" when none or several."""
    values = msg.get_all("From") or []
    addresses = email.utils.getaddresses([str(value) for value in values])
    usable = [address for _, address in addresses if "@" in address]
    return usable[0].lower() if len(usable) == 1 and len(addresses) == 1 else ""


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError):  # a header the parser chokes on is no header
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _collect(part: Message, limits: Limits, found: list[Document], out: list[Refusal]) -> None:
    disposition = part.get_content_disposition()
    content_type = part.get_content_type()
    raw_name = _filename(part)
    is_image = part.get_content_maintype() == "image"
    if not (disposition == "attachment" or raw_name or is_image):
        return  # the body, or a part of it
    if content_type.startswith("multipart/") or content_type == "message/rfc822":
        return
    name = sanitise(raw_name, fallback_name(len(found) + 1, content_type))
    data = _payload(part)
    if data is None:
        out.append(Refusal(name, "the attachment could not be decoded"))
    elif is_image and disposition != "attachment" and len(data) < limits.inline_image_min_bytes:
        return  # a signature logo or similar
    elif _is_tnef(content_type, name, data):
        _unpack_tnef(name, data, found, out)
    else:
        _add(Document(name, content_type, data), found, out)


def _add(document: Document, found: list[Document], out: list[Refusal]) -> None:
    kind = archive_kind(document.data)
    if not document.data:
        out.append(Refusal(document.filename, "the attachment is empty"))
    elif kind:
        out.append(Refusal(document.filename, f"{kind} archives are not printed"))
    else:
        found.append(document)


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except (ValueError, IndexError, LookupError):
        return None
    if name and "=?" in name:  # RFC 2047 inside a quoted parameter (not allowed, common)
        name = str(email.header.make_header(email.header.decode_header(name)))
    return name


def _payload(part: Message) -> bytes | None:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError):
        return None
    return data if isinstance(data, bytes) else None


def _is_tnef(content_type: str, name: str, data: bytes) -> bool:
    return (content_type in TNEF_TYPES or name.lower() == "winmail.dat") and data.startswith(
        TNEF_MAGIC
    )


def _unpack_tnef(name: str, data: bytes, found: list[Document], out: list[Refusal]) -> None:
    try:
        attachments = TNEF(data, do_checksum=False).attachments
    except Exception:  # tnefparse raises anything on malformed input
        out.append(Refusal(name, "the Outlook (TNEF) attachment could not be read"))
        return
    if not attachments:
        out.append(Refusal(name, "the Outlook (TNEF) attachment holds no documents"))
    for attachment in attachments:
        inner = _tnef_name(attachment)
        content = attachment.data if isinstance(attachment.data, bytes) else b""
        fallback = fallback_name(len(found) + 1, "application/octet-stream")
        _add(Document(sanitise(inner, fallback), "application/octet-stream", content), found, out)


def _tnef_name(attachment: object) -> str:
    try:
        name = attachment.long_filename()  # type: ignore[attr-defined]
    except (UnicodeDecodeError, ValueError, AttributeError):
        return ""
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name or "")


def _with_body(msg: EmailMessage, found: list[Document], print_body: PrintBody) -> list[Document]:
    if print_body == "never" or (print_body == "when-no-attachments" and found):
        return found
    body = _body(msg)
    return [body, *found] if body else found


def _body(msg: EmailMessage) -> Document | None:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None or part.get_content_disposition() == "attachment":
        return None
    try:
        text = part.get_content()
    except (LookupError, ValueError):
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    subtype = part.get_content_subtype()
    suffix = "html" if subtype == "html" else "txt"
    return Document(f"message.{suffix}", f"text/{subtype}; charset=utf-8", text.encode())
