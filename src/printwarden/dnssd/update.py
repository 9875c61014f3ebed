"""The DNS-SD zone kept on an existing DNS server with dynamic updates (RFC 2136, dnspython).

:func:`changes` compares two versions of the zone and gives the update messages that take
the server from one to the other: each RRset that changed is replaced whole (deleted and
added in one message), each that went away deleted, so sending them twice leaves the same
zone, and records the server had lost are put back. Records are added addresses first and
pointers last, and deleted pointers first, so a browser never follows a pointer to a name
that is not there yet. The SOA and NS stay the server's. :func:`send` sends them over TCP,
signed with a TSIG key (RFC 8945) if one is given: :meth:`TsigKey.from_file` or
:meth:`TsigKey.from_env`, never a command-line argument.

Messages are applied one at a time (each atomically), so a refused one leaves the earlier
ones in place: by the order above, records without pointers, never pointers to nothing.
BIND 9.18.28 and later answer SERVFAIL to an update that makes an RRset of over 100 records
(``max-records-per-type``): a service type with over 100 queues needs it raised.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from printwarden.dnssd.answers import Authority
from printwarden.domain.dns_sd import Address, Name, Ptr, Rdata, Record, Srv, Txt, Zone

__all__ = [
    "SECRET_ENV",
    "TsigKey",
    "UpdateError",
    "UpdateRefused",
    "changes",
    "send",
]

SECRET_ENV = "PRINTWARDEN_DNS_TSIG_SECRET"  # noqa: S105 - the variable's name, not a secret
MESSAGE_BYTES = 32768  # an update message's records, at most (TCP carries 65535)
TIMEOUT = 10.0
ADD_ORDER = {"A": 0, "AAAA": 0, "SRV": 1, "TXT": 1, "PTR": 2}  # then the deletions, reversed
_KEY_CLAUSE = re.compile(
    r'key\s+"?(?P<name>[^"\s{]+)"?\s*\{(?P<body>[^}]*)\}', re.IGNORECASE | re.DOTALL
)


class UpdateError(Exception):
    """An update could not be made (no answer, no connection)."""


class UpdateRefused(UpdateError):
    """The server answered an update with an error (``rcode``: REFUSED, NOTAUTH, BADKEY...)."""

    def __init__(self, rcode: str, zone: str, server: str) -> None:
        super().__init__(f"{server} refused the update of {zone}: {rcode}")
        self.rcode = rcode
        self.zone = zone
        self.server = server


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key: its name, its secret (never shown) and its algorithm."""

    name: str
    secret: bytes = field(repr=False)
    algorithm: str = "hmac-sha256"

    @classmethod
    def from_file(
        cls, path: Path | str, name: str | None = None, algorithm: str = "hmac-sha256"
    ) -> TsigKey:
        """The key in ``path``: a BIND ``key`` clause (as ``tsig-keygen`` writes it) or only
        the secret in base64 (then ``name`` is required)."""
        text = Path(path).read_text(encoding="utf-8")
        clause = _KEY_CLAUSE.search(text)
        if clause is None:
            if name is None:
                raise ValueError(f"{path}: a bare secret needs the key's name")
            return cls(name, _decoded(text, path), algorithm)
        body = clause["body"]
        secret = re.search(r'secret\s+"([^"]+)"', body)
        found = re.search(r"algorithm\s+\"?([\w.-]+)\"?", body)
        if secret is None:
            raise ValueError(f"{path}: key clause without a secret")
        return cls(
            name or clause["name"],
            _decoded(secret[1], path),
            found[1] if found else algorithm,
        )

    @classmethod
    def from_env(
        cls, name: str, variable: str = SECRET_ENV, algorithm: str = "hmac-sha256"
    ) -> TsigKey:
        """The key ``name`` whose base64 secret is in the environment ``variable``."""
        text = os.environ.get(variable)
        if not text:
            raise ValueError(f"${variable} holds no TSIG secret")
        return cls(name, _decoded(text, f"${variable}"), algorithm)

    def dnspython(self) -> dns.tsig.Key:
        """The key as dnspython signs with it."""
        return dns.tsig.Key(self.name, self.secret, self.algorithm)


def changes(
    old: Authority | Zone | None,
    new: Authority | Zone | None,
    *,
    key: TsigKey | None = None,
    message_bytes: int = MESSAGE_BYTES,
) -> list[dns.update.UpdateMessage]:
    """Update messages taking a server's copy of ``old`` to ``new`` (None: nothing; with
    ``old`` None every RRset of ``new`` is replaced, with ``new`` None every RRset of
    ``old`` deleted). Messages hold at most ``message_bytes`` of records each."""
    old_zone, old_sets = _rrsets(old)
    new_zone, new_sets = _rrsets(new)
    same_zone = old_zone is not None and new_zone is not None and _key(old_zone) == _key(new_zone)
    ops: list[tuple[int, Name, bool, _RRset]] = []  # (order, zone, replace?, rrset)
    for rrkey, rrset in new_sets.items():
        before = old_sets.get(rrkey)
        if new_zone is not None and not (same_zone and before and before.same(rrset)):
            ops.append((ADD_ORDER[rrset.type], new_zone, True, rrset))
    for rrkey, rrset in old_sets.items():
        if old_zone is not None and not (same_zone and rrkey in new_sets):
            ops.append((2 * len(ADD_ORDER) - ADD_ORDER[rrset.type], old_zone, False, rrset))
    ops.sort(key=lambda op: (op[0], _key(op[1]), _key(op[3].name), op[3].type))
    messages: list[dns.update.UpdateMessage] = []
    current: dns.update.UpdateMessage | None = None
    size = 0
    zone: Name | None = None
    for _, op_zone, replace, rrset in ops:
        cost = rrset.size() if replace else _name_size(rrset.name) + 10
        if current is None or op_zone != zone or (size and size + cost > message_bytes):
            current = dns.update.UpdateMessage(_dns_name(op_zone))
            if key is not None:
                current.use_tsig(key.dnspython())
            messages.append(current)
            zone, size = op_zone, 0
        size += cost
        if replace:
            current.replace(_dns_name(rrset.name), rrset.ttl, *rrset.rdatas())
        else:
            current.delete(_dns_name(rrset.name), dns.rdatatype.from_text(rrset.type))
    return messages


