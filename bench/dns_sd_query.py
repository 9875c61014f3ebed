"""Unicast DNS-SD query latency: printwarden's responder against dnslib and BIND, one run.

    .venv/bin/python bench/dns_sd_query.py                    # 200 queues, 1,000 q/s, 10 s
    .venv/bin/python bench/dns_sd_query.py --rate 1000 --seconds 10 --rounds 2
    .venv/bin/python bench/dns_sd_query.py --servers ours,ours-nocache,dnslib,named

Each server runs in its own process on 127.0.0.1 and serves the same zone, ``print.test``
with ``--queues`` queues (``zone_records``: PTR, subtypes, SRV, TXT, one host name each):

* ``ours``: ``printwarden.dnssd.responder.Responder`` (asyncio, one thread), as shipped;
  ``ours-nocache`` the same with its answer cache off (every answer packed anew);
* ``dnslib``: dnslib's own ``DNSServer`` (a thread per query) with a resolver that looks the
  records up in a dict, truncating above 1,232 bytes as ours does;
* ``named``: BIND 9 serving the zone file ``printwarden.dnssd.zonefile`` exports (``-n 1``,
  one worker thread; ``max-records-per-type 0``, without which BIND 9.18.28 and later
  refuse the zone: its ``_ipp._tcp`` PTR RRset has a record per queue, over 100).

This process is the client: it sends UDP queries at a fixed rate, on schedule whatever the
answers (open loop), each with EDNS0 (1,232 bytes) as dig and stub resolvers send them: 10 %
PTR ``_ipp._tcp`` (too large with 200 queues: answered truncated, clients go on over TCP),
5 % PTR ``_universal._sub._ipp._tcp``, 5 % PTR ``b._dns-sd._udp``, 30 % SRV and 25 % TXT of
instances, 25 % A of hosts; a second of warm-up, then ``--seconds`` measured. Latency is
from the send to the answer with that id; a query without an answer within a second after
the last send is lost. Server CPU per query is read from /proc. Goal (issue): p99 <= 5 ms
at 1,000 queries/s; the anchor is the same queries against dnslib and named in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Budget, BudgetExceeded, load_average, print_machine
from printwarden.dnssd.answers import Authority
from printwarden.dnssd.responder import Responder
from printwarden.dnssd.zonefile import zone_file
from printwarden.domain.dns_sd import Name, QueueAdvert, Zone, ZoneEntry, zone_records
from printwarden.sim.ports import free_port
from printwarden.sim.processes import stop_process

SERVERS = ("ours", "ours-nocache", "dnslib", "named")
DEFAULT_SERVERS = "ours,dnslib,named"
DOMAIN = "print.test"
GOAL_P99_MS = 5.0
WARM_UP_SECONDS = 1.0
DRAIN_SECONDS = 1.0
START_SECONDS = 20.0
EDNS_PAYLOAD = 1232
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def bench_zone(queues: int) -> Zone:
    """``queues`` queues with realistic TXT (19 keys), names with spaces and dots."""
    entries = []
    for i in range(queues):
        txt = (
            ("txtvers", "1"), ("qtotal", "1"), ("rp", f"ipp/print/queue-{i}"),
            ("ty", "Generic PCL Laser"), ("adminurl", f"https://print.test/queues/{i}"),
            ("note", f"Building {i % 7}, floor {i % 5}"), ("priority", "0"),
            ("product", "(Generic PCL Laser)"),
            ("pdl", "application/pdf,image/urf,image/pwg-raster"),
            ("UUID", f"{i:08x}-0000-4000-8000-000000000000"), ("Color", "T"), ("Duplex", "T"),
            ("Copies", "T"), ("Collate", "T"), ("Scan", "F"), ("Fax", "F"),
            ("kind", "document"), ("air", "none"), ("mopria-certified", "2.0"),
        )  # fmt: skip
        advert = QueueAdvert(
            f"queue-{i}", f"Printer {i:03d} Bldg. {i % 7}", f"{i:08x}-0000-4000-8000-000000000000",
            "-", 631, 443, txt,
        )  # fmt: skip
        entries.append(ZoneEntry(advert, (f"10.1.{i // 250}.{i % 250 + 1}",)))
    return zone_records(DOMAIN, entries)


def bench_authority(queues: int, *, cache: bool = True) -> Authority:
    options: dict[str, Any] = {} if cache else {"cache_bytes": 0}
    return Authority(bench_zone(queues), "ns.print.test", ns_addresses=["127.0.0.1"], **options)


# --- the servers, each in a process of its own ---------------------------------------------


def serve_ours(port: int, queues: int, cache: bool) -> None:
    async def run() -> None:
        responder = Responder(bench_authority(queues, cache=cache), "127.0.0.1", port)
        await responder.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        await responder.close()

    asyncio.run(run())


def serve_dnslib(port: int, queues: int) -> None:
    from dnslib import QTYPE, RCODE, RR  # type: ignore[import-untyped]
    from dnslib.dns import AAAA, PTR, SRV, TXT, A  # type: ignore[import-untyped]
    from dnslib.label import DNSLabel  # type: ignore[import-untyped]
    from dnslib.server import DNSHandler, DNSLogger, DNSServer  # type: ignore[import-untyped]

    from printwarden.domain.dns_sd import Address, Ptr, Srv, Txt

    def label(name: Name) -> Any:
        return DNSLabel(tuple(part.encode() for part in name))

    table: dict[tuple[Any, int], list[Any]] = {}
    for record in bench_zone(queues).records:
        data = record.data
        rdata: Any
        if isinstance(data, Ptr):
            rdata = PTR(label(data.target))
        elif isinstance(data, Srv):
            rdata = SRV(data.priority, data.weight, data.port, label(data.target))
        elif isinstance(data, Txt):
            rdata = TXT(list(data.strings))
        elif isinstance(data, Address):
            rdata = AAAA(data.address) if data.ipv6 else A(data.address)
        rtype = getattr(QTYPE, record.type)
        table.setdefault((label(record.name), rtype), []).append(
            RR(label(record.name), rtype, ttl=record.ttl, rdata=rdata)
        )

    class Resolver:
        def resolve(self, request: Any, handler: Any) -> Any:
            reply = request.reply()
            found = table.get((request.q.qname, request.q.qtype))
            if found:
                reply.add_answer(*found)
            else:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    class Handler(DNSHandler):  # type: ignore[misc]
        udplen = EDNS_PAYLOAD

    server = DNSServer(
        Resolver(), port=port, address="127.0.0.1", logger=DNSLogger(logf=lambda _: None),
        handler=Handler,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.start_thread()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    directory: Path | None = None

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def stop(self) -> None:
        stop_process(self.process)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_server(kind: str, queues: int) -> Server:
    port = free_port()
    if kind == "named":
        return start_named(port, queues)
    command = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--port",
        str(port),
        "--queues",
        str(queues),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_SECONDS)
    if not ready or process.stdout.readline().strip() != b"ready":
        stop_process(process)
        raise SystemExit(f"{kind} did not start")
    return Server(kind, port, process)


def start_named(port: int, queues: int) -> Server:
    binary = shutil.which("named") or "/usr/sbin/named"
    if not Path(binary).exists():
        raise SystemExit("named is missing: apt-get install bind9")
    directory = Path(tempfile.mkdtemp(prefix="printwarden-named-"))
    (directory / "print.test.zone").write_text(zone_file(bench_authority(queues)))
    (directory / "named.conf").write_text(
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
  minimal-responses no-auth;
  max-records-per-type 0;  // BIND 9.18.28+ refuses RRsets over 100 records by default
}};
controls {{ }};
zone "print.test" {{ type primary; file "print.test.zone"; }};
"""
    )
    with (directory / "named.log").open("wb") as output:
        process = subprocess.Popen(
            [binary, "-g", "-4", "-n", "1", "-c", str(directory / "named.conf")],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server("named", port, process, directory)
    deadline = time.monotonic() + START_SECONDS
    log = directory / "named.log"
    while b"all zones loaded" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if b"zone print.test/IN: loaded serial" not in log.read_bytes():
        text = log.read_text(errors="replace")
        server.stop()
        raise SystemExit(f"named did not load the zone:\n{text[-2000:]}")
    return server


# --- the client ------------------------------------------------------------------------------


def query_mix(queues: int, count: int, seed: int) -> list[bytes]:
    """``count`` queries (id 0, EDNS0 1,232) in a fixed random order."""
    import dns.message
    import dns.name

    zone = bench_zone(queues)
    instances = [(name, "_ipp") for name in zone.names.values()]
    instances += [(name, "_ipps") for name in zone.names.values()]
    hosts = list(zone.hosts.values())
    rng = random.Random(seed)

    def wire(labels: Sequence[str], rdtype: str) -> bytes:
        name = dns.name.Name([*(label.encode() for label in labels), b""])
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
        query.id = 0
        return query.to_wire()

    apex = DOMAIN.split(".")
    found = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.10:
            found.append(wire(["_ipp", "_tcp", *apex], "PTR"))
        elif pick < 0.15:
            found.append(wire(["_universal", "_sub", "_ipp", "_tcp", *apex], "PTR"))
        elif pick < 0.20:
            found.append(wire(["b", "_dns-sd", "_udp", *apex], "PTR"))
        elif pick < 0.50:
            name, service = rng.choice(instances)
            found.append(wire([name, service, "_tcp", *apex], "SRV"))
        elif pick < 0.75:
            name, service = rng.choice(instances)
            found.append(wire([name, service, "_tcp", *apex], "TXT"))
        else:
            found.append(wire(list(rng.choice(hosts)), "A"))
    return found


@dataclass
class Result:
    server: str
    sent: int
    latencies: list[float]  # seconds, of the answered queries
    truncated: int
    errors: int  # answers with an rcode other than NOERROR, or no answer record and no TC
    max_lag: float  # seconds the client sent late, at worst
    cpu: float  # server CPU seconds over the measured window

    @property
    def lost(self) -> int:
        return self.sent - len(self.latencies)


def drive(server: Server, queries: list[bytes], rate: float, seconds: float) -> Result:
    """Send ``queries`` (cycled) at ``rate`` per second for ``seconds``; time the answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    total = int(rate * seconds)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    truncated = errors = 0
    max_lag = 0.0
    interval = 1.0 / rate
    gc.disable()
    cpu_before = server.cpu_seconds()
    start = time.perf_counter() + 0.01
    end = start + total * interval + DRAIN_SECONDS
    sent = 0
    try:
        while True:
            now = time.perf_counter()
            while sent < total and start + sent * interval <= now:
                ident = sent & 0xFFFF
                wire = queries[sent % len(queries)]
                sock.send(ident.to_bytes(2, "big") + wire[2:])
                sent_at[ident] = time.perf_counter()
                max_lag = max(max_lag, sent_at[ident] - (start + sent * interval))
                sent += 1
                now = time.perf_counter()
            if now >= end or (sent == total and not sent_at):
                break
            wait = (start + sent * interval - now) if sent < total else end - now
            readable, _, _ = select.select([sock], [], [], max(0.0, wait))
            if not readable:
                continue
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    break
                received = time.perf_counter()
                began = sent_at.pop(int.from_bytes(data[:2], "big"), None)
                if began is None:
                    continue
                latencies.append(received - began)
                if data[2] & 0x02:
                    truncated += 1
                elif data[3] & 0x0F or data[6:8] == b"\x00\x00":
                    errors += 1
    finally:
        cpu = server.cpu_seconds() - cpu_before
        gc.enable()
        sock.close()
    return Result(server.name, total, latencies, truncated, errors, max_lag, cpu)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def measure(kind: str, queues: int, queries: list[bytes], args: argparse.Namespace) -> Result:
    server = start_server(kind, queues)
    try:
        drive(server, queries, args.rate, WARM_UP_SECONDS)
        return drive(server, queries, args.rate, args.seconds)
    finally:
        server.stop()


def report(results: list[Result], rate: float, queues: int, command: list[str]) -> None:
    print(
        f"{'server':<13} {'sent':>6} {'lost':>5} {'tc':>5} {'err':>4} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'cpu us/q':>8} {'client late ms':>14}"
    )
    for result in results:
        times = [t * 1000 for t in result.latencies] or [float("nan")]
        print(
            f"{result.server:<13} {result.sent:>6} {result.lost:>5} {result.truncated:>5} "
            f"{result.errors:>4} {percentile(times, 0.5):>7.3f} {percentile(times, 0.99):>7.3f} "
            f"{max(times):>7.3f} {result.cpu / result.sent * 1e6:>8.1f} "
            f"{result.max_lag * 1000:>14.3f}"
        )
    ours = [r for r in results if r.server == "ours"]
    anchors = []
    for anchor in ("named", "dnslib"):
        theirs = [r for r in results if r.server == anchor]
        if ours and theirs:
            p50 = _p(ours, 0.5) / _p(theirs, 0.5)
            p99 = _p(ours, 0.99) / _p(theirs, 0.99)
            print(f"ours / {anchor}: p50 {p50:.3g}, p99 {p99:.3g} (all rounds pooled)")
            anchors.append(
                f"{anchor} p50 {_p(theirs, 0.5):.3f}, p99 {_p(theirs, 0.99):.3f} ms: "
                f"**{p99:.3g}** at p99"
            )
    if not ours:
        return
    p99 = _p(ours, 0.99)
    lost = sum(r.lost for r in ours)
    verdict = "met" if p99 <= GOAL_P99_MS and not lost else "MISSED"
    goal = f"p99 <= {GOAL_P99_MS} ms at {rate:.0f} q/s"
    print(f"goal: {goal}: {verdict} (p99 {p99:.3f} ms, {lost} lost)")
    print("row for docs/benchmarks.md (fill in the commit):")
    print(
        f"| unicast DNS-SD queries, {queues} queues, {rate:,.0f} q/s over UDP | "
        f"p50 **{_p(ours, 0.5):.3f} ms**, p99 **{p99:.3f} ms**, {lost} lost | "
        f"{'; '.join(anchors) or '-'} | p99 <= {GOAL_P99_MS:g} ms: **{verdict}** | "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `?` | "
        f"`{' '.join(['bench/dns_sd_query.py', *command])}` |"
    )


def _p(results: list[Result], fraction: float) -> float:
    return percentile([t * 1000 for r in results for t in r.latencies], fraction)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1000.0, help="queries per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per server")
    parser.add_argument("--rounds", type=int, default=1, help="each server once per round")
    parser.add_argument("--servers", default=DEFAULT_SERVERS, help=f"of {', '.join(SERVERS)}")
    parser.add_argument("--seed", type=int, default=6763)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds, in all")
    parser.add_argument("--serve", choices=SERVERS[:3], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.serve is not None:
        if args.serve == "dnslib":
            serve_dnslib(args.port, args.queues)
        else:
            serve_ours(args.port, args.queues, cache=args.serve == "ours")
        return
    kinds = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
    unknown = set(kinds) - set(SERVERS)
    if unknown:
        raise SystemExit(f"unknown servers: {sorted(unknown)}")
    print(f"Unicast DNS-SD query latency ({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())})")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load average before: {load_average()}")
    print_machine()
    print(
        f"zone: {args.queues} queues under {DOMAIN}; {args.rate:.0f} q/s over UDP for "
        f"{args.seconds:.0f} s per server and round (after {WARM_UP_SECONDS:.0f} s warm-up), "
        f"{args.rounds} round(s)"
    )
    queries = query_mix(args.queues, 5000, args.seed)
    budget = Budget(args.budget, "dns-sd query latency")
    results: list[Result] = []
    try:
        for round_number in range(args.rounds):
            order = kinds if round_number % 2 == 0 else kinds[::-1]
            for kind in order:
                budget.check()
                results.append(measure(kind, args.queues, queries, args))
    except BudgetExceeded as exc:
        print(f"stopped: {exc}")
    report(results, args.rate, args.queues, sys.argv[1:] if argv is None else list(argv))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
