"""Email to Print for the tests and the benchmark: a recording print side, the service and a
Maildir sink running in a thread of their own, and a child process to kill.

    python -m printwarden.testing.mail CONFIG.json   # the service in a process of its own

The JSON file says ``spool``, ``log`` (a JSON-lines file of the submits, fsync'd), ``users``
(address → username), ``queues`` (address → queue) and ``block`` (a file: while it exists,
``submit`` waits before recording). The child writes its port to ``port_file``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from printwarden.mail.listener import MailService
from printwarden.mail.sender_auth import Lookup
from printwarden.mail.settings import MailSettings, SmarthostSettings
from printwarden.mail.sink import MailSink
from printwarden.mail.smarthost import Smarthost
from printwarden.mail.target import Attachment, Outcome
from printwarden.provider import tls

T = TypeVar("T")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key (0600) for STARTTLS, in ``directory/tls``."""
    made = tls.self_signed(directory / "tls", ["print.example.org", "localhost", "127.0.0.1"])
    return made.certificate, made.key


class SinkThread:
    """A :class:`MailSink` (a smarthost keeping what it gets in a Maildir) on an event loop
    in a thread of its own."""

    def __init__(self, maildir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sink = MailSink(maildir)
        asyncio.run_coroutine_threadsafe(self.sink.start(), self.loop).result(timeout=30)
        self.port = self.sink.port

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sink.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass(frozen=True, slots=True)
class Submitted:
    """One call of :meth:`RecordingTarget.submit`."""

    username: str
    queue: str
    filename: str
    content_type: str
    data: bytes
    message_id: str


@dataclass
class RecordingTarget:
    """An in-memory print side: fixed addresses, every submit recorded (and idempotent)."""

    queues: dict[str, str]
    users: dict[str, str]
    url: str = "https://print.example.org/mail/confirm/"
    submits: list[Submitted] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    log: Path | None = None
    block: Path | None = None

    def queue_for(self, recipient: str) -> str | None:
        return self.queues.get(recipient.lower())

    def user_for(self, sender: str) -> str | None:
        return self.users.get(sender.lower())

    def submit(self, username: str, queue: str, attachment: Attachment, message_id: str) -> Outcome:
        while self.block is not None and self.block.exists():
            time.sleep(0.05)
        data = attachment.path.read_bytes()
        if any(s.message_id == message_id for s in self.submits):
            return Outcome(attachment.filename, True, "held (already)")
        kind = attachment.content_type
        self.submits.append(Submitted(username, queue, attachment.filename, kind, data, message_id))
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as handle:
                record = {"user": username, "queue": queue, "id": message_id}
                handle.write(json.dumps(record) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return Outcome(attachment.filename, True, f"held for release at {queue}")

    def link_sender(self, username: str, sender: str) -> None:
        self.links.append((username, sender))
        self.users[sender.lower()] = username

    def confirmation_url(self, token: str) -> str:
        return self.url + token


def no_dns(name: str, qtype: str) -> list[Any]:
    """A resolver that knows nothing (no DKIM keys, no SPF records)."""
    return []


class ServiceThread:
    """A :class:`MailService` and a :class:`MailSink` (its smarthost) on an event loop in a
    thread of their own, for synchronous tests and benchmarks."""

    def __init__(
        self,
        settings: MailSettings,
        target: Any,
        spool: Path,
        maildir: Path | None,
        lookup: Lookup = no_dns,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sink: MailSink | None = None
        sender = None
        if maildir is not None:
            self.sink = MailSink(maildir)
            self.call(self.sink.start)
            smarthost = SmarthostSettings("127.0.0.1", self.sink.port)
            settings = _replace_smarthost(settings, smarthost)
            sender = Smarthost(smarthost, "print.test")
        self.service = MailService(settings, target, spool, sender, lookup)
        self.call(self.service.start)

    @property
    def port(self) -> int:
        return self.service.port

    def call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a coroutine on the service's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout=30)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; stats {self.service.stats()}")
            time.sleep(0.02)

    def close(self) -> None:
        self.call(self.service.stop)
        if self.sink is not None:
            self.call(self.sink.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _replace_smarthost(settings: MailSettings, smarthost: SmarthostSettings) -> MailSettings:
    import dataclasses

    return dataclasses.replace(settings, smarthost=smarthost)


async def _serve(config: dict[str, Any]) -> None:
    target = RecordingTarget(
        queues=dict(config["queues"]),
        users=dict(config["users"]),
        log=Path(config["log"]),
        block=Path(config["block"]) if config.get("block") else None,
    )
    settings = MailSettings(
        port=0, trusted_relays=("mx.test",), trusted_relay_networks=("127.0.0.0/8",)
    )
    service = MailService(settings, target, Path(config["spool"]), None, no_dns)
    await service.start()
    Path(config["port_file"]).write_text(str(service.port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await service.stop()


def main(argv: list[str]) -> None:
    """Run the service of the JSON configuration file ``argv[0]`` until SIGTERM."""
    asyncio.run(_serve(json.loads(Path(argv[0]).read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main(sys.argv[1:])


def tnef(files: dict[str, bytes]) -> bytes:
    """A minimal Outlook ``winmail.dat`` (TNEF) holding ``files``, as Outlook lays it out:
    the version and code page, then per file its rendering data, title and data."""

    def obj(level: int, attribute: int, data: bytes) -> bytes:
        head = struct.pack("<BII", level, attribute, len(data))
        return head + data + struct.pack("<H", sum(data) & 0xFFFF)

    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += obj(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += obj(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    for name, data in files.items():
        out += obj(2, 0x00069002, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8)  # attAttachRendData
        out += obj(2, 0x00018010, name.encode() + b"\x00")  # attAttachTitle
        out += obj(2, 0x0006800F, data)  # attAttachData
    return out
