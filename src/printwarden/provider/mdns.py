"""Announcing queues over multicast DNS through the system's avahi-daemon, over D-Bus.

Why avahi and not a responder of our own (python-zeroconf): a host has one mDNS responder,
and avahi-daemon already is it on Debian and most Linux systems; a second one on port 5353
makes mDNS unreliable for both. Through avahi, subtypes (``_universal._sub._ipp._tcp``)
are answered to every later browse, where python-zeroconf's subtype registration answered
only while it announced. The cost is one D-Bus connection.

One entry group per queue: a name taken on the network renames that queue only. A name
clash (avahi says so at commit time, or later with the group's ``StateChanged``) is
resolved by :func:`printwarden.domain.dns_sd.renamed` (a suffix from the queue's UUID, the
same at every restart), then by avahi's own alternative names. Queues are added
concurrently: avahi probes each name for about a second, and does so for all at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from printwarden.domain.dns_sd import QueueAdvert, renamed, txt_strings

log = logging.getLogger("printwarden.provider")

AVAHI = "org.freedesktop.Avahi"
SERVER = "org.freedesktop.Avahi.Server"
ENTRY_GROUP = "org.freedesktop.Avahi.EntryGroup"
BUS, BUS_PATH = "org.freedesktop.DBus", "/org/freedesktop/DBus"
ANY_INTERFACE = -1  # AVAHI_IF_UNSPEC
ANY_PROTOCOL = -1  # AVAHI_PROTO_UNSPEC
COLLISION_ERRORS = frozenset({"org.freedesktop.Avahi.CollisionError"})
# EntryGroup states (avahi-common/defs.h)
UNCOMMITTED, REGISTERING, ESTABLISHED, COLLISION, FAILURE = range(5)
MAX_RENAMES = 10
# Calls in flight at once: a system bus allows a connection 128 pending replies, and a full
# socket makes dbus-fast fail the call rather than wait.
MAX_PENDING_CALLS = 32


class AvahiUnavailable(Exception):
    """No avahi-daemon answers on the D-Bus given (or no such bus)."""


@dataclass
class _Group:
    advert: QueueAdvert
    path: str
    name: str
    state: int = UNCOMMITTED


class AvahiPublisher:
    """The adverts of one provider, held in avahi-daemon while connected."""

    def __init__(self, bus_address: str = "") -> None:
        self.bus_address = bus_address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "")
        self.bus: MessageBus | None = None
        self.groups: dict[str, _Group] = {}  # by queue uuid
        self._pending = asyncio.Semaphore(MAX_PENDING_CALLS)

    async def connect(self) -> None:
        """Connect to the bus and check that avahi-daemon answers there."""
        try:
            if self.bus_address:
                self.bus = await MessageBus(bus_address=self.bus_address).connect()
            else:
                self.bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
            version = await self._call("/", SERVER, "GetVersionString")
        except (OSError, EOFError, ValueError) as exc:
            raise AvahiUnavailable(f"no D-Bus at {self._where()}: {exc}") from None
        except AvahiError as exc:
            raise AvahiUnavailable(f"no avahi-daemon on {self._where()}: {exc}") from None
        self.bus.add_message_handler(self._on_message)
        for rule in (
            f"type='signal',sender='{AVAHI}',interface='{ENTRY_GROUP}',member='StateChanged'",
            f"type='signal',sender='{BUS}',member='NameOwnerChanged',arg0='{AVAHI}'",
        ):
            await self._call(BUS_PATH, BUS, "AddMatch", "s", [rule], destination=BUS)
        log.info("mDNS through %s", version[0] if version else "avahi-daemon")

    def _where(self) -> str:
        return self.bus_address or "the system bus"

    async def publish(self, adverts: Iterable[QueueAdvert]) -> dict[str, str]:
        """Make avahi announce exactly ``adverts`` (adding, changing and withdrawing);
        the names taken, by queue uuid."""
        wanted = {advert.uuid: advert for advert in adverts}
        gone = [uuid for uuid in self.groups if uuid not in wanted]
        await asyncio.gather(*(self._withdraw(uuid) for uuid in gone))
        changed = [
            a for u, a in wanted.items() if u not in self.groups or self.groups[u].advert != a
        ]
        await asyncio.gather(*(self._announce(advert) for advert in changed))
        return self.names()

    def names(self) -> dict[str, str]:
        return {uuid: group.name for uuid, group in self.groups.items()}

    async def wait_closed(self) -> None:
        """Until the bus connection ends (avahi-daemon or dbus-daemon went away)."""
        assert self.bus is not None
        await self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Withdraw every advert and disconnect."""
        if self.bus is None:
            return
        if self.bus.connected:
            await asyncio.gather(*(self._withdraw(u) for u in list(self.groups)),
                                 return_exceptions=True)  # fmt: skip
            self.bus.disconnect()
        self.groups.clear()
        self.bus = None

    async def _announce(self, advert: QueueAdvert) -> None:
        group = self.groups.get(advert.uuid)
        if group is None:
            reply = await self._call("/", SERVER, "EntryGroupNew")
            group = self.groups[advert.uuid] = _Group(advert, str(reply[0]), advert.name)
        else:
            await self._call(group.path, ENTRY_GROUP, "Reset")
            group.advert = advert
        await self._commit(group)

    async def _commit(self, group: _Group) -> None:
        """Add the group's services under its name and commit, renaming on a clash."""
        for _ in range(MAX_RENAMES):
            try:
                await self._add_services(group)
                await self._call(group.path, ENTRY_GROUP, "Commit")
                return
            except AvahiError as exc:
                if exc.name not in COLLISION_ERRORS:
                    raise
                await self._call(group.path, ENTRY_GROUP, "Reset")
                await self._rename(group)
        raise AvahiError("", f"no free name for queue {group.advert.queue} after {MAX_RENAMES}")

    async def _rename(self, group: _Group) -> None:
        first = renamed(group.advert.name, group.advert.uuid)
        if group.name != first:
            new = first
        else:
            reply = await self._call("/", SERVER, "GetAlternativeServiceName", "s", [group.name])
            new = str(reply[0])
        log.warning("mDNS name %r of queue %s is taken on the network; announcing it as %r",
                    group.name, group.advert.queue, new)  # fmt: skip
        group.name = new

    async def _add_services(self, group: _Group) -> None:
        for service in group.advert.services():
            body = [ANY_INTERFACE, ANY_PROTOCOL, 0, group.name, service.type, "", "",
                    service.port, txt_strings(service.txt)]  # fmt: skip
            await self._call(group.path, ENTRY_GROUP, "AddService", "iiussssqaay", body)
            for subtype in service.subtypes:
                sub = f"{subtype}._sub.{service.type}"
                body = [ANY_INTERFACE, ANY_PROTOCOL, 0, group.name, service.type, "", sub]
                await self._call(group.path, ENTRY_GROUP, "AddServiceSubtype", "iiussss", body)

    async def _withdraw(self, uuid: str) -> None:
        group = self.groups.pop(uuid, None)
        if group is not None:
            await self._call(group.path, ENTRY_GROUP, "Free")

    def _on_message(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL:
            return
        if message.member == "NameOwnerChanged" and self.bus is not None:
            # avahi-daemon restarted (or stopped): our groups went with it. Ending the
            # connection ends the session; the next one announces everything again.
            log.warning("avahi-daemon went away from the bus; announcing again")
            self.bus.disconnect()
            return
        if message.member != "StateChanged":
            return
        group = next((g for g in self.groups.values() if g.path == message.path), None)
        if group is None:
            return
        group.state = int(message.body[0])
        if group.state == COLLISION:
            asyncio.get_running_loop().create_task(self._recommit(group))
        elif group.state == FAILURE:
            log.error("avahi failed to announce queue %s: %s", group.advert.queue,
                      message.body[1] if len(message.body) > 1 else "")  # fmt: skip

    async def _recommit(self, group: _Group) -> None:
        """A host elsewhere took the name after we announced it: rename and announce again."""
        try:
            await self._call(group.path, ENTRY_GROUP, "Reset")
            await self._rename(group)
            await self._commit(group)
        except AvahiError:
            log.exception("announcing queue %s again after a name clash failed", group.advert.queue)

    async def _call(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: list[object] | None = None,
        *,
        destination: str = AVAHI,
    ) -> list[object]:
        assert self.bus is not None
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body or [],
        )
        async with self._pending:
            reply = await self.bus.call(message)
        if reply is None:
            return []
        if reply.message_type == MessageType.ERROR:
            detail = reply.body[0] if reply.body else ""
            raise AvahiError(reply.error_name or "", str(detail))
        return list(reply.body)


class AvahiError(Exception):
    """avahi-daemon (or the bus) answered a call with an error."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}" if name else detail)
        self.name = name
