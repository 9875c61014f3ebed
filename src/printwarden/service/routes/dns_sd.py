"""Unicast DNS-SD for administrators: what the zone holds, and the zone as a file.

The zone is built from the registrations when asked, so it can be read (and exported to
another DNS server) whether or not this server answers queries itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from printwarden.api.dns_sd import DnsSdOut, DnsSdQueueOut
from printwarden.dnssd.zonefile import name_text, zone_file
from printwarden.domain.dns_sd import Zone
from printwarden.service.dns_sd import (
    HostAddresses,
    authority_of,
    delegation,
    queue_parts,
    zone_of,
)
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only
from printwarden.service.state import AppState, app_state
from printwarden.store import providers

router = APIRouter(tags=["dns-sd"], dependencies=[Depends(admin_only)])
OFF = "unicast DNS-SD is off: set [dns_sd] domain (docs/mobility.md)"


@router.get("/dns-sd")
async def dns_sd(state: AppState = Depends(app_state)) -> DnsSdOut:
    """The delegated domain, how it is kept, and each queue's name, host and records."""
    config = state.settings.dns_sd
    if not config.domain:
        return DnsSdOut(domain="", serving=False, port=config.port,
                        update_server=config.update_server, delegation=[], queues=[])  # fmt: skip
    return await run_in_threadpool(_described, state)


@router.get(
    "/dns-sd/zone",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": OFF}},
)
async def dns_sd_zone(state: AppState = Depends(app_state)) -> PlainTextResponse:
    """The zone as a BIND master file, to load into another DNS server."""
    if not state.settings.dns_sd.domain:
        raise Problem(404, "Not found", OFF)
    text = await run_in_threadpool(_zone_text, state)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


def _zone(state: AppState) -> Zone:
    return zone_of(state.database, state.settings.dns_sd, None, HostAddresses())


def _zone_text(state: AppState) -> str:
    return zone_file(authority_of(_zone(state), state.settings.dns_sd))


def _described(state: AppState) -> DnsSdOut:
    config = state.settings.dns_sd
    zone = _zone(state)
    parts = queue_parts(zone)
    with state.database.read() as session:
        registered = providers.adverts(session, None)
    queues = [
        DnsSdQueueOut(
            provider=provider,
            queue=str(advert["queue"]),
            name=part.name,
            host=part.host,
            addresses=part.addresses,
            ipp_port=advert.get("ipp_port"),
            ipps_port=advert.get("ipps_port"),
            records=part.records,
        )
        for provider, advert in registered
        if (part := parts.get(str(advert["uuid"]))) is not None
    ]
    return DnsSdOut(domain=name_text(zone.domain), serving=config.serve, port=config.port,
                    update_server=config.update_server,
                    delegation=delegation(authority_of(zone, config)), queues=queues)  # fmt: skip
