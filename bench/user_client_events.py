"""User Client event streams: 1,000 held clients, their memory and CPU, and event latency.

    .venv/bin/python bench/user_client_events.py                      # app, site, offline (~7 min)
    .venv/bin/python bench/user_client_events.py --part app           # the App Server only (~3 min)
    .venv/bin/python bench/user_client_events.py --clients 200 --hold 20 --samples 50   # quick

Real processes, everything on 127.0.0.1: an App Server (``printwarden app serve``, SQLite)
and, for the site parts, a Site Server (``printwarden site serve``) straight in front of it.
Both run with ``PRINTWARDEN_CLIENT__HEARTBEAT_SECONDS`` = ``--heartbeat`` (5 s, so that a
60 s hold sees heartbeats) and ``PRINTWARDEN_CLIENT__STREAM_MINUTES`` = 30 (no stream ends
during a run). Seeded directly in the database: ``--clients`` users (each in group
``everyone``, restricted, no credit) with one client token each, issued as
``POST /auth/login`` with ``client`` issues it (``client:<user>@bench-desk``, role client);
the first user's token comes from a real ``POST /api/v1/auth/login``. A printer, disabled.

The clients are a separate process (``printwarden/testing/sse_clients.py``: raw asyncio streams on
uvloop, HTTP/1.1, one connection per client, at most 64 opening at once), so the servers'
numbers are theirs alone. Each part:

1. Warm-up: 50 streams opened and closed, a few of each request (the thread pool, the
   routes' first calls); then ``--baseline`` s idle with no client: the server's own CPU.
2. Open ``--clients`` streams (each until its ``hello``); RSS (``VmRSS``) of the server
   process before and after; then hold them ``--hold`` s untouched: CPU of the server
   process over the hold (utime + stime from /proc/PID/stat), heartbeats heard (expected:
   streams x hold / heartbeat), streams lost.
3. Latency with every stream still open, one sample at a time (each waits for its event,
   5 s at most, before the next): ``--samples`` administrator messages
   (``POST /api/v1/messages`` to one user, a different user each time) and
   ``--denials`` denied jobs (``POST /api/v1/jobs/decision`` by a provider for the disabled
   printer: ``job.denied`` to that user), each timed from just before the request is sent
   until the client process read the event's bytes (both ``time.monotonic()``, the one
   system-wide clock). Anchor: ``GET /api/v1/health`` of the server the clients talk to,
   one before each sample, on the same keep-alive client. Then ``--broadcasts`` messages to
   group ``everyone``: time until each of the streams heard it.

Parts: ``app`` (streams to the App Server), ``site`` (the same streams to the Site Server,
online: each relayed from HQ; messages and the anchor's HQ health go to HQ, the denials to
the site, which forwards them), ``offline`` (the Site Server restarted with an upstream
nobody listens on: it serves the streams from its replica and decides the denials itself;
no messages: an administrator's message comes from HQ). ``--strict`` exits 1 when a goal
is missed; ``--budget`` bounds the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness import Budget, BudgetExceeded, load_average, print_machine
from printwarden.sim.ports import free_port
from printwarden.testing.appserver import AppServer
from printwarden.testing.site import SiteProcess
from printwarden.testing.streams import (
    CLIENT_NAME,
    GROUP,
    PASSWORD,
    SITE,
    Clients,
    ClientsError,
    Seeded,
    clients_of,
    cpu_seconds,
    seed,
)
from provider_harness import BenchError, percentile, rss_kib

HERE = Path(__file__).resolve().parent
GOAL_CPU_PERCENT = 2.0
GOAL_MIB_PER_1000 = 50.0
GOAL_P99_MS = 100.0
PRINTER = "closed-laser"
STREAM_MINUTES = 30
EVENT_WAIT_S = 5.0
BROADCAST_WAIT_S = 30.0
WARM_STREAMS = 50
SETTLE_S = 3.0
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}


# --- seeding ---------------------------------------------------------------------------------


def real_login(api: str, name: str) -> str:
    """A client token from ``POST /auth/login`` (as the User Client gets its own)."""
    body = {"username": name, "password": PASSWORD, "client": CLIENT_NAME}
    answer = httpx.post(f"{api}/auth/login", json=body, timeout=30)
    if answer.status_code != 200 or answer.json().get("role") != "client":
        raise BenchError(f"login: {answer.status_code} {answer.text[:300]}")
    return str(answer.json()["token"])


def expect(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise BenchError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


# --- processes -------------------------------------------------------------------------------


def mib(kib: int) -> float:
    return kib / 1024


def tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback") if log.exists() else 0


# --- one part --------------------------------------------------------------------------------


@dataclass
class Target:
    """What one part talks to: the server holding the streams, and where each request goes."""

    name: str
    pid: int
    port: int  # the streams' server
    health: str  # the anchor: this server's /api/v1/health
    messages: str | None  # HQ's /api/v1 for administrators' messages (None: none offline)
    decisions: str  # the /api/v1 the provider asks
    provider_token: str
    others: dict[str, int] = field(default_factory=dict)  # more processes to watch: name -> pid


@dataclass
class Result:
    part: str
    clients: int
    opened: int = 0
    open_seconds: float = 0.0
    hello_p50_ms: float = 0.0
    hello_p99_ms: float = 0.0
    rss_kib: dict[str, int] = field(default_factory=dict)
    idle_cpu_percent: float = 0.0
    drift_kib_s: float = 0.0  # RSS growth with no client (the baseline)
    drift_seconds: float = 0.0  # from "before" to "connected"
    hold_cpu_percent: float = 0.0
    hold_seconds: float = 0.0
    others_cpu_percent: dict[str, float] = field(default_factory=dict)
    others_rss_kib: dict[str, dict[str, int]] = field(default_factory=dict)
    client_cpu_percent: float = 0.0
    heartbeats: int = 0
    heartbeats_expected: float = 0.0
    heartbeats_min_per_stream: int = 0
    lost_during_hold: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    broadcast_ms: dict[str, float] = field(default_factory=dict)
    missed_events: int = 0
    load: list[str] = field(default_factory=list)

    def per_1000_mib(self, *, net: bool = False) -> float:
        """RSS growth from just before the streams opened until they were open (``net``:
        less the growth of the baseline with no client over that time)."""
        grown = self.rss_kib.get("connected", 0) - self.rss_kib.get("before", 0)
        if net:
            grown -= int(self.drift_kib_s * self.drift_seconds)
        return mib(grown) * 1000 / max(1, self.opened)

    def goals(self) -> dict[str, bool]:
        p99 = max((v["p99"] for k, v in self.latency_ms.items() if k != "health"), default=0.0)
        return {
            "cpu": self.hold_cpu_percent <= GOAL_CPU_PERCENT,
            "memory": self.per_1000_mib() <= GOAL_MIB_PER_1000,
            "latency": p99 <= GOAL_P99_MS and self.missed_events == 0,
            "no errors": not self.errors and self.opened == self.clients,
        }


def summary(values_s: list[float]) -> dict[str, float]:
    millis = [v * 1000 for v in values_s]
    if not millis:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    return {"n": len(millis), "p50": percentile(millis, 0.50), "p95": percentile(millis, 0.95),
            "p99": percentile(millis, 0.99), "max": max(millis)}  # fmt: skip


def warm_up(target: Target, seeded: Seeded, directory: Path, budget: Budget) -> None:
    """50 streams opened and closed, and each request a few times: the server's thread pool
    and its routes' first calls are paid for before anything is measured."""
    with clients_of(target.port, seeded.client_tokens[:WARM_STREAMS], directory, 120) as clients:
        ready = clients.reply("READY", 90)
        if ready["alive"] != WARM_STREAMS:
            raise BenchError(f"warm-up streams: {ready}")
        with requesters(seeded, target) as (admin, provider):
            for n in range(10):
                budget.check()
                expect(admin.get(target.health))
                if target.messages is not None:
                    body = {"text": f"warm-{n}", "users": [seeded.names[n]]}
                    expect(admin.post(f"{target.messages}/messages", json=body))
                deny(provider, target, seeded.names[n], f"warm-{n}")
        clients.quit()


