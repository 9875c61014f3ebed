"""DNS-SD adverts of print queues (RFC 6763; Apple's Bonjour Printing Specification 1.2.1;
PWG 5100.14 IPP Everywhere, section 4). Pure: what is announced, not how.

A queue is announced as ``_ipp._tcp`` (and ``_ipps._tcp`` where the provider serves TLS),
each with the ``_universal`` subtype (AirPrint: iOS lists no printer without it) and the
``_print`` subtype (IPP Everywhere, Mopria); over multicast also ``_printer._tcp`` on port 0,
which only defends the name (no LPD is served). The TXT keys say what the queue really takes:
:func:`txt_record` builds them from the queue's own printer attributes.

For unicast DNS-SD (a zone an administrator delegates), :func:`zone_records` gives every
record of the zone: browse-domain pointers, service pointers, SRV/TXT per instance and one
host name per queue (Mopria takes printers on one host for one printer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

IPP = "_ipp._tcp"
IPPS = "_ipps._tcp"
PRINTER = "_printer._tcp"
SUBTYPES = ("_universal", "_print")
MAX_LABEL = 63  # bytes of one DNS label (an instance name is one label)
MAX_TXT_STRING = 255  # bytes of one TXT "key=value" string
TXT_VERSION = "1"
DEFAULT_TTL = 120  # seconds, as mDNS responders use for SRV/TXT
# A TXT record's whole size: Bonjour asks for under 400 bytes, and the answer must fit a
# 512-byte UDP message with its question and names (unicast resolvers without EDNS).
MAX_TXT_BYTES = 380
OPTIONAL_KEYS = ("product", "Collate", "Copies", "Scan", "Fax", "kind", "priority", "note")
PDL_ORDER = (  # the most capable first: clients take the first they can produce
    "application/pdf",
    "image/urf",
    "image/pwg-raster",
    "application/postscript",
    "image/jpeg",
    "image/png",
    "text/plain",
    "application/octet-stream",
)


@dataclass(frozen=True)
class QueueFacts:
    """What a queue says of itself over IPP, as far as DNS-SD repeats it."""

    queue: str
    resource: str  # the path clients print to, without the leading slash: ipp/print/<queue>
    uuid: str  # printer-uuid without "urn:uuid:"
    make_and_model: str
    location: str
    admin_url: str
    formats: tuple[str, ...]
    urf: tuple[str, ...] = ()
    colour: bool = True
    duplex: bool = True
    media: tuple[str, ...] = ()  # PWG self-describing names
    authenticate: bool = False  # HTTP Basic (air=username,password)
    tls: bool = False
    kinds: tuple[str, ...] = ("document",)
    priority: int = 0


@dataclass(frozen=True)
class QueueAdvert:
    """One queue as announced: its instance name, where it is served, its TXT."""

    queue: str
    name: str  # the service instance name (one label, UTF-8)
    uuid: str
    host: str  # where clients connect (a name or an address), as the provider is reached
    ipp_port: int | None
    ipps_port: int | None
    txt: tuple[tuple[str, str], ...]

    def services(self) -> list[Service]:
        """The services announced for this queue over multicast."""
        found = []
        if self.ipp_port is not None:
            found.append(Service(IPP, SUBTYPES, self.ipp_port, self.txt))
        if self.ipps_port is not None:
            found.append(Service(IPPS, SUBTYPES, self.ipps_port, self.txt))
        found.append(Service(PRINTER, (), 0, ()))  # defends the name; no LPD here
        return found


@dataclass(frozen=True)
class Service:
    """One service type of an instance: ``_ipp._tcp`` with its subtypes, port and TXT."""

    type: str
    subtypes: tuple[str, ...]
    port: int
    txt: tuple[tuple[str, str], ...]


def txt_record(facts: QueueFacts) -> tuple[tuple[str, str], ...]:
    """The TXT keys of a queue, in a stable order (``txtvers`` first, as the spec asks),
    within :data:`MAX_TXT_BYTES` (:func:`_within_budget`)."""
    formats = sorted(set(facts.formats), key=_pdl_rank)
    keys: list[tuple[str, str]] = [
        ("txtvers", TXT_VERSION),
        ("qtotal", "1"),
        ("rp", facts.resource),
        ("ty", facts.make_and_model),
        ("adminurl", facts.admin_url),
        *([("note", facts.location)] if facts.location else []),
        ("priority", str(max(0, min(99, facts.priority)))),
        ("product", f"({facts.make_and_model})"),
        ("pdl", _bounded_list("pdl", formats)),
        ("UUID", facts.uuid),
        ("Color", _flag(facts.colour)),
        ("Duplex", _flag(facts.duplex)),
        ("Copies", "T"),
        ("Collate", "T"),
        ("Scan", "F"),
        ("Fax", "F"),
        ("kind", ",".join(facts.kinds)),
        ("air", "username,password" if facts.authenticate else "none"),
        ("mopria-certified", "2.0"),
    ]
    if facts.urf and "image/urf" in facts.formats:
        keys.append(("URF", _bounded_list("URF", list(facts.urf))))
    paper = paper_max(facts.media)
    if paper:
        keys.append(("PaperMax", paper))
    if facts.tls:
        keys.append(("TLS", "1.2"))
    bounded = [(key, _bounded_value(key, value)) for key, value in keys]
    return tuple(_within_budget(bounded, formats))


def _within_budget(keys: list[tuple[str, str]], formats: list[str]) -> list[tuple[str, str]]:
    """``keys`` cut to fit :data:`MAX_TXT_BYTES`: the optional keys go first, then the
    least capable formats from the end of ``pdl`` (the queue's full list is in its IPP
    attributes). A TXT over 512 bytes does not fit a plain unicast DNS answer, and some
    resolvers (avahi's) never retry over TCP."""
    found = list(keys)
    for optional in OPTIONAL_KEYS:
        if _txt_size(found) <= MAX_TXT_BYTES:
            return found
        found = [(key, value) for key, value in found if key != optional]
    kept = list(formats)
    while _txt_size(found) > MAX_TXT_BYTES and len(kept) > 1:
        kept.pop()
        found = [(k, ",".join(kept) if k == "pdl" else v) for k, v in found]
    return found


def _txt_size(keys: Iterable[tuple[str, str]]) -> int:
    return sum(1 + len(f"{key}={value}".encode()) for key, value in keys)


def advert_of(
    facts: QueueFacts, name: str, host: str, ports: Mapping[str, int | None]
) -> QueueAdvert:
    """The advert of a queue served at ``host`` on ``ports`` (``ipp``, ``ipps``)."""
    return QueueAdvert(
        queue=facts.queue,
        name=instance_name(name),
        uuid=facts.uuid,
        host=host,
        ipp_port=ports.get("ipp"),
        ipps_port=ports.get("ipps") if facts.tls else None,
        txt=txt_record(facts),
    )


def txt_strings(txt: Iterable[tuple[str, str]]) -> list[bytes]:
    """TXT as the wire carries it: one ``key=value`` string each (RFC 6763, 6.3)."""
    return [f"{key}={value}".encode() for key, value in txt]


def instance_name(wanted: str) -> str:
    """A service instance name: printable, NFC, at most 63 bytes (cut at a character)."""
    spaced = " ".join(unicodedata.normalize("NFC", wanted).split())  # tabs, runs of spaces
    cleaned = "".join(c for c in spaced if c.isprintable()).strip() or "printer"
    return _cut(cleaned, MAX_LABEL)


def renamed(name: str, uuid: str) -> str:
    """The name to take after a collision: a suffix from the queue's UUID, so the same queue
    settles on the same name at every restart (``Office (1A2B)``)."""
    suffix = f" ({_hex(uuid)[:4].upper()})"
    base = name.removesuffix(suffix)
    return _cut(base, MAX_LABEL - len(suffix.encode())) + suffix


def paper_max(media: Sequence[str]) -> str:
    """Bonjour's ``PaperMax`` for the largest paper among PWG media names ("" if none)."""
    largest = 0.0
    for name in media:
        size = _pwg_mm(name)
        if size is not None:
            largest = max(largest, max(size))
    if largest <= 0:
        return ""
    for limit, label in ((356.0, "legal-A4"), (432.0, "tabloid-A3"), (594.0, "isoC-A2")):
        if largest <= limit:
            return label
    return ">isoC-A2"


def host_label(queue: str) -> str:
    """A host-name label for a queue (RFC 952/1123 letters, digits and hyphens)."""
    ascii_name = unicodedata.normalize("NFKD", queue).encode("ascii", "ignore").decode()
    label = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return (label or "printer")[:MAX_LABEL].rstrip("-")


# --- unicast zones ---------------------------------------------------------------------

Name = tuple[str, ...]  # labels, most specific first; a label may hold dots and spaces


@dataclass(frozen=True)
class Ptr:
    target: Name


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: Name


@dataclass(frozen=True)
class Txt:
    strings: tuple[bytes, ...]


@dataclass(frozen=True)
class Address:
    """An A (IPv4) or AAAA (IPv6) record's address, as text."""

    address: str

    @property
    def ipv6(self) -> bool:
        return ":" in self.address


Rdata = Ptr | Srv | Txt | Address


@dataclass(frozen=True)
class Record:
    name: Name
    data: Rdata
    ttl: int = DEFAULT_TTL

    @property
    def type(self) -> str:
        if isinstance(self.data, Address):
            return "AAAA" if self.data.ipv6 else "A"
        return type(self.data).__name__.upper()


@dataclass(frozen=True)
class ZoneEntry:
    """A queue in a unicast zone: its advert, and the addresses its host name has."""

    advert: QueueAdvert
    addresses: tuple[str, ...]


@dataclass
class Zone:
    """Every record of a delegated DNS-SD domain, and the names of its queues."""

    domain: Name
    records: list[Record] = field(default_factory=list)
    hosts: dict[str, Name] = field(default_factory=dict)  # queue uuid -> its host name
    names: dict[str, str] = field(default_factory=dict)  # queue uuid -> its instance name


def split_name(text: str) -> Name:
    """``print.example.org.`` as labels (plain host-name syntax, no escapes)."""
    return tuple(label for label in text.strip().rstrip(".").lower().split(".") if label)


def zone_records(domain: str, entries: Iterable[ZoneEntry], ttl: int = DEFAULT_TTL) -> Zone:
    """The records of ``domain`` announcing ``entries``: names made unique within the zone
    (by the UUID suffix of :func:`renamed`), one host name per queue."""
    zone = Zone(split_name(domain))
    apex = zone.domain
    for pointer in ("b", "lb", "db"):  # browse, legacy browse and default browse domain
        zone.records.append(Record((pointer, "_dns-sd", "_udp", *apex), Ptr(apex), ttl))
    used_names: set[str] = set()
    used_hosts: set[str] = set()
    types: set[str] = set()
    for entry in sorted(entries, key=lambda e: (e.advert.name.casefold(), e.advert.uuid)):
        advert = entry.advert
        name = _unique(advert.name, renamed(advert.name, advert.uuid), used_names)
        label = host_label(advert.queue)
        host = _unique(label, f"{label[:56]}-{_hex(advert.uuid)[:6].lower()}", used_hosts)
        host_name = (host, *apex)
        zone.names[advert.uuid], zone.hosts[advert.uuid] = name, host_name
        for address in entry.addresses:
            zone.records.append(Record(host_name, Address(address), ttl))
        for service in advert.services():
            if service.type == PRINTER:  # multicast only: it defends a name, nothing else
                continue
            types.add(service.type)
            zone.records.extend(_service_records(name, service, host_name, apex, ttl))
    services = ("_services", "_dns-sd", "_udp", *apex)
    for service_type in sorted(types):
        zone.records.append(Record(services, Ptr((*split_name(service_type), *apex)), ttl))
    return zone


def _service_records(name: str, service: Service, host: Name, apex: Name, ttl: int) -> list[Record]:
    kind = (*split_name(service.type), *apex)
    instance = (name, *kind)
    found = [Record(kind, Ptr(instance), ttl)]
    found += [Record((sub, "_sub", *kind), Ptr(instance), ttl) for sub in service.subtypes]
    found.append(Record(instance, Srv(0, 0, service.port, host), ttl))
    found.append(Record(instance, Txt(tuple(txt_strings(service.txt))), ttl))
    return found


def _unique(wanted: str, alternative: str, used: set[str]) -> str:
    """``wanted`` if no other entry took it, else ``alternative``, else a counted name."""
    for chosen in (wanted, alternative):
        if chosen.casefold() not in used:
            used.add(chosen.casefold())
            return chosen
    number = 2
    while (chosen := f"{_cut(alternative, MAX_LABEL - 4)} {number}").casefold() in used:
        number += 1
    used.add(chosen.casefold())
    return chosen


def _pdl_rank(fmt: str) -> tuple[int, str]:
    return (PDL_ORDER.index(fmt) if fmt in PDL_ORDER else len(PDL_ORDER), fmt)


def _bounded_list(key: str, items: Sequence[str]) -> str:
    """``items`` joined by commas, as many whole items as fit one TXT string."""
    room = MAX_TXT_STRING - len(key) - 1
    kept: list[str] = []
    for item in items:
        if len(",".join([*kept, item]).encode()) > room:
            break
        kept.append(item)
    return ",".join(kept)


def _bounded_value(key: str, value: str) -> str:
    return _cut(value, MAX_TXT_STRING - len(key.encode()) - 1)


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, at a character boundary."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore").rstrip()


def _flag(value: bool) -> str:
    return "T" if value else "F"


def _hex(uuid: str) -> str:
    return re.sub(r"[^0-9a-fA-F]", "", uuid) or "0000"


_PWG_SIZE = re.compile(r"_(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)(mm|in)$")


def _pwg_mm(name: str) -> tuple[float, float] | None:
    match = _PWG_SIZE.search(name)
    if match is None:
        return None
    scale = 25.4 if match.group(3) == "in" else 1.0
    return float(match.group(1)) * scale, float(match.group(2)) * scale
