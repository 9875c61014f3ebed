"""Authoritative answers of a DNS-SD zone, without I/O: a query's bytes in, the answer's out.

:class:`Authority` is a :class:`~printwarden.domain.dns_sd.Zone` with what makes it a zone
of its own (SOA and NS), indexed once so that each query is a dictionary lookup;
:func:`answer` answers one query in dnslib's wire format: RFC 1035 (names matched without
regard to ASCII case, answered in the question's case), RFC 2308 negative answers (the SOA
in the authority section), RFC 6891 EDNS0 and the additional records of RFC 6763 section
12. Labels are single labels whatever they hold (dots, spaces, UTF-8).
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dnslib.dns import (  # type: ignore[import-untyped]
    AAAA,
    NS,
    PTR,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSRecord,
)
from dnslib.label import DNSBuffer, DNSLabel, DNSLabelError  # type: ignore[import-untyped]

from printwarden.domain.dns_sd import Address, Name, Ptr, Record, Srv, Txt, Zone, split_name

__all__ = [
    "EDNS_PAYLOAD",
    "TCP_LIMIT",
    "UDP_PAYLOAD",
    "Authority",
    "Soa",
    "answer",
    "name_of",
]

UDP_PAYLOAD = 512  # bytes of a UDP answer to a query without EDNS0 (RFC 1035)
EDNS_PAYLOAD = 1232  # the most we send over UDP, whatever EDNS0 offers (DNS flag day 2020)
TCP_LIMIT = 65535  # a TCP message's two-byte length
CACHE_BYTES = 4 << 20  # answers kept per Authority, by their size

# Wire values (RFC 1035, 2136, 6891).
HEADER = 12
QR, AA, TC, RD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0010
NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 3, 4, 5
BADVERS = 16  # an extended rcode: 1 in the OPT record's upper byte, 0 in the header
TYPE_A, TYPE_NS, TYPE_SOA, TYPE_PTR, TYPE_TXT, TYPE_AAAA, TYPE_SRV = 1, 2, 6, 12, 16, 28, 33
TYPE_OPT, TYPE_IXFR, TYPE_AXFR, TYPE_ANY = 41, 251, 252, 255
CLASS_IN, CLASS_ANY = 1, 255
RECORD_TYPES = {"A": TYPE_A, "AAAA": TYPE_AAAA, "PTR": TYPE_PTR, "SRV": TYPE_SRV, "TXT": TYPE_TXT}
OPT_SIZE = 11  # our OPT record: root name, type, payload, flags, empty rdata
MAX_POINTER = 0x3FFF  # a compression pointer's 14 bits

_Key = tuple[bytes, ...]  # a name's labels as UTF-8, ASCII letters lowered


@dataclass(frozen=True)
class Soa:
    """The zone's SOA: its primary server, its contact (as a name) and its timers."""

    mname: Name
    rname: Name
    serial: int
    refresh: int = 3600
    retry: int = 600
    expire: int = 604800
    minimum: int = 60  # how long a "no such name" may be cached (RFC 2308)
    ttl: int = 3600  # of the SOA and NS records themselves


def name_of(text: Name | str) -> Name:
    """Labels of a name given as labels or as plain text (``ns.example.org``); text with an
    ``@`` is a mailbox (``john.doe@example.org``: its local part is one label)."""
    if not isinstance(text, str):
        return tuple(text)
    local, at, domain = text.rpartition("@")
    return (local, *split_name(domain)) if at else split_name(text)


