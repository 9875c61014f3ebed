"""The DNS-SD responder on real sockets (printwarden.dnssd.responder), asked by BIND's dig:
UDP and TCP, truncation and the retry over TCP, bad packets, limits on TCP connections,
and a zone swapped while serving."""

from __future__ import annotations

import random
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator

import dns.message
import dns.name
import dns.query
import dns.rcode
import pytest

from printwarden.dnssd.answers import Authority
from printwarden.dnssd.responder import Responder, serve_in_thread
from printwarden.domain.dns_sd import QueueAdvert, Zone, ZoneEntry, zone_records

INSTALL_HINT = "apt-get install bind9-dnsutils (dig)"
OFFICE = "Office Printer v2.0"
CAFE = "Café Drucker"


def advert(queue: str, name: str, number: int) -> QueueAdvert:
    txt = (("txtvers", "1"), ("rp", f"ipp/print/{queue}"), ("note", "Room 4.2"))
    return QueueAdvert(
        queue, name, f"{number:08x}-0000-4000-8000-000000000000", "-", 631, None, txt
    )


def make_zone(queues: dict[str, str], *, extra: int = 0) -> Zone:
    entries = [
        ZoneEntry(advert(queue, name, number), (f"192.0.2.{number + 10}",))
        for number, (queue, name) in enumerate(queues.items())
    ]
    entries += [
        ZoneEntry(advert(f"q{i}", f"Printer {i:03d}", 1000 + i), (f"10.0.0.{i % 250 + 1}",))
        for i in range(extra)
    ]
    return zone_records("print.test", entries)


def authority_of(zone: Zone) -> Authority:
    return Authority(zone, "ns.print.test", ns_addresses=["127.0.0.1"])


@pytest.fixture
def responder() -> Iterator[Responder]:
    zone = make_zone({"office": OFFICE, "cafe": CAFE}, extra=60)
    with serve_in_thread(authority_of(zone), idle_seconds=0.5, max_connections=3) as running:
        yield running


