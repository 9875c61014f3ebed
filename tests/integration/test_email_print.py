"""Email to Print end to end on a real App Server: swaks and smtplib send mail to a queue's
address, the document is rendered and held at the Print Provider, the reply reaches the
smarthost (a Maildir sink), a device releases the job to an ippeveprinter and it is charged;
a spoofed sender is charged nothing until the person confirms in the portal."""

from __future__ import annotations

import json
import mailbox
import smtplib
import subprocess
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from test_held_jobs import COLOUR_PAGE, GREY_PAGE, Device, pdf, wait_received

from printwarden.sim.ports import free_port
from printwarden.testing import dovecot
from printwarden.testing.appserver import AppServer
from printwarden.testing.mail import SinkThread, self_signed, tnef
from support.devices import DeviceRig, device_rig
from support.provider import QueueSpec
from support.seeding import PRICES, wait_for
from support.web import browser, csrf_of, login

DOMAIN = "print.test"
RELAY = "mx.print.test"  # the organisation's MX, whose Authentication-Results we trust
PASSWORD = "correct horse battery"
QUEUES = [QueueSpec("secure", "hold", "mono-laser"), QueueSpec("Library_Colour", "hold",
          "colour-laser"), QueueSpec("findme", "findme")]  # fmt: skip


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkThread]:
    running = SinkThread(tmp_path_factory.mktemp("maildir") / "sink")
    yield running
    running.close()


MAILBOX, IMAP_TOKEN = "print@org.example", "imap-token-of-the-test"


@pytest.fixture(scope="module")
def imapd() -> Iterator[dovecot.Dovecot]:
    server = dovecot.Dovecot(MAILBOX, {IMAP_TOKEN: MAILBOX})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, sink: SinkThread, imapd: dovecot.Dovecot
) -> Iterator[DeviceRig]:
    root = tmp_path_factory.mktemp("email-print")
    cert, key = self_signed(root)
    mail_port = free_port()
    token_file = root / "imap.token"
    token_file.write_text(IMAP_TOKEN)
    token_file.chmod(0o600)
    mailbox = {"host": "127.0.0.1", "port": imapd.port, "username": MAILBOX,
               "recipient": f"secure@{DOMAIN}", "token_file": str(token_file),
               "ca_file": str(imapd.ca_file), "poll_seconds": 0.5}  # fmt: skip

    def env(app: AppServer) -> dict[str, str]:
        return {
            "PRINTWARDEN_MAIL__IMAP": json.dumps([mailbox]),
            "PRINTWARDEN_MAIL__DOMAIN": DOMAIN,
            "PRINTWARDEN_MAIL__PORT": str(mail_port),
            "PRINTWARDEN_MAIL__TLS_CERT": str(cert),
            "PRINTWARDEN_MAIL__TLS_KEY": str(key),
            "PRINTWARDEN_MAIL__SMARTHOST": f"127.0.0.1:{sink.port}",
            "PRINTWARDEN_MAIL__PUBLIC_URL": app.url,
            "PRINTWARDEN_MAIL__TRUSTED_RELAYS": f'["{RELAY}"]',
            "PRINTWARDEN_MAIL__TRUSTED_RELAY_NETWORKS": '["127.0.0.0/8"]',
            "PRINTWARDEN_MAIL__UNKNOWN_SENDER": "confirm",
        }

    colours = {"colour-laser": True, "mono-laser": False}
    with device_rig(root, colours, QUEUES, env=env) as world:
        world.mail_port = mail_port  # type: ignore[attr-defined]
        yield world


def mail_port(rig: DeviceRig) -> int:
    port: int = rig.mail_port  # type: ignore[attr-defined]
    return port


class Person:
    def __init__(self, rig: DeviceRig) -> None:
        self.card = uuid.uuid4().hex[:12]
        self.email = f"{uuid.uuid4().hex[:8]}@example.org"
        self.name = rig.add_user(10_000, cards=[self.card], email=self.email, password=PASSWORD)


def message(sender: str, to: str, *, trusted: bool = True) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, "please print"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    if trusted:
        domain = sender.rpartition("@")[2]
        mail["Authentication-Results"] = f"{RELAY}; dmarc=pass header.from={domain}"
    mail.set_content("See attached.")
    return mail