class Authority:
    """A DNS-SD zone as served: a snapshot of ``zone``'s records, its SOA and one NS.

    ``ns`` is the name server's name; if it lies inside the zone its ``ns_addresses`` are
    served too (they are then required). ``rname`` is the contact (default
    ``hostmaster.<domain>``). ``serial`` defaults to one derived from a hash of the
    records, so it changes whenever they do; :meth:`successor` counts up instead.
    Immutable once built; answers are cached (up to ``cache_bytes``).
    """

    def __init__(
        self,
        zone: Zone,
        ns: Name | str,
        *,
        ns_addresses: Iterable[str] = (),
        rname: Name | str | None = None,
        serial: int | None = None,
        refresh: int = 3600,
        retry: int = 600,
        expire: int = 604800,
        minimum: int = 60,
        ttl: int = 3600,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.zone = Zone(zone.domain, list(zone.records), dict(zone.hosts), dict(zone.names))
        self.ns = name_of(ns)
        self.ns_addresses = tuple(str(ipaddress.ip_address(a)) for a in ns_addresses)
        inside = _within(_key(self.ns), _key(self.domain))
        if inside and not self.ns_addresses:
            raise ValueError(f"name server {_text(self.ns)} is inside the zone: give its addresses")
        if self.ns_addresses and not inside:
            raise ValueError(f"name server {_text(self.ns)} is outside the zone: no addresses")
        contact = name_of(rname) if rname is not None else ("hostmaster", *self.domain)
        address_records = [Record(self.ns, Address(a), ttl) for a in self.ns_addresses]
        self.records: tuple[Record, ...] = (*self.zone.records, *address_records)
        if serial is None:
            serial = self._digest(contact)
        self.soa = Soa(self.ns, contact, serial % 2**32, refresh, retry, expire, minimum, ttl)
        self._options: dict[str, Any] = {
            "ns_addresses": self.ns_addresses,
            "rname": contact,
            "refresh": refresh,
            "retry": retry,
            "expire": expire,
            "minimum": minimum,
            "ttl": ttl,
            "cache_bytes": cache_bytes,
        }
        self._index = _Index(self)
        self._cache = _Cache(cache_bytes)

    @property
    def domain(self) -> Name:
        """The zone's apex."""
        return self.zone.domain

    def successor(self, zone: Zone) -> Authority:
        """This authority serving ``zone``: the same serial if the records are the same,
        else the next one (RFC 1982), so serials only grow while this process runs."""
        same = zone.domain == self.domain and list(zone.records) == list(self.zone.records)
        serial = self.soa.serial if same else (self.soa.serial + 1) % 2**32 or 1
        return Authority(zone, self.ns, serial=serial, **self._options)

    def _digest(self, contact: Name) -> int:
        text = "\n".join([repr((self.domain, self.ns, contact)), *sorted(map(repr, self.records))])
        digest = hashlib.blake2b(text.encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") or 1


def answer(authority: Authority, query: bytes, *, tcp: bool = False) -> bytes | None:
    """The answer to ``query`` (a DNS message) from ``authority``; None when there is
    nothing to answer (too short to hold an id, or itself a response). Over UDP (``tcp``
    false) answers larger than the client takes (512 bytes, or its EDNS0 payload up to
    :data:`EDNS_PAYLOAD`) first lose additional records, then are truncated (TC)."""
    if len(query) < HEADER:
        return None
    key = (tcp, bytes(query[2:]))
    cached = authority._cache.get(key)
    if cached is not None:
        return bytes(query[:2]) + cached
    found = _reply(authority._index, query, tcp)
    if found is None:
        return None
    reply, cacheable = found
    if cacheable:
        authority._cache.put(key, reply[2:])
    return reply


# --- the index ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rr:
    """A record ready to pack: as it is (``rr``) or under the question's name."""

    owner: _Key
    rtype: int
    ttl: int
    rdata: Any  # a dnslib RD
    target: _Key | None  # of a PTR, SRV or NS
    rr: Any  # a dnslib RR under the record's own name


@dataclass(frozen=True, slots=True)
class _Answer:
    answers: tuple[_Rr, ...]
    additional: tuple[_Rr, ...]


class _Index:
    """Every name of the zone (empty non-terminals too) → qtype → its answer."""

    def __init__(self, authority: Authority) -> None:
        soa = authority.soa
        self.apex = _key(authority.domain)
        self.negative_soa = RR(
            _label(authority.domain),
            TYPE_SOA,
            CLASS_IN,
            min(soa.ttl, soa.minimum),
            _soa_rdata(soa),
        )
        self.rrsets: dict[_Key, dict[int, list[_Rr]]] = {}
        self._add(authority.domain, TYPE_SOA, soa.ttl, _soa_rdata(soa), None)
        self._add(authority.domain, TYPE_NS, soa.ttl, NS(_label(authority.ns)), authority.ns)
        for record in authority.records:
            if not _within(_key(record.name), self.apex):
                raise ValueError(f"{_text(record.name)} is outside {_text(authority.domain)}")
            rtype, rdata, target = _rdata(record)
            self._add(record.name, rtype, record.ttl, rdata, target)
        self.nodes: dict[_Key, dict[int, _Answer]] = {}
        for key in list(self.rrsets):
            for parent in range(1, len(key) - len(self.apex) + 1):
                self.nodes.setdefault(key[parent:], {})  # an empty non-terminal, unless filled
        for key, by_type in self.rrsets.items():
            node = self.nodes[key] = {}
            for rtype, rrs in by_type.items():
                node[rtype] = _Answer(tuple(rrs), self._additional(rrs))
            every = [rr for rrs in by_type.values() for rr in rrs]
            node[TYPE_ANY] = _Answer(tuple(every), self._additional(every))

    def _add(self, name: Name, rtype: int, ttl: int, rdata: Any, target: Name | None) -> None:
        _check_name(name)
        if target is not None:
            _check_name(target)
        owner = _key(name)
        rr = _Rr(
            owner,
            rtype,
            ttl,
            rdata,
            None if target is None else _key(target),
            RR(_label(name), rtype, CLASS_IN, ttl, rdata),
        )
        self.rrsets.setdefault(owner, {}).setdefault(rtype, []).append(rr)

    def _additional(self, answers: list[_Rr]) -> tuple[_Rr, ...]:
        """RFC 6763 section 12: with a PTR its instance's SRV and TXT and the SRV target's
        addresses; with an SRV (or NS) its target's addresses; with A the AAAA, and back."""
        seen = {id(rr) for rr in answers}
        found: list[_Rr] = []

        def include(owner: _Key | None, *rtypes: int) -> list[_Rr]:
            added = []
            for rtype in rtypes:
                for rr in self.rrsets.get(owner or (), {}).get(rtype, ()):
                    if id(rr) not in seen:
                        seen.add(id(rr))
                        added.append(rr)
            found.extend(added)
            return added

        for rr in answers:
            if rr.rtype == TYPE_PTR:
                include(rr.target, TYPE_SRV, TYPE_TXT)
                for srv in self.rrsets.get(rr.target or (), {}).get(TYPE_SRV, ()):
                    include(srv.target, TYPE_A, TYPE_AAAA)
            elif rr.rtype in (TYPE_SRV, TYPE_NS):
                include(rr.target, TYPE_A, TYPE_AAAA)
            elif rr.rtype == TYPE_A:
                include(rr.owner, TYPE_AAAA)
            elif rr.rtype == TYPE_AAAA:
                include(rr.owner, TYPE_A)
        return tuple(found)


def _rdata(record: Record) -> tuple[int, Any, Name | None]:
    data = record.data
    if isinstance(data, Ptr):
        return TYPE_PTR, PTR(_label(data.target)), data.target
    if isinstance(data, Srv):
        return (
            TYPE_SRV,
            SRV(data.priority, data.weight, data.port, _label(data.target)),
            data.target,
        )
    if isinstance(data, Txt):
        return TYPE_TXT, TXT(list(data.strings) or [b""]), None  # never zero strings (6763 6.1)
    if isinstance(data, Address):
        address = ipaddress.ip_address(data.address)
        rdata = AAAA(str(address)) if address.version == 6 else A(str(address))
        return (TYPE_AAAA if address.version == 6 else TYPE_A), rdata, None
    raise TypeError(f"no DNS record for {data!r}")


def _soa_rdata(soa: Soa) -> Any:
    times = (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum)
    return SOA(_label(soa.mname), _label(soa.rname), times)


def _key(name: Name) -> _Key:
    return tuple(label.encode().lower() for label in name)


def _label(name: Name) -> Any:
    return DNSLabel(tuple(label.encode() for label in name))


def _within(key: _Key, apex: _Key) -> bool:
    return len(key) >= len(apex) and key[len(key) - len(apex) :] == apex


def _check_name(name: Name) -> None:
    sizes = [len(label.encode()) for label in name]
    if not all(0 < size <= 63 for size in sizes) or sum(sizes) + len(sizes) + 1 > 255:
        raise ValueError(f"not a DNS name (labels of 1-63 bytes, 255 in all): {name!r}")


def _text(name: Name) -> str:
    return ".".join(name) + "."


# --- answering ---------------------------------------------------------------------------


def _reply(index: _Index, query: bytes, tcp: bool) -> tuple[bytes, bool] | None:
    """The answer to ``query`` and whether it may be cached (a name in the zone)."""
    ident, flags = struct.unpack_from("!HH", query)
    if flags & QR:
        return None  # never answer an answer
    if (flags >> 11) & 0xF != 0:
        return _Packer(ident, flags, None, False, TCP_LIMIT).finish(NOTIMP, False), False
    try:
        message = DNSRecord.parse(query)
    except Exception:  # whatever dnslib makes of garbage, it is a FORMERR
        return _Packer(ident, flags, None, False, TCP_LIMIT).finish(FORMERR, False), False
    opts = [rr for rr in message.ar if rr.rtype == TYPE_OPT]
    if len(message.questions) != 1 or len(opts) > 1:
        return _Packer(ident, flags, None, False, TCP_LIMIT).finish(FORMERR, False), False
    question = message.questions[0]
    limit = TCP_LIMIT if tcp else UDP_PAYLOAD
    if opts and not tcp:
        limit = max(UDP_PAYLOAD, min(opts[0].rclass, EDNS_PAYLOAD))
    packer = _Packer(ident, flags, question, bool(opts), limit)
    if opts and (opts[0].ttl >> 16) & 0xFF != 0:
        return packer.finish(BADVERS, False), False  # only EDNS version 0 is known
    if question.qtype == TYPE_OPT:
        return packer.finish(FORMERR, False), False
    key = tuple(label.lower() for label in question.qname.label)
    if (
        question.qclass not in (CLASS_IN, CLASS_ANY)
        or question.qtype in (TYPE_AXFR, TYPE_IXFR)
        or not _within(key, index.apex)
    ):
        return packer.finish(REFUSED, False), False
    node = index.nodes.get(key)
    if node is None:
        packer.section(2, (index.negative_soa,))
        return packer.finish(NXDOMAIN, True), True
    found = node.get(question.qtype)
    if found is None:
        packer.section(2, (index.negative_soa,))
        return packer.finish(NOERROR, True), True
    rrs = [RR(question.qname, rr.rtype, CLASS_IN, rr.ttl, rr.rdata) for rr in found.answers]
    if packer.section(1, rrs):
        packer.additional([rr.rr for rr in found.additional])
    return packer.finish(NOERROR, True), True


class _Buffer(DNSBuffer):  # type: ignore[misc]
    """dnslib's buffer, but no compression pointer to an offset beyond 14 bits: dnslib
    points there too, and the pointer wraps (answers over 16 KiB, over TCP)."""

    def encode_name(self, name: Any) -> None:
        if not isinstance(name, DNSLabel):
            name = DNSLabel(name)
        labels = name.label
        for start in range(len(labels)):
            pointer = self.names.get(labels[start:])
            if pointer is not None:
                self.pack("!H", 0xC000 | pointer)
                return
            if self.offset <= MAX_POINTER:
                self.names[labels[start:]] = self.offset
            label = labels[start]
            if len(label) > 63:
                raise DNSLabelError(f"label too long: {label!r}")
            self.pack("!B", len(label))
            self.append(label)
        self.append(b"\x00")


class _Packer:
    """An answer packed section by section, each checked against the size limit."""

    def __init__(self, ident: int, flags: int, question: Any, edns: bool, limit: int) -> None:
        self.ident = ident
        self.flags = QR | (flags & (0xF << 11 | RD | CD))
        self.edns = edns
        self.room = limit - (OPT_SIZE if edns else 0)
        self.buffer = _Buffer()
        self.buffer.pack("!6H", 0, 0, 0, 0, 0, 0)
        if question is not None:
            question.pack(self.buffer)
        self.start = self.buffer.offset
        self.counts = [1 if question is not None else 0, 0, 0, 0]
        self.truncated = False

    def section(self, number: int, rrs: Iterable[Any]) -> bool:
        """Pack section ``number`` (1 answer, 2 authority) whole; if it overflows, drop
        every section and set TC. True if it fitted."""
        count = 0
        for rr in rrs:
            rr.pack(self.buffer)
            count += 1
            if self.buffer.offset > self.room:
                self._rewind(self.start)
                self.counts[1:] = [0, 0, 0]
                self.truncated = True
                return False
        self.counts[number] = count
        return True

    def additional(self, rrs: Iterable[Any]) -> None:
        """Pack as many additional records as fit (no TC for the others: RFC 2181 9)."""
        for rr in rrs:
            mark = self.buffer.offset
            rr.pack(self.buffer)
            if self.buffer.offset > self.room:
                self._rewind(mark)
                return
            self.counts[3] += 1

    def finish(self, rcode: int, authoritative: bool) -> bytes:
        flags = self.flags | (rcode & 0xF) | (TC if self.truncated else 0)
        flags |= AA if authoritative else 0
        data = self.buffer.data
        if self.edns:
            data += struct.pack("!BHHIH", 0, TYPE_OPT, EDNS_PAYLOAD, (rcode >> 4) << 24, 0)
        counts = (*self.counts[:3], self.counts[3] + (1 if self.edns else 0))
        struct.pack_into("!6H", data, 0, self.ident, flags, *counts)
        return bytes(data)

    def _rewind(self, mark: int) -> None:
        del self.buffer.data[mark:]
        self.buffer.offset = mark
        self.buffer.names = {name: at for name, at in self.buffer.names.items() if at < mark}


class _Cache:
    """Answers by query (less its id) and transport, up to ``size`` bytes, oldest out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self.entries: dict[tuple[bool, bytes], bytes] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[bool, bytes]) -> bytes | None:
        return self.entries.get(key)

    def put(self, key: tuple[bool, bytes], value: bytes) -> None:
        cost = len(key[1]) + len(value)
        if cost > self.size:
            return
        with self.lock:
            while self.used + cost > self.size and self.entries:
                oldest = next(iter(self.entries))
                old = self.entries.pop(oldest)
                self.used -= len(oldest[1]) + len(old)
            if key not in self.entries:
                self.entries[key] = value
                self.used += cost