@contextmanager
def requesters(seeded: Seeded, target: Target) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Keep-alive clients: the administrator's (also the anchor's) and the provider's."""
    bearer = {"Authorization": f"Bearer {seeded.admin}"}
    with (
        httpx.Client(headers=bearer, timeout=30) as admin,
        httpx.Client(headers={"Authorization": f"Bearer {target.provider_token}"},
                     timeout=30) as provider,
    ):  # fmt: skip
        yield admin, provider


def deny(provider: httpx.Client, target: Target, user: str, job_ref: str) -> None:
    body = {"username": user, "printer": PRINTER, "pages": 1, "job_ref": job_ref,
            "document_name": f"{job_ref}.pdf"}  # fmt: skip
    decided = expect(provider.post(f"{target.decisions}/jobs/decision", json=body))
    if decided["verdict"] != "deny":
        raise BenchError(f"expected a denial: {decided}")


def run_part(
    target: Target, seeded: Seeded, args: argparse.Namespace, directory: Path, budget: Budget
) -> Result:
    count = len(seeded.client_tokens)
    result = Result(target.name, count)
    print(f"\n== {target.name}: {count} streams to pid {target.pid} (load {load_average()})")
    result.load.append(load_average())
    warm_up(target, seeded, directory, budget)
    watched = {"server": target.pid, **target.others}
    result.rss_kib["idle"] = rss_kib(target.pid)
    cpu0, wall0 = cpu_seconds(target.pid), time.monotonic()
    time.sleep(args.baseline)
    idle_s = time.monotonic() - wall0
    result.idle_cpu_percent = 100 * (cpu_seconds(target.pid) - cpu0) / idle_s
    result.rss_kib["before"] = rss_kib(target.pid)
    before_at = time.monotonic()
    result.drift_kib_s = (result.rss_kib["before"] - result.rss_kib["idle"]) / idle_s
    for name, pid in target.others.items():
        result.others_rss_kib[name] = {"before": rss_kib(pid)}
    print(f"  idle {idle_s:.0f} s, no client: CPU {result.idle_cpu_percent:.2f} %, RSS "
          f"{mib(result.rss_kib['idle']):.1f} -> {mib(result.rss_kib['before']):.1f} MiB "
          f"(drift {result.drift_kib_s:.0f} KiB/s)")  # fmt: skip
    lifetime = args.hold + 600
    with clients_of(target.port, seeded.client_tokens, directory, lifetime) as clients:
        ready = clients.reply("READY", 300)
        result.opened, result.open_seconds = int(ready["alive"]), float(ready["seconds"])
        hello = summary(ready["opened"])
        result.hello_p50_ms, result.hello_p99_ms = hello["p50"], hello["p99"]
        if ready["errors"]:
            result.errors.update({f"open: {k}": v for k, v in ready["errors"].items()})
        print(f"  opened {result.opened}/{count} in {result.open_seconds:.1f} s "
              f"(hello p50 {hello['p50']:.0f} ms, p99 {hello['p99']:.0f} ms), "
              f"errors {ready['errors'] or 0}")  # fmt: skip
        time.sleep(SETTLE_S)
        result.rss_kib["connected"] = rss_kib(target.pid)
        result.drift_seconds = time.monotonic() - before_at
        hold(target, clients, watched, result, args, budget)
        result.rss_kib["held"] = rss_kib(target.pid)
        latencies(target, seeded, clients, result, args, budget)
        result.rss_kib["after"] = rss_kib(target.pid)
        for name, pid in target.others.items():
            result.others_rss_kib[name]["after"] = rss_kib(pid)
        final = clients.quit()
    lost = final["errors"]
    if lost:
        result.errors.update({f"end: {k}": v for k, v in lost.items()})
    result.load.append(load_average())
    report(result)
    return result


