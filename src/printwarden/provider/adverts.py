"""What a provider announces of its queues over DNS-SD (``domain/dns_sd.py``), taken from
the very attributes Get-Printer-Attributes answers, so an advert never promises what the
queue does not do.

Which queues are announced: those whose ``advertise`` is on and whose identity policy a
client that found them can satisfy. A ``trust-client-username`` queue is announced as
``_ipp._tcp`` (and ``_ipps._tcp`` with ``[tls]``). An ``authenticate`` queue only as
``_ipps._tcp``: a password never crosses plain IPP, so without ``[tls]`` it is not announced
at all. A ``token-url`` queue needs each user's own URL, which no discovery can hand out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from printwarden.domain import dns_sd
from printwarden.provider.config import Identity, ProviderConfig, QueueConfig
from printwarden.provider.ipp import Attribute

log = logging.getLogger("printwarden.provider")

# (queue, printer URI) -> the queue's printer attributes (IppService.queue_attributes)
Describe = Callable[[QueueConfig, str], list[Attribute]]


def announced(config: ProviderConfig, queue: QueueConfig) -> str | None:
    """Why ``queue`` is not announced, or ``None`` when it is."""
    if not queue.advertise:
        return "advertise = false"
    if queue.identity is Identity.TOKEN_URL:
        return "a token-url queue is reached by each user's own URL"
    if queue.identity is Identity.AUTHENTICATE and config.tls is None:
        return "it asks for passwords, and the provider has no [tls] to take them over"
    return None


def queue_adverts(config: ProviderConfig, describe: Describe) -> list[dns_sd.QueueAdvert]:
    """The adverts of every announced queue of the provider."""
    found = []
    for queue in config.queues:
        if announced(config, queue) is None:
            found.append(queue_advert(config, queue, describe))
    return found


def queue_advert(
    config: ProviderConfig, queue: QueueConfig, describe: Describe
) -> dns_sd.QueueAdvert:
    """The advert of one queue, from its printer attributes as a client would read them."""
    secure = config.tls is not None
    scheme = "ipps" if secure else "ipp"
    port = config.tls.port if config.tls is not None else config.port
    host = config.reached_host()
    printer_uri = f"{scheme}://{host}:{port}/ipp/print/{queue.name}"
    facts = queue_facts(queue, describe(queue, printer_uri), secure)
    plain = None if queue.identity is Identity.AUTHENTICATE else config.port
    ports = {"ipp": plain, "ipps": port if secure else None}
    return dns_sd.advert_of(facts, queue.dns_sd_name or queue.name, host, ports)


def queue_facts(
    queue: QueueConfig, attributes: Sequence[Attribute], tls: bool
) -> dns_sd.QueueFacts:
    """The DNS-SD facts in a queue's printer attributes."""
    by_name = {attribute.name: attribute.values for attribute in attributes}

    def strings(name: str) -> tuple[str, ...]:
        return tuple(str(value) for value in by_name.get(name, []))

    def first(name: str, default: Any = "") -> Any:
        values = by_name.get(name)
        return values[0] if values else default

    uuid = str(first("printer-uuid")).removeprefix("urn:uuid:")
    sides = strings("sides-supported")
    return dns_sd.QueueFacts(
        queue=queue.name,
        resource=f"ipp/print/{queue.name}",
        uuid=uuid,
        make_and_model=str(first("printer-make-and-model", "printwarden")),
        location=str(first("printer-location")),
        admin_url=str(first("printer-more-info")),
        formats=tuple(f for f in strings("document-format-supported") if "octet" not in f),
        urf=strings("urf-supported"),
        colour=bool(first("color-supported", False)),
        duplex=any(side != "one-sided" for side in sides),
        media=strings("media-supported"),
        authenticate=queue.identity is Identity.AUTHENTICATE,
        tls=tls,
    )


def registration_entry(advert: dns_sd.QueueAdvert) -> dict[str, Any]:
    """An advert as the provider's registration carries it (the server's unicast zone)."""
    return {
        "name": advert.name,
        "uuid": advert.uuid,
        "host": advert.host,
        "ipp_port": advert.ipp_port,
        "ipps_port": advert.ipps_port,
        "txt": [list(pair) for pair in advert.txt],
    }
