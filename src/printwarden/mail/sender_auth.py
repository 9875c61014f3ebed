"""Is a message's From: address trustworthy? DMARC alignment, two ways.

1. A trusted relay (the organisation's MX, named by its authserv-id) already checked the
   message and said so in an ``Authentication-Results`` header (RFC 8601) at the top: the
   leading run of such headers with a trusted authserv-id counts (the topmost result of each
   method wins), nothing below the first untrusted one does. ``dmarc=pass``, or an ``spf``
   or ``dkim`` pass whose domain is aligned with the From: domain, is aligned;
   ``dmarc=fail`` is not. When relay networks are configured, the headers count only on
   connections from them.
2. Otherwise we check ourselves: a valid DKIM signature (dkimpy) whose ``d=`` is aligned, or
   an SPF pass (pyspf) for the connecting address and MAIL FROM whose domain is aligned (not
   on connections from a relay, whose address says nothing about the sender).

Alignment is relaxed (RFC 7489 §3.1): the same organizational domain (the public suffix list).
DNS is injected (:data:`Lookup`) so that all of this runs without a network in tests.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any

import authres
import dkim
import spf
from publicsuffixlist import PublicSuffixList

# (name, type) -> the answers in pyspf's shapes: TXT a sequence of byte strings per record,
# A/AAAA an address string, MX (preference, host), PTR a host name.
log = logging.getLogger(__name__)

Lookup = Callable[[str, str], list[Any]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the From: address is aligned, and why (for logs and replies)."""

    aligned: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Connection:
    """What the SMTP session tells about the sender."""

    client_ip: str
    mail_from: str
    helo: str = ""


@dataclass(frozen=True, slots=True)
class Trust:
    """Which relays' Authentication-Results count (settings)."""

    authserv_ids: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()

    def from_relay(self, client_ip: str) -> bool:
        """Whether ``client_ip`` is one of the relays' networks."""
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.networks)


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registrable domain of ``domain`` (``mail.example.org`` → ``example.org``)."""
    name = domain.strip().rstrip(".").lower()
    return _psl().privatesuffix(name) or name


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed DMARC alignment: the same organizational domain."""
    if not domain or not from_domain:
        return False
    return organizational_domain(domain) == organizational_domain(from_domain)


def domain_of(address: str) -> str:
    """The domain part of an address (or of a bare ``@domain``), lower-cased."""
    return address.rpartition("@")[2].strip().strip(">").rstrip(".").lower()


def authenticate(
    raw: bytes,
    msg: Message,
    sender: str,
    connection: Connection,
    trust: Trust,
    lookup: Lookup | None = None,
) -> Verdict:
    """Whether ``sender`` (the From: address of ``msg``) is DMARC-aligned."""
    from_domain = domain_of(sender)
    if not from_domain:
        return Verdict(False, "no single From: address")
    # No client address: a message polled from a hosted mailbox (IMAP), which came through
    # the hosting provider's MX as through a relay of ours: its results count, no SPF of ours.
    relay = trust.from_relay(connection.client_ip) or not connection.client_ip
    if trust.authserv_ids and (relay or not trust.networks):
        verdict = from_relays(msg.get_all("Authentication-Results") or [], trust, from_domain)
        if verdict is not None:
            return verdict
    lookup = lookup or dns_lookup
    if check_dkim(raw, len(msg.get_all("DKIM-Signature") or []), from_domain, lookup):
        return Verdict(True, "DKIM signature aligned with the From: domain")
    if not relay:
        result, domain = check_spf(connection, lookup)
        if result == "pass" and aligned(domain, from_domain):
            return Verdict(True, "SPF pass aligned with the From: domain")
        return Verdict(False, f"no aligned DKIM signature, SPF {result} for {domain or '-'}")
    return Verdict(False, "no aligned DKIM signature")


def from_relays(headers: Sequence[object], trust: Trust, from_domain: str) -> Verdict | None:
    """The verdict of the trusted relays' headers (topmost first), or None when none count."""
    results: dict[str, tuple[str, dict[str, str]]] = {}
    for header in headers:
        parsed = _parse_ar(str(header))
        if parsed is None or parsed.authserv_id.lower() not in _lower(trust.authserv_ids):
            break
        for result in parsed.results:
            props = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
            results.setdefault(str(result.method).lower(), (str(result.result).lower(), props))
    if not results:
        return None
    return _judge(results, from_domain)


