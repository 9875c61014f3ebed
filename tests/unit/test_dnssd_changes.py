"""RFC 2136 messages for a DNS-SD zone (printwarden.dnssd.update), without a server:
what changes between two zones, in which order, how messages are split and signed, and
where TSIG secrets are read from. tests/integration/test_dnssd_update.py sends them to named."""

from __future__ import annotations

import base64
from pathlib import Path

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from printwarden.dnssd.answers import Authority
from printwarden.dnssd.update import SECRET_ENV, TsigKey, changes
from printwarden.domain.dns_sd import QueueAdvert, Zone, ZoneEntry, zone_records

SECRET = bytes(range(32))
KEY = TsigKey("pw-update", SECRET)


def make_zone(queues: int, domain: str = "print.test", *, skip: int | None = None) -> Zone:
    entries = []
    for i in range(queues):
        if i == skip:
            continue
        txt = (("txtvers", "1"), ("rp", f"ipp/print/q{i}"), ("note", "x" * 100))
        uuid = f"{i:08x}-0000-4000-8000-000000000000"
        advert = QueueAdvert(f"q{i}", f"Printer {i}.{i}", uuid, "-", 631, 443, txt)
        entries.append(ZoneEntry(advert, (f"10.0.{i // 250}.{i % 250 + 1}",)))
    return zone_records(domain, entries)


Op = tuple[str, str, str]  # (name, type, "delete" | "add")


def operations(messages: list[dns.update.UpdateMessage]) -> list[Op]:
    """What each message's update section does, in order: an RRset deleted (class ANY, no
    data) or records added (dnspython holds each added record as an RRset of its own)."""
    found: list[Op] = []
    for message in messages:
        ops: dict[Op, None] = {}
        for rrset in message.update:
            kind = "delete" if rrset.deleting == dns.rdataclass.ANY else "add"
            ops[(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), kind)] = None
        found += ops
    return found


def test_everything_is_replaced_when_nothing_was_there() -> None:
    zone = make_zone(2)
    [message] = changes(None, zone)
    ops = operations([message])
    assert message.zone[0].name == dns.name.from_text("print.test")
    rrsets = {(r.name, r.type) for r in zone.records}
    assert len(ops) == 2 * len(rrsets)  # each replaced: deleted then added
    assert ops[0::2] == [(name, rdtype, "delete") for name, rdtype, _ in ops[1::2]]
    assert {name for name, _, _ in ops} >= {"Printer\\0320\\.0._ipp._tcp.print.test."}


def test_addresses_come_first_and_pointers_last() -> None:
    ops = [op for op in operations(changes(None, make_zone(3))) if op[2] == "add"]
    kinds = [rdtype for _, rdtype, _ in ops]
    last_address = max(i for i, kind in enumerate(kinds) if kind == "A")
    first_pointer = min(i for i, kind in enumerate(kinds) if kind == "PTR")
    assert last_address < min(i for i, kind in enumerate(kinds) if kind in ("SRV", "TXT"))
    assert max(i for i, kind in enumerate(kinds) if kind in ("SRV", "TXT")) < first_pointer


def test_a_removed_queue_deletes_its_records_and_rewrites_the_pointers() -> None:
    old, new = make_zone(4), make_zone(4, skip=2)
    ops = operations(changes(old, new))
    deleted = [(name, rdtype) for name, rdtype, kind in ops if kind == "delete"]
    added = {(name, rdtype) for name, rdtype, kind in ops if kind == "add"}
    gone = "Printer\\0322\\.2._ipp._tcp.print.test."
    assert (gone, "SRV") in deleted
    assert (gone, "TXT") in deleted
    assert ("q2.print.test.", "A") in deleted
    assert ("_ipp._tcp.print.test.", "PTR") in added  # replaced without the queue
    assert not any(name.startswith("Printer\\0321") for name, _ in added)  # untouched
    assert ("b._dns-sd._udp.print.test.", "PTR") not in added
    # pointers go before what they pointed to
    kinds = [rdtype for name, rdtype, kind in ops if kind == "delete" and name == gone]
    first_gone = ops.index((gone, kinds[0], "delete"))
    assert ops.index(("_ipp._tcp.print.test.", "PTR", "delete")) < first_gone


def test_no_change_is_no_message() -> None:
    zone = make_zone(3)
    assert changes(zone, make_zone(3)) == []
    authority = Authority(zone, "ns.example.org")
    assert changes(authority, authority.successor(make_zone(3))) == []
    assert changes(None, None) == []


def test_withdrawing_deletes_every_rrset() -> None:
    zone = make_zone(2)
    ops = operations(changes(zone, None))
    assert {kind for _, _, kind in ops} == {"delete"}
    assert len(ops) == len({(r.name, r.type) for r in zone.records})


def test_a_new_domain_deletes_in_the_old_zone_and_adds_in_the_new() -> None:
    messages = changes(make_zone(1), make_zone(1, "print.example.org"))
    zones = [(m.zone[0].name.to_text(), {op[2] for op in operations([m])}) for m in messages]
    assert ("print.example.org.", {"delete", "add"}) in zones  # replaced
    assert ("print.test.", {"delete"}) in zones


def test_large_zones_are_split_into_messages_that_fit_tcp() -> None:
    zone = make_zone(300)
    messages = changes(None, zone, key=KEY)
    assert len(messages) > 3
    for message in messages:
        assert len(message.to_wire()) <= 32768 + 1024  # the limit plus header and TSIG
    ops = operations(messages)
    assert {(name, rdtype) for name, rdtype, _ in ops} == {
        (dns.name.Name([*(label.encode() for label in r.name), b""]).to_text(), r.type)
        for r in zone.records
    }
    for message in messages:  # an RRset's deletion and addition stay in one message
        part = operations([message])
        assert [op for op in part if op[2] == "add"] == [
            (name, rdtype, "add") for name, rdtype, kind in part if kind == "delete"
        ]


def test_messages_are_signed_with_the_key() -> None:
    [message] = changes(None, make_zone(1), key=KEY)
    wire = message.to_wire()
    keyring = {dns.name.from_text("pw-update"): dns.tsig.Key("pw-update", SECRET)}
    read = dns.message.from_wire(wire, keyring=keyring)
    assert read.had_tsig
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(wire, keyring={dns.name.from_text("pw-update"): bytes(32)})
    [unsigned] = changes(None, make_zone(1))
    assert not dns.message.from_wire(unsigned.to_wire()).had_tsig


def test_key_from_a_tsig_keygen_file(tmp_path: Path) -> None:
    path = tmp_path / "update.key"
    secret = base64.b64encode(SECRET).decode()
    path.write_text(f'key "pw-update" {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n')
    assert TsigKey.from_file(path) == KEY
    assert TsigKey.from_file(path, name="renamed").name == "renamed"


def test_key_from_a_bare_secret_file_needs_a_name(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(base64.b64encode(SECRET).decode() + "\n")
    assert TsigKey.from_file(path, name="pw-update") == KEY
    with pytest.raises(ValueError, match="needs the key's name"):
        TsigKey.from_file(path)
    path.write_text("not base64!")
    with pytest.raises(ValueError, match="not base64"):
        TsigKey.from_file(path, name="pw-update")


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, base64.b64encode(SECRET).decode())
    assert TsigKey.from_env("pw-update") == KEY
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(ValueError, match=SECRET_ENV):
        TsigKey.from_env("pw-update")


def test_the_secret_is_never_shown() -> None:
    shown = repr(KEY) + str(KEY)
    assert base64.b64encode(SECRET).decode() not in shown
    assert repr(SECRET) not in shown
    assert "pw-update" in shown
