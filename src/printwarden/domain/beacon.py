"""The beacon: a Site Server's heartbeat channel to the App Server, as bytes (pure).

A site opens one TCP connection to HQ's beacon port and says hello with a *ticket*; HQ
answers and from then on writes one byte to it every beat, and the site one byte back every
:data:`TICK_SECONDS`. The site knows its link is cut when HQ's bytes stop; HQ knows the site
is there while the site's keep coming (TCP alone cannot say: a proxy or a load balancer on
the way acknowledges HQ's bytes whether the site is there or not). A thousand sites then
cost HQ a few small writes and one small read each a second — no request, no database, no
HTTP.

The ticket is HQ's word that a site may hold a beacon: ``HMAC(key, site, generation,
expiry)`` under a key derived from HQ's secret, handed to the site in each answer to its
status (an authenticated HTTPS call). It grants nothing else — no API call accepts it — so
it may cross the wire in the clear; re-keying the site (a stolen box) voids it, and it
expires within :data:`TICKET_SECONDS` anyway.

Wire format (ASCII lines, CRLF)::

    site -> HQ   PRINTWARDEN-BEACON/1 <ticket>
    HQ -> site   OK <milliseconds between beats>     |   NO <reason>
    HQ -> site   .  (one byte each beat, for as long as the connection lasts)
    site -> HQ   .  (one byte every TICK_SECONDS, likewise; nothing else)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

MAGIC = "PRINTWARDEN-BEACON/1"
BEAT = b"."
MAX_LINE = 512  # a hello or an answer longer than this is refused
TICKET_SECONDS = 3600
TICK_SECONDS = 1.0  # between two of the site's bytes
_TICKET = re.compile(r"v1\.([a-z0-9-]{1,64})\.(\d{1,9})\.(\d{1,12})\.([0-9a-f]{32})")


class BeaconError(ValueError):
    """A line that breaks the protocol, or a ticket that is not good."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A site's leave to hold a beacon, until ``expires`` (Unix seconds)."""

    site: str
    generation: int
    expires: int

    def sign(self, key: bytes) -> str:
        return f"v1.{self.site}.{self.generation}.{self.expires}.{self._mac(key)}"

    def _mac(self, key: bytes) -> str:
        message = f"v1|{self.site}|{self.generation}|{self.expires}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def issue(cls, key: bytes, site: str, generation: int, now: float) -> str:
        """A signed ticket for ``site`` valid :data:`TICKET_SECONDS` from ``now``."""
        return cls(site, generation, int(now) + TICKET_SECONDS).sign(key)

    @classmethod
    def verify(cls, key: bytes, text: str, now: float) -> Ticket:
        """The ticket ``text`` stands for; :class:`BeaconError` if forged, malformed or
        expired (its generation is the caller's to compare with the site's)."""
        found = _TICKET.fullmatch(text)
        if found is None:
            raise BeaconError("malformed ticket")
        site, generation, expires, mac = found.groups()
        ticket = cls(site, int(generation), int(expires))
        if not hmac.compare_digest(ticket._mac(key), mac):
            raise BeaconError("forged ticket")
        if ticket.expires < now:
            raise BeaconError("expired ticket")
        return ticket


def hello(ticket: str) -> bytes:
    """What a site sends first."""
    return f"{MAGIC} {ticket}\r\n".encode("ascii")


def parse_hello(line: bytes) -> str:
    """The ticket of a site's hello line (without its line end)."""
    text = _ascii(line)
    magic, _, ticket = text.partition(" ")
    if magic != MAGIC or not ticket:
        raise BeaconError(f"not a {MAGIC} hello")
    return ticket


def welcome(interval: float) -> bytes:
    return f"OK {round(interval * 1000)}\r\n".encode("ascii")


def refusal(reason: str) -> bytes:
    return f"NO {reason}\r\n".encode("ascii", "replace")


def parse_answer(line: bytes) -> float:
    """Seconds between beats, from HQ's answer line; :class:`BeaconError` with HQ's reason
    when it refused."""
    text = _ascii(line)
    word, _, rest = text.partition(" ")
    if word == "OK" and rest.isdigit() and 0 < int(rest) <= 60_000:
        return int(rest) / 1000
    if word == "NO":
        raise BeaconError(f"HQ refused the beacon: {rest[:200]}")
    raise BeaconError("not a beacon answer")


def _ascii(line: bytes) -> str:
    if len(line) > MAX_LINE:
        raise BeaconError("line too long")
    try:
        return line.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise BeaconError("not ASCII") from None
