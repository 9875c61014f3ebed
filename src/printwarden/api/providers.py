"""Print providers: registration and orders (``/providers…``)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, StringConstraints, model_validator

from printwarden.api.common import NO_CONTROL, Model, Name, Text, UtcDatetime

TxtPair = Annotated[
    list[Annotated[str, StringConstraints(max_length=255, pattern=NO_CONTROL)]],
    Field(min_length=2, max_length=2),
]


class QueueAdvertIn(Model):
    """How a provider announces a queue over DNS-SD; the server's unicast zone repeats it."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=NO_CONTROL)]
    uuid: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9a-fA-F-]+$")]
    host: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=NO_CONTROL)]
    ipp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    ipps_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    txt: list[TxtPair] = Field(default_factory=list, max_length=64)


class ProviderQueue(Model):
    name: Name
    kind: Literal["direct", "hold", "findme"]
    printer: Annotated[str, StringConstraints(max_length=128)] = ""
    dns_sd: QueueAdvertIn | None = Field(
        default=None, description="Its DNS-SD advert; none when the queue is not announced"
    )
    identity: Literal["", "trust-client-username", "authenticate", "token-url"] = Field(
        default="", description='How it learns who prints ("": a provider that does not say)'
    )
    ipps_uri: Annotated[str, StringConstraints(max_length=512, pattern=NO_CONTROL)] = Field(
        default="", description="Its ipps:// URI; empty when its provider serves no TLS"
    )


class ProviderPrinter(Model):
    name: Name
    colour: bool = True
    duplex: bool = True
    paper_sizes: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=list, max_length=100, description="e.g. A4, letter; empty: any"
    )
    formats: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list, max_length=100, description="MIME types it prints; empty: any"
    )


class ProviderRegisterIn(Model):
    name: Name
    ipp_url: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_CONTROL)]
    control_url: Annotated[str, StringConstraints(max_length=512, pattern=NO_CONTROL)] = ""
    queues: list[ProviderQueue] = Field(default_factory=list, max_length=1000)
    printers: list[ProviderPrinter] = Field(default_factory=list, max_length=1000)
    control_token: Annotated[str, StringConstraints(max_length=256)] = Field(
        default="",
        deprecated=True,
        description="Ignored and never stored: the server holds no provider credential",
    )

    @model_validator(mode="after")
    def _adverts_point_at_the_provider(self) -> ProviderRegisterIn:
        """A queue is announced where its provider answers IPP, nowhere else: a provider's
        token cannot point a DNS-SD name at another host, or at another port of it."""
        served = urlsplit(self.ipp_url)
        host, port = (served.hostname or "").lower(), served.port
        for queue in self.queues:
            advert = queue.dns_sd
            if advert is None:
                continue
            if advert.host.lower() != host:
                raise ValueError(f"queue {queue.name}: its advert names host {advert.host!r}, "
                                 f"not this provider's ({host!r}, from ipp_url)")  # fmt: skip
            if advert.ipp_port is not None and port is not None and advert.ipp_port != port:
                raise ValueError(f"queue {queue.name}: its advert's ipp_port {advert.ipp_port} "
                                 f"is not this provider's ({port}, from ipp_url)")  # fmt: skip
        return self


class RefusedPrinter(Model):
    name: str
    reason: str


class ProviderRegisterOut(Model):
    name: str
    unknown_printers: list[str] = Field(
        description="Printers the provider serves that the registry does not know (not charged)"
    )
    refused_printers: list[RefusedPrinter] = Field(
        default_factory=list,
        description="Printers this provider may not serve (another site's): not recorded",
    )


class ProviderOrder(Model):
    """What the server asks a provider to do with a held job, until the provider says."""

    order_id: str
    job_ref: str
    provider_job_id: int
    action: Literal["release", "cancel"]
    printer: str = ""
    copies: int | None = None
    duplex: bool | None = None
    grayscale: bool = False
    convert_to_pdf: bool = False
    account: str = ""
    reason: str = ""


class ProviderOrdersOut(Model):
    orders: list[ProviderOrder]


class ProviderOrderResult(Model):
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    outcome: Literal["done", "refused", "missing"]
    detail: Text = ""


class ProviderOrderResultsIn(Model):
    results: list[ProviderOrderResult] = Field(max_length=1000)


class ProviderOrderResultsOut(Model):
    applied: int = Field(description="Results that settled a pending order")


class ProviderOut(Model):
    name: str
    ipp_url: str
    control_url: str
    queues: list[ProviderQueue]
    printers: list[ProviderPrinter]
    registered_at: UtcDatetime
    last_seen: UtcDatetime