def _judge(results: dict[str, tuple[str, dict[str, str]]], from_domain: str) -> Verdict:
    dmarc, props = results.get("dmarc", ("", {}))
    if dmarc == "pass" and aligned(props.get("header.from", from_domain), from_domain):
        return Verdict(True, "the trusted relay says dmarc=pass")
    if dmarc in ("fail", "quarantine", "reject"):
        return Verdict(False, f"the trusted relay says dmarc={dmarc}")
    spf_result, props = results.get("spf", ("", {}))
    spf_domain = domain_of(props.get("smtp.mailfrom", "") or props.get("smtp.helo", ""))
    if spf_result == "pass" and aligned(spf_domain, from_domain):
        return Verdict(True, "the trusted relay says spf=pass, aligned")
    dkim_result, props = results.get("dkim", ("", {}))
    dkim_domain = props.get("header.d", "") or domain_of(props.get("header.i", ""))
    if dkim_result == "pass" and aligned(dkim_domain, from_domain):
        return Verdict(True, "the trusted relay says dkim=pass, aligned")
    return Verdict(False, "the trusted relay found no aligned pass")


def _parse_ar(value: str) -> Any:
    try:
        return authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
    except Exception:  # authres raises its own and others on malformed headers
        return None


def _lower(values: Iterable[str]) -> set[str]:
    return {value.lower() for value in values}


def check_dkim(raw: bytes, count: int, from_domain: str, lookup: Lookup) -> bool:
    """Whether one of the first ``count`` DKIM signatures of ``raw`` (at most 5) is valid and
    aligned."""

    def txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        records = lookup(text.rstrip("."), "TXT")
        return b"".join(records[0]) if records else None

    for index in range(min(count, 5)):
        verifier = dkim.DKIM(raw)
        try:
            valid = verifier.verify(idx=index, dnsfunc=txt)
        except Exception as exc:  # dkimpy raises many kinds on bad signatures and keys
            log.info("DKIM signature %d not verified: %s", index, exc)
            continue
        domain = verifier.domain.decode() if isinstance(verifier.domain, bytes) else ""
        if valid and aligned(domain, from_domain):
            return True
    return False


def check_spf(connection: Connection, lookup: Lookup) -> tuple[str, str]:
    """pyspf's result for the connection and the domain it checked (MAIL FROM, else HELO)."""
    sender = connection.mail_from or f"postmaster@{connection.helo}"
    domain = domain_of(sender)
    if not domain:
        return "none", ""
    try:
        query = _Query(lookup, i=connection.client_ip, s=sender, h=connection.helo or domain)
        result = query.check()[0]
    except Exception:  # pyspf raises on malformed input and DNS errors
        return "temperror", domain
    return str(result), domain


class _Query(spf.query):  # type: ignore[misc]
    """pyspf's query with its DNS answered by ``lookup``."""

    def __init__(self, lookup: Lookup, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lookup = lookup

    def dns(
        self, name: str, qtype: str, cnames: object = None, ignore_void: bool = False
    ) -> list[Any]:
        return self._lookup(str(name).rstrip(".").lower(), qtype)


def dns_lookup(name: str, qtype: str) -> list[Any]:
    """The system resolver (dnspython), answers in :data:`Lookup`'s shapes."""
    import dns.exception
    import dns.resolver

    try:
        answers = dns.resolver.resolve(name, qtype, lifetime=10)
    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
        return []
    except dns.exception.DNSException as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    out: list[Any] = []
    for rdata in answers:
        if qtype in ("A", "AAAA"):
            out.append(rdata.address)
        elif qtype == "MX":
            out.append((rdata.preference, rdata.exchange.to_text(True)))
        elif qtype == "PTR":
            out.append(rdata.target.to_text(True))
        elif qtype in ("TXT", "SPF"):
            out.append(tuple(rdata.strings))
    return out
