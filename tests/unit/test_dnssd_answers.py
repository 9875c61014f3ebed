"""Authoritative answers of a DNS-SD zone (printwarden.dnssd.answers), wire in and wire out:
queries built with dnspython (and one with dnslib), answers read back with dnspython."""

from __future__ import annotations

import random

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from dnslib import DNSRecord  # type: ignore[import-untyped]

from printwarden.dnssd.answers import Authority, answer, name_of
from printwarden.domain.dns_sd import (
    Address,
    QueueAdvert,
    Record,
    Zone,
    ZoneEntry,
    split_name,
    zone_records,
)

OFFICE = "Office Printer v2.0"  # dots and spaces in one label
CAFE = "Café Drucker"  # non-ASCII
LAB = 'Lab "B" \\ back'  # quotes and a backslash
UUIDS = ("11111111-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002")


def advert(queue: str, name: str, uuid: str, *, ipps: bool = True) -> QueueAdvert:
    txt = (("txtvers", "1"), ("rp", f"ipp/print/{queue}"), ("note", 'Room "4.2"'))
    return QueueAdvert(queue, name, uuid, "unused", 631, 443 if ipps else None, txt)


def sample_zone() -> Zone:
    return zone_records(
        "print.test",
        [
            ZoneEntry(advert("office", OFFICE, UUIDS[0]), ("192.0.2.10", "2001:db8::10")),
            ZoneEntry(advert("cafe", CAFE, UUIDS[1], ipps=False), ("192.0.2.11",)),
            ZoneEntry(advert("lab", LAB, "33333333-0000-4000-8000-000000000003"), ("192.0.2.12",)),
        ],
    )


def big_zone(queues: int, *, ipv6: bool = False) -> Zone:
    entries = []
    for i in range(queues):
        addresses = (f"10.0.{i // 250}.{i % 250 + 1}",) + (
            (f"2001:db8::{i + 1:x}",) if ipv6 else ()
        )
        uuid = f"{i:08x}-0000-4000-8000-000000000000"
        entries.append(ZoneEntry(advert(f"q{i}", f"Printer {i:03d}", uuid), addresses))
    return zone_records("print.test", entries)


AUTHORITY = Authority(sample_zone(), "ns.print.test", ns_addresses=["192.0.2.53"])


def dname(*labels: str) -> dns.name.Name:
    """An absolute name from labels, each one label whatever it holds."""
    return dns.name.Name([*(label.encode() for label in labels), b""])


def instance(name: str, service: str = "_ipp") -> dns.name.Name:
    return dname(name, service, "_tcp", "print", "test")


def ask(
    qname: dns.name.Name | str,
    rdtype: str = "A",
    *,
    authority: Authority = AUTHORITY,
    tcp: bool = False,
    payload: int | None = None,
    rdclass: str = "IN",
) -> dns.message.Message:
    query = dns.message.make_query(
        qname, rdtype, rdclass, use_edns=payload is not None, payload=payload or 512
    )
    reply = answer(authority, query.to_wire(), tcp=tcp)
    assert reply is not None
    found = dns.message.from_wire(reply)
    assert found.id == query.id
    assert found.flags & dns.flags.QR
    return found


def rrset(message: dns.message.Message, section: str, name: dns.name.Name, rdtype: str) -> set[str]:
    """The rdata (as text) of one RRset of a section; empty if it is not there."""
    for found in getattr(message, section):
        if found.name == name and found.rdtype == dns.rdatatype.from_text(rdtype):
            return {rdata.to_text() for rdata in found}
    return set()


def types_in(message: dns.message.Message, section: str) -> list[tuple[str, str]]:
    return sorted(
        (found.name.to_text(), dns.rdatatype.to_text(found.rdtype))
        for found in getattr(message, section)
    )


def authoritative(message: dns.message.Message) -> bool:
    return bool(message.flags & dns.flags.AA)


# --- positive answers ---------------------------------------------------------------------


