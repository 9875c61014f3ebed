"""Outgoing mail through the configured smarthost (stdlib smtplib; blocking, call it from a
worker thread). Replies go out with a null envelope sender (``MAIL FROM:<>``, RFC 3834), so
that nothing ever answers them. Credentials come from a file (``username:password``)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from printwarden.mail.settings import SmarthostSettings


def read_credentials(settings: SmarthostSettings) -> tuple[str, str] | None:
    """The smarthost's ``(username, password)`` from its file, or None."""
    if settings.credentials_file is None:
        return None
    line = settings.credentials_file.read_text(encoding="utf-8").strip().splitlines()[0]
    username, sep, password = line.partition(":")
    if not sep:
        raise ValueError(f"{settings.credentials_file}: expected username:password")
    return username, password


class Smarthost:
    """Sends mail through one SMTP relay."""

    def __init__(self, settings: SmarthostSettings, local_hostname: str | None = None) -> None:
        self.settings = settings
        self.local_hostname = local_hostname
        self._credentials = read_credentials(settings)
        self.tls_context = ssl.create_default_context()

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Deliver ``message`` to ``recipient`` with a null envelope sender; raises on failure."""
        s = self.settings
        with smtplib.SMTP(s.host, s.port, self.local_hostname, s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=self.tls_context)
            if self._credentials is not None:
                smtp.login(*self._credentials)
            smtp.send_message(message, from_addr="", to_addrs=[recipient])
