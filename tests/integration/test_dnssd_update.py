"""printwarden's DNS-SD zone on a real BIND ``named``: RFC 2136 updates signed with a TSIG
key (printwarden.dnssd.update), and the exported master file (printwarden.dnssd.zonefile)
served by named answering dig as our own responder does.

Each test starts its own named in the foreground (``-g``) on a free 127.0.0.1 port, with
its configuration, zones and journal under ``tmp_path``, and stops it at the end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from printwarden.config import DnsSdConfig
from printwarden.dnssd.answers import Authority
from printwarden.dnssd.responder import serve_in_thread
from printwarden.dnssd.update import TsigKey, UpdateError, UpdateRefused, changes, send
from printwarden.dnssd.zonefile import zone_file
from printwarden.domain.dns_sd import QueueAdvert, Zone, ZoneEntry, zone_records
from printwarden.service.dns_sd import ZoneService
from printwarden.sim.ports import free_port
from printwarden.sim.processes import stop_process
from printwarden.store import providers
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade

INSTALL_HINT = "apt-get install bind9 bind9-dnsutils (named, dig)"
START_SECONDS = 20.0
KEY = TsigKey("pw-update", bytes(range(32)))
QUEUES = {
    "office": ("Office Printer v2.0", ("192.0.2.10", "2001:db8::10")),
    "cafe": ("Café Drucker", ("192.0.2.11",)),
    "lab": ('Lab "B" \\ back', ("192.0.2.12",)),
}
BASE_ZONE = """$TTL 3600
@ IN SOA ns.print.test. hostmaster.print.test. 1 3600 600 604800 60
@ IN NS ns.print.test.
ns IN A 127.0.0.1
"""
DYNAMIC_ZONE = f"""zone "print.test" {{
  type primary;
  file "print.test.zone";
  update-policy {{ grant {KEY.name} zonesub ANY; }};
}};"""
STATIC_ZONE = """zone "print.test" { type primary; file "print.test.zone"; };"""


def make_zone(queues: list[str]) -> Zone:
    entries = []
    for number, queue in enumerate(queues):
        name, addresses = QUEUES[queue]
        txt = (("txtvers", "1"), ("rp", f"ipp/print/{queue}"), ("ty", "Model ÄÖÜ"))
        uuid = f"{number + 1:08x}-0000-4000-8000-000000000000"
        advert = QueueAdvert(queue, name, uuid, "-", 631, 443 if queue != "cafe" else None, txt)
        entries.append(ZoneEntry(advert, addresses))
    return zone_records("print.test", entries)


def authority_of(queues: list[str]) -> Authority:
    return Authority(make_zone(queues), "ns.print.test", ns_addresses=["127.0.0.1"])


Records = set[tuple[str, str, str]]


def records_of(zone: dns.zone.Zone) -> Records:
    """(name, type, rdata) as text, SOA left out (named counts its serial up)."""
    return {
        (name.to_text(), dns.rdatatype.to_text(rdataset.rdtype), rdata.to_text())
        for name, node in zone.nodes.items()
        for rdataset in node
        for rdata in rdataset
        if rdataset.rdtype != dns.rdatatype.SOA
    }


BASE = records_of(dns.zone.from_text(BASE_ZONE, origin="print.test.", relativize=False))


def expected(authority: Authority) -> Records:
    """What the server should hold: its own NS and address, and our zone's records (read
    from our master file, whose every record tests/unit/test_dnssd_zonefile.py checks)."""
    ours = dns.zone.from_text(zone_file(authority), origin="print.test.", relativize=False)
    return BASE | records_of(ours)


@dataclass
class Named:
    port: int
    directory: Path

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        return dns.query.tcp(query, "127.0.0.1", port=self.port, timeout=5)

    def records(self) -> Records:
        """Every record of print.test, by zone transfer."""
        transfer = dns.query.xfr(
            "127.0.0.1", "print.test", port=self.port, timeout=5, relativize=False
        )
        return records_of(dns.zone.from_xfr(transfer, relativize=False))


@contextlib.contextmanager
def named(directory: Path, zone_clause: str, zone_text: str, options: str = "") -> Iterator[Named]:
    """A named serving ``zone_text`` as print.test (``zone_clause`` says how, ``options``
    are added to its options), in the foreground, as the current user (root: no ``-u``)."""
    binary = shutil.which("named") or shutil.which("/usr/sbin/named")
    assert binary is not None, f"named is missing: {INSTALL_HINT}"
    port = free_port()
    secret = base64.b64encode(KEY.secret).decode()
    (directory / "print.test.zone").write_text(zone_text, encoding="utf-8")
    config = directory / "named.conf"
    config.write_text(
        f"""options {{
  directory "{directory}";
  pid-file "{directory}/named.pid";
  session-keyfile "{directory}/session.key";
  managed-keys-directory "{directory}";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer {{ 127.0.0.1; }};
  minimal-responses yes;  // as ours: no NS in the authority section of every answer
  {options}
}};
controls {{ }};
key "{KEY.name}" {{ algorithm {KEY.algorithm}; secret "{secret}"; }};
{zone_clause}
""",
        encoding="utf-8",
    )
    log_path = directory / "named.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "-g", "-4", "-n", "1", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        server = Named(port, directory)
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"named ended:\n{log_path.read_text(errors='replace')}"
            with contextlib.suppress(dns.exception.DNSException, OSError):
                if server.query("print.test", "SOA").answer:
                    break
            assert time.monotonic() < deadline, f"named not up:\n{log_path.read_text()}"
            time.sleep(0.05)
        yield server
    finally:
        stop_process(process)


@pytest.fixture
def dynamic(tmp_path: Path) -> Iterator[Named]:
    with named(tmp_path, DYNAMIC_ZONE, BASE_ZONE) as server:
        yield server


def ptr_targets(server: Named) -> set[str]:
    found = server.query("_ipp._tcp.print.test", "PTR")
    return {rdata.to_text() for rrset in found.answer for rdata in rrset}


# --- RFC 2136 ------------------------------------------------------------------------------


def test_updates_publish_the_zone_then_remove_a_queue(dynamic: Named) -> None:
    first = authority_of(["office", "cafe", "lab"])
    send("127.0.0.1", dynamic.port, changes(None, first, key=KEY))
    assert dynamic.records() == expected(first)
    assert ptr_targets(dynamic) == {
        "Office\\032Printer\\032v2\\.0._ipp._tcp.print.test.",
        "Caf\\195\\169\\032Drucker._ipp._tcp.print.test.",
        'Lab\\032\\"B\\"\\032\\\\\\032back._ipp._tcp.print.test.',
    }
    srv = dynamic.query("Office\\ Printer\\ v2\\.0._ipp._tcp.print.test", "SRV")
    assert [rdata.to_text() for rdata in srv.answer[0]] == ["0 0 631 office.print.test."]

    second = first.successor(make_zone(["office", "lab"]))
    send("127.0.0.1", dynamic.port, changes(first, second, key=KEY))
    assert dynamic.records() == expected(second)
    assert "Caf\\195\\169\\032Drucker._ipp._tcp.print.test." not in ptr_targets(dynamic)
    gone = dynamic.query("Caf\\195\\169\\ Drucker._ipp._tcp.print.test", "SRV")
    assert gone.rcode() == dns.rcode.NXDOMAIN
    assert dynamic.query("cafe.print.test", "A").rcode() == dns.rcode.NXDOMAIN


def test_sending_the_same_updates_twice_leaves_the_same_zone(dynamic: Named) -> None:
    first = authority_of(["office", "cafe"])
    second = first.successor(make_zone(["cafe", "lab"]))
    for _ in range(2):
        send("127.0.0.1", dynamic.port, changes(None, first, key=KEY))
        assert dynamic.records() == expected(first)
    for _ in range(2):
        send("127.0.0.1", dynamic.port, changes(first, second, key=KEY))
        assert dynamic.records() == expected(second)


def test_a_full_update_puts_back_what_the_server_lost(dynamic: Named) -> None:
    zone = authority_of(["office", "cafe"])
    send("127.0.0.1", dynamic.port, changes(None, zone, key=KEY))
    send("127.0.0.1", dynamic.port, changes(zone, None, key=KEY))  # everything withdrawn
    assert dynamic.records() == BASE
    send("127.0.0.1", dynamic.port, changes(None, zone, key=KEY))
    assert dynamic.records() == expected(zone)


def test_refused_updates_say_why_and_change_nothing(dynamic: Named) -> None:
    zone = authority_of(["office"])
    wrong_secret = TsigKey(KEY.name, bytes(32))
    with pytest.raises(UpdateRefused, match="BADSIG") as refused:
        send("127.0.0.1", dynamic.port, changes(None, zone, key=wrong_secret))
    assert refused.value.rcode == "NOTAUTH (BADSIG)"
    with pytest.raises(UpdateRefused) as unknown:
        send("127.0.0.1", dynamic.port, changes(None, zone, key=TsigKey("other", KEY.secret)))
    assert unknown.value.rcode == "NOTAUTH (BADKEY)"
    with pytest.raises(UpdateRefused) as unsigned:
        send("127.0.0.1", dynamic.port, changes(None, zone))
    assert unsigned.value.rcode == "REFUSED"
    assert unsigned.value.zone == "print.test."
    elsewhere = Authority(zone_records("other.test", []), "ns.example.org")
    with pytest.raises(UpdateRefused) as not_ours:
        send("127.0.0.1", dynamic.port, changes(None, elsewhere, key=KEY))
    assert not_ours.value.rcode == "NOTAUTH"
    assert dynamic.records() == BASE


def big_authority(queues: int) -> Authority:
    entries = []
    for i in range(queues):
        advert = QueueAdvert(
            f"q{i}", f"Printer {i}", f"{i:08x}-0000-4000-8000-0", "-", 631, None, ()
        )
        entries.append(ZoneEntry(advert, (f"10.0.0.{i + 1}",)))
    return Authority(
        zone_records("print.test", entries), "ns.print.test", ns_addresses=["127.0.0.1"]
    )


def test_over_100_queues_need_bind_max_records_per_type(tmp_path: Path) -> None:
    """BIND 9.18.28 and later refuse an RRset of over 100 records by default; the messages
    before the refused one stay, and they hold no pointer."""
    authority = big_authority(101)
    (tmp_path / "default").mkdir()
    with named(tmp_path / "default", DYNAMIC_ZONE, BASE_ZONE) as server:
        with pytest.raises(UpdateRefused) as refused:
            send("127.0.0.1", server.port, changes(None, authority, key=KEY))
        assert refused.value.rcode == "SERVFAIL"
        assert not any(rdtype == "PTR" for _, rdtype, _ in server.records() - BASE)
    (tmp_path / "raised").mkdir()
    with named(tmp_path / "raised", DYNAMIC_ZONE, BASE_ZONE, "max-records-per-type 0;") as server:
        send("127.0.0.1", server.port, changes(None, authority, key=KEY))
        assert server.records() == expected(authority)
        assert len(ptr_targets(server)) == 101


def test_no_server_is_an_update_error_not_a_refusal() -> None:
    with pytest.raises(UpdateError, match="cannot update") as failed:
        send("127.0.0.1", free_port(), changes(None, authority_of(["office"]), key=KEY), 2.0)
    assert not isinstance(failed.value, UpdateRefused)


# --- the master file, served by named -------------------------------------------------------


def dig(port: int, name: str, rdtype: str) -> tuple[str, list[str]]:
    """dig's status and flags, and its answer and authority records, sorted (owner names
    in lower case: named answers in its zone's case, ours in the question's)."""
    binary = shutil.which("dig")
    assert binary is not None, f"dig is missing: {INSTALL_HINT}"
    done = subprocess.run(
        [binary, "@127.0.0.1", "-p", str(port), "+norec", "+nocookie", "+time=2", "+tries=1",
         "+noall", "+comments", "+answer", "+authority", name, rdtype],
        capture_output=True, text=True, timeout=20, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    status = next(line for line in lines if "status:" in line).split(", id:")[0]
    flags = next(line for line in lines if line.startswith(";; flags:")).split(";")[2]
    records = [line.split(None, 1) for line in lines if line and line[0] != ";"]
    return f"{status} {flags}", sorted(f"{owner.lower()} {rest}" for owner, rest in records)


QUESTIONS = [
    ("_ipp._tcp.print.test", "PTR"),
    ("_ipps._tcp.print.test", "PTR"),
    ("_universal._sub._ipp._tcp.print.test", "PTR"),
    ("b._dns-sd._udp.print.test", "PTR"),
    ("lb._dns-sd._udp.print.test", "PTR"),
    ("_services._dns-sd._udp.print.test", "PTR"),
    ("Office\\ Printer\\ v2\\.0._ipp._tcp.print.test", "SRV"),
    ("office\\ printer\\ V2\\.0._IPPS._tcp.print.test", "TXT"),
    ("Caf\\195\\169\\ Drucker._ipp._tcp.print.test", "SRV"),
    ("Caf\\195\\169\\ Drucker._ipp._tcp.print.test", "TXT"),
    ('Lab\\ \\"B\\"\\ \\\\\\ back._ipp._tcp.print.test', "TXT"),
    ("office.print.test", "A"),
    ("office.print.test", "AAAA"),
    ("cafe.print.test", "A"),
    ("print.test", "SOA"),
    ("print.test", "NS"),
    ("nope.print.test", "A"),  # NXDOMAIN
    ("_sub._ipp._tcp.print.test", "PTR"),  # NODATA at an empty non-terminal
    ("office.print.test", "TXT"),  # NODATA
]


def test_named_serving_the_master_file_answers_as_our_responder(tmp_path: Path) -> None:
    authority = authority_of(["office", "cafe", "lab"])
    with (
        named(tmp_path, STATIC_ZONE, zone_file(authority)) as server,
        serve_in_thread(authority) as ours,
    ):
        for name, rdtype in QUESTIONS:
            theirs = dig(server.port, name, rdtype)
            mine = dig(ours.port, name, rdtype)
            assert mine == theirs, (name, rdtype)
        assert "NXDOMAIN" in dig(ours.port, "nope.print.test", "A")[0]
        assert len(dig(ours.port, "_ipp._tcp.print.test", "PTR")[1]) == 3
        assert "aa" in dig(ours.port, "cafe.print.test", "A")[0].split()


# --- the server keeping the zone on named ------------------------------------------------------


def _register(database: Database, provider: str, queues: list[str]) -> None:
    """``provider`` registers ``queues``, each announced at 127.0.0.1:631."""
    registered: list[dict[str, Any]] = []
    for queue in queues:
        uuid = f"{len(registered):08d}-0000-4000-8000-000000000000"
        advert = {"name": f"{queue.title()} Printer", "uuid": uuid, "host": "127.0.0.1",
                  "ipp_port": 631, "ipps_port": None,
                  "txt": [["txtvers", "1"], ["rp", f"ipp/print/{queue}"]]}  # fmt: skip
        registered.append({"name": queue, "kind": "hold", "printer": "", "dns_sd": advert})
    with database.session() as session:
        providers.register(session, provider, ipp_url="ipp://127.0.0.1:631/ipp/print",
                           control_url="", queues=registered, printers=[])  # fmt: skip


def test_the_app_servers_zone_is_kept_on_named_as_registrations_change(
    dynamic: Named, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    database = Database(url)
    key_file = tmp_path / "update.key"
    key_file.write_text(base64.b64encode(KEY.secret).decode())
    key_file.chmod(0o600)
    config = DnsSdConfig(domain="print.test", serve=False, refresh_seconds=0.2,
                         update_server=f"127.0.0.1:{dynamic.port}", update_key_file=key_file,
                         update_key_name=KEY.name)  # fmt: skip
    _register(database, "library", ["office"])

    async def scenario() -> tuple[set[str], set[str]]:
        service = ZoneService(database, config, None)
        await service.start()  # the whole zone, signed
        try:
            first = ptr_targets(dynamic)
            _register(database, "library", ["office", "annex"])
            deadline = time.monotonic() + 10
            while len(ptr_targets(dynamic)) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return first, ptr_targets(dynamic)
        finally:
            await service.close()
            database.dispose()

    first, second = asyncio.run(scenario())
    assert first == {"Office\\032Printer._ipp._tcp.print.test."}
    assert second == first | {"Annex\\032Printer._ipp._tcp.print.test."}
    srv = dynamic.query("Annex\\ Printer._ipp._tcp.print.test", "SRV")
    assert [rdata.to_text() for rdata in srv.answer[0]] == ["0 0 631 annex.print.test."]
