"""Keeping a provider's mDNS adverts current: a supervised loop around one avahi session.

A round is one D-Bus connection's life: connect, announce the adverts, then announce again
whenever they change (a printer's formats learnt, a queue renamed), until the provider
stops or avahi-daemon goes away. Without an avahi-daemon the provider prints as before; it
says so once and tries again every ``[mdns] retry_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from printwarden.domain.dns_sd import QueueAdvert
from printwarden.provider.config import MdnsConfig
from printwarden.provider.mdns import AvahiError, AvahiPublisher, AvahiUnavailable
from printwarden.provider.supervisor import Supervisor

log = logging.getLogger("printwarden.provider")


class Discovery:
    """The provider's queues on the local network (``[mdns]``)."""

    def __init__(
        self,
        config: MdnsConfig,
        adverts: Callable[[], list[QueueAdvert]],
        supervisor: Supervisor,
    ) -> None:
        self.config, self.adverts, self.supervisor = config, adverts, supervisor
        self.names: dict[str, str] = {}  # queue uuid -> the name announced
        self.unavailable = ""  # why avahi cannot be used now ("" when it can)
        self._changed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    def start(self) -> None:
        if self.config.enabled:
            self.supervisor.spawn("mdns", self._round, self.changed)

    def changed(self) -> None:
        """The adverts may have changed (or the provider stops): look again."""
        self._changed.set()
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None:
            loop.call_soon_threadsafe(wakeup.set)

    def _round(self) -> None:
        asyncio.run(self._session())

    async def _session(self) -> None:
        publisher = AvahiPublisher(self.config.dbus_address)
        try:
            await publisher.connect()
        except AvahiUnavailable as exc:
            self._cannot(str(exc))
            await asyncio.to_thread(self.supervisor.stopping.wait, self.config.retry_seconds)
            return
        self.unavailable = ""
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        try:
            await self._announce_until_closed(publisher, self._wakeup)
        except AvahiError as exc:
            self._cannot(f"avahi-daemon refused the adverts: {exc}")
        finally:
            self._loop = self._wakeup = None
            await publisher.close()

    async def _announce_until_closed(
        self, publisher: AvahiPublisher, wakeup: asyncio.Event
    ) -> None:
        closed = asyncio.ensure_future(publisher.wait_closed())
        try:
            while not self.supervisor.stopping.is_set():
                self._changed.clear()
                adverts = await asyncio.to_thread(self.adverts)
                self.names = await publisher.publish(adverts)
                log.info("mDNS: %d queues announced", len(self.names))
                if self._changed.is_set():
                    continue
                woken = asyncio.ensure_future(wakeup.wait())
                await asyncio.wait({closed, woken}, return_when=asyncio.FIRST_COMPLETED)
                wakeup.clear()
                woken.cancel()
                if closed.done():
                    self._cannot("the D-Bus connection to avahi-daemon ended")
                    return
        finally:
            closed.cancel()

    def _cannot(self, why: str) -> None:
        if why != self.unavailable:
            log.warning("mDNS: the queues are not announced on the local network: %s; "
                        "trying again every %.0f s", why, self.config.retry_seconds)  # fmt: skip
        self.unavailable = why
        self.names = {}