def dig(responder: Responder, *args: str) -> str:
    binary = shutil.which("dig")
    assert binary is not None, f"dig is missing: {INSTALL_HINT}"
    done = subprocess.run(
        [binary, "@127.0.0.1", "-p", str(responder.port), "+time=2", "+tries=1", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def answers(output: str) -> list[list[str]]:
    """The record lines of dig's +noall +answer output, split into fields."""
    return [line.split(None, 4) for line in output.splitlines() if line and line[0] != ";"]


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {seconds} s")
        time.sleep(0.01)


def test_dig_browses_and_resolves_over_udp(responder: Responder) -> None:
    ptr = answers(dig(responder, "+noall", "+answer", "office.print.test", "A"))
    assert ptr == [["office.print.test.", "120", "IN", "A", "192.0.2.10"]]
    srv = dig(
        responder,
        "+noall",
        "+answer",
        "+additional",
        "Office\\ Printer\\ v2\\.0._ipp._tcp.print.test",
        "SRV",
    )
    assert answers(srv) == [
        [
            "Office\\032Printer\\032v2\\.0._ipp._tcp.print.test.",
            "120",
            "IN",
            "SRV",
            "0 0 631 office.print.test.",
        ],
        ["office.print.test.", "120", "IN", "A", "192.0.2.10"],
    ]
    txt = answers(
        dig(responder, "+noall", "+answer", "Caf\\195\\169\\ Drucker._ipp._tcp.print.test", "TXT")
    )
    assert txt == [
        [
            "Caf\\195\\169\\032Drucker._ipp._tcp.print.test.",
            "120",
            "IN",
            "TXT",
            '"txtvers=1" "rp=ipp/print/cafe" "note=Room 4.2"',
        ]
    ]
    assert responder.queries == 3
    assert responder.errors == 0


def test_a_truncated_udp_answer_sends_dig_to_tcp(responder: Responder) -> None:
    udp_only = dig(responder, "+ignore", "+noedns", "_ipp._tcp.print.test", "PTR")
    assert "flags: qr aa tc rd;" in udp_only
    assert "ANSWER: 0," in udp_only
    retried = dig(responder, "+noall", "+answer", "_ipp._tcp.print.test", "PTR")
    assert len(answers(retried)) == 62
    tcp = answers(dig(responder, "+tcp", "+noall", "+answer", "_ipp._tcp.print.test", "PTR"))
    assert len(tcp) == 62
    assert [
        "_ipp._tcp.print.test.",
        "120",
        "IN",
        "PTR",
        "Office\\032Printer\\032v2\\.0._ipp._tcp.print.test.",
    ] in tcp


def test_negative_answers_over_the_wire(responder: Responder) -> None:
    nxdomain = dig(responder, "nope.print.test", "A")
    assert "status: NXDOMAIN" in nxdomain
    assert "flags: qr aa rd;" in nxdomain
    assert "AUTHORITY: 1" in nxdomain
    nodata = dig(responder, "_sub._ipp._tcp.print.test", "PTR")
    assert "status: NOERROR" in nodata
    assert "ANSWER: 0, AUTHORITY: 1" in nodata
    assert "status: REFUSED" in dig(responder, "example.org", "A")


def test_garbage_never_stops_the_server(responder: Responder) -> None:
    def received(count: int) -> Callable[[], bool]:
        return lambda: responder.queries >= count

    rng = random.Random(53)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for burst in range(6):  # bursts the socket buffer holds: UDP drops the rest
            for size in range(50):
                sock.sendto(rng.randbytes(size % 40), ("127.0.0.1", responder.port))
            wait_for(received(50 * (burst + 1)))
        sock.sendto(b"\x00\x01" + b"\x00" * 10, ("127.0.0.1", responder.port))
    short = 6 * sum(1 for size in range(50) if size % 40 < 12)
    wait_for(received(301))
    assert responder.errors >= short
    found = answers(dig(responder, "+noall", "+answer", "cafe.print.test", "A"))
    assert found == [["cafe.print.test.", "120", "IN", "A", "192.0.2.11"]]
    assert responder.queries == 302


def test_bad_tcp_messages_close_their_connection_only(responder: Responder) -> None:
    with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as bad:
        bad.sendall(struct.pack("!H", 60000) + b"x" * 100)  # over max_message
        assert bad.recv(10) == b""
    with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as short:
        short.sendall(struct.pack("!H", 3) + b"abc")  # too short to hold an id
        assert short.recv(10) == b""
    assert responder.errors == 2
    query = dns.message.make_query("office.print.test", "A")
    found = dns.query.tcp(query, "127.0.0.1", port=responder.port, timeout=5)
    assert found.rcode() == dns.rcode.NOERROR
    assert [rdata.to_text() for rdata in found.answer[0]] == ["192.0.2.10"]


def test_pipelined_tcp_queries_are_answered_in_order(responder: Responder) -> None:
    queries = [dns.message.make_query(f"{host}.print.test", "A") for host in ("office", "cafe")]
    with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as sock:
        sock.sendall(
            b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries))
        )
        replies = []
        for _ in queries:
            (size,) = struct.unpack("!H", _read(sock, 2))
            replies.append(dns.message.from_wire(_read(sock, size)))
    assert [reply.id for reply in replies] == [query.id for query in queries]
    assert [reply.answer[0][0].to_text() for reply in replies] == ["192.0.2.10", "192.0.2.11"]


def test_idle_tcp_connections_are_closed(responder: Responder) -> None:
    with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert 0.3 < time.monotonic() - started < 3.0
    wait_for(lambda: responder.connections == 0)


def test_connections_beyond_the_cap_are_closed_at_once(responder: Responder) -> None:
    held = [socket.create_connection(("127.0.0.1", responder.port), timeout=5) for _ in range(3)]
    try:
        wait_for(lambda: responder.connections == 3)
        with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as extra:
            assert extra.recv(10) == b""
        assert responder.rejected == 1
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: responder.connections == 0)
    assert "192.0.2.10" in dig(responder, "+tcp", "+short", "office.print.test")


def test_a_new_zone_is_served_from_the_next_query(responder: Responder) -> None:
    assert "NXDOMAIN" in dig(responder, "lab.print.test", "A")
    old_serial = responder.authority.soa.serial
    zone = make_zone({"office": OFFICE, "lab": "Lab"})
    responder.set_authority(responder.authority.successor(zone))
    assert dig(responder, "+short", "lab.print.test", "A").split() == ["192.0.2.11"]
    assert "NXDOMAIN" in dig(responder, "cafe.print.test", "A")
    soa = dig(responder, "+short", "print.test", "SOA").split()
    assert int(soa[2]) == old_serial + 1


def test_the_port_serves_udp_and_tcp_alike() -> None:
    zone = make_zone({"office": OFFICE})
    with serve_in_thread(authority_of(zone)) as running:
        query = dns.message.make_query(dns.name.from_text("office.print.test"), "A")
        udp = dns.query.udp(query, "127.0.0.1", port=running.port, timeout=5)
        tcp = dns.query.tcp(query, "127.0.0.1", port=running.port, timeout=5)
        assert udp.answer == tcp.answer
        assert udp.answer
    with pytest.raises(ConnectionRefusedError):  # closed on leaving the block
        dns.query.tcp(query, "127.0.0.1", port=running.port, timeout=2)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data
