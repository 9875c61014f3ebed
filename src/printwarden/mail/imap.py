"""Email to Print's other source: hosted mailboxes polled over IMAP with OAuth2 (XOAUTH2).

Each :class:`ImapPoller` polls one mailbox every ``poll_seconds``: it connects (IMAPS, the
server's certificate verified), authenticates with SASL XOAUTH2, selects the mailbox, asks
for ``UID SEARCH UNSEEN UNDELETED`` and, for each message, fetches it with ``BODY.PEEK[]``
(which does not set ``\\Seen``), hands it to ``accept`` (``MailService.accept``: written and
fsync'd into the spool), notes its (UIDVALIDITY, UID) in a small fsync'd record, and only
then marks it ``\\Seen`` (or ``\\Deleted`` and expunges it, ``delete_after``). Processing
then follows as for a message received over SMTP.

A crash after ``accept`` but before the mark fetches the message again on the next poll; the
record recognises it (same UIDVALIDITY and UID) and the message is only marked, not spooled a
second time. The record is kept per mailbox in ``state_dir`` (the spool's ``imap/``) and also
stops a message that someone marks unread again from printing again. What remains is the
moment between the spool's fsync and the record's: a crash exactly there spools the message
again when it is refetched (the spool chooses its own ids, so the record cannot be written
atomically with the spool entry).

A message over ``max_message_bytes`` (by ``RFC822.SIZE``, before it is downloaded) is not
fetched: it is logged with the reason and marked like a handled one. A failing poll (network,
TLS, authentication, token endpoint) is logged and counted; the next one comes after a
backoff (``poll_seconds`` doubled on each failure in a row, at most ``max_backoff_seconds``).
The loop itself never ends on an error.

The envelope recipients of a fetched message are the addresses of its To: and Cc: that are
ours (``queue_for``) and not another polled mailbox's ``recipient`` (that mailbox has its own
copy); when there are none, the mailbox's ``recipient``. The envelope sender is the
``Return-Path`` the hosting provider wrote; there is no client IP (SPF is not checked), DKIM
and a trusted ``Authentication-Results`` are.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import hashlib
import imaplib
import ipaddress
import logging
import os
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx

from printwarden.files import fsync_dir, private_dir
from printwarden.mail import spool

if TYPE_CHECKING:
    from printwarden.mail.listener import MailService

log = logging.getLogger(__name__)

TlsMode = Literal["imaps", "starttls", "none"]
# Spool a message (envelope, bytes, its key where it came from); its spool id.
Accept = Callable[[spool.Envelope, bytes, str], Awaitable[str]]
QueueFor = Callable[[str], str | None]

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_RECORDED = 50_000  # UIDs kept in a mailbox's record (the newest)
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class TokenError(Exception):
    """No access token could be had (file missing or empty, token endpoint refused)."""


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """One hosted mailbox to poll.

    Authentication is XOAUTH2 with either a static access token in ``token_file`` (re-read
    on each poll, so that another program may refresh it), or a token of the OAuth2 client
    credentials grant from ``token_url`` (``client_id``, the secret in
    ``client_secret_file``, ``scope``), kept until shortly before it expires.
    ``tls``: ``imaps`` (port 993, the normal case); ``starttls`` and ``none`` only with a
    loopback ``host`` (tests)."""

    host: str
    username: str  # the mailbox's login, e.g. print@org.example
    recipient: str  # the print address the mailbox stands for (see the module's docstring)
    port: int = 993
    mailbox: str = "INBOX"
    tls: TlsMode = "imaps"
    ca_file: Path | None = None  # default: the system's CAs
    poll_seconds: float = 30.0
    max_backoff_seconds: float = 300.0
    timeout: float = 60.0  # socket timeout of the IMAP connection and the token request
    token_file: Path | None = None
    token_url: str = ""
    client_id: str = ""
    client_secret_file: Path | None = None
    scope: str = ""
    delete_after: bool = False  # False: mark \Seen; True: \Deleted and expunge

    def __post_init__(self) -> None:
        if (self.token_file is None) == (not self.token_url):
            raise ValueError("IMAP: give either token_file or token_url (client credentials)")
        if self.token_url and (not self.client_id or self.client_secret_file is None):
            raise ValueError("IMAP: token_url needs client_id and client_secret_file")
        if self.tls not in ("imaps", "starttls", "none"):
            raise ValueError(f"IMAP: tls must be imaps, starttls or none, not {self.tls!r}")
        if self.tls != "imaps" and not _loopback(self.host):
            raise ValueError(f"IMAP: tls = {self.tls} is only for a loopback host (tests)")
        if self.token_url and not (
            self.token_url.startswith("https://") or _loopback(httpx.URL(self.token_url).host or "")
        ):
            raise ValueError("IMAP: token_url must be https (or on a loopback host)")
        if self.poll_seconds <= 0 or self.max_backoff_seconds <= 0:
            raise ValueError("IMAP: poll_seconds and max_backoff_seconds must be positive")
        if not self.recipient or "@" not in self.recipient:
            raise ValueError("IMAP: recipient must be the print address of the mailbox")

    @property
    def name(self) -> str:
        """For the logs: user@host/mailbox."""
        return f"{self.username}@{self.host}/{self.mailbox}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def xoauth2(username: str, token: str) -> bytes:
    """The SASL XOAUTH2 initial client response (before base64, which imaplib adds)."""
    if any(c in username + token for c in "\x01\r\n"):
        raise ValueError("control characters in an XOAUTH2 user or token")
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


class TokenSource:
    """Access tokens for one mailbox: from the token file, or the client credentials grant
    (cached until ``expires_in`` is nearly over, or until :meth:`invalidate`)."""

    def __init__(self, settings: ImapSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._token = ""
        self._expires = 0.0
        self.fetches = 0

    async def token(self) -> str:
        s = self.settings
        if s.token_file is not None:
            path = s.token_file
            try:
                token = (await asyncio.to_thread(path.read_text)).strip()
            except OSError as exc:
                raise TokenError(f"cannot read the token file {path}: {exc}") from exc
            if not token:
                raise TokenError(f"the token file {path} is empty")
            return token
        if self._token and time.monotonic() < self._expires:
            return self._token
        return await self._fetch()

    def invalidate(self) -> None:
        """Forget a cached token (the server refused it)."""
        self._token, self._expires = "", 0.0

    async def _fetch(self) -> str:
        s = self.settings
        assert s.client_secret_file is not None
        try:
            secret = (await asyncio.to_thread(s.client_secret_file.read_text)).strip()
        except OSError as exc:
            raise TokenError(f"cannot read the client secret file: {exc}") from exc
        form = {"grant_type": "client_credentials", "client_id": s.client_id}
        form["client_secret"] = secret
        if s.scope:
            form["scope"] = s.scope
        self.fetches += 1
        started = time.monotonic()
        if self._client is not None:
            response = await self._client.post(s.token_url, data=form)
        else:
            async with httpx.AsyncClient(timeout=s.timeout) as client:
                response = await client.post(s.token_url, data=form)
        if response.status_code != 200:
            raise TokenError(f"token endpoint said {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(f"token endpoint gave no access_token: {exc}") from exc
        # Renew a little early: 10 % of the lifetime, at most a minute.
        self._token = token
        self._expires = started + lifetime - min(60.0, lifetime / 10)
        return token


class HandedRecord:
    """The (UIDVALIDITY, UID) of messages handed to the spool, for one mailbox: a file of
    ``"<uidvalidity> <uid>"`` lines, each appended and fsync'd before the mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.uidvalidity = 0
        self.uids: set[int] = set()
        self._lines = 0
        if path.exists():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    continue  # a line cut short by a crash
                validity, uid = int(parts[0]), int(parts[1])
                if validity != self.uidvalidity:
                    self.uidvalidity, self.uids = validity, set()
                self.uids.add(uid)
                self._lines += 1

    def seen(self, uidvalidity: int, uid: int) -> bool:
        return uidvalidity == self.uidvalidity and uid in self.uids

    def add(self, uidvalidity: int, uid: int) -> None:
        """Record a UID durably (blocking)."""
        if uidvalidity != self.uidvalidity:
            if self.uids:
                log.warning("IMAP %s: UIDVALIDITY changed; forgetting old UIDs", self.path.name)
            self.uidvalidity, self.uids = uidvalidity, set()
            self._rewrite()
        self.uids.add(uid)
        if len(self.uids) > MAX_RECORDED:
            self.uids = set(sorted(self.uids)[-MAX_RECORDED // 2 :])
            self._rewrite()
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{uidvalidity} {uid}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if self._lines == 0:
            fsync_dir(self.path.parent)  # the file is new
        self._lines += 1

    def _rewrite(self) -> None:
        text = "".join(f"{self.uidvalidity} {uid}\n" for uid in sorted(self.uids))
        spool.write_durably(self.path, text.encode())  # a new file, renamed into place
        self._lines = len(self.uids)


class ImapPoller:
    """Polls one mailbox and hands its new messages to ``accept`` (see the module's doc)."""

    def __init__(
        self,
        settings: ImapSettings,
        accept: Accept,
        state_dir: Path,
        *,
        max_message_bytes: int = DEFAULT_MAX_BYTES,
        queue_for: QueueFor | None = None,
        other_recipients: Sequence[str] = (),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.accept = accept
        self.max_message_bytes = max_message_bytes
        self.queue_for = queue_for
        self.other_recipients = frozenset(a.lower() for a in other_recipients)
        self.tokens = TokenSource(settings, http)
        directory = private_dir(state_dir)
        key = f"{settings.host}:{settings.port}/{settings.username}/{settings.mailbox}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.record = HandedRecord(directory / f"{digest}.uids")
        self._counts: collections.Counter[str] = collections.Counter()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def stats(self) -> dict[str, int]:
        """polls, fetched, failures, duplicates (refetched, not handed again), too_large."""
        names = ("polls", "fetched", "failures", "duplicates", "too_large")
        return {name: self._counts[name] for name in names}

    def start(self) -> None:
        """Start polling (in the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"imap {self.settings.name}")

    async def stop(self) -> None:
        """Stop polling; a poll in progress is cut short (what it handed over is spooled)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def poll_now(self) -> None:
        """Poll without waiting for the rest of the interval (or of a backoff)."""
        self._wake.set()

    async def _loop(self) -> None:
        failures_in_row = 0
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never the end of the loop
                self._counts["failures"] += 1
                failures_in_row += 1
                if isinstance(exc, (OSError, imaplib.IMAP4.error, TokenError, httpx.HTTPError)):
                    log.warning("IMAP %s: poll failed: %s", self.settings.name, _why(exc))
                else:
                    log.exception("IMAP %s: poll failed", self.settings.name)
            else:
                failures_in_row = 0
            delay = self.settings.poll_seconds
            if failures_in_row:  # poll_seconds, then doubled each time, up to the maximum
                backoff = delay * 2 ** min(failures_in_row - 1, 30)
                delay = max(delay, min(backoff, self.settings.max_backoff_seconds))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def poll_once(self) -> int:
        """One poll; returns how many messages were handed to ``accept``. Raises on failure."""
        self._counts["polls"] += 1
        token = await self.tokens.token()
        connecting = asyncio.ensure_future(asyncio.to_thread(self._connect, token))
        try:
            imap = await asyncio.shield(connecting)
        except asyncio.CancelledError:  # stopped: close the connection once it is made
            with contextlib.suppress(BaseException):
                _shutdown(await asyncio.wait_for(connecting, self.settings.timeout))
            raise
        except imaplib.IMAP4.error as exc:
            if "AUTHENTICATE" in str(exc) or "AUTHENTICATIONFAILED" in str(exc):
                self.tokens.invalidate()
            raise
        handed: list[int] = []  # marked \Deleted with delete_after: to be expunged
        count = 0
        try:
            uidvalidity, uids = await asyncio.to_thread(self._select, imap)
            for uid in uids:
                outcome = await self._one(imap, uidvalidity, uid)
                count += outcome == "spooled"
                if outcome != "too large":
                    handed.append(uid)
            if self.settings.delete_after and handed:
                await asyncio.to_thread(self._expunge, imap, handed)
            await asyncio.to_thread(_logout, imap)
        finally:
            _shutdown(imap)
        return count

    async def _one(self, imap: imaplib.IMAP4, uidvalidity: int, uid: int) -> str:
        name = self.settings.name
        delete = self.settings.delete_after
        if self.record.seen(uidvalidity, uid):
            log.info("IMAP %s: UID %s was spooled before; marking it now", name, uid)
            self._counts["duplicates"] += 1
            await asyncio.to_thread(self._mark, imap, uid, delete)
            return "duplicate"
        size = await asyncio.to_thread(self._size, imap, uid)
        if size > self.max_message_bytes:
            log.warning(
                "IMAP %s: UID %s not printed: %d bytes, over the limit of %d (marked seen, "
                "left in the mailbox)",
                *(name, uid, size, self.max_message_bytes),
            )
            self._counts["too_large"] += 1
            await asyncio.to_thread(self._mark, imap, uid, False)  # never deleted unprinted
            return "too large"
        raw = await asyncio.to_thread(self._fetch, imap, uid)
        envelope = await asyncio.to_thread(self.envelope, raw)
        # Spooled and recorded go together: a stop() meanwhile waits for both.
        entry_id = await _uncancelled(self._hand_over(envelope, raw, uidvalidity, uid))
        self._counts["fetched"] += 1
        log.info("IMAP %s: UID %s spooled as %s", name, uid, entry_id)
        await asyncio.to_thread(self._mark, imap, uid, delete)
        return "spooled"

    async def _hand_over(
        self, envelope: spool.Envelope, raw: bytes, uidvalidity: int, uid: int
    ) -> str:
        # Keyed by the mailbox and UID: spooled again after a crash before the record below,
        # it is the same entry, and its documents the same submissions (printed once).
        key = f"imap:{self.settings.name}:{uidvalidity}:{uid}"
        entry_id = await self.accept(envelope, raw, key)
        await asyncio.to_thread(self.record.add, uidvalidity, uid)
        return entry_id

    def envelope(self, raw: bytes) -> spool.Envelope:
        """The envelope of a fetched message (blocking: may call ``queue_for``)."""
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        return_path = headers.get("Return-Path", "")
        mail_from = email.utils.parseaddr(str(return_path))[1] if return_path else ""
        return spool.Envelope(
            mail_from=mail_from, recipients=self.recipients(headers), received=time.time()
        )

    def recipients(self, headers: Message) -> tuple[str, ...]:
        """To: and Cc: addresses that are ours and not another mailbox's, else ours."""
        own = self.settings.recipient.lower()
        if self.queue_for is None:
            return (own,)
        fields: list[str] = []
        for name in ("To", "Cc"):
            fields += [str(v) for v in headers.get_all(name) or []]
        found: list[str] = []
        for _display, address in email.utils.getaddresses(fields):
            address = address.lower()
            if not address or address in found or address in self.other_recipients:
                continue
            if address == own or self.queue_for(address):
                found.append(address)
        return tuple(found) or (own,)

    # The blocking IMAP steps (run in worker threads).

    def _connect(self, token: str) -> imaplib.IMAP4:
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        imap: imaplib.IMAP4
        if s.tls == "imaps":
            imap = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=s.timeout)
        else:
            imap = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
        try:
            if s.tls == "starttls":
                imap.starttls(context)
            payload = xoauth2(s.username, token)
            calls = 0

            def respond(_challenge: bytes) -> bytes:
                nonlocal calls
                calls += 1
                return payload if calls == 1 else b""  # after an error challenge: empty

            imap.authenticate("XOAUTH2", respond)
        except BaseException:
            _shutdown(imap)
            raise
        return imap

    def _select(self, imap: imaplib.IMAP4) -> tuple[int, list[int]]:
        typ, data = imap.select(_quote(self.settings.mailbox))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SELECT {self.settings.mailbox}: {data!r}")
        _typ, validity = imap.response("UIDVALIDITY")
        if not validity or validity[0] is None:
            raise imaplib.IMAP4.error("the server sent no UIDVALIDITY")
        uidvalidity = int(validity[-1])
        typ, data = imap.uid("SEARCH", "UNSEEN", "UNDELETED")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH: {data!r}")
        uids = sorted(int(u) for chunk in data if chunk for u in chunk.split())
        return uidvalidity, uids

    def _size(self, imap: imaplib.IMAP4, uid: int) -> int:
        typ, data = imap.uid("FETCH", str(uid), "(RFC822.SIZE)")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes) and (match := _SIZE.search(line)):
                return int(match.group(1))
        raise imaplib.IMAP4.error(f"UID FETCH {uid} RFC822.SIZE: {typ} {data!r}")

    def _fetch(self, imap: imaplib.IMAP4, uid: int) -> bytes:
        typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise imaplib.IMAP4.error(f"UID FETCH {uid} BODY.PEEK[]: {typ} {data!r}")

    def _mark(self, imap: imaplib.IMAP4, uid: int, delete: bool) -> None:
        flags = r"(\Seen \Deleted)" if delete else r"(\Seen)"
        typ, data = imap.uid("STORE", str(uid), "+FLAGS.SILENT", flags)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"UID STORE {uid}: {data!r}")

    def _expunge(self, imap: imaplib.IMAP4, uids: list[int]) -> None:
        if "UIDPLUS" in imap.capabilities:
            typ, data = imap.uid("EXPUNGE", ",".join(map(str, uids)))
        else:
            typ, data = imap.expunge()
        if typ != "OK":
            raise imaplib.IMAP4.error(f"EXPUNGE: {data!r}")


