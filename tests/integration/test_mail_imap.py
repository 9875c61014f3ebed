"""Email to Print's IMAP source against a real IMAP server: a private Dovecot (IMAPS,
XOAUTH2 checked by Dovecot's oauth2 passdb against a local introspection endpoint)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import logging
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from printwarden.mail import spool
from printwarden.mail.imap import ImapPoller, ImapSettings, run_pollers, xoauth2
from printwarden.mail.settings import MailSettings
from printwarden.testing import dovecot
from printwarden.testing.mail import RecordingTarget, ServiceThread

USER = "print@org.example"
TOKEN = "good-token-1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
QUEUES = {USER: "Library colour", "mono@org.example": "Library mono"}


@pytest.fixture(scope="module")
def imapd() -> Iterator[dovecot.Dovecot]:
    # One server for the module (stopping Dovecot takes a second); each test empties it.
    imapd = dovecot.Dovecot(USER, {})
    imapd.start()
    yield imapd
    imapd.stop()


@pytest.fixture
def server(imapd: dovecot.Dovecot) -> dovecot.Dovecot:
    imapd.tokens.clear()
    imapd.tokens[TOKEN] = USER
    imapd.empty(TOKEN)
    return imapd


@pytest.fixture
def tokens(server: dovecot.Dovecot) -> dict[str, str]:
    return server.tokens


def flags(server: dovecot.Dovecot) -> list[set[str]]:
    return [found for _uid, found in server.flags(TOKEN)]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


def settings_for(server: dovecot.Dovecot, **changes: Any) -> ImapSettings:
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "recipient": USER,
        "ca_file": server.ca_file,
        "poll_seconds": 0.05,
        "timeout": 10.0,
    }
    return ImapSettings(**(fields | changes))


def message(to: str = USER, sender: str = "ann@example.org", *headers: str) -> bytes:
    msg = EmailMessage()
    msg["Return-Path"] = f"<{sender}>"
    msg["Authentication-Results"] = "mx.org.example; dmarc=pass header.from=example.org"
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "print this"
    msg["Message-ID"] = f"<{time.monotonic_ns()}@example.org>"
    for header in headers:
        name, _, value = header.partition(": ")
        msg[name] = value
    msg.set_content("please print")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return msg.as_bytes().replace(b"\n", b"\r\n")


class Accepting:
    """``MailService.accept``'s part: the message into a real spool (fsync'd); each call kept."""

    def __init__(self, directory: Path) -> None:
        self.spool = spool.Spool(directory)
        self.calls: list[tuple[spool.Envelope, bytes]] = []

    async def __call__(self, envelope: spool.Envelope, raw: bytes, key: str = "") -> str:
        entry_id = await asyncio.to_thread(self.spool.put, envelope, raw, key)
        self.calls.append((envelope, raw))
        return entry_id


async def until(condition: Callable[[], bool], seconds: float = 8.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_xoauth2_initial_response() -> None:
    assert xoauth2(USER, "abc") == b"user=print@org.example\x01auth=Bearer abc\x01\x01"
    with pytest.raises(ValueError, match="control characters"):
        xoauth2(USER, "a\x01b")


def test_settings_refuse_cleartext_to_a_remote_host(tmp_path: Path) -> None:
    token = tmp_path / "t"
    with pytest.raises(ValueError, match="loopback"):
        ImapSettings("imap.example.org", USER, USER, tls="none", token_file=token)
    with pytest.raises(ValueError, match="either"):
        ImapSettings("imap.example.org", USER, USER)
    with pytest.raises(ValueError, match="https"):
        ImapSettings(
            "imap.example.org",
            USER,
            USER,
            token_url="http://login.example.org/token",
            client_id="c",
            client_secret_file=token,
        )


def test_the_envelope_recipients(tmp_path: Path) -> None:
    settings = ImapSettings("127.0.0.1", USER, USER, tls="none", token_file=tmp_path / "t")
    accept = Accepting(tmp_path / "spool")
    other = "scan@org.example"
    queues = QUEUES | {other: "Scanner"}
    poller = ImapPoller(
        settings, accept, tmp_path / "state", queue_for=queues.get, other_recipients=[other]
    )

    def recipients(to: str, *headers: str) -> tuple[str, ...]:
        return poller.envelope(message(to, "ann@example.org", *headers)).recipients

    assert recipients("nobody@elsewhere.example") == (USER,)
    assert recipients("Mono <MONO@org.example>", f"Cc: {USER}") == ("mono@org.example", USER)
    assert recipients(other) == (USER,)  # that mailbox has a copy of its own
    assert recipients(f"{other}, mono@org.example") == ("mono@org.example",)
    alone = ImapPoller(settings, accept, tmp_path / "state")  # no queue_for: the mailbox's
    assert alone.envelope(message("mono@org.example")).recipients == (USER,)
    assert poller.envelope(message(USER, "<>")).mail_from == ""


def test_a_message_is_handed_over_once_and_marked_seen(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path
) -> None:
    server.deliver(message(to="Someone <someone@elsewhere.example>"))
    server.deliver(message(to="mono@org.example", sender="bob@example.org"))
    accept = Accepting(tmp_path / "spool")
    poller = ImapPoller(
        settings_for(server, token_file=token_file),
        accept,
        tmp_path / "spool" / "imap",
        queue_for=QUEUES.get,
    )

    assert asyncio.run(poller.poll_once()) == 2
    assert asyncio.run(poller.poll_once()) == 0  # nothing new

    assert len(accept.calls) == 2
    (first, raw), (second, _raw) = accept.calls
    assert first.recipients == (USER,)  # To: is not ours: the mailbox's address
    assert first.mail_from == "ann@example.org"  # the Return-Path
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content() == PDF
    assert second.recipients == ("mono@org.example",)  # To: is ours
    assert len(accept.spool.ids()) == 2
    assert flags(server) == [{"\\Seen"}, {"\\Seen"}]

    # Someone marks them unread again: they are recognised, not printed again.
    imap = server.client(TOKEN)
    try:
        imap.select("INBOX")
        imap.uid("STORE", "1:*", "-FLAGS.SILENT", r"(\Seen)")
    finally:
        imap.logout()
    assert asyncio.run(poller.poll_once()) == 0
    assert len(accept.calls) == 2
    assert flags(server) == [{"\\Seen"}, {"\\Seen"}]
    assert poller.stats() == {
        "polls": 3,
        "fetched": 2,
        "failures": 0,
        "duplicates": 2,
        "too_large": 0,
    }


def test_delete_after_expunges(server: dovecot.Dovecot, token_file: Path, tmp_path: Path) -> None:
    server.deliver(message())
    server.deliver(message())
    accept = Accepting(tmp_path / "spool")
    settings = settings_for(server, token_file=token_file, delete_after=True)
    poller = ImapPoller(settings, accept, tmp_path / "state")

    assert asyncio.run(poller.poll_once()) == 2
    assert len(accept.calls) == 2
    assert flags(server) == []


def test_a_crash_before_the_mark_does_not_spool_it_twice(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.deliver(message())
    accept = Accepting(tmp_path / "spool")
    settings = settings_for(server, token_file=token_file)
    poller = ImapPoller(settings, accept, tmp_path / "state")

    def crash(imap: object, uid: int, delete: bool) -> None:
        raise OSError("the process died here")

    monkeypatch.setattr(poller, "_mark", crash)
    with pytest.raises(OSError, match="died"):
        asyncio.run(poller.poll_once())
    assert len(accept.calls) == 1
    assert flags(server) == [set()]  # spooled, not marked: fetched again

    # A new process (a new poller over the same state directory) polls again.
    again = ImapPoller(settings, accept, tmp_path / "state")
    assert asyncio.run(again.poll_once()) == 0
    assert len(accept.calls) == 1  # recognised: not spooled a second time
    assert again.stats()["duplicates"] == 1
    assert flags(server) == [{"\\Seen"}]


def test_a_crash_between_the_spool_and_the_record_spools_the_same_entry_again(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The narrowest gap: spooled, then the process died before the UID was recorded. The
    message is fetched again and spooled under the same id (its documents' submission ids
    derive from it: printed once)."""
    server.deliver(message())
    accept = Accepting(tmp_path / "spool")
    settings = settings_for(server, token_file=token_file)
    poller = ImapPoller(settings, accept, tmp_path / "state")

    def crash(uidvalidity: int, uid: int) -> None:
        raise OSError("the process died here")

    monkeypatch.setattr(poller.record, "add", crash)
    with pytest.raises(OSError, match="died"):
        asyncio.run(poller.poll_once())
    first = accept.spool.ids()
    again = ImapPoller(settings, accept, tmp_path / "state")
    assert asyncio.run(again.poll_once()) == 1  # not recorded: fetched and spooled again
    assert len(accept.calls) == 2
    assert accept.spool.ids() == first  # ... as the same entry
    assert flags(server) == [{"\\Seen"}]


