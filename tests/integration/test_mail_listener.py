"""Email to Print end to end: a real listener on 127.0.0.1 with a recording print side,
real SMTP clients (swaks over STARTTLS, smtplib) and a Maildir sink as the smarthost."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from printwarden.mail.settings import MailSettings
from printwarden.testing.mail import RecordingTarget, ServiceThread, self_signed, tnef

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PRINT = "print@print.example.org"
TRUSTED = "Authentication-Results: mx.example.org; dmarc=pass header.from=example.org"
URL = "https://print.example.org/mail/confirm/"


@pytest.fixture
def target() -> RecordingTarget:
    return RecordingTarget(
        queues={PRINT: "Library colour", "mono@print.example.org": "Library mono"},
        users={"ann@example.org": "ann"},
        url=URL,
    )


@pytest.fixture
def running(tmp_path: Path, target: RecordingTarget) -> Iterator[ServiceThread]:
    cert, key = self_signed(tmp_path)
    settings = MailSettings(
        port=0,
        tls_cert=cert,
        tls_key=key,
        max_message_bytes=200_000,
        trusted_relays=("mx.example.org",),
        trusted_relay_networks=("127.0.0.0/8",),
        unknown_sender="reject-with-instructions",
    )
    service = ServiceThread(settings, target, tmp_path / "spool", tmp_path / "maildir")
    yield service
    service.close()


def swaks(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "client.example.org", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def message(sender: str = "ann@example.org", *headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = PRINT
    msg["Subject"] = "print"
    msg["Message-ID"] = f"<{time.monotonic_ns()}@example.org>"
    for header in headers:
        name, _, value = header.partition(": ")
        msg[name] = value
    msg.set_content("please print")
    return msg


def send(port: int, msg: EmailMessage | bytes, sender: str = "ann@example.org") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        if isinstance(msg, bytes):
            smtp.sendmail(sender, [PRINT], msg)
        else:
            smtp.send_message(msg, from_addr=sender, to_addrs=[PRINT])


def replies(service: ServiceThread) -> list[EmailMessage]:
    assert service.sink is not None
    return list(service.sink.messages())  # type: ignore[arg-type]


def test_swaks_sends_a_pdf_over_starttls_and_the_reply_lands_in_the_sink(
    running: ServiceThread, target: RecordingTarget, tmp_path: Path
) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(PDF)
    result = swaks(
        running.port,
        *("--tls", "--from", "ann@example.org", "--to", PRINT),
        *("--header", "Subject: my report", "--add-header", TRUSTED),
        *("--attach-type", "application/pdf", "--attach", f"@{pdf}"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "STARTTLS" in result.stdout
    running.wait_for(lambda: running.service.stats()["replies_sent"] == 1)
    (submitted,) = target.submits
    assert (submitted.username, submitted.queue, submitted.filename) == (
        "ann",
        "Library colour",
        "report.pdf",
    )
    assert submitted.data == PDF
    (reply,) = replies(running)
    assert reply["To"] == "ann@example.org"
    assert reply["X-Envelope-From"] == "<>"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert "report.pdf: held for release at Library colour" in reply.get_payload()


def test_an_unknown_recipient_is_refused_with_550(running: ServiceThread) -> None:
    result = swaks(running.port, "--from", "ann@example.org", "--to", "nobody@print.example.org")
    assert result.returncode == 24  # swaks: the server refused every recipient
    assert "550 5.1.1" in result.stdout
    relay = swaks(running.port, "--from", "ann@example.org", "--to", "someone@elsewhere.net")
    assert "550 5.7.1 Relaying denied" in relay.stdout
    assert running.service.stats()["refused_rcpt"] == 2


def test_a_message_over_the_size_limit_is_refused_with_552(
    running: ServiceThread, target: RecordingTarget, tmp_path: Path
) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(PDF + b"0" * 300_000)
    result = swaks(running.port, "--from", "ann@example.org", "--to", PRINT, "--attach", f"@{big}")
    assert result.returncode != 0
    assert "552" in result.stdout
    assert running.service.stats()["accepted"] == 0
    assert target.submits == []


def test_tnef_and_rfc2231_attachments_sent_with_smtplib(
    running: ServiceThread, target: RecordingTarget
) -> None:
    msg = message("ann@example.org", TRUSTED)
    msg.add_attachment(
        tnef({"budget.pdf": PDF}), maintype="application", subtype="ms-tnef",
        filename="winmail.dat",
    )  # fmt: skip
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="Résumé.pdf")
    send(running.port, msg)
    running.wait_for(lambda: running.service.stats()["processed"] == 1)
    assert [(s.filename, s.data) for s in target.submits] == [
        ("budget.pdf", PDF),
        ("Résumé.pdf", PDF),
    ]
    ids = [s.message_id for s in target.submits]
    assert ids[0].endswith("/Library colour/0")
    assert ids[1] == ids[0][:-1] + "1"


def test_a_spoofed_sender_is_held_until_the_user_confirms(
    running: ServiceThread, target: RecordingTarget
) -> None:
    msg = message("ann@example.org")  # no trusted verdict, no DKIM, no SPF: not aligned
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    send(running.port, msg, sender="mallory@evil.com")
    running.wait_for(lambda: running.service.stats()["replies_sent"] == 1)
    assert target.submits == []
    (mail,) = replies(running)
    assert mail["To"] == "ann@example.org"
    token = mail.get_payload(decode=True).decode().split(URL)[1].split()[0]  # type: ignore[union-attr]
    outcomes = running.service.confirm(token, "ann")
    assert [(o.filename, o.held) for o in outcomes] == [("a.pdf", True)]
    assert [(s.username, s.filename) for s in target.submits] == [("ann", "a.pdf")]


def test_an_unknown_sender_confirming_gets_the_address_linked(
    tmp_path: Path, target: RecordingTarget
) -> None:
    settings = MailSettings(port=0, unknown_sender="confirm")
    service = ServiceThread(settings, target, tmp_path / "spool", tmp_path / "maildir")
    try:
        msg = message("new@example.org")
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="n.pdf")
        send(service.port, msg, sender="new@example.org")
        service.wait_for(lambda: service.service.stats()["replies_sent"] == 1)
        (mail,) = replies(service)
        token = mail.get_payload(decode=True).decode().split(URL)[1].split()[0]  # type: ignore[union-attr]
        service.service.confirm(token, "bob")
        assert target.links == [("bob", "new@example.org")]
        assert [(s.username, s.filename) for s in target.submits] == [("bob", "n.pdf")]
    finally:
        service.close()


def test_an_unknown_sender_gets_instructions_and_nothing_prints(
    running: ServiceThread, target: RecordingTarget
) -> None:
    msg = message("stranger@example.net")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="s.pdf")
    send(running.port, msg, sender="stranger@example.net")
    running.wait_for(lambda: running.service.stats()["replies_sent"] == 1)
    assert target.submits == []
    (mail,) = replies(running)
    assert "not registered" in mail.get_payload()


def test_auto_submitted_mail_prints_but_gets_no_reply(
    running: ServiceThread, target: RecordingTarget
) -> None:
    msg = message("ann@example.org", TRUSTED, "Auto-Submitted: auto-generated")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="auto.pdf")
    send(running.port, msg)
    running.wait_for(lambda: running.service.stats()["processed"] == 1)
    assert [s.filename for s in target.submits] == ["auto.pdf"]
    assert running.service.stats()["replies_suppressed"] == 1
    assert replies(running) == []


def test_a_failing_message_is_set_aside_and_the_loop_goes_on(
    running: ServiceThread, target: RecordingTarget, tmp_path: Path
) -> None:
    original = target.submit

    def submit(*args: object) -> object:
        if args[2].filename == "bad.pdf":  # type: ignore[attr-defined]
            raise RuntimeError("the print side broke")
        return original(*args)  # type: ignore[arg-type]

    target.submit = submit  # type: ignore[method-assign,assignment]
    for name in ("bad.pdf", "good.pdf"):
        msg = message("ann@example.org", TRUSTED)
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=name)
        send(running.port, msg)
    running.wait_for(lambda: running.service.stats()["processed"] == 1)
    assert running.service.stats()["failed"] == 1
    assert [s.filename for s in target.submits] == ["good.pdf"]
    failed = tmp_path / "spool" / "failed"
    assert len(list(failed.glob("*.msg"))) == 1
    assert "the print side broke" in next(failed.glob("*.why")).read_text()


def test_a_dead_loop_is_restarted(running: ServiceThread, target: RecordingTarget) -> None:
    spool = running.service.spool
    original = spool.ids
    calls = []

    def ids() -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk trouble")
        return original()

    spool.ids = ids  # type: ignore[method-assign]
    msg = message("ann@example.org", TRUSTED)
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="r.pdf")
    send(running.port, msg)
    running.wait_for(lambda: running.service.stats()["processed"] == 1)
    assert running.service.stats()["loop_restarts"] == 1
    assert [s.filename for s in target.submits] == ["r.pdf"]


def test_sessions_over_the_limit_get_421(tmp_path: Path, target: RecordingTarget) -> None:
    settings = MailSettings(port=0, max_sessions=1)
    service = ServiceThread(settings, target, tmp_path / "spool", None)
    try:
        with smtplib.SMTP("127.0.0.1", service.port, timeout=10) as first:
            first.ehlo()
            with pytest.raises(smtplib.SMTPConnectError) as refused:
                smtplib.SMTP("127.0.0.1", service.port, timeout=10)
            assert refused.value.smtp_code == 421
        service.wait_for(lambda: not service.service._sessions)
        with smtplib.SMTP("127.0.0.1", service.port, timeout=10) as again:
            assert again.noop()[0] == 250
    finally:
        service.close()


def test_an_acknowledged_message_survives_sigkill_and_is_processed_once(tmp_path: Path) -> None:
    block = tmp_path / "block"
    block.touch()
    config = {
        "spool": str(tmp_path / "spool"),
        "log": str(tmp_path / "submits.jsonl"),
        "users": {"ann@example.org": "ann"},
        "queues": {PRINT: "Library colour"},
        "block": str(block),
        "port_file": str(tmp_path / "port"),
    }
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))

    def start() -> tuple[subprocess.Popen[bytes], int]:
        (tmp_path / "port").unlink(missing_ok=True)
        child = subprocess.Popen(
            [sys.executable, "-m", "printwarden.testing.mail", str(config_file)],
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )
        deadline = time.monotonic() + 15
        while not (tmp_path / "port").exists() or not (tmp_path / "port").read_text():
            assert child.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return child, int((tmp_path / "port").read_text())

    child, port = start()
    msg = message("ann@example.org", "Authentication-Results: mx.test; dmarc=pass")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="k.pdf")
    send(port, msg)  # 250: on disk from now on
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert len(list((tmp_path / "spool").glob("*.msg"))) == 1
    assert not (tmp_path / "submits.jsonl").exists()

    block.unlink()
    child, port = start()
    try:
        deadline = time.monotonic() + 15
        while list((tmp_path / "spool").glob("*.msg")):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGTERM)
        assert child.wait(10) == 0
    lines = (tmp_path / "submits.jsonl").read_text().splitlines()
    assert [json.loads(line)["user"] for line in lines] == ["ann"]


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MailSettings().port = 1  # type: ignore[misc]
