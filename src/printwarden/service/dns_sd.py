"""The unicast DNS-SD zone a server answers for (``[dns_sd]``): the adverts its providers
registered (a Site Server: its site's providers only, from its replica, so discovery at a
site outlives the WAN), rebuilt every ``refresh_seconds``, served by
:class:`printwarden.dnssd.responder.Responder` and, where configured, pushed to an existing
DNS server with RFC 2136 updates.

Each queue's host name in the zone resolves to the addresses of the host its provider is
reached at (``advertised_host``, else its bind address or its host name).

The DNS libraries (dnslib answering, dnspython updating) load on first use: a server without
``[dns_sd] domain`` never carries them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from printwarden.config import DnsSdConfig
from printwarden.dnssd.zonefile import name_text, record_line
from printwarden.domain.dns_sd import Address, QueueAdvert, Zone, ZoneEntry, zone_records
from printwarden.store import providers
from printwarden.store.db import Database

if TYPE_CHECKING:
    from printwarden.dnssd import update
    from printwarden.dnssd.answers import Authority
    from printwarden.dnssd.responder import Responder

log = logging.getLogger("printwarden.service")
RESOLVE_CACHE_SECONDS = 60.0

Resolve = Callable[[str], tuple[str, ...]]


class HostAddresses:
    """A host's addresses (an address is its own), cached for a minute."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    def __call__(self, host: str) -> tuple[str, ...]:
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            pass
        cached = self._cache.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            log.warning("DNS-SD: host %s of a queue does not resolve (%s): no address", host, exc)
            infos = []
        found = tuple(sorted({str(info[4][0]) for info in infos}))
        self._cache[host] = (time.monotonic() + RESOLVE_CACHE_SECONDS, found)
        return found


def zone_of(database: Database, config: DnsSdConfig, site: str | None, resolve: Resolve) -> Zone:
    """The zone as the registrations say now."""
    with database.read() as session:
        registered = providers.adverts(session, site)
    entries = [ZoneEntry(advert, resolve(advert.host)) for advert in map(_advert, registered)]
    return zone_records(config.domain, entries, config.ttl)


def authority_of(zone: Zone, config: DnsSdConfig) -> Authority:
    """The zone served, with its SOA and NS."""
    from printwarden.dnssd.answers import Authority

    return Authority(zone, config.ns or socket.getfqdn(), ns_addresses=config.ns_addresses)


def _advert(registered: tuple[str, dict[str, Any]]) -> QueueAdvert:
    _, advert = registered
    return QueueAdvert(
        queue=str(advert["queue"]),
        name=str(advert["name"]),
        uuid=str(advert["uuid"]),
        host=str(advert["host"]),
        ipp_port=advert.get("ipp_port"),
        ipps_port=advert.get("ipps_port"),
        txt=tuple((str(k), str(v)) for k, v in advert.get("txt", [])),
    )


class ZoneService:
    """Answers for the zone while the server runs."""

    def __init__(
        self,
        database: Database,
        config: DnsSdConfig,
        site: str | None,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        """``leads``: whether this process sends the zone's updates (one of several App
        Server processes does: ``service/leadership.py``)."""
        self.database, self.config, self.site, self.leads = database, config, site, leads
        self.resolve = HostAddresses()
        self.responder: Responder | None = None
        self.failures = 0  # rounds whose rebuild failed (the last zone is served meanwhile)
        self.pushed: Zone | None = None  # what the update server was last sent successfully
        self.current: Authority | None = None
        self._task: asyncio.Task[None] | None = None

    def zone(self) -> Zone:
        return zone_of(self.database, self.config, self.site, self.resolve)

    async def start(self) -> None:
        zone = await asyncio.to_thread(self.zone)
        self.current = authority_of(zone, self.config)
        if self.config.serve:
            from printwarden.dnssd.responder import Responder

            self.responder = Responder(self.current, self.config.listen, self.config.port)
            await self.responder.start()
            log.info("DNS-SD: answering for %s on %s port %d (%d records)", self.config.domain,
                     self.config.listen, self.responder.port, len(zone.records))  # fmt: skip
        await self._push(zone)
        self._task = asyncio.get_running_loop().create_task(self._keep_current())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.responder is not None:
            await self.responder.close()

    async def _keep_current(self) -> None:
        """Rebuild the zone each round; a failed round serves the last zone and is logged,
        never the end of the loop."""
        while True:
            await asyncio.sleep(self.config.refresh_seconds)
            try:
                zone = await asyncio.to_thread(self.zone)
            except Exception:
                self.failures += 1
                log.exception("DNS-SD: rebuilding the zone failed; serving the last one")
                continue
            assert self.current is not None
            if list(zone.records) != list(self.current.zone.records):
                self.current = self.current.successor(zone)
                if self.responder is not None:
                    self.responder.set_authority(self.current)
                log.info("DNS-SD: zone %s now has %d records", self.config.domain,
                         len(zone.records))  # fmt: skip
            if self.pushed is None or list(zone.records) != list(self.pushed.records):
                await self._push(zone)

    async def _push(self, zone: Zone) -> None:
        """Bring the update server's copy from what it was last sent to ``zone`` (all of it
        the first time); a failure is logged and tried again next round."""
        if not self.config.update_server or not self.leads():
            return
        from printwarden.dnssd import update

        host, _, port = self.config.update_server.rpartition(":")
        try:
            key = _tsig_key(self.config)
            messages = update.changes(self.pushed, zone, key=key)
            await asyncio.to_thread(update.send, host or port, int(port) if host else 53,
                                    messages)  # fmt: skip
        except (update.UpdateError, OSError, ValueError) as exc:
            self.failures += 1
            log.warning("DNS-SD: updating %s failed (%s); trying again in %.0f s",
                        self.config.update_server, exc, self.config.refresh_seconds)  # fmt: skip
            return
        self.pushed = zone
        log.info("DNS-SD: %s updated (%d messages)", self.config.update_server, len(messages))


def _tsig_key(config: DnsSdConfig) -> update.TsigKey | None:
    from printwarden.dnssd import update

    if config.update_key_file is not None:
        return update.TsigKey.from_file(config.update_key_file, config.update_key_name or None)
    if config.update_key_name:
        return update.TsigKey.from_env(config.update_key_name)
    return None


@dataclass(frozen=True)
class QueuePart:
    """One queue's part of a zone, as the console and ``GET /dns-sd`` show it."""

    name: str  # its instance name
    host: str  # its host name, absolute
    addresses: list[str]
    records: list[str]  # zone-file lines


def queue_parts(zone: Zone) -> dict[str, QueuePart]:
    """Each queue's part of ``zone``, by queue uuid: its host's addresses, its records."""
    parts = {}
    for uuid, host in zone.hosts.items():
        name = zone.names[uuid]
        mine = [r for r in zone.records if r.name == host or (r.name and r.name[0] == name)]
        addresses = [r.data.address for r in mine if isinstance(r.data, Address)]
        records = [record_line(r, zone.domain) for r in mine]
        parts[uuid] = QueuePart(name, name_text(host), addresses, records)
    return parts


def delegation(authority: Authority) -> list[str]:
    """What the parent zone needs: the NS record delegating the domain, and its glue."""
    ns = name_text(authority.ns)
    return [f"{name_text(authority.domain)} IN NS {ns}",
            *(f"{ns} IN A {address}" for address in authority.ns_addresses)]  # fmt: skip