def test_a_stop_during_the_hand_over_waits_for_it(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path
) -> None:
    server.deliver(message())
    accept = Accepting(tmp_path / "spool")
    settings = settings_for(server, token_file=token_file)

    async def run() -> None:
        release = asyncio.Event()

        async def slow(envelope: spool.Envelope, raw: bytes, key: str) -> str:
            await release.wait()  # the spool's fsync, taking its time
            return await accept(envelope, raw, key)

        poller = ImapPoller(settings, slow, tmp_path / "state")
        poller.start()
        await until(lambda: poller.stats()["polls"] == 1)
        await asyncio.sleep(0.3)  # in the hand-over by now
        stopping = asyncio.create_task(poller.stop())
        await asyncio.sleep(0.1)
        assert not stopping.done()
        release.set()
        await stopping

    asyncio.run(run())
    assert len(accept.calls) == 1
    assert flags(server) == [set()]  # stopped before the mark
    again = ImapPoller(settings, accept, tmp_path / "state")
    assert asyncio.run(again.poll_once()) == 0
    assert len(accept.calls) == 1
    assert flags(server) == [{"\\Seen"}]


def test_a_message_over_the_limit_is_skipped_with_a_reason(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.deliver(message())
    accept = Accepting(tmp_path / "spool")
    settings = settings_for(server, token_file=token_file)
    poller = ImapPoller(settings, accept, tmp_path / "state", max_message_bytes=200)

    with caplog.at_level(logging.WARNING, logger="printwarden.mail.imap"):
        assert asyncio.run(poller.poll_once()) == 0
    assert accept.calls == []
    assert "over the limit of 200" in caplog.text
    assert poller.stats()["too_large"] == 1
    assert flags(server) == [{"\\Seen"}]


def test_a_wrong_token_is_a_logged_failure_and_polling_goes_on(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.deliver(message())
    token_file.write_text("expired-token\n")
    accept = Accepting(tmp_path / "spool")
    settings = settings_for(server, token_file=token_file, max_backoff_seconds=0.2)
    poller = ImapPoller(settings, accept, tmp_path / "state")

    async def run() -> None:
        poller.start()
        try:
            await until(lambda: poller.stats()["failures"] >= 3)
            assert accept.calls == []
            token_file.write_text(TOKEN + "\n")  # another program refreshed it
            await until(lambda: poller.stats()["fetched"] == 1)
        finally:
            await poller.stop()

    with caplog.at_level(logging.WARNING, logger="printwarden.mail.imap"):
        asyncio.run(run())
    assert "poll failed" in caplog.text
    assert "AUTHENTICATIONFAILED" in caplog.text or "Authentication failed" in caplog.text
    assert "expired-token" not in caplog.text  # tokens stay out of the logs
    assert len(accept.calls) == 1


class TokenEndpoint(dovecot.FormEndpoint):
    """An OAuth2 token endpoint (client credentials), keeping its calls."""

    def __init__(self, tokens: dict[str, str], lifetime: float) -> None:
        self.tokens, self.lifetime = tokens, lifetime
        super().__init__("/oauth2/v2.0/token", self._issue)

    def _issue(self, form: dovecot.Form) -> tuple[int, dict[str, Any]]:
        if form.get("client_secret") != ["s3cret"]:
            return 401, {"error": "invalid_client"}
        token = f"issued-{len(self.calls)}"
        self.tokens[token] = USER
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}


def test_client_credentials_tokens_are_fetched_and_cached_until_expiry(
    server: dovecot.Dovecot, tokens: dict[str, str], tmp_path: Path
) -> None:
    endpoint = TokenEndpoint(tokens, lifetime=1.0)
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = settings_for(
        server,
        token_url=endpoint.url,
        client_id="printwarden",
        client_secret_file=secret,
        scope="https://outlook.office365.com/.default",
    )
    accept = Accepting(tmp_path / "spool")
    poller = ImapPoller(settings, accept, tmp_path / "state")

    async def run() -> None:
        server.deliver(message())
        assert await poller.poll_once() == 1
        server.deliver(message())
        assert await poller.poll_once() == 1
        await poller.poll_once()
        assert len(endpoint.calls) == 1  # cached
        await asyncio.sleep(1.0)  # past expires_in (less the early renewal)
        await poller.poll_once()
        assert len(endpoint.calls) == 2
        del tokens["issued-2"]  # revoked: the server refuses it, the next poll gets another
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            await poller.poll_once()
        server.deliver(message())
        assert await poller.poll_once() == 1
        assert len(endpoint.calls) == 3

    try:
        asyncio.run(run())
    finally:
        endpoint.close()
    first = endpoint.calls[0]
    assert first["grant_type"] == ["client_credentials"]
    assert first["client_id"] == ["printwarden"]
    assert first["scope"] == ["https://outlook.office365.com/.default"]
    assert len(accept.calls) == 3


def test_polled_mail_is_processed_like_received_mail(
    server: dovecot.Dovecot, token_file: Path, tmp_path: Path
) -> None:
    target = RecordingTarget(queues=dict(QUEUES), users={"ann@example.org": "ann"})
    mail = MailSettings(port=0, trusted_relays=("mx.org.example",))
    service = ServiceThread(mail, target, tmp_path / "spool", None)
    try:
        settings = settings_for(server, token_file=token_file)
        source = service.call(lambda: run_pollers(service.service, [settings]))
        server.deliver(message())
        service.wait_for(lambda: service.service.stats()["processed"] == 1)
        stats = source.stats()
        service.call(source.stop)
    finally:
        service.close()
    (submitted,) = target.submits
    assert (submitted.username, submitted.queue, submitted.filename) == (
        "ann",
        "Library colour",
        "report.pdf",
    )
    assert submitted.data == PDF
    assert stats["fetched"] == 1
    assert stats["failures"] == 0
    assert flags(server) == [{"\\Seen"}]
