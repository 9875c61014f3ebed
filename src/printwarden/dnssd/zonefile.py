"""A DNS-SD zone as a BIND master file (RFC 1035 section 5), for an administrator who would
rather serve it from an existing DNS server than delegate the domain to printwarden.

A label is one label whatever it holds: a dot in it is written ``\\.``, a space ``\\ ``,
the characters a master file gives a meaning to (``\\ " ( ) ; @ $``) are escaped with a
backslash, and control characters and every byte of a non-ASCII character are written
``\\DDD`` (decimal). TXT strings are quoted, with ``\\"``, ``\\\\`` and ``\\DDD`` likewise.

BIND 9.18.28 and later refuse to load an RRset of more than 100 records unless
``max-records-per-type`` is raised, and a service type's PTR RRset has one record per
queue: past 100 queues the file says so in a comment at its top.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from printwarden.domain.dns_sd import Address, Name, Ptr, Record, Srv, Txt

if TYPE_CHECKING:
    from printwarden.dnssd.answers import Authority

__all__ = ["label_text", "name_text", "txt_text", "zone_file"]

SPECIAL = frozenset(b'.\\"();@$ ')  # escaped with a backslash in a label
BIND_RECORDS_PER_TYPE = 100  # named's max-records-per-type by default, since 9.18.28


def zone_file(authority: Authority) -> str:
    """Every record of ``authority`` (SOA, NS and the zone's) as a master file."""
    soa = authority.soa
    origin = name_text(authority.domain)
    lines = [
        f"; DNS-SD zone {origin} (RFC 6763), as printwarden serves it",
        f"$ORIGIN {origin}",
        f"$TTL {soa.ttl}",
        f"@ {soa.ttl} IN SOA {name_text(soa.mname)} {name_text(soa.rname)} "
        f"{soa.serial} {soa.refresh} {soa.retry} {soa.expire} {soa.minimum}",
        f"@ {soa.ttl} IN NS {name_text(authority.ns)}",
    ]
    sizes = Counter((tuple(label.lower() for label in r.name), r.type) for r in authority.records)
    largest = max(sizes.values(), default=0)
    if largest > BIND_RECORDS_PER_TYPE:
        lines[1:1] = [
            f"; {largest} records in one RRset: BIND 9.18.28 and later load this zone only with",
            f"; max-records-per-type {largest} or more (or 0: no limit) in named.conf",
        ]
    lines += [record_line(record, authority.domain) for record in authority.records]
    return "\n".join(lines) + "\n"


def record_line(record: Record, origin: Name) -> str:
    """One record as a master-file line, its owner relative to ``origin``."""
    owner = _relative(record.name, origin)
    return f"{owner} {record.ttl} IN {record.type} {_rdata_text(record)}"


def label_text(label: str) -> str:
    """One label as a master file writes it (RFC 1035 5.1)."""
    return "".join(_escaped(byte, SPECIAL) for byte in label.encode())


def name_text(name: Name) -> str:
    """An absolute name (with its final dot)."""
    return "".join(label_text(label) + "." for label in name) or "."


def txt_text(strings: tuple[bytes, ...]) -> str:
    """TXT strings, each quoted; one empty string if there are none (RFC 6763 6.1)."""
    return " ".join(
        '"' + "".join(_escaped(byte, b'"\\') for byte in string) + '"'
        for string in strings or (b"",)
    )


def _relative(name: Name, origin: Name) -> str:
    if name == origin:
        return "@"
    if name[len(name) - len(origin) :] == origin:
        return ".".join(label_text(label) for label in name[: len(name) - len(origin)])
    return name_text(name)


def _rdata_text(record: Record) -> str:
    data = record.data
    if isinstance(data, Ptr):
        return name_text(data.target)
    if isinstance(data, Srv):
        return f"{data.priority} {data.weight} {data.port} {name_text(data.target)}"
    if isinstance(data, Txt):
        return txt_text(data.strings)
    if isinstance(data, Address):
        return data.address
    raise TypeError(f"no master-file form for {data!r}")


def _escaped(byte: int, special: frozenset[int] | bytes) -> str:
    if byte in special:
        return "\\" + chr(byte)
    if 0x20 <= byte < 0x7F:
        return chr(byte)
    return f"\\{byte:03d}"
