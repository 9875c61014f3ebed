"""A mail sink for the demo and the tests: an SMTP server (aiosmtpd) that keeps every message
it receives in a Maildir, so that replies can be read back."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


class MailSink:
    """Accepts every message for every address into the Maildir at ``directory``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = directory
        self.maildir = mailbox.Maildir(directory, create=True)
        self.host = host
        self.port = port
        self.refusing = ""  # an SMTP reply to give every message instead (fault tests)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (port 0: an ephemeral port, then in :attr:`port`)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="sink", loop=loop), self.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def handle_DATA(  # noqa: N802 (aiosmtpd's name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.refusing:
            return self.refusing
        raw = envelope.original_content or b""
        recipients = ", ".join(envelope.rcpt_tos)
        sender = (envelope.mail_from or "").strip("<>")
        header = f"X-Envelope-From: <{sender}>\r\nX-Envelope-To: {recipients}\r\n"
        await asyncio.to_thread(self.maildir.add, header.encode() + raw)
        return "250 OK"

    def messages(self) -> list[mailbox.MaildirMessage]:
        """What the sink holds so far."""
        keys = list(self.maildir.iterkeys())
        return [mailbox.MaildirMessage(self.maildir.get_bytes(key)) for key in keys]