def send(rig: DeviceRig, mail: EmailMessage, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", mail_port(rig), timeout=30) as smtp:
        smtp.starttls()
        smtp.send_message(mail, from_addr=sender)


def replies_to(sink: SinkThread, address: str) -> list[EmailMessage]:
    found = []
    for raw in sink.sink.maildir:
        assert isinstance(raw, mailbox.MaildirMessage)
        parsed = message_from_bytes(raw.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        if address in str(parsed["To"]):
            found.append(parsed)
    return found


def body(reply: EmailMessage) -> str:
    part = reply.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def held(rig: DeviceRig, user: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(lambda: rig.held_job(user, name), f"{name} held", 60)
    return found


def test_swaks_mails_a_pdf_over_starttls_it_is_held_replied_released_and_charged(
    rig: DeviceRig, sink: SinkThread, tmp_path: Path
) -> None:
    person = Person(rig)
    document = tmp_path / "report.pdf"
    document.write_bytes(pdf(tmp_path, [COLOUR_PAGE, GREY_PAGE]))
    done = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{mail_port(rig)}", "--tls", "--from", person.email,
         "--to", f"library-colour@{DOMAIN}", "--attach", f"@{document}",
         "--add-header", f"Authentication-Results: {RELAY}; dmarc=pass header.from=example.org",
         "--header", "Subject: the report"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    job = held(rig, person.name, "report.pdf")
    assert (job["pages"], job["colour_pages"], job["queue"]) == (2, 1, "Library_Colour")
    cost = PRICES["colour_simplex"] + PRICES["grey_simplex"]
    reply = wait_for(lambda: replies_to(sink, person.email), "the reply")[0]
    assert "report.pdf" in body(reply)
    assert "held for release at Library_Colour (2 pages" in body(reply)
    assert reply["Auto-Submitted"] == "auto-replied"
    device = Device(rig, "colour-laser")
    session = device.card(person.card)
    before = len(rig.printers["colour-laser"].documents())
    assert device.release(session, job["id"]).status_code == 200
    wait_received(rig, "colour-laser", before)
    wait_for(lambda: rig.balance(person.name) == 10_000 - cost, "the charge")


def test_tnef_and_rfc2231_attachments_become_one_held_job_each(
    rig: DeviceRig, sink: SinkThread, tmp_path: Path
) -> None:
    person = Person(rig)
    mail = message(person.email, f"secure@{DOMAIN}")
    name = "Résumé très long.pdf"
    mail.add_attachment(pdf(tmp_path, [GREY_PAGE]), maintype="application", subtype="pdf",
                        filename=name)  # fmt: skip
    winmail = tnef({"notes.txt": b"from outlook\n" * 10})
    mail.add_attachment(winmail, maintype="application", subtype="ms-tnef",
                        filename="winmail.dat")  # fmt: skip
    send(rig, mail, person.email)
    assert held(rig, person.name, name)["pages"] == 1
    assert held(rig, person.name, "notes.txt")["pages"] == 1


def test_a_spoofed_sender_is_charged_nothing_until_the_person_confirms_in_the_portal(
    rig: DeviceRig, sink: SinkThread, tmp_path: Path
) -> None:
    person = Person(rig)
    mail = message(person.email, f"secure@{DOMAIN}", trusted=False)  # no DMARC pass
    mail.add_attachment(pdf(tmp_path, [GREY_PAGE]), maintype="application", subtype="pdf",
                        filename="forged.pdf")  # fmt: skip
    send(rig, mail, person.email)
    confirmation = wait_for(lambda: replies_to(sink, person.email), "the confirmation mail")[0]
    link = next(word for word in body(confirmation).split() if "/mail-confirm/" in word)
    assert rig.held_job(person.name, "forged.pdf") is None
    with browser(rig.app) as client:
        login(client, person.name, PASSWORD)
        path = link.removeprefix(rig.app.url)
        page = client.get(path)
        assert page.status_code == 200
        answer = client.post(path, data={"csrf_token": csrf_of(page)})
        assert answer.status_code == 200, answer.text
        assert "held for release at secure" in answer.text
    held(rig, person.name, "forged.pdf")
    with browser(rig.app) as client:  # a link works once
        login(client, person.name, PASSWORD)
        assert client.get(link.removeprefix(rig.app.url)).status_code == 404


def test_mail_in_a_hosted_mailbox_polled_over_imap_with_xoauth2_is_held(
    rig: DeviceRig, sink: SinkThread, imapd: dovecot.Dovecot, tmp_path: Path
) -> None:
    person = Person(rig)
    mail = message(person.email, MAILBOX)  # to the mailbox: it stands for secure@print.test
    mail["Return-Path"] = f"<{person.email}>"
    mail.add_attachment(pdf(tmp_path, [GREY_PAGE]), maintype="application", subtype="pdf",
                        filename="polled.pdf")  # fmt: skip
    imapd.deliver(bytes(mail))
    job = held(rig, person.name, "polled.pdf")
    assert job["queue"] == "secure"
    wait_for(lambda: replies_to(sink, person.email), "the reply")
    seen = wait_for(lambda: [f for _, f in imapd.flags(IMAP_TOKEN) if "\\Seen" in f], "Seen")
    assert len(seen) == 1


def test_an_unknown_address_is_refused_at_rcpt_and_an_archive_is_refused_in_the_reply(
    rig: DeviceRig, sink: SinkThread
) -> None:
    person = Person(rig)
    with smtplib.SMTP("127.0.0.1", mail_port(rig), timeout=30) as smtp:
        smtp.starttls()
        smtp.ehlo()
        smtp.mail(person.email)
        code, _ = smtp.rcpt(f"no-such-queue@{DOMAIN}")
        assert code == 550
    mail = message(person.email, f"secure@{DOMAIN}")
    mail.add_attachment(b"PK\x03\x04" + bytes(200), maintype="application", subtype="zip",
                        filename="photos.zip")  # fmt: skip
    send(rig, mail, person.email)
    reply = wait_for(lambda: replies_to(sink, person.email), "the reply")[0]
    assert "photos.zip" in body(reply)
    assert rig.held_job(person.name, "photos.zip") is None