def hold(
    target: Target,
    clients: Clients,
    watched: dict[str, int],
    result: Result,
    args: argparse.Namespace,
    budget: Budget,
) -> None:
    """Hold the streams untouched for ``--hold`` s: CPU, heartbeats, streams lost."""
    client_pid = clients.process.pid
    before = clients.stats()
    cpu0 = {name: cpu_seconds(pid) for name, pid in watched.items()}
    client0, wall0 = cpu_seconds(client_pid), time.monotonic()
    deadline = wall0 + args.hold
    while time.monotonic() < deadline:
        budget.check()
        if clients.process.poll() is not None:
            raise BenchError("the client process ended during the hold")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    wall = time.monotonic() - wall0
    cpu1 = {name: cpu_seconds(pid) for name, pid in watched.items()}
    client1 = cpu_seconds(client_pid)
    after = clients.stats()
    result.hold_seconds = wall
    result.hold_cpu_percent = 100 * (cpu1["server"] - cpu0["server"]) / wall
    result.others_cpu_percent = {
        name: 100 * (cpu1[name] - cpu0[name]) / wall for name in watched if name != "server"
    }
    result.client_cpu_percent = 100 * (client1 - client0) / wall
    deltas = [b - a for a, b in zip(before["heartbeats"], after["heartbeats"], strict=True)]
    result.heartbeats = sum(deltas)
    result.heartbeats_expected = int(before["alive"]) * wall / args.heartbeat
    result.heartbeats_min_per_stream = min(deltas) if deltas else 0
    result.lost_during_hold = int(before["alive"]) - int(after["alive"])
    others = ", ".join(f"{n} {v:.2f} %" for n, v in result.others_cpu_percent.items())
    print(f"  held {after['alive']} streams {wall:.1f} s: server CPU "
          f"{result.hold_cpu_percent:.2f} %{f' ({others})' if others else ''}, client "
          f"process {result.client_cpu_percent:.2f} %; heartbeats {result.heartbeats} "
          f"(expected ~{result.heartbeats_expected:.0f}, min per stream "
          f"{result.heartbeats_min_per_stream}); lost {result.lost_during_hold}")  # fmt: skip