async def _uncancelled(work: Awaitable[str]) -> str:
    """Await ``work`` to its end even when cancelled meanwhile (then re-raise the cancel)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _logout(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        imap.logout()


def _shutdown(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError):
        imap.shutdown()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ImapSource:
    """The pollers of several mailboxes, feeding one ``accept`` (``MailService.accept``)."""

    def __init__(
        self,
        settings: Sequence[ImapSettings],
        state_dir: Path,
        *,
        max_message_bytes: int = DEFAULT_MAX_BYTES,
        queue_for: QueueFor | None = None,
    ) -> None:
        self.settings = tuple(settings)
        self.state_dir = state_dir
        self.max_message_bytes = max_message_bytes
        self.queue_for = queue_for
        self.pollers: list[ImapPoller] = []

    async def start(self, accept: Accept) -> None:
        """Start a poller per mailbox, handing messages to ``accept``."""
        if self.pollers:
            raise RuntimeError("the IMAP source is already started")
        recipients = [s.recipient.lower() for s in self.settings]
        for s in self.settings:
            others = [r for r in recipients if r != s.recipient.lower()]
            poller = ImapPoller(
                s,
                accept,
                self.state_dir,
                max_message_bytes=self.max_message_bytes,
                queue_for=self.queue_for,
                other_recipients=others,
            )
            self.pollers.append(poller)
            poller.start()
            log.info("IMAP %s: polling every %s s", s.name, s.poll_seconds)

    async def stop(self) -> None:
        """Stop every poller (their counters stay readable)."""
        await asyncio.gather(*(p.stop() for p in self.pollers))

    def stats(self) -> dict[str, int]:
        """The pollers' counters, summed."""
        total: collections.Counter[str] = collections.Counter()
        for poller in self.pollers:
            total.update(poller.stats())
        return dict(total)


async def run_pollers(service: MailService, settings: Sequence[ImapSettings]) -> ImapSource:
    """Start polling ``settings``' mailboxes into ``service`` (after ``service.start()``);
    ``await source.stop()`` before ``service.stop()``. Their record is the spool's ``imap/``."""
    source = ImapSource(
        settings,
        service.spool.directory / "imap",
        max_message_bytes=service.settings.max_message_bytes,
        queue_for=service.target.queue_for,
    )
    await source.start(service.accept)
    return source