def test_browsing_gives_every_instance_with_its_srv_txt_and_addresses() -> None:
    found = ask("_ipp._tcp.print.test", "PTR")
    assert found.rcode() == dns.rcode.NOERROR
    assert authoritative(found)
    ptr = next(iter(found.answer))
    assert {rdata.target for rdata in ptr} == {instance(OFFICE), instance(CAFE), instance(LAB)}
    office = instance(OFFICE)
    assert rrset(found, "additional", office, "SRV") == {"0 0 631 office.print.test."}
    assert rrset(found, "additional", office, "TXT") == {
        '"txtvers=1" "rp=ipp/print/office" "note=Room \\"4.2\\""'
    }
    assert rrset(found, "additional", dname("office", "print", "test"), "A") == {"192.0.2.10"}
    assert rrset(found, "additional", dname("office", "print", "test"), "AAAA") == {"2001:db8::10"}
    assert rrset(found, "additional", instance(CAFE), "SRV") == {"0 0 631 cafe.print.test."}
    assert rrset(found, "additional", dname("lab", "print", "test"), "A") == {"192.0.2.12"}


def test_labels_holding_dots_spaces_and_utf8_are_single_labels_on_the_wire() -> None:
    found = ask("_ipp._tcp.print.test", "PTR")
    targets = {rdata.target for rdata in next(iter(found.answer))}
    office = instance(OFFICE)
    assert office in targets
    assert office.labels[0] == b"Office Printer v2.0"
    assert instance(CAFE).labels[0] == "Café Drucker".encode()
    assert len(office.labels) == 6  # instance, _ipp, _tcp, print, test, root


def test_subtype_browsing() -> None:
    found = ask("_universal._sub._ipps._tcp.print.test", "PTR")
    targets = {rdata.target for rdata in next(iter(found.answer))}
    assert targets == {instance(OFFICE, "_ipps"), instance(LAB, "_ipps")}  # the café has no TLS


@pytest.mark.parametrize(
    ("qname", "expected"),
    [
        ("b._dns-sd._udp.print.test", {"print.test."}),
        ("lb._dns-sd._udp.print.test", {"print.test."}),
        ("_services._dns-sd._udp.print.test", {"_ipp._tcp.print.test.", "_ipps._tcp.print.test."}),
    ],
)
def test_browse_domain_and_service_type_pointers(qname: str, expected: set[str]) -> None:
    found = ask(qname, "PTR")
    assert authoritative(found)
    assert rrset(found, "answer", dns.name.from_text(qname), "PTR") == expected


def test_srv_of_an_instance_with_the_hosts_addresses() -> None:
    found = ask(instance(OFFICE), "SRV")
    assert rrset(found, "answer", instance(OFFICE), "SRV") == {"0 0 631 office.print.test."}
    host = dname("office", "print", "test")
    assert rrset(found, "additional", host, "A") == {"192.0.2.10"}
    assert rrset(found, "additional", host, "AAAA") == {"2001:db8::10"}


def test_txt_of_an_instance_is_its_strings_exactly() -> None:
    found = ask(instance(LAB), "TXT")
    strings = next(iter(next(iter(found.answer)))).strings
    assert strings == (b"txtvers=1", b"rp=ipp/print/lab", b'note=Room "4.2"')
    assert not found.additional


def test_address_answers_carry_the_other_family() -> None:
    found = ask("office.print.test", "A")
    assert rrset(found, "answer", dname("office", "print", "test"), "A") == {"192.0.2.10"}
    assert rrset(found, "additional", dname("office", "print", "test"), "AAAA") == {"2001:db8::10"}


def test_any_gives_every_record_of_the_name() -> None:
    found = ask(instance(OFFICE, "_ipps"), "ANY")
    assert [rdtype for _, rdtype in types_in(found, "answer")] == ["SRV", "TXT"]
    assert rrset(found, "answer", instance(OFFICE, "_ipps"), "SRV") == {
        "0 0 443 office.print.test."
    }


def test_apex_has_soa_and_ns_with_the_ns_address() -> None:
    soa = ask("print.test", "SOA")
    [text] = rrset(soa, "answer", dname("print", "test"), "SOA")
    assert (
        text == f"ns.print.test. hostmaster.print.test. {AUTHORITY.soa.serial} 3600 600 604800 60"
    )
    ns = ask("print.test", "NS")
    assert rrset(ns, "answer", dname("print", "test"), "NS") == {"ns.print.test."}
    assert rrset(ns, "additional", dname("ns", "print", "test"), "A") == {"192.0.2.53"}
    assert rrset(ask("ns.print.test"), "answer", dname("ns", "print", "test"), "A") == {
        "192.0.2.53"
    }


