"""Unicast DNS-SD: the zone a server answers for (``/dns-sd``)."""

from __future__ import annotations

from pydantic import Field

from printwarden.api.common import Model


class DnsSdQueueOut(Model):
    """One queue as the zone announces it."""

    provider: str
    queue: str
    name: str = Field(description="Its service instance name in the zone")
    host: str = Field(description="Its own host name in the zone")
    addresses: list[str]
    ipp_port: int | None
    ipps_port: int | None
    records: list[str] = Field(description="Its records, as zone-file lines")


class DnsSdOut(Model):
    domain: str = Field(description='The delegated domain; "" when unicast DNS-SD is off')
    serving: bool = Field(description="This server answers the domain's queries itself")
    port: int
    update_server: str
    delegation: list[str] = Field(
        description="What the parent zone needs: an NS record (and glue) delegating the domain"
    )
    queues: list[DnsSdQueueOut]
