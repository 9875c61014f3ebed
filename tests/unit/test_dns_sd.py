"""DNS-SD adverts of queues (``domain/dns_sd.py``) and what a provider announces
(``provider/adverts.py``): TXT keys true to the queue's attributes, names within DNS limits,
stable names after a clash, the records of a unicast zone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from printwarden.domain import dns_sd
from printwarden.provider.adverts import announced, queue_facts
from printwarden.provider.attributes import printer_attributes
from printwarden.provider.config import (
    Identity,
    PrinterConfig,
    ProviderConfig,
    QueueConfig,
    QueueKind,
    TlsConfig,
)

UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
FACTS = dns_sd.QueueFacts(
    queue="secure",
    resource="ipp/print/secure",
    uuid=UUID,
    make_and_model="printwarden Print Provider",
    location="Library, 1st floor",
    admin_url="https://print.example.org:8632/ipp/print/secure",
    formats=("text/plain", "image/jpeg", "application/pdf", "image/urf"),
    urf=("V1.4", "CP1", "W8"),
    colour=False,
    duplex=True,
    media=("iso_a4_210x297mm", "iso_a3_297x420mm"),
    tls=True,
)


def test_txt_starts_with_its_version_and_says_what_the_queue_takes() -> None:
    txt = dict(dns_sd.txt_record(FACTS))
    assert next(iter(txt)) == "txtvers"
    assert txt["pdl"] == "application/pdf,image/urf,image/jpeg,text/plain"  # best first
    assert (txt["Color"], txt["Duplex"], txt["air"], txt["TLS"]) == ("F", "T", "none", "1.2")
    assert (txt["rp"], txt["UUID"], txt["note"]) == ("ipp/print/secure", UUID, FACTS.location)
    assert txt["URF"] == "V1.4,CP1,W8"
    assert txt["PaperMax"] == "tabloid-A3"


def test_txt_for_a_password_queue_without_tls_or_urf() -> None:
    facts = replace(FACTS, authenticate=True, tls=False, formats=("application/pdf",))
    txt = dict(dns_sd.txt_record(facts))
    assert txt["air"] == "username,password"
    assert "TLS" not in txt
    assert "URF" not in txt  # URF is promised only where image/urf is taken


def test_every_txt_string_fits_255_bytes_and_lists_keep_whole_items() -> None:
    formats = tuple(f"application/x-format-number-{n:03d}" for n in range(40))
    facts = replace(FACTS, formats=formats, location="é" * 300)
    strings = dns_sd.txt_strings(dns_sd.txt_record(facts))
    assert all(len(s) <= dns_sd.MAX_TXT_STRING for s in strings)
    assert sum(1 + len(s) for s in strings) <= dns_sd.MAX_TXT_BYTES
    pdl = next(s for s in strings if s.startswith(b"pdl="))[4:].decode().split(",")
    assert pdl
    assert set(pdl) <= set(formats)


def test_a_txt_fits_a_plain_dns_answer_by_dropping_optional_keys_then_formats() -> None:
    whole = dict(dns_sd.txt_record(FACTS))
    assert {"note", "URF", "PaperMax", "kind"} <= set(whole)  # a usual queue keeps these
    many = tuple(f"application/vnd.vendor-format-{n:02d}" for n in range(12))
    crowded = replace(FACTS, formats=("application/pdf", *many), admin_url="https://" + "h" * 90)
    txt = dict(dns_sd.txt_record(crowded))
    size = sum(1 + len(f"{k}={v}".encode()) for k, v in txt.items())
    assert size <= dns_sd.MAX_TXT_BYTES
    assert "product" not in txt  # optional keys went first
    assert {"txtvers", "rp", "UUID", "air", "Color", "TLS"} <= set(txt)
    assert txt["pdl"].split(",")[0] == "application/pdf"  # the best format stays


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("Secure Print", "Secure Print"),
        ("  Library\tcolour  ", "Library colour"),
        ("x" * 70, "x" * 63),
        ("ü" * 40, "ü" * 31),  # 2 bytes each: 62 bytes, not half a character
        ("\x00\x1f", "printer"),
    ],
)
def test_instance_names_fit_one_label(wanted: str, expected: str) -> None:
    assert dns_sd.instance_name(wanted) == expected


def test_a_renamed_queue_takes_the_same_name_at_every_restart() -> None:
    first = dns_sd.renamed("Office", UUID)
    assert first == "Office (1B4E)"
    assert dns_sd.renamed(first, UUID) == first  # the suffix is not stacked
    assert dns_sd.renamed("Office", "2b4e28ba-0000-0000-0000-000000000000") != first
    long_name = dns_sd.renamed("y" * 63, UUID)
    assert len(long_name.encode()) <= dns_sd.MAX_LABEL
    assert long_name.endswith(" (1B4E)")


def test_services_of_a_queue() -> None:
    advert = dns_sd.advert_of(FACTS, "Secure Print", "print.example.org", {"ipp": 631, "ipps": 443})
    services = {s.type: s for s in advert.services()}
    assert set(services) == {dns_sd.IPP, dns_sd.IPPS, dns_sd.PRINTER}
    assert services[dns_sd.IPP].subtypes == ("_universal", "_print")
    assert (services[dns_sd.IPPS].port, services[dns_sd.PRINTER].port) == (443, 0)
    plain_only = dns_sd.advert_of(replace(FACTS, tls=False), "x", "h", {"ipp": 631, "ipps": 443})
    assert dns_sd.IPPS not in {s.type for s in plain_only.services()}


def _entry(queue: str, name: str, uuid: str, address: str = "192.0.2.10") -> dns_sd.ZoneEntry:
    facts = replace(FACTS, queue=queue, uuid=uuid, resource=f"ipp/print/{queue}")
    advert = dns_sd.advert_of(facts, name, "ignored", {"ipp": 631, "ipps": 8632})
    return dns_sd.ZoneEntry(advert, (address,))


def test_a_zone_has_browse_pointers_services_and_one_host_per_queue() -> None:
    zone = dns_sd.zone_records(
        "Print.Example.org.",
        [
            _entry("secure", "Secure Print", UUID),
            _entry("Secure", "Secure Print", "2b4e28ba-0000-0000-0000-000000000000", "192.0.2.11"),
            _entry("lab.3", "Lab 3. colour", "3c4e28ba-0000-0000-0000-000000000000"),
        ],
    )
    apex = ("print", "example", "org")
    assert zone.domain == apex
    by_name: dict[dns_sd.Name, list[dns_sd.Record]] = {}
    for record in zone.records:
        by_name.setdefault(record.name, []).append(record)
    for pointer in ("b", "lb", "db"):
        assert by_name[(pointer, "_dns-sd", "_udp", *apex)] == [
            dns_sd.Record((pointer, "_dns-sd", "_udp", *apex), dns_sd.Ptr(apex))
        ]
    names = sorted(zone.names.values())
    assert names == ["Lab 3. colour", "Secure Print", "Secure Print (2B4E)"]
    hosts = sorted(host[0] for host in zone.hosts.values())
    assert hosts == ["lab-3", "secure", "secure-2b4e28"]  # one each, DNS-safe
    ipp = (*dns_sd.split_name(dns_sd.IPP), *apex)
    assert len(by_name[ipp]) == 3
    assert len(by_name[("_universal", "_sub", *ipp)]) == 3
    instance = ("Lab 3. colour", *ipp)  # a label with a dot and a space, kept whole
    kinds = sorted(record.type for record in by_name[instance])
    assert kinds == ["SRV", "TXT"]
    srv = next(r.data for r in by_name[instance] if isinstance(r.data, dns_sd.Srv))
    assert srv.port == 631
    assert srv.target == zone.hosts["3c4e28ba-0000-0000-0000-000000000000"]
    services = by_name[("_services", "_dns-sd", "_udp", *apex)]
    assert {r.data for r in services} == {
        dns_sd.Ptr((*dns_sd.split_name(t), *apex)) for t in (dns_sd.IPP, dns_sd.IPPS)
    }
    assert not any(dns_sd.PRINTER in ".".join(r.name) for r in zone.records)  # mDNS only


# --- what a provider announces ------------------------------------------------------------


def _config(*queues: QueueConfig, tls: bool = True) -> ProviderConfig:
    return ProviderConfig(
        name="p",
        printers=[PrinterConfig(name="laser", uri="file:///tmp/out", colour=False)],
        queues=list(queues),
        tls=TlsConfig() if tls else None,
    )


def test_which_queues_are_announced() -> None:
    trusted = QueueConfig(name="office", printer="laser")
    password = QueueConfig(name="locked", printer="laser", identity=Identity.AUTHENTICATE)
    token = QueueConfig(name="byod", printer="laser", identity=Identity.TOKEN_URL)
    hidden = QueueConfig(name="quiet", printer="laser", advertise=False)
    config = _config(trusted, password, token, hidden)
    assert announced(config, trusted) is None
    assert announced(config, password) is None
    assert "token-url" in str(announced(config, token))
    assert "advertise" in str(announced(config, hidden))
    assert "[tls]" in str(announced(_config(password, tls=False), password))


def test_facts_are_read_from_the_queues_printer_attributes() -> None:
    queue = QueueConfig(name="secure", kind=QueueKind.HOLD, printer="laser")
    printer = PrinterConfig(name="laser", uri="file:///tmp/out", colour=False, duplex=False)
    attributes = printer_attributes(
        queue,
        printer,
        "ipps://print.example.org:8632/ipp/print/secure",
        0,
        UUID,
        formats=["application/pdf", "image/jpeg", "application/octet-stream"],
    )
    facts = queue_facts(queue, attributes, tls=True)
    assert facts.formats == ("application/pdf", "image/jpeg")  # octet-stream is no PDL
    assert (facts.colour, facts.duplex, facts.uuid) == (False, False, UUID)
    assert facts.admin_url == "https://print.example.org:8632/ipp/print/secure"
    assert facts.media == tuple(printer.media)
