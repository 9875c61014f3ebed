"""Settings of Email to Print: the listener, the sender policy, the replies, the smarthost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

UnknownSender = Literal["reject", "reject-with-instructions", "confirm"]
PrintBody = Literal["never", "always", "when-no-attachments"]


@dataclass(frozen=True, slots=True)
class SmarthostSettings:
    """Where replies go out. The credentials file holds ``username:password`` on one line."""

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    credentials_file: Path | None = None
    timeout: float = 30.0


def smarthost_at(
    address: str, starttls: bool = False, credentials_file: Path | None = None
) -> SmarthostSettings:
    """The smarthost at ``address`` ("host:port", "host": port 25)."""
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = address, ""
    return SmarthostSettings(
        host=host or "localhost",
        port=int(port) if port.isdigit() else 25,
        starttls=starttls,
        credentials_file=credentials_file,
    )


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Email to Print. ``port`` 0 binds an ephemeral port (tests)."""

    listen_host: str = "127.0.0.1"
    port: int = 2525
    domain: str = "print.example.org"  # our name: the EHLO greeting, reply From: and ids
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    max_message_bytes: int = 25 * 1024 * 1024
    max_sessions: int = 100
    trusted_relays: tuple[str, ...] = ()  # authserv-ids whose Authentication-Results count
    trusted_relay_networks: tuple[str, ...] = ()  # where those relays connect from (CIDR)
    unknown_sender: UnknownSender = "reject-with-instructions"
    confirm_hours: float = 24.0
    replies_per_hour: int = 5
    print_body: PrintBody = "never"
    inline_image_min_bytes: int = 10 * 1024
    max_attachments: int = 20
    reply_from: str = ""  # default: "printwarden@<domain>"
    register_url: str = ""  # where people add an address to their account (instructions)
    smarthost: SmarthostSettings = field(default_factory=SmarthostSettings)

    @property
    def reply_address(self) -> str:
        """The From: of replies and confirmation mails."""
        return self.reply_from or f"printwarden@{self.domain}"
