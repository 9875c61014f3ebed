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

The beacon also carries the change feed's wake-up, so that an idle site holds no HTTP
request at HQ: when the site has applied every change HQ had for it, it says how far it got
(a *watch*); HQ rings it (one byte) as soon as it has news past that point for it, and the
site then asks for the changes over HTTPS as usual. A ring says only "ask": what changed
still comes over the authenticated API.

Wire format (ASCII lines, CRLF)::

    site -> HQ   PRINTWARDEN-BEACON/1 <ticket>
    HQ -> site   OK <milliseconds between beats> ring     |   NO <reason>
    HQ -> site   .  (one byte each beat, for as long as the connection lasts)
    HQ -> site   !  (a ring: news for the site past its watch; the watch is spent)
    site -> HQ   .  (one byte every TICK_SECONDS, likewise)
    site -> HQ   @<change number> <0|1>\n  (a watch: ring me past this number, or when
                 my forced mode is not 0|1 any more)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

MAGIC = "PRINTWARDEN-BEACON/1"
BEAT = b"."
RING = b"!"
WATCH = b"@"
MAX_WATCH = 32  # bytes of a watch line, its end included
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


def welcome(interval: float, rings: bool = True) -> bytes:
    """HQ's answer to a good hello: the beats' interval, and whether it rings."""
    return f"OK {round(interval * 1000)}{' ring' if rings else ''}\r\n".encode("ascii")


def refusal(reason: str) -> bytes:
    return f"NO {reason}\r\n".encode("ascii", "replace")


@dataclass(frozen=True, slots=True)
class Answer:
    """HQ's welcome: seconds between beats, and whether it rings (an older HQ does not)."""

    interval: float
    rings: bool


def parse_answer(line: bytes) -> Answer:
    """HQ's answer line; :class:`BeaconError` with HQ's reason when it refused."""
    text = _ascii(line)
    word, _, rest = text.partition(" ")
    milliseconds, _, extra = rest.partition(" ")
    if word == "OK" and milliseconds.isdigit() and 0 < int(milliseconds) <= 60_000:
        return Answer(int(milliseconds) / 1000, extra == "ring")
    if word == "NO":
        raise BeaconError(f"HQ refused the beacon: {rest[:200]}")
    raise BeaconError("not a beacon answer")


@dataclass(frozen=True, slots=True)
class Watch:
    """A site's watch: ring it when HQ has changes for it past ``since``, or when its
    forced mode is not ``forced`` any more."""

    since: int
    forced: bool

    def encode(self) -> bytes:
        return b"%c%d %d\n" % (WATCH[0], self.since, self.forced)


_WATCH = re.compile(rb"@(\d{1,18}) ([01])")


def parse_watch(line: bytes) -> Watch:
    """A watch line (without its line end); :class:`BeaconError` if it is not one."""
    found = _WATCH.fullmatch(line)
    if found is None:
        raise BeaconError("not a watch")
    return Watch(int(found.group(1)), found.group(2) == b"1")


def site_bytes(buffer: bytes) -> tuple[list[Watch], bytes]:
    """What a site sent after its hello: the watches complete in ``buffer`` (its ticks
    dropped) and the start of one still to come; :class:`BeaconError` for anything else."""
    watches: list[Watch] = []
    rest = buffer.lstrip(BEAT)
    while rest:
        if not rest.startswith(WATCH):
            raise BeaconError("neither a tick nor a watch")
        end = rest.find(b"\n", 0, MAX_WATCH)
        if end < 0:
            if len(rest) >= MAX_WATCH:
                raise BeaconError("watch too long")
            return watches, rest
        watches.append(parse_watch(rest[:end]))
        rest = rest[end + 1 :].lstrip(BEAT)
    return watches, b""


def _ascii(line: bytes) -> str:
    if len(line) > MAX_LINE:
        raise BeaconError("line too long")
    try:
        return line.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise BeaconError("not ASCII") from None
