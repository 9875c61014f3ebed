"""HQ's way to a site's providers: ``POST /site/providers/{name}/wake`` on the Site Server.

HQ never connects to a provider of a site: it rings the site's Site Server, at the address
the site advertises (``site serve --advertised-url``), and the Site Server rings the
provider's doorbell on its own network. So everything between HQ and a site goes through
one address, and a cut WAN link cuts HQ's rings as it cuts the site's requests (in the demo
and the tests, that address is a route of the site's link).

Like a provider's own doorbell, the relay carries no secret and no order: all a ring can
cause is that the provider fetches its orders from its server (this Site Server), with its
own token. So anyone may ring; at most ``MAX_WAITING`` rings wait at once (more are answered
503 at once), and the provider coalesces them. A ring is refused while the site is not
online: the provider would fetch from the replica, which has none of HQ's new orders.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from printwarden.service.provider_control import WAKE, doorbell_timeout
from printwarden.store.db import Database
from printwarden.store.models import ProviderRow

PATH = re.compile(r"^/site/providers/(?P<name>[^/]{1,128})/wake$")
MAX_WAITING = 64


@dataclass(frozen=True, slots=True)
class Answer:
    """What the relay answers HQ: a status and a problem's detail ("" when rung)."""

    status: int
    detail: str = ""

    def body(self) -> bytes:
        if not self.detail:
            return b"{}"
        problem = {"type": "about:blank", "title": _TITLES.get(self.status, "Error"),
                   "status": self.status, "detail": self.detail}  # fmt: skip
        return json.dumps(problem).encode()


_TITLES = {404: "Not found", 405: "Method not allowed", 502: "Bad gateway",
           503: "Service unavailable"}  # fmt: skip


class Relay:
    """Rings this site's providers for HQ; ``mode()`` is the site's mode, ``site`` its name."""

    def __init__(self, site: str, database: Database, mode: Callable[[], str]) -> None:
        self.site, self.database, self.mode = site, database, mode
        self._client = httpx.AsyncClient(timeout=doorbell_timeout())
        self._waiting = asyncio.BoundedSemaphore(MAX_WAITING)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def ring(self, method: str, provider: str) -> Answer:
        """Ring ``provider`` and wait for its answer (it answers once it has fetched)."""
        if method != "POST":
            return Answer(405, "ring with POST")
        mode = self.mode()
        if mode != "online":
            return Answer(503, f"site {self.site} is {mode}: its providers fetch their "
                               "orders from its replica until it is online again")  # fmt: skip
        if self._waiting.locked():
            return Answer(503, "busy: too many rings waiting")
        async with self._waiting:
            control_url = await asyncio.to_thread(self._control_url, provider)
            if not control_url:
                return Answer(404, f"no provider {provider!r} at site {self.site}")
            return await self._ring(provider, control_url)

    def _control_url(self, provider: str) -> str:
        with self.database.read() as session:
            found = session.scalar(
                select(ProviderRow.control_url).where(ProviderRow.name == provider)
            )
        return found or ""

    async def _ring(self, provider: str, control_url: str) -> Answer:
        try:
            response = await self._client.post(f"{control_url.rstrip('/')}/{WAKE}", json={})
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            return Answer(502, f"provider {provider} unreachable from site {self.site}: {reason}")
        if response.status_code != 200:
            return Answer(502, f"provider {provider} answered {response.status_code}")
        return Answer(200)