def latencies(
    target: Target,
    seeded: Seeded,
    clients: Clients,
    result: Result,
    args: argparse.Namespace,
    budget: Budget,
) -> None:
    """Cause -> event at the client, one sample at a time; the health anchor before each."""
    names = seeded.names
    health: list[float] = []
    kinds: dict[str, Callable[[int, str], None]] = {}
    with requesters(seeded, target) as (admin, provider):

        def message(n: int, key: str) -> None:
            body = {"text": key, "users": [names[(n * 37) % len(names)]]}
            expect(admin.post(f"{target.messages}/messages", json=body))

        def denial(n: int, key: str) -> None:
            deny(provider, target, names[(n * 53 + 11) % len(names)], key)

        if target.messages is not None and args.samples:
            kinds["message"] = message
        if args.denials:
            kinds["job.denied"] = denial
        for kind, cause in kinds.items():
            samples = args.samples if kind == "message" else args.denials
            took, posted = [], []
            for n in range(samples):
                budget.check()
                started = time.perf_counter()
                expect(admin.get(target.health))
                health.append(time.perf_counter() - started)
                key = f"{kind}-{target.name}-{n}-{uuid.uuid4().hex[:6]}"
                sent = time.monotonic()
                cause(n, key)
                posted.append(time.monotonic() - sent)
                heard = clients.wait_for(key, 1, EVENT_WAIT_S)
                if heard:
                    took.append(heard[0] - sent)
                else:
                    result.missed_events += 1
            result.latency_ms[kind] = summary(took)
            result.latency_ms[f"{kind} request"] = summary(posted)
        result.latency_ms["health"] = summary(health)
        if target.messages is not None and args.broadcasts:
            broadcast(target, admin, clients, result, args, budget)


