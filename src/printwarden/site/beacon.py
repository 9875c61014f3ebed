"""The site's end of the beacon (``domain/beacon.py``): one connection to HQ's beacon port,
whose beats tell the Site Server its link is alive.

HQ's answer to each status names its beacon port and gives a ticket (:meth:`offer`); this
thread connects with it (to HQ's host, or to ``site serve --hq-beacon HOST:PORT`` when the
way to HQ's beacon differs: a load balancer, a tunnel) and reports every beat it hears. A
beacon that was beating and goes silent for :data:`SILENCE_SECONDS`, or closes, is reported
once as a failed contact; the status probes then tell a cut from a blip, as they do for the
long poll's beats. While no beacon holds (HQ has none, a firewall, an outage) the site
beats over HTTP as before, so the beacon only ever makes things cheaper.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from printwarden.domain import beacon
from printwarden.domain.beacon import BeaconError
from printwarden.site.upstream import SILENCE_SECONDS

log = logging.getLogger("printwarden.site")

CONNECT_SECONDS = 1.0
ANSWER_SECONDS = 2.0
RETRY_SECONDS = 0.5  # after a beacon ends; doubled after each failed try, up to the most
MOST_RETRY_SECONDS = 8.0  # (a firewall that drops the port: a try every 8 s, no more)
REFUSED_RETRY_SECONDS = 5.0  # after HQ refused it (a new ticket comes with the next status)


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    ticket: str


class BeaconClient:
    """Holds the site's beacon (run :meth:`run` in a thread) and says what it hears."""

    def __init__(
        self,
        hq_url: str,
        override: str,
        on_beat: Callable[[], None],
        on_lost: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self._host = urlsplit(hq_url).hostname or "127.0.0.1"
        self._override = parse_address(override) if override else None
        self.on_beat, self.on_lost, self.stop = on_beat, on_lost, stop
        self._lock = threading.Lock()
        self._offer: tuple[int, str] | None = None
        self._live = False
        self.held = 0  # beacons that beat (for tests and metrics)
        self.lost = 0  # of which went silent or closed

    @property
    def live(self) -> bool:
        """Whether a beacon is beating now."""
        with self._lock:
            return self._live

    def stats(self) -> dict[str, int]:
        return {"live": int(self.live), "held": self.held, "lost": self.lost}

    def offer(self, port: int | None, ticket: str | None) -> None:
        """What HQ's last status answer said of its beacon."""
        with self._lock:
            self._offer = (port, ticket) if port and ticket else None

    def _target(self) -> Target | None:
        with self._lock:
            offer = self._offer
        if offer is None:
            return None
        host, port = self._override or (self._host, offer[0])
        return Target(host, port, offer[1])

    def run(self) -> None:
        """Connect, hear, reconnect, until stopped; never raises."""
        retry = RETRY_SECONDS
        while not self.stop.is_set():
            target = self._target()
            if target is None:
                self.stop.wait(RETRY_SECONDS)
                continue
            held, pause = self.held, retry
            try:
                self._hold(target)
            except BeaconError as exc:
                log.warning("beacon at %s:%d: %s", target.host, target.port, exc)
                pause = max(pause, REFUSED_RETRY_SECONDS)
            except OSError as exc:
                log.debug("beacon at %s:%d: %s", target.host, target.port, exc)
            except Exception:  # the beacon must outlive anything one connection does
                log.exception("beacon at %s:%d failed", target.host, target.port)
            retry = RETRY_SECONDS if self.held > held else min(2 * retry, MOST_RETRY_SECONDS)
            self.stop.wait(RETRY_SECONDS if self.held > held else pause)

    def _hold(self, target: Target) -> None:
        """One beacon: hello, answer, then beats until it ends (reported if it was live)."""
        with socket.create_connection((target.host, target.port), CONNECT_SECONDS) as sock:
            sock.sendall(beacon.hello(target.ticket))
            sock.settimeout(ANSWER_SECONDS)
            line, rest = _line(sock)
            interval = beacon.parse_answer(line)
            sock.settimeout(max(SILENCE_SECONDS, 2.5 * interval))
            with self._lock:
                self._live = True
            self.held += 1
            log.info("site beacon to %s:%d holds", target.host, target.port)
            try:
                self._hear(sock, rest)
            finally:
                with self._lock:
                    self._live = False

    def _hear(self, sock: socket.socket, first: bytes) -> None:
        """Report each beat, and tick back each second, until the beacon ends; then report
        that, once."""
        if first:
            self.on_beat()
        ticked = float("-inf")
        while not self.stop.is_set():
            now = time.monotonic()
            if now - ticked >= beacon.TICK_SECONDS:
                ticked = now
                try:
                    sock.sendall(beacon.BEAT)
                except OSError as exc:
                    self._lost(f"beacon: {exc}")
                    return
            try:
                data = sock.recv(256)
            except TimeoutError:
                self._lost(f"beacon: no beat for {sock.gettimeout()} s")
                return
            except OSError as exc:
                self._lost(f"beacon: {exc}")
                return
            if not data:
                self._lost("beacon: HQ closed it")
                return
            self.on_beat()

    def _lost(self, reason: str) -> None:
        self.lost += 1
        self.on_lost(reason)


def _line(sock: socket.socket) -> tuple[bytes, bytes]:
    """HQ's answer line, and what came after it."""
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(beacon.MAX_LINE)
        if not chunk:  # a link that came back closes what was opened while it was down
            raise ConnectionError("HQ closed the beacon before answering")
        data += chunk
        if len(data) > beacon.MAX_LINE:
            raise BeaconError("answer too long")
    line, _, rest = data.partition(b"\n")
    return line, rest


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
