"""Discovery (Mobility Print): how clients find each registered queue — multicast DNS-SD
from its provider, and the unicast DNS-SD zone when ``[dns_sd] domain`` is set, with that
zone's records per queue, the delegation the parent zone needs, and the zone as a file.

The zone is built as ``GET /api/v1/dns-sd`` builds it (:mod:`printwarden.service.dns_sd`),
from the registrations when asked. :func:`registered_queues` and :func:`queue_uri` also
serve the user portal's set-up page (:mod:`.setup`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from printwarden.dnssd.zonefile import name_text, zone_file
from printwarden.service.dns_sd import (
    HostAddresses,
    authority_of,
    delegation,
    queue_parts,
    zone_of,
)
from printwarden.service.state import AppState
from printwarden.store import providers
from printwarden.web.guards import PageContext, WebError, admin_page
from printwarden.web.templating import HEADERS

router = APIRouter()
ZONE_PATH = "/web/admin/discovery/zone"
OFF = "Unicast DNS-SD is off: set [dns_sd] domain in the server's settings."
# One per process, as the zone service keeps one: a host's addresses are cached for a minute.
_RESOLVE = HostAddresses()


@dataclass(frozen=True, slots=True)
class ZoneQueue:
    """A queue as the unicast zone announces it."""

    name: str  # its service instance name in the zone
    host: str  # its own host name in the zone
    addresses: list[str]
    records: list[str]  # zone-file lines


@dataclass(frozen=True, slots=True)
class RegisteredQueue:
    """A queue a provider registered; ``advert`` is its DNS-SD advert (None: not announced)."""

    provider: str
    queue: str
    kind: str
    printer: str
    advert: dict[str, Any] | None
    ipp_url: str  # the provider's IPP base (``ipp://host:port/ipp/print``)
    identity: str = ""  # its identity policy ("": a provider that does not say)
    ipps_uri: str = ""  # its ipps:// URI ("": its provider serves no TLS, or does not say)
    zone: ZoneQueue | None = None

    @property
    def why_not_announced(self) -> str:
        """Why a queue without an advert is not announced, as far as the registration says."""
        if self.advert is not None:
            return ""
        if self.identity == "token-url":
            return "a token-url queue: reached only through each user's own print URL"
        if self.identity == "authenticate" and not self.ipps_uri:
            return "a password queue on a provider without TLS"
        if self.identity:
            return "advertise = false in its provider's configuration"
        return ("a token-url queue, advertise = false, or a password queue on a provider "
                "without TLS")  # fmt: skip

    @property
    def name(self) -> str:
        """The name clients list it under ("" when not announced)."""
        return str(self.advert.get("name", "")) if self.advert else ""

    @property
    def ipp_port(self) -> int | None:
        return _port(self.advert, "ipp_port")

    @property
    def ipps_port(self) -> int | None:
        return _port(self.advert, "ipps_port")

    @property
    def uri(self) -> str:
        """Where clients print to it: from its advert, else at its provider's IPP address."""
        if self.advert is not None:
            return queue_uri(self.queue, self.advert)
        return f"{self.ipp_url.rstrip('/')}/{quote(self.queue, safe='')}"


def registered_queues(session: Session) -> list[RegisteredQueue]:
    """Every provider's queues, in the order they registered them."""
    found = []
    for row in providers.list_providers(session):
        for queue in row.queues or []:
            if not isinstance(queue, dict):
                continue
            advert = queue.get("dns_sd")
            found.append(
                RegisteredQueue(
                    provider=row.name,
                    queue=str(queue.get("name", "")),
                    kind=str(queue.get("kind", "")),
                    printer=str(queue.get("printer") or ""),
                    advert=advert if isinstance(advert, dict) else None,
                    ipp_url=row.ipp_url,
                    identity=str(queue.get("identity") or ""),
                    ipps_uri=str(queue.get("ipps_uri") or ""),
                )
            )
    return found


def queue_uri(queue: str, advert: dict[str, Any]) -> str:
    """``ipps://`` where the provider serves TLS, else ``ipp://``: the advert's host and
    port, and its ``rp`` TXT key (the resource path), as a DNS-SD client resolves them
    ("" for an advert with no port)."""
    secure = _port(advert, "ipps_port")
    port = secure or _port(advert, "ipp_port")
    if port is None:
        return ""
    txt = {str(pair[0]): str(pair[1]) for pair in advert.get("txt") or [] if len(pair) == 2}
    resource = quote((txt.get("rp") or f"ipp/print/{queue}").lstrip("/"), safe="/")
    scheme = "ipps" if secure else "ipp"
    return f"{scheme}://{host_part(str(advert.get('host', '')))}:{port}/{resource}"


def host_part(host: str) -> str:
    """A host as a URI writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _port(advert: dict[str, Any] | None, key: str) -> int | None:
    value = advert.get(key) if advert else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- the page --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneView:
    """The unicast zone as a whole: where it is served and what the parent zone needs."""

    domain: str
    serving: bool
    port: int
    update_server: str
    delegation: list[str]


@router.get("/web/admin/discovery")
async def discovery_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_discovery_page, ctx)


def _discovery_page(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        queues = registered_queues(session)
    zone = None
    if ctx.app.settings.dns_sd.domain:
        zone, queues = _with_zone(ctx.app, queues)
    return ctx.render("admin/discovery.html", queues=queues, zone=zone, zone_path=ZONE_PATH)


def _with_zone(
    state: AppState, queues: list[RegisteredQueue]
) -> tuple[ZoneView, list[RegisteredQueue]]:
    """The zone (as ``GET /api/v1/dns-sd`` describes it), and each queue with its part."""
    config = state.settings.dns_sd
    zone = zone_of(state.database, config, None, _RESOLVE)
    parts = {
        uuid: ZoneQueue(name=p.name, host=p.host, addresses=p.addresses, records=p.records)
        for uuid, p in queue_parts(zone).items()
    }
    delegated = delegation(authority_of(zone, config))
    view = ZoneView(name_text(zone.domain), config.serve, config.port, config.update_server,
                    delegated)  # fmt: skip
    placed = [
        replace(queue, zone=parts.get(str(queue.advert.get("uuid", "")))) if queue.advert else queue
        for queue in queues
    ]
    return view, placed


@router.get(ZONE_PATH)
async def zone_download(ctx: PageContext = Depends(admin_page)) -> Response:
    """The zone as a BIND master file, as ``GET /api/v1/dns-sd/zone`` serves it."""
    config = ctx.app.settings.dns_sd
    if not config.domain:
        raise WebError(404, "Not found", OFF)
    text = await run_in_threadpool(_zone_text, ctx.app)
    filename = re.sub(r"[^A-Za-z0-9.-]", "_", config.domain.strip(".")) + ".zone"
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text, media_type="text/plain; charset=utf-8", headers=headers)


def _zone_text(state: AppState) -> str:
    config = state.settings.dns_sd
    return zone_file(authority_of(zone_of(state.database, config, None, _RESOLVE), config))
