"""SMTP intake: messages/s acknowledged by Email to Print against aiosmtpd doing nothing.

    .venv/bin/python bench/smtp_intake.py                  # 400 messages per side, 3 rounds
    .venv/bin/python bench/smtp_intake.py --messages 800 --strict

Each message carries a 100 kB PDF attachment; 20 sender threads (smtplib, one connection per
message) send them as fast as they are acknowledged. Two servers, alternately, in the same
run: printwarden's ``MailService`` (RCPT TO checked through the print side, every message
fsync'd into the spool before 250, processed meanwhile by its loop: parsed, authenticated
from a trusted relay's header, submitted to a print side that records nothing) and, as the
baseline, a bare ``aiosmtpd.controller.Controller`` whose handler answers 250 and keeps
nothing. Goal: ours / baseline >= 0.5. Exit status 1 on a missed goal with ``--strict``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from harness import print_machine
from printwarden.mail.settings import MailSettings
from printwarden.mail.target import Attachment, Outcome
from printwarden.sim.ports import free_port
from printwarden.testing.mail import ServiceThread

GOAL_RATIO = 0.5
SENDERS = 20
PDF_BYTES = 100 * 1024
BUDGET_SECONDS = 120.0
RCPT = "print@print.example.org"


class NullTarget:
    """A print side that accepts everything and keeps nothing."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def queue_for(self, recipient: str) -> str | None:
        return "bench" if recipient == RCPT else None

    def user_for(self, sender: str) -> str | None:
        return "ann"

    def submit(self, username: str, queue: str, attachment: Attachment, message_id: str) -> Outcome:
        with self.lock:
            self.count += 1
        return Outcome(attachment.filename, True, "held")

    def link_sender(self, username: str, sender: str) -> None:
        return None

    def confirmation_url(self, token: str) -> str:
        return token


class NoopHandler:
    """aiosmtpd's no-op: 250 for every message."""

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        return "250 OK"


def message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "ann@example.org"
    msg["To"] = RCPT
    msg["Subject"] = "bench"
    msg["Authentication-Results"] = "mx.example.org; dmarc=pass header.from=example.org"
    msg.set_content("please print")
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * (PDF_BYTES // 256)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="bench.pdf")
    return msg.as_bytes(policy=policy.SMTP)


def blast(port: int, raw: bytes, count: int) -> float:
    """Send ``count`` messages from :data:`SENDERS` threads; messages per second."""
    import smtplib

    def one(_: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            refused = smtp.sendmail("ann@example.org", [RCPT], raw)
            assert not refused

    start = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - start
    if elapsed > BUDGET_SECONDS:
        raise RuntimeError(f"one round took {elapsed:.0f} s, over the budget")
    return count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    print_machine()
    raw = message()
    settings = MailSettings(
        port=0, trusted_relays=("mx.example.org",), trusted_relay_networks=("127.0.0.0/8",)
    )
    ours: list[float] = []
    plain: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        target = NullTarget()
        service = ServiceThread(settings, target, Path(tmp) / "spool", None)
        base_port = free_port()
        baseline = Controller(NoopHandler(), hostname="127.0.0.1", port=base_port)
        baseline.start()
        try:
            blast(service.port, raw, 20)  # warm up both
            blast(base_port, raw, 20)
            for _ in range(args.rounds):
                ours.append(blast(service.port, raw, args.messages))
                plain.append(blast(base_port, raw, args.messages))
            service.wait_for(lambda: service.service.stats()["processed"] >= 20, 120)
            total = 20 + args.rounds * args.messages
            service.wait_for(lambda: service.service.stats()["processed"] == total, 300)
            stats = service.service.stats()
        finally:
            baseline.stop()
            service.close()
    mine, theirs = statistics.median(ours), statistics.median(plain)
    ratio = mine / theirs
    print(f"messages of {len(raw) // 1024} kB, {SENDERS} senders, {args.messages} per round")
    for label, rate, rounds in (
        ("printwarden MailService", mine, ours),
        ("aiosmtpd no-op", theirs, plain),
    ):
        each = ", ".join(f"{r:.1f}" for r in rounds)
        print(f"{label:24} {rate:7.1f} msg/s  (rounds {each})")
    print(
        f"ratio {ratio:.2f} (goal >= {GOAL_RATIO}); processed {stats['processed']}, "
        f"failed {stats['failed']}, submits {target.count}"
    )
    if stats["failed"] or target.count != stats["processed"]:
        return 2
    return 1 if args.strict and ratio < GOAL_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
