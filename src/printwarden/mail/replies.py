"""Replies to the sender: one per message (what was held, what was refused and why), the
confirmation link of a held message, or how to register an address (no I/O here).

Never to automatic mail: ``Auto-Submitted`` other than ``no``, ``Precedence`` bulk, list or
junk, a ``List-Id``, or a null envelope sender. At most ``per_hour`` replies to one address
an hour (:class:`RateLimit`, in memory). Replies carry ``Auto-Submitted: auto-replied`` and
``In-Reply-To``/``References`` (RFC 3834).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from printwarden.mail.message import Parsed
from printwarden.mail.target import Outcome

HOUR = 3600.0


def suppression(parsed: Parsed, mail_from: str) -> str | None:
    """Why no reply may go to this message, or None when one may."""
    if not mail_from:
        return "null sender"
    if not parsed.sender:
        return "no From: address"
    auto = parsed.auto_submitted.split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if parsed.precedence.strip().lower() in ("bulk", "list", "junk"):
        return f"Precedence: {parsed.precedence.strip().lower()}"
    if parsed.list_id:
        return "List-Id"
    return None


class RateLimit:
    """At most ``per_hour`` events per address in any hour (a sliding window, in memory)."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._sent: dict[str, collections.deque[float]] = {}

    def allow(self, address: str) -> bool:
        """Whether one more reply to ``address`` fits; counts it when it does."""
        now = self.clock()
        times = self._sent.setdefault(address.lower(), collections.deque())
        while times and times[0] <= now - HOUR:
            times.popleft()
        if len(times) >= self.per_hour:
            return False
        times.append(now)
        if len(self._sent) > 10_000:  # forget idle addresses
            self._sent = {a: t for a, t in self._sent.items() if t and t[-1] > now - HOUR}
        return True


def summary(parsed: Parsed, outcomes: Sequence[Outcome], sender: str) -> EmailMessage:
    """The reply listing what was held and what was refused."""
    held = [o for o in outcomes if o.held]
    refused = [o for o in outcomes if not o.held]
    lines = []
    if held:
        lines += ["Held for release:", *(f"  - {o.filename}: {o.detail}" for o in held), ""]
    if refused:
        lines += ["Not printed:", *(f"  - {o.filename}: {o.detail}" for o in refused), ""]
    if not outcomes:
        lines += ["Nothing in your message could be printed: it had no attachments.", ""]
    return _reply(parsed, sender, "\n".join(lines))


def confirmation(parsed: Parsed, url: str, hours: float, sender: str) -> EmailMessage:
    """The mail asking the owner of the From: address to confirm a held message."""
    text = (
        "We received a message from this address to print, but could not verify that you\n"
        "sent it. If you did, log in and confirm it here within "
        f"{hours:g} hours:\n\n  {url}\n\n"
        "If you did not send it, ignore this mail: nothing will print.\n"
    )
    return _reply(parsed, sender, text, "Confirm your print: ")


def instructions(parsed: Parsed, register_url: str, sender: str) -> EmailMessage:
    """The reply to an unknown address: how to register it."""
    where = f" at {register_url}" if register_url else " in the print portal"
    text = (
        "This address is not registered for printing, so nothing was printed.\n"
        f"Add it to your account{where}, then send your message again.\n"
    )
    return _reply(parsed, sender, text)


def _reply(parsed: Parsed, sender: str, text: str, prefix: str = "Re: ") -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = parsed.sender
    subject = parsed.subject or "your print"
    reply["Subject"] = subject if subject.lower().startswith(prefix.lower()) else prefix + subject
    reply["Date"] = formatdate(localtime=False)
    reply["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    reply["Auto-Submitted"] = "auto-replied"
    if parsed.message_id:
        reply["In-Reply-To"] = parsed.message_id
        reply["References"] = parsed.message_id
    reply.set_content(text)
    return reply