def test_names_match_in_any_case_and_answer_in_the_questions_case() -> None:
    asked = dname("OFFICE printer V2.0", "_IPP", "_Tcp", "Print", "TEST")
    found = ask(asked, "SRV")
    assert found.rcode() == dns.rcode.NOERROR
    [answered] = found.answer
    assert answered.name.to_text() == asked.to_text()  # dnspython compares without case
    assert found.question[0].name.to_text() == asked.to_text()


def test_a_dnslib_query_is_answered() -> None:
    query = DNSRecord.question("cafe.print.test", "A")
    reply = answer(AUTHORITY, query.pack())
    assert reply is not None
    parsed = DNSRecord.parse(reply)
    assert parsed.header.id == query.header.id
    assert parsed.header.aa == 1
    assert [str(rr.rdata) for rr in parsed.rr] == ["192.0.2.11"]


# --- negative answers, refusals ----------------------------------------------------------


def test_unknown_name_in_the_zone_is_nxdomain_with_the_soa() -> None:
    for qname in ("nope.print.test", "x.office.print.test", "_printer._tcp.print.test"):
        found = ask(qname, "A")
        assert found.rcode() == dns.rcode.NXDOMAIN, qname
        assert authoritative(found)
        assert not found.answer
        [soa] = found.authority
        assert soa.rdtype == dns.rdatatype.SOA
        assert soa.name == dname("print", "test")
        assert soa.ttl == 60  # the SOA's minimum: how long "no such name" is cached


@pytest.mark.parametrize(
    ("qname", "rdtype"),
    [
        ("office.print.test", "MX"),  # a name with records, none of this type
        ("office.print.test", "PTR"),
        ("print.test", "A"),
        ("_sub._ipp._tcp.print.test", "PTR"),  # empty non-terminals: names above others
        ("_tcp.print.test", "PTR"),
        ("_dns-sd._udp.print.test", "PTR"),
    ],
)
def test_known_name_without_the_type_is_nodata(qname: str, rdtype: str) -> None:
    found = ask(qname, rdtype)
    assert found.rcode() == dns.rcode.NOERROR
    assert authoritative(found)
    assert not found.answer
    assert [rr.rdtype for rr in found.authority] == [dns.rdatatype.SOA]


@pytest.mark.parametrize("qname", ["example.org", "test", "print.test.example.org", "xprint.test"])
def test_names_outside_the_zone_are_refused(qname: str) -> None:
    found = ask(qname, "A")
    assert found.rcode() == dns.rcode.REFUSED
    assert not authoritative(found)
    assert not found.answer
    assert not found.authority


def test_other_classes_and_zone_transfers_are_refused() -> None:
    assert ask("print.test", "TXT", rdclass="CH").rcode() == dns.rcode.REFUSED
    assert ask("print.test", "AXFR", tcp=True).rcode() == dns.rcode.REFUSED
    assert ask("print.test", "SOA", rdclass="ANY").rcode() == dns.rcode.NOERROR


# --- size limits --------------------------------------------------------------------------


def test_udp_answer_over_512_bytes_is_truncated_without_edns() -> None:
    authority = Authority(big_zone(40), "ns.example.org")
    query = dns.message.make_query("_ipp._tcp.print.test", "PTR", use_edns=False)
    reply = answer(authority, query.to_wire())
    assert reply is not None
    assert len(reply) <= 512
    found = dns.message.from_wire(reply)
    assert found.flags & dns.flags.TC
    assert authoritative(found)
    assert not found.answer
    assert found.question[0].name == dns.name.from_text("_ipp._tcp.print.test")


@pytest.mark.parametrize(
    ("payload", "limit"), [(None, 512), (256, 512), (600, 600), (1232, 1232), (4096, 1232)]
)
def test_edns_payload_sets_the_udp_limit_up_to_1232(payload: int | None, limit: int) -> None:
    """30 pointers take about 820 bytes: they fit 1,232 bytes, not 512 or 600."""
    authority = Authority(big_zone(30), "ns.example.org")
    query = dns.message.make_query(
        "_ipp._tcp.print.test", "PTR", use_edns=payload is not None, payload=payload or 512
    )
    reply = answer(authority, query.to_wire())
    assert reply is not None
    found = dns.message.from_wire(reply)
    if limit < 820:
        assert found.flags & dns.flags.TC
        assert not found.answer
    else:
        assert not found.flags & dns.flags.TC
        assert len(next(iter(found.answer))) == 30
        assert found.additional  # as many as fit: most of the room is used
        assert limit - 150 < len(reply) <= limit
    if payload is not None:
        assert found.edns == 0
        assert found.payload == 1232