def send(
    server: str,
    port: int,
    messages: Iterable[dns.update.UpdateMessage],
    timeout: float = TIMEOUT,
) -> None:
    """Send ``messages`` in order over TCP to ``server``:``port``; raise
    :class:`UpdateRefused` at the first the server refuses (the rest are not sent)."""
    where = f"{server} port {port}"
    for message in messages:
        zone = message.zone[0].name.to_text() if message.zone else "?"
        try:
            response = dns.query.tcp(message, server, timeout=timeout, port=port)
        except dns.exception.Timeout as error:
            raise UpdateError(f"no answer from {where} within {timeout} s") from error
        except dns.tsig.PeerError as error:  # the server's TSIG error, read from the answer
            raise UpdateRefused(_PEER_ERRORS.get(type(error), "TSIG error"), zone, where) from error
        except (OSError, EOFError) as error:
            raise UpdateError(f"cannot update through {where}: {error}") from error
        if response.rcode() != dns.rcode.NOERROR:
            raise UpdateRefused(dns.rcode.to_text(response.rcode()), zone, where)


_PEER_ERRORS: dict[type[Exception], str] = {
    dns.tsig.PeerBadKey: "NOTAUTH (BADKEY)",
    dns.tsig.PeerBadSignature: "NOTAUTH (BADSIG)",
    dns.tsig.PeerBadTime: "NOTAUTH (BADTIME)",
    dns.tsig.PeerBadTruncation: "NOTAUTH (BADTRUNC)",
}


@dataclass(frozen=True)
class _RRset:
    """The records of one name and type, as compared and as sent."""

    name: Name
    type: str
    ttl: int
    data: tuple[Rdata, ...]

    def rdatas(self) -> list[dns.rdata.Rdata]:
        return [_dns_rdata(data) for data in self.data]

    def same(self, other: _RRset) -> bool:
        """The same records, in whatever order, under the same name (its case too)."""
        mine = (self.name, self.type, self.ttl, frozenset(self.data))
        return mine == (other.name, other.type, other.ttl, frozenset(other.data))

    def size(self) -> int:
        """Bytes on the wire, at most (no compression), with the RRset's deletion."""
        owner = _name_size(self.name) + 10
        rdatas = sum(len(rdata.to_digestable()) for rdata in self.rdatas())
        return owner * (1 + len(self.data)) + rdatas


def _rrsets(
    source: Authority | Zone | None,
) -> tuple[Name | None, dict[tuple[tuple[bytes, ...], str], _RRset]]:
    if source is None:
        return None, {}
    records: Iterable[Record] = (
        source.zone.records if isinstance(source, Authority) else source.records
    )
    grouped: dict[tuple[tuple[bytes, ...], str], list[Record]] = {}
    for record in records:
        grouped.setdefault((_key(record.name), record.type), []).append(record)
    found = {}
    for rrkey, group in grouped.items():
        data = tuple(dict.fromkeys(record.data for record in group))
        first = group[0]
        found[rrkey] = _RRset(first.name, first.type, min(r.ttl for r in group), data)
    return source.domain, found


def _dns_name(name: Name) -> dns.name.Name:
    return dns.name.Name([*(label.encode() for label in name), b""])


def _name_size(name: Name) -> int:
    return sum(len(label.encode()) + 1 for label in name) + 1


def _dns_rdata(data: Rdata) -> dns.rdata.Rdata:
    if isinstance(data, Ptr):
        return _rdata(PTR, dns.rdatatype.PTR, _dns_name(data.target))
    if isinstance(data, Srv):
        target = _dns_name(data.target)
        return _rdata(SRV, dns.rdatatype.SRV, data.priority, data.weight, data.port, target)
    if isinstance(data, Txt):
        return _rdata(TXT, dns.rdatatype.TXT, list(data.strings) or [b""])
    if isinstance(data, Address):
        if data.ipv6:
            return _rdata(AAAA, dns.rdatatype.AAAA, data.address)
        return _rdata(A, dns.rdatatype.A, data.address)
    raise TypeError(f"no DNS record for {data!r}")


def _rdata(kind: type[dns.rdata.Rdata], *args: object) -> dns.rdata.Rdata:
    """``kind(IN, *args)``: dnspython's record classes take untyped arguments."""
    make = cast(Callable[..., dns.rdata.Rdata], kind)
    return make(dns.rdataclass.IN, *args)


def _key(name: Name) -> tuple[bytes, ...]:
    return tuple(label.encode().lower() for label in name)


def _decoded(text: str, where: object) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: the TSIG secret is not base64") from None
