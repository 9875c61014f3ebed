"""The mails of Integrated Scanning: the document itself (attached, or as a download link
when too large), and the notice that says how a scan ended. Each has a Message-ID made from
the scan's id, so a mail sent again after a crash is recognisably the same one."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ScanMail:
    """Who a scan's mails are from and to, and what the scan was."""

    scan_id: str
    sender: str
    recipient: str
    device: str
    action: str
    pages: int
    domain: str

    def message(self, subject: str, kind: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = self.recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<scan-{kind}-{self.scan_id}@{self.domain}>"
        message["Auto-Submitted"] = "auto-generated"
        return message

    @property
    def what(self) -> str:
        pages = f"{self.pages} page" + ("" if self.pages == 1 else "s")
        return f"your scan of {pages} at {self.device} ({self.action})"


def document_mail(mail: ScanMail, files: list[Path], names: list[str]) -> EmailMessage:
    """The scan as attachments."""
    message = mail.message(f"Scan from {mail.device}", "document")
    message.set_content(f"Attached is {mail.what}.\n")
    for path, name in zip(files, names, strict=True):
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        main, _, sub = kind.partition("/")
        message.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=name)
    return message


def link_mail(mail: ScanMail, link: str, size: int, hours: int) -> EmailMessage:
    """The scan as a download link: too large to attach."""
    message = mail.message(f"Scan from {mail.device}", "document")
    megabytes = max(1, round(size / 1_000_000))
    message.set_content(
        f"{mail.what.capitalize()} is {megabytes} MB, too large to attach.\n\n"
        f"Download it here within {hours} hours:\n{link}\n"
    )
    return message


def delivered_mail(mail: ScanMail, where: str) -> EmailMessage:
    message = mail.message(f"Scan delivered: {mail.action}", "notice")
    message.set_content(f"{mail.what.capitalize()} was delivered to:\n{where}\n")
    return message


def failed_mail(mail: ScanMail, why: str, link: str, hours: int) -> EmailMessage:
    message = mail.message(f"Scan not delivered: {mail.action}", "notice")
    message.set_content(
        f"{mail.what.capitalize()} could not be delivered: {why}\n\n"
        f"Download it here within {hours} hours:\n{link}\n"
    )
    return message


def abandoned_mail(mail: ScanMail, why: str) -> EmailMessage:
    message = mail.message(f"Scan not completed at {mail.device}", "notice")
    message.set_content(
        f"Your scan at {mail.device} ({mail.action}) was not completed: {why}\n"
        "Nothing was charged. Please scan again.\n"
    )
    return message