def broadcast(
    target: Target,
    admin: httpx.Client,
    clients: Clients,
    result: Result,
    args: argparse.Namespace,
    budget: Budget,
) -> None:
    """Messages to group ``everyone``: every open stream should hear each."""
    alive = int(clients.stats()["alive"])
    lasts, medians, requests = [], [], []
    for n in range(args.broadcasts):
        budget.check()
        key = f"everyone-{target.name}-{n}-{uuid.uuid4().hex[:6]}"
        sent = time.monotonic()
        answer = expect(admin.post(f"{target.messages}/messages",
                                   json={"text": key, "groups": [GROUP]}))  # fmt: skip
        requests.append(time.monotonic() - sent)
        if answer["recipients"] != result.clients:
            raise BenchError(f"message to {GROUP}: {answer['recipients']} recipients")
        heard = sorted(t - sent for t in clients.wait_for(key, alive, BROADCAST_WAIT_S))
        if len(heard) < alive:
            result.missed_events += alive - len(heard)
        if heard:
            lasts.append(heard[-1])
            medians.append(heard[len(heard) // 2])
        time.sleep(0.5)
    result.broadcast_ms = {
        "streams": alive,
        "request_p50": summary(requests)["p50"],
        "median_p50": summary(medians)["p50"],
        "last_p50": summary(lasts)["p50"],
        "last_max": summary(lasts)["max"],
    }


def report(result: Result) -> None:
    rss = result.rss_kib
    print(
        f"  RSS before {mib(rss['before']):.1f} MiB, connected {mib(rss['connected']):.1f}, "
        f"after the hold {mib(rss['held']):.1f}, after the samples {mib(rss['after']):.1f}: "
        f"{result.per_1000_mib():.1f} MiB per 1,000 streams (less the idle drift over "
        f"those {result.drift_seconds:.0f} s: {result.per_1000_mib(net=True):.1f}); CPU "
        f"over the hold less idle: {result.hold_cpu_percent - result.idle_cpu_percent:.2f} %"
    )
    for name, kib in result.others_rss_kib.items():
        print(f"  {name} RSS {mib(kib['before']):.1f} -> {mib(kib['after']):.1f} MiB")
    health = result.latency_ms.get("health", {}).get("p50", 0.0) or 1e-9
    for kind, values in result.latency_ms.items():
        ratio = "" if kind == "health" else f"  ({values['p50'] / health:.1f}x health at p50)"
        print(f"  {kind:<20} n={values['n']:<4} p50 {values['p50']:7.2f} ms  p95 "
              f"{values['p95']:7.2f}  p99 {values['p99']:7.2f}  max {values['max']:7.2f}"
              f"{ratio}")  # fmt: skip
    if result.broadcast_ms:
        b = result.broadcast_ms
        print(f"  message to {b['streams']:.0f} streams: request p50 {b['request_p50']:.1f} ms, "
              f"half heard p50 {b['median_p50']:.1f} ms, all heard p50 {b['last_p50']:.1f} ms "
              f"(max {b['last_max']:.1f})")  # fmt: skip
    print(f"  missed events {result.missed_events}; errors {result.errors or 0}; goals "
          f"{ {k: 'met' if v else 'MISSED' for k, v in result.goals().items()} }")  # fmt: skip


# --- the world -------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.2)


def site_mode(site: SiteProcess) -> dict[str, Any]:
    try:
        return site.status()
    except (httpx.HTTPError, ValueError):
        return {}


def caught_up(app: AppServer, site: SiteProcess) -> bool:
    head = int(httpx.get(f"{app.api}/health", timeout=5).json()["change_seq"])
    status = site_mode(site)
    return status.get("mode") == "online" and int(status.get("replica_seq", -1)) >= head


def run(args: argparse.Namespace) -> list[Result]:
    os.environ["PRINTWARDEN_CLIENT__HEARTBEAT_SECONDS"] = str(args.heartbeat)
    os.environ["PRINTWARDEN_CLIENT__STREAM_MINUTES"] = str(STREAM_MINUTES)
    budget = Budget(args.budget, "user client events")
    parts = ["app", "site", "offline"] if args.part == "all" else [args.part]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pw-events-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'app.db'}"
        (root / "app").mkdir()
        started = time.monotonic()
        seeded = seed(url, root / "app", args.clients)
        print(f"seeded {args.clients} users and client tokens in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        app = AppServer(url, root / "app")
        app.start()
        site: SiteProcess | None = None
        try:
            first = real_login(app.api, seeded.names[0])
            seeded.client_tokens[0] = first
            admin = {"Authorization": f"Bearer {seeded.admin}"}
            printer = {"name": PRINTER, "colour": False,
                       "cost_model": {"sizes": {"default": PRICES}}}  # fmt: skip
            expect(httpx.post(f"{app.api}/printers", json=printer, headers=admin), 201)
            expect(httpx.patch(f"{app.api}/printers/{PRINTER}", json={"enabled": False},
                               headers=admin))  # fmt: skip
            assert app.process is not None
            app_pid = app.process.pid
            if "app" in parts:
                target = Target("app", app_pid, app.port, f"{app.api}/health", app.api,
                                app.api, seeded.provider)  # fmt: skip
                results.append(run_part(target, seeded, args, root / "app-clients", budget))
            if "site" in parts or "offline" in parts:
                online = site = SiteProcess(app.url, seeded.site_token, SITE, root / "site")
                site.start()
                wait_until(lambda: caught_up(app, online), "the site caught up", 120)
            if "site" in parts and site is not None and site.process is not None:
                target = Target("site", site.process.pid, site.port, f"{site.api}/health",
                                app.api, site.api, seeded.site_provider,
                                {"App Server": app_pid})  # fmt: skip
                results.append(run_part(target, seeded, args, root / "site-clients", budget))
            if "offline" in parts and site is not None:
                site.stop()
                nowhere = f"http://127.0.0.1:{free_port()}"  # nobody listens: HQ unreachable
                site = SiteProcess(nowhere, seeded.site_token, SITE, root / "site", port=site.port)
                site.start()
                offline = site
                wait_until(lambda: site_mode(offline).get("mode") == "offline", "offline", 60)
                assert site.process is not None
                target = Target("offline", site.process.pid, site.port, f"{site.api}/health",
                                None, site.api, seeded.site_provider)  # fmt: skip
                results.append(run_part(target, seeded, args, root / "offline-clients", budget))
        finally:
            if site is not None:
                site.stop()
            app.stop()
            for log in (app.data_dir / "server.log", root / "site" / "site.log"):
                found = tracebacks(log)
                if found:
                    print(f"  {found} tracebacks in {log.name}:\n{log.read_text()[-3000:]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="User Client event streams: 1,000 clients.")
    parser.add_argument("--part", choices=["all", "app", "site", "offline"], default="all")
    parser.add_argument("--clients", type=int, default=1000, help="streams, one user each")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="[client] heartbeat (s)")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds the streams are held")
    parser.add_argument("--baseline", type=float, default=20.0, help="idle seconds, no client")
    parser.add_argument("--samples", type=int, default=300, help="messages, one at a time")
    parser.add_argument("--denials", type=int, default=200, help="denied jobs, one at a time")
    parser.add_argument("--broadcasts", type=int, default=5, help="messages to every stream")
    parser.add_argument("--budget", type=float, default=1500.0, help="seconds for the whole run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    if not 1 <= args.clients <= 5000 or args.clients < WARM_STREAMS:
        raise SystemExit(f"--clients: {WARM_STREAMS} to 5,000")
    print(f"user client events: {args.clients} streams, heartbeat {args.heartbeat:g} s, hold "
          f"{args.hold:g} s, {args.samples} messages, {args.denials} denials")  # fmt: skip
    print_machine()
    try:
        results = run(args)
    except (BudgetExceeded, ClientsError) as exc:
        raise SystemExit(str(exc)) from None
    print("BENCH_RESULT " + json.dumps([r.__dict__ for r in results]))
    missed = [f"{r.part}: {k}" for r in results for k, ok in r.goals().items() if not ok]
    print(f"goals missed: {', '.join(missed)}" if missed else "every goal met")
    if args.strict and missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
