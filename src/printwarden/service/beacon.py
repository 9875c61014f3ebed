"""HQ's end of the beacon (``domain/beacon.py``): Site Servers' heartbeat channel.

Each site holds one connection; every :data:`BEAT_SECONDS` one timer writes a byte to each
(a thousand sites: a thousand small writes, no request, no task, no database), so a site
hears within a fraction of a second when its link is cut. The site's own byte each second
says it is there: a site heard within :data:`HEARD_WITHIN_SECONDS` is noted in contact every
:data:`TOUCH_SECONDS`, in one statement for all of them (``store/sites.touch``), which is
what every App Server process reads to know which sites it reaches — so the site need not
send its status every second. A beacon silent for :data:`SILENT_SECONDS`, or whose beats go
unacknowledged for :data:`USER_TIMEOUT_MS` (``TCP_USER_TIMEOUT``), is closed.

Bounded: at most ``limit`` connections in all, a hello within :data:`HELLO_SECONDS` and
:data:`~printwarden.domain.beacon.MAX_LINE` bytes, one beacon per site (a newer one
replaces the older), and a site that sends anything after its hello is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from datetime import UTC, datetime
from typing import cast

from printwarden.domain import beacon
from printwarden.domain.beacon import BeaconError, Ticket
from printwarden.service.supervised import supervised
from printwarden.store import sites
from printwarden.store.db import Database
from printwarden.store.errors import NotFound

log = logging.getLogger("printwarden.sites")

BEAT_SECONDS = 0.25
HELLO_SECONDS = 5.0
USER_TIMEOUT_MS = 2000  # beats unacknowledged this long: the site is gone
TOUCH_SECONDS = 1.0
HEARD_WITHIN_SECONDS = 2.0  # a site's byte this recent: it is in contact
SILENT_SECONDS = 3.0  # none this long: its beacon is closed (it will open another)
MAX_BEACONS = 10_000
MAX_UNSENT = 4096  # bytes queued for a site that does not read: it is cut off


class BeaconServer:
    """Accepts sites' beacons and beats them (one event loop)."""

    def __init__(
        self,
        database: Database,
        key: bytes,
        interval: float = BEAT_SECONDS,
        limit: int = MAX_BEACONS,
    ) -> None:
        self.database, self.key, self.interval, self.limit = database, key, interval, limit
        self._beacons: dict[str, _BeaconProtocol] = {}
        self._connections: set[_BeaconProtocol] = set()
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._admitting: set[asyncio.Task[None]] = set()
        self.counts = {"loop_restarts": 0, "accepted": 0, "refused": 0, "beats": 0}

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` and beat, supervised."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _BeaconProtocol(self), host, port, backlog=1024, reuse_address=True
        )
        for run, name in ((self._beat, "beacon beats"), (self._touch, "beacon contacts")):
            self._tasks.append(loop.create_task(supervised(run, name, self.counts, log)))

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()

    def ticket(self, site: str, generation: int) -> str:
        """A fresh ticket for ``site`` (handed out with the answer to its status)."""
        return Ticket.issue(self.key, site, generation, time.time())

    def connected(self) -> list[str]:
        """The sites whose beacon holds now."""
        return list(self._beacons)

    def stats(self) -> dict[str, int]:
        return {"beacons": len(self._beacons), **self.counts}

    # --- connections (the protocol's calls) -------------------------------------------------

    def _opened(self, connection: _BeaconProtocol) -> bool:
        """Whether another connection may open."""
        if len(self._connections) >= self.limit:
            return False
        self._connections.add(connection)
        return True

    def _closed(self, connection: _BeaconProtocol) -> None:
        self._connections.discard(connection)
        site = connection.site
        if site is not None and self._beacons.get(site) is connection:
            del self._beacons[site]
            log.info("site %s: beacon closed", site)

    def _hello(self, connection: _BeaconProtocol, ticket: str) -> None:
        task = asyncio.get_running_loop().create_task(self._admit(connection, ticket))
        self._admitting.add(task)
        task.add_done_callback(self._admitting.discard)

    async def _admit(self, connection: _BeaconProtocol, text: str) -> None:
        """Check the ticket (and that the site still has its generation); beat or refuse."""
        try:
            ticket = Ticket.verify(self.key, text, time.time())
            current = await asyncio.to_thread(self._generation, ticket.site)
            if current != ticket.generation:
                raise BeaconError("stale ticket (the site was re-keyed)")
        except BeaconError as exc:
            log.warning("beacon from %s refused: %s", connection.peer, exc)
            connection.refuse(str(exc))
            return
        except Exception:  # the database, say: this connection fails, not the server
            log.exception("beacon from %s: checking its ticket failed", connection.peer)
            connection.refuse("HQ could not check the ticket")
            return
        if connection.transport.is_closing():
            return
        older = self._beacons.get(ticket.site)
        if older is not None:
            older.close()  # its site came back on a new connection (or a thief did)
        connection.site, connection.heard_at = ticket.site, time.monotonic()
        self._beacons[ticket.site] = connection
        self.counts["accepted"] += 1
        connection.transport.write(beacon.welcome(self.interval))

    def _generation(self, site: str) -> int | None:
        try:
            with self.database.read() as session:
                return sites.find_site(session, site).key_generation
        except NotFound:
            return None

    # --- loops -----------------------------------------------------------------------------

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.counts["beats"] += 1
            for connection in list(self._beacons.values()):
                transport = connection.transport
                if transport.get_write_buffer_size() > MAX_UNSENT:
                    transport.abort()
                else:
                    transport.write(beacon.BEAT)

    async def _touch(self) -> None:
        while True:
            await asyncio.sleep(TOUCH_SECONDS)
            if heard := self._heard():
                await asyncio.to_thread(self._write_contacts, heard)

    def _heard(self) -> list[str]:
        """The sites heard lately; the beacons of those silent too long are closed."""
        now, heard = time.monotonic(), []
        for site, connection in list(self._beacons.items()):
            silent = now - connection.heard_at
            if silent <= HEARD_WITHIN_SECONDS:
                heard.append(site)
            elif silent > SILENT_SECONDS:
                log.info("site %s: beacon silent for %.1f s, closed", site, silent)
                connection.transport.abort()
        return heard

    def _write_contacts(self, names: list[str]) -> None:
        with self.database.session() as session:
            sites.touch(session, names, datetime.now(UTC))


class _BeaconProtocol(asyncio.Protocol):
    """One site's connection: its hello, then nothing but HQ's beats."""

    def __init__(self, server: BeaconServer) -> None:
        self.server = server
        self.site: str | None = None
        self.heard_at = 0.0  # when the site's last byte came (monotonic)
        self.peer = "?"
        self._line = b""
        self._checking = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's too, not a subclass
        self.peer = str(transport.get_extra_info("peername"))
        if not self.server._opened(self):
            self.refuse("too many beacons")
            return
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(HELLO_SECONDS, self.refuse, "no hello in time")

    def data_received(self, data: bytes) -> None:
        if self.site is not None and not data.strip(beacon.BEAT):
            self.heard_at = time.monotonic()  # the site's tick
            return
        if self.site is not None or self._checking:
            self.transport.abort()  # nothing but ticks is to follow the hello
            return
        self._line += data
        end = self._line.find(b"\n")
        if end < 0:
            if len(self._line) > beacon.MAX_LINE:
                self.refuse("hello too long")
            return
        try:
            ticket = beacon.parse_hello(self._line[:end])
        except BeaconError as exc:
            self.refuse(str(exc))
            return
        if end + 1 < len(self._line):
            self.transport.abort()
            return
        self._checking = True
        if self._deadline is not None:
            self._deadline.cancel()
        self.server._hello(self, ticket)

    def refuse(self, reason: str) -> None:
        """Say why, and close."""
        if not self.transport.is_closing():
            self.server.counts["refused"] += 1
            self.transport.write(beacon.refusal(reason))
            self.transport.close()

    def close(self) -> None:
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self.server._closed(self)
