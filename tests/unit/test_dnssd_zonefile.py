"""The DNS-SD zone as a BIND master file (printwarden.dnssd.zonefile): escapes, what BIND's
own named-checkzone makes of it, and what dnspython reads back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from dns.rdtypes.ANY.TXT import TXT

from printwarden.dnssd.answers import Authority
from printwarden.dnssd.zonefile import label_text, name_text, txt_text, zone_file
from printwarden.domain.dns_sd import (
    Address,
    Ptr,
    QueueAdvert,
    Record,
    Srv,
    Txt,
    Zone,
    ZoneEntry,
    zone_records,
)

INSTALL_HINT = "apt-get install bind9-utils (named-checkzone)"
ODD = 'we;ird(label)@$\\"\t'  # every character a master file gives a meaning to


def sample_zone() -> Zone:
    def advert(queue: str, name: str, uuid: str) -> QueueAdvert:
        txt = (("txtvers", "1"), ("note", 'Room "4.2" \\ back; (east)'), ("ty", "Brother ÄÖÜ"))
        return QueueAdvert(queue, name, uuid, "unused", 631, 443, txt)

    zone = zone_records(
        "print.test",
        [
            ZoneEntry(
                advert("office", "Office Printer v2.0", "11111111-0000-4000-8000-000000000001"),
                ("192.0.2.10", "2001:db8::10"),
            ),
            ZoneEntry(
                advert("cafe", "Café Drucker", "22222222-0000-4000-8000-000000000002"),
                ("192.0.2.11",),
            ),
        ],
    )
    zone.records.append(Record((ODD, "print", "test"), Txt((b"a\x00b", b""))))
    zone.records.append(Record(("empty", "print", "test"), Txt(())))
    return zone


AUTHORITY = Authority(
    sample_zone(), "ns.print.test", ns_addresses=["127.0.0.1"], rname="john.doe@example.org"
)


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("plain-label_1", "plain-label_1"),
        ("v2.0", "v2\\.0"),
        ("a b", "a\\ b"),
        ('say "hi"', 'say\\ \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("Café", "Caf\\195\\169"),
        ("tab\there", "tab\\009here"),
        ("(x);@$", "\\(x\\)\\;\\@\\$"),
        ("\x7f", "\\127"),
    ],
)
def test_labels_are_escaped_per_rfc_1035(label: str, text: str) -> None:
    assert label_text(label) == text


def test_names_are_absolute() -> None:
    assert name_text(("john.doe", "example", "org")) == "john\\.doe.example.org."
    assert name_text(()) == "."


def test_txt_strings_are_quoted_and_escaped() -> None:
    strings = (b'a"b', b"c\\d", b"x\x00y", "é".encode(), b"s p;(a)", b"")
    assert txt_text(strings) == '"a\\"b" "c\\\\d" "x\\000y" "\\195\\169" "s p;(a)" ""'
    assert txt_text(()) == '""'


def test_the_file_starts_with_origin_ttl_soa_and_ns() -> None:
    lines = zone_file(AUTHORITY).splitlines()
    soa = AUTHORITY.soa
    assert lines[1:5] == [
        "$ORIGIN print.test.",
        "$TTL 3600",
        f"@ 3600 IN SOA ns.print.test. john\\.doe.example.org. {soa.serial} 3600 600 604800 60",
        "@ 3600 IN NS ns.print.test.",
    ]
    assert "Office\\ Printer\\ v2\\.0._ipp._tcp 120 IN SRV 0 0 631 office.print.test." in lines
    assert "_ipp._tcp 120 IN PTR Caf\\195\\169\\ Drucker._ipp._tcp.print.test." in lines
    assert "ns 3600 IN A 127.0.0.1" in lines
    assert len(lines) == 5 + len(AUTHORITY.records)


def test_named_checkzone_accepts_the_file(tmp_path: Path) -> None:
    checkzone = shutil.which("named-checkzone")
    assert checkzone is not None, f"named-checkzone is missing: {INSTALL_HINT}"
    path = tmp_path / "print.test.zone"
    path.write_text(zone_file(AUTHORITY), encoding="utf-8")
    checked = subprocess.run(
        [checkzone, "-k", "fail", "-i", "full", "-o", "-", "-D", "print.test", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"loaded serial {AUTHORITY.soa.serial}" in checked.stderr + checked.stdout
    # Its canonical dump holds every record once: SOA, NS and the zone's.
    dumped = [line for line in checked.stdout.splitlines() if line and not line.startswith(";")]
    assert len(dumped) == 2 + len(AUTHORITY.records)


def test_named_checkzone_rejects_a_broken_file(tmp_path: Path) -> None:
    """The check above can fail: an unescaped space splits a name."""
    checkzone = shutil.which("named-checkzone")
    assert checkzone is not None, f"named-checkzone is missing: {INSTALL_HINT}"
    path = tmp_path / "print.test.zone"
    path.write_text(zone_file(AUTHORITY).replace("Office\\ Printer", "Office Printer"))
    checked = subprocess.run(
        [checkzone, "-k", "fail", "print.test", str(path)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode != 0


def test_every_record_reads_back_the_same() -> None:
    parsed = dns.zone.from_text(zone_file(AUTHORITY), origin="print.test.", relativize=False)
    found = {
        (name, dns.rdatatype.to_text(rdataset.rdtype), rdata.to_text())
        for name, node in parsed.nodes.items()
        for rdataset in node
        for rdata in rdataset
    }
    expected = {(_dname(r.name), r.type, _rdata_text(r)) for r in AUTHORITY.records}
    apex = dns.name.from_text("print.test.")
    expected |= {
        (apex, "NS", "ns.print.test."),
        (
            apex,
            "SOA",
            f"ns.print.test. john\\.doe.example.org. {AUTHORITY.soa.serial} 3600 600 604800 60",
        ),
    }
    assert found == expected


def _dname(labels: tuple[str, ...]) -> dns.name.Name:
    return dns.name.Name([*(label.encode() for label in labels), b""])


def _rdata_text(record: Record) -> str:
    """dnspython's own text of the record's data (its escapes, not ours)."""
    data = record.data
    if isinstance(data, Ptr):
        return _dname(data.target).to_text()
    if isinstance(data, Srv):
        return f"{data.priority} {data.weight} {data.port} {_dname(data.target).to_text()}"
    if isinstance(data, Txt):
        return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, data.strings or (b"",)).to_text()
    assert isinstance(data, Address)
    return data.address


def test_over_100_records_in_an_rrset_the_file_warns_of_bind_s_limit() -> None:
    def advert(i: int) -> QueueAdvert:
        return QueueAdvert(f"q{i}", f"Printer {i}", f"{i:08x}-0000-4000-8000-0", "-", 631, None, ())

    def header(queues: int) -> list[str]:
        zone = zone_records("print.test", [ZoneEntry(advert(i), ()) for i in range(queues)])
        text = zone_file(Authority(zone, "ns.example.org"))
        return [line for line in text.splitlines() if line.startswith(";")]

    assert len(header(100)) == 1
    assert header(101)[1:] == [
        "; 101 records in one RRset: BIND 9.18.28 and later load this zone only with",
        "; max-records-per-type 101 or more (or 0: no limit) in named.conf",
    ]