def test_tcp_answers_are_never_truncated() -> None:
    found = ask("_ipp._tcp.print.test", "PTR", authority=Authority(big_zone(200), "ns.x"), tcp=True)
    assert not found.flags & dns.flags.TC
    assert len(next(iter(found.answer))) == 200


def test_additional_records_that_do_not_fit_are_left_out_without_tc() -> None:
    authority = Authority(big_zone(8), "ns.example.org")
    small = ask("_ipp._tcp.print.test", "PTR", authority=authority)
    assert not small.flags & dns.flags.TC
    assert len(next(iter(small.answer))) == 8
    whole = ask("_ipp._tcp.print.test", "PTR", authority=authority, tcp=True)
    assert 0 < sum(len(r) for r in small.additional) < sum(len(r) for r in whole.additional)
    assert len(whole.to_wire()) > 512


def test_large_tcp_answers_compress_names_correctly() -> None:
    """dnslib points back at names beyond 16 KiB with a pointer that wraps (0x4000 bits
    lost): an AAAA after its host's A, far into the message, named the wrong owner."""
    authority = Authority(big_zone(150, ipv6=True), "ns.example.org")
    found = ask("_ipp._tcp.print.test", "PTR", authority=authority, tcp=True)
    hosts = {dname(f"q{i}", "print", "test") for i in range(150)}
    addresses = [r for r in found.additional if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
    assert len(found.to_wire()) > 16384
    assert addresses
    assert {r.name for r in addresses} <= hosts
    aaaa = {r.name for r in addresses if r.rdtype == dns.rdatatype.AAAA}
    assert aaaa == {r.name for r in addresses if r.rdtype == dns.rdatatype.A}


# --- bad queries --------------------------------------------------------------------------


@pytest.mark.parametrize("packet", [b"", b"\x12", b"\x12\x34", b"\x00" * 11])
def test_packets_too_short_for_an_id_get_no_answer(packet: bytes) -> None:
    assert answer(AUTHORITY, packet) is None


def test_garbage_after_a_header_is_a_formerr_with_the_id() -> None:
    header = bytes.fromhex("abcd 0100 0001 0000 0000 0000")
    for packet in (header, header + b"\x07example", header + b"\xc0\x0c\x00\x01\x00\x01"):
        reply = answer(AUTHORITY, packet)
        assert reply is not None
        found = dns.message.from_wire(reply)
        assert found.id == 0xABCD
        assert found.rcode() == dns.rcode.FORMERR
        assert not found.question


def test_random_garbage_never_raises() -> None:
    rng = random.Random(2136)
    for _ in range(2000):
        packet = rng.randbytes(rng.randrange(0, 80))
        reply = answer(AUTHORITY, packet)
        if reply is not None:
            assert reply[:2] == packet[:2]
            assert reply[2] & 0x80  # QR


def test_a_response_is_never_answered() -> None:
    query = dns.message.make_query("office.print.test", "A")
    query.flags |= dns.flags.QR
    assert answer(AUTHORITY, query.to_wire()) is None


@pytest.mark.parametrize("opcode", [dns.opcode.UPDATE, dns.opcode.NOTIFY, dns.opcode.STATUS])
def test_other_opcodes_are_not_implemented(opcode: dns.opcode.Opcode) -> None:
    query = dns.message.make_query("print.test", "SOA")
    query.set_opcode(opcode)
    reply = answer(AUTHORITY, query.to_wire())
    assert reply is not None
    found = dns.message.from_wire(reply)
    assert found.rcode() == dns.rcode.NOTIMP
    assert found.opcode() == opcode


def test_two_questions_are_a_formerr() -> None:
    query = dns.message.make_query("print.test", "SOA")
    query.question.append(
        dns.rrset.RRset(dname("ns", "print", "test"), dns.rdataclass.IN, dns.rdatatype.A)
    )
    reply = answer(AUTHORITY, query.to_wire())
    assert reply is not None
    assert dns.message.from_wire(reply).rcode() == dns.rcode.FORMERR


def test_unknown_edns_version_is_badvers() -> None:
    query = dns.message.make_query("print.test", "SOA", use_edns=1)
    reply = answer(AUTHORITY, query.to_wire())
    assert reply is not None
    found = dns.message.from_wire(reply)
    assert found.rcode() == dns.rcode.BADVERS
    assert not found.answer


def test_id_and_recursion_desired_are_echoed_also_from_the_cache() -> None:
    query = dns.message.make_query("office.print.test", "A")
    replies = []
    for ident in (1, 2, 65535):
        query.id = ident
        query.flags = dns.flags.RD if ident != 2 else 0
        reply = answer(AUTHORITY, query.to_wire())
        assert reply is not None
        replies.append(dns.message.from_wire(reply))
    assert [r.id for r in replies] == [1, 2, 65535]
    assert [bool(r.flags & dns.flags.RD) for r in replies] == [True, False, True]
    assert not any(r.flags & dns.flags.RA for r in replies)
    assert replies[0].answer == replies[1].answer == replies[2].answer


# --- the authority ------------------------------------------------------------------------


def test_serial_follows_the_records() -> None:
    same = Authority(sample_zone(), "ns.print.test", ns_addresses=["192.0.2.53"])
    assert same.soa.serial == AUTHORITY.soa.serial
    changed = sample_zone()
    changed.records.pop()
    other = Authority(changed, "ns.print.test", ns_addresses=["192.0.2.53"])
    assert other.soa.serial != AUTHORITY.soa.serial
    assert (
        Authority(sample_zone(), "ns.print.test", ns_addresses=["192.0.2.53"], serial=7).soa.serial
        == 7
    )


def test_successor_counts_up_only_when_the_records_change() -> None:
    first = Authority(sample_zone(), "ns.example.org", serial=2**32 - 1, minimum=30)
    assert first.successor(sample_zone()).soa.serial == 2**32 - 1
    changed = sample_zone()
    changed.records.append(Record(("extra", "print", "test"), Address("192.0.2.99")))
    second = first.successor(changed)
    assert second.soa.serial == 1  # RFC 1982: wraps, and skips 0
    assert second.soa.minimum == 30
    assert rrset(
        ask("extra.print.test", authority=second), "answer", dname("extra", "print", "test"), "A"
    ) == {"192.0.2.99"}
    assert ask("extra.print.test", authority=first).rcode() == dns.rcode.NXDOMAIN


def test_the_authority_is_a_snapshot_of_the_zone() -> None:
    zone = sample_zone()
    authority = Authority(zone, "ns.example.org")
    zone.records.clear()
    assert ask("office.print.test", authority=authority).answer


def test_contact_and_name_server_names() -> None:
    authority = Authority(sample_zone(), "ns1.example.org", rname="john.doe@example.org")
    assert authority.soa.rname == ("john.doe", "example", "org")
    found = ask("print.test", "SOA", authority=authority)
    [soa] = next(iter(found.answer))
    assert soa.rname.labels[0] == b"john.doe"
    assert name_of(("a.b", "c")) == ("a.b", "c")
    assert name_of("NS.Example.org.") == ("ns", "example", "org")


def test_invalid_authorities_are_refused() -> None:
    with pytest.raises(ValueError, match="inside the zone"):
        Authority(sample_zone(), "ns.print.test")
    with pytest.raises(ValueError, match="outside the zone"):
        Authority(sample_zone(), "ns.example.org", ns_addresses=["192.0.2.1"])
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        Authority(sample_zone(), "ns.print.test", ns_addresses=["ns.print.test"])
    outside = sample_zone()
    outside.records.append(Record(split_name("www.example.org"), Address("192.0.2.1")))
    with pytest.raises(ValueError, match=r"outside print\.test"):
        Authority(outside, "ns.example.org")
    long_label = sample_zone()
    long_label.records.append(Record(("x" * 64, "print", "test"), Address("192.0.2.1")))
    with pytest.raises(ValueError, match="not a DNS name"):
        Authority(long_label, "ns.example.org")
