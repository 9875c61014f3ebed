"""The SMTP listener of Email to Print and its processing loop (``MailService``).

aiosmtpd serves SMTP with STARTTLS (when a certificate is configured), ``SIZE`` (552 over
the limit), ``RCPT TO`` checked through the print side (550 5.1.1 for an address that is not
ours, 550 5.7.1 for another domain: no relaying) and at most ``max_sessions`` sessions at
once (421 beyond). A message is acknowledged with 250 only once it is fsync'd into the spool
(:mod:`printwarden.mail.spool`).

One supervised asyncio task takes spooled messages in order and processes each in a worker
thread (:class:`~printwarden.mail.processing.Processor`), deleting it only once processed. A
message that fails is logged with its id and moved to ``failed/``; the loop goes on. Should
the loop itself die, it is restarted (and counted). Messages left in the spool by a crash are
processed at start-up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import time
import traceback
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from printwarden.mail import spool
from printwarden.mail.pending import PendingStore
from printwarden.mail.processing import Processor, remove_tree
from printwarden.mail.sender_auth import Lookup, domain_of
from printwarden.mail.settings import MailSettings
from printwarden.mail.smarthost import Smarthost
from printwarden.mail.target import Outcome, PrintTarget

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 50
IDLE_TICK = 60.0  # seconds between looks at the spool and at expired held messages
RESTART_DELAY = 1.0


class MailService:
    """The SMTP listener, the spool and the processing loop."""

    def __init__(
        self,
        settings: MailSettings,
        target: PrintTarget,
        spool_dir: Path,
        sender: Smarthost | None,
        lookup: Lookup | None = None,
    ) -> None:
        self.settings = settings
        self.target = target
        self.spool = spool.Spool(spool_dir)
        self.pending = PendingStore(spool_dir / "pending", settings.confirm_hours)
        remove_tree(spool_dir / "work")  # documents of a run cut short
        self.processor = Processor(
            settings, target, self.pending, spool_dir / "work", sender, lookup
        )
        self.port = 0
        self._counts: collections.Counter[str] = collections.Counter()
        self._sessions: set[_Session] = set()
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        """Listen, and process what the spool holds and what arrives."""
        # aiosmtpd logs every command (addresses included) at INFO: only its warnings.
        logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.root.level))
        loop = asyncio.get_running_loop()
        handler = _Handler(self)
        tls = self._tls_context()
        self._server = await loop.create_server(
            lambda: _Session(self, handler, tls),
            self.settings.listen_host,
            self.settings.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._task = asyncio.create_task(self._supervise(), name="mail-processing")
        log.info("Email to Print listening on %s:%s", self.settings.listen_host, self.port)

    async def stop(self) -> None:
        """Stop listening, finish the message in hand, stop the loop."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            await self._server.wait_closed()
        self._wake.set()
        if self._task is not None:
            await self._task

    def stats(self) -> dict[str, int]:
        """Counters since start."""
        counts = self._counts + self.processor.stats
        names = (
            *("accepted", "refused_rcpt", "processed", "failed"),
            *("replies_sent", "replies_suppressed", "loop_restarts"),
        )
        return {name: counts[name] for name in names}

    def confirm(self, token: str, username: str) -> list[Outcome]:
        """Process the held message of ``token`` as ``username`` (blocking: call it from a
        worker thread). Raises ``pending.UnknownToken`` or ``pending.NotYours``."""
        return self.pending.confirm(token, username, self.processor.confirmed)

    # The listener's side.

    async def accept(self, envelope: spool.Envelope, raw: bytes, key: str = "") -> str:
        """Spool a message durably; returns its id (``key``: see ``Spool.put``)."""
        entry_id = await asyncio.to_thread(self.spool.put, envelope, raw, key)
        self._counts["accepted"] += 1
        self._wake.set()
        return entry_id

    def count(self, name: str) -> None:
        """Count an event of the listener."""
        self._counts[name] += 1

    # The processing loop.

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                await self._run()
            except Exception:
                log.exception("the mail processing loop died; restarting it")
                self._counts["loop_restarts"] += 1
                await asyncio.sleep(RESTART_DELAY)

    async def _run(self) -> None:
        last_expiry = 0.0
        self._wake.set()  # (re)started: look at what the spool holds
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_TICK)
            self._wake.clear()
            for entry_id in await asyncio.to_thread(self.spool.ids):
                if self._stopping:
                    return
                await asyncio.to_thread(self._process_one, entry_id)
            if time.monotonic() - last_expiry > IDLE_TICK:
                await asyncio.to_thread(self.pending.expire)
                last_expiry = time.monotonic()

    def _process_one(self, entry_id: str) -> None:
        try:
            entry = self.spool.read(entry_id)
            self.processor.process(entry)
        except Exception:
            log.exception("mail %s failed; moved to %s", entry_id, self.spool.failed)
            self.spool.set_aside(entry_id, traceback.format_exc())
            self._counts["failed"] += 1
            return
        self.spool.remove(entry_id)
        self._counts["processed"] += 1

    def _tls_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if s.tls_cert is None or s.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(s.tls_cert, s.tls_key)
        return context


class _Handler:
    """aiosmtpd's hooks: recipients through the print side, messages into the spool."""

    def __init__(self, service: MailService) -> None:
        self.service = service

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        queue = await asyncio.to_thread(self.service.target.queue_for, address.lower())
        if not queue:
            self.service.count("refused_rcpt")
            if domain_of(address) != self.service.settings.domain.lower():
                return "550 5.7.1 Relaying denied"
            return "550 5.1.1 No such print address"
        envelope.rcpt_tos.append(address.lower())
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content
        if not isinstance(raw, bytes):
            return "554 5.6.0 No message"
        peer: Any = session.peer
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        meta = spool.Envelope(
            mail_from=str(mail_from or ""),
            recipients=tuple(envelope.rcpt_tos),
            client_ip=str(peer[0]) if isinstance(peer, tuple) else "",
            helo=str(session.host_name or ""),
            received=time.time(),
        )
        try:
            entry_id = await self.service.accept(meta, raw)
        except OSError:
            log.exception("could not spool a message")
            return "451 4.3.0 Could not store the message, try again later"
        return f"250 2.0.0 OK queued as {entry_id}"


class _Session(SMTP):
    """aiosmtpd's session, counted against ``max_sessions``."""

    def __init__(self, service: MailService, handler: _Handler, tls: ssl.SSLContext | None) -> None:
        super().__init__(
            handler,
            data_size_limit=service.settings.max_message_bytes,
            hostname=service.settings.domain,
            tls_context=tls,
            require_starttls=bool(tls and service.settings.require_tls),
            decode_data=False,
            ident="printwarden",
            loop=asyncio.get_running_loop(),
        )
        self.service = service
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection (not the TLS layer of STARTTLS)
            if len(self.service._sessions) >= self.service.settings.max_sessions:
                transport.write(b"421 4.7.0 Too many connections, try again later\r\n")  # type: ignore[attr-defined]
                transport.close()
                return
            self.service._sessions.add(self)
            self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._counted:
            return
        self._counted = False
        self.service._sessions.discard(self)
        super().connection_lost(error)
