"""A flood of bad logins against a real App Server: do other users notice?

``python bench/login_flood.py [--backend sqlite|postgresql] [--attempts 1000] [--clients 16]``

1. Seeds users (a few flood targets with passwords, people with session tokens, an admin)
   and starts ``python -m printwarden app serve`` (one uvicorn worker) and, unless
   ``--no-site``, a Site Server in front of it.
2. *Normal*: two client threads act as other users — ``GET /api/v1/me`` with a person's
   token and an admin top-up (a write) in turn — for ``--normal-seconds``.
3. *Flood*: ``--clients`` threads, each from its own loopback address (127.0.1.x: distinct
   clients, so the per-address limit does not end the flood at once), send ``--attempts``
   wrong logins in all (``POST /api/v1/auth/login``: half wrong passwords of real users,
   half unknown users), while the same two threads go on measuring and the Site Server's
   mode is polled.

The figure: the other users' p99 under the flood against their normal p99 (goal: within
2x), the answers to the flood (goal: no 5xx), and whether the site stayed online.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness import Budget, database_url, load_average, print_machine
from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.security import hash_secret
from printwarden.sim.ports import free_port
from printwarden.store import sites, tokens, users
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade

PASSWORD = "correct horse battery staple"
STARTUP_SECONDS = 60.0
SITE = "flood-site"


@dataclass(frozen=True, slots=True)
class Seeded:
    admin: str
    people: list[str]  # session tokens
    accounts: list[int]  # the people's personal accounts, for top-ups
    targets: list[str]  # usernames with a password, guessed at by the flood
    site_token: str


def seed(url: str, data_dir: Path, people: int, targets: int) -> Seeded:
    upgrade(url)
    secret = Settings(data_dir=data_dir, database_url=url).resolved_secret()
    database = Database(url)
    hashed = hash_secret(PASSWORD)  # one hash for all: seeding need not take a second each
    try:
        with database.session() as session:
            admin_row = users.create_user(session, secret, "boss", users.UserChanges(is_admin=True))
            admin, _ = tokens.issue_token(session, Role.ADMIN, name="bench", user_id=admin_row.id)
            sessions, accounts = [], []
            for n in range(people):
                row = users.create_user(session, secret, f"person{n:03d}", users.UserChanges())
                token, _ = tokens.issue_token(session, Role.USER, name="bench", user_id=row.id)
                sessions.append(token)
                accounts.append(users.personal_account(session, row.id).id)
            names = []
            for n in range(targets):
                row = users.create_user(session, secret, f"target{n:03d}", users.UserChanges())
                row.password_hash = hashed
                names.append(row.username)
            sites.create_site(session, SITE, "bench")
            site_token, _ = tokens.issue_token(session, Role.SITE, name="bench", scope=SITE)
    finally:
        database.dispose()
    return Seeded(admin, sessions, accounts, names, site_token)


@dataclass
class Process:
    """A printwarden process (App Server or Site Server) and its log."""

    command: list[str]
    log: Path
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "printwarden", *self.command],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited:\n{self.tail()}")
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.command[0]} did not answer:\n{self.tail()}")

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback") if self.log.exists() else 0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def servers(url: str, data_dir: Path, seeded: Seeded, site: bool) -> Iterator[tuple[str, str]]:
    """The App Server (and a Site Server) running; their base URLs ("" for no site)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PRINTWARDEN_DATA_DIR": str(data_dir), "PRINTWARDEN_DATABASE_URL": url}
    app = Process(["app", "serve", "--port", str(port)], data_dir / "app.log",
                  f"{base}/api/v1/health", env)  # fmt: skip
    site_process = None
    try:
        app.start()
        site_url = ""
        if site:
            site_port = free_port()
            site_url = f"http://127.0.0.1:{site_port}"
            site_process = Process(
                ["site", "serve", "--upstream", base, "--site", SITE,
                 "--data-dir", str(data_dir / "site"), "--port", str(site_port)],
                data_dir / "site.log", f"{site_url}/site/status",
                {"PRINTWARDEN_TOKEN": seeded.site_token},
            )  # fmt: skip
            site_process.start()
            wait_online(site_url)
        yield base, site_url
    finally:
        for process in (site_process, app):
            if process is not None:
                errors = process.tracebacks()
                if errors:
                    print(f"  {process.command[0]}: {errors} tracebacks in {process.log}")
                process.stop()


def wait_online(site_url: str) -> None:
    deadline = time.monotonic() + 60
    while site_mode(site_url) != "online":
        if time.monotonic() > deadline:
            raise RuntimeError("the Site Server did not go online")
        time.sleep(0.2)


def site_mode(site_url: str) -> str:
    try:
        return str(httpx.get(f"{site_url}/site/status", timeout=2).json()["mode"])
    except (httpx.HTTPError, ValueError, KeyError):
        return "unreachable"


# --- the two workloads ------------------------------------------------------------------------


@dataclass
class Samples:
    """Latencies (ms) and statuses of the other users' requests, per phase."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: dict[str, collections.Counter[int]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, phase: str, millis: float, status: int) -> None:
        with self.lock:
            self.latencies[phase].append(millis)
            self.statuses[phase][status] += 1


def other_users(
    base: str, seeded: Seeded, samples: Samples, phase: list[str], stop: threading.Event, n: int
) -> None:
    """A person reading their balance, and an admin topping someone up, in turn."""
    api = f"{base}/api/v1"
    with httpx.Client(timeout=30) as client:
        for i in itertools.count(n):
            if stop.is_set():
                return
            person = seeded.people[i % len(seeded.people)]
            if i % 2:
                headers = {"Authorization": f"Bearer {person}"}
                request = client.build_request("GET", f"{api}/me", headers=headers)
            else:
                account = seeded.accounts[i % len(seeded.accounts)]
                body = {"txn_id": str(uuid.uuid4()), "amount": 1}
                request = client.build_request(
                    "POST", f"{api}/accounts/by-id/{account}/top-up", json=body,
                    headers={"Authorization": f"Bearer {seeded.admin}"},
                )  # fmt: skip
            start = time.perf_counter()
            try:
                status = client.send(request).status_code
            except httpx.HTTPError:
                status = 0
            samples.add(phase[0], (time.perf_counter() - start) * 1000, status)
            time.sleep(0.005)  # a user's pace, not a benchmark loop of its own


def flood(
    base: str, seeded: Seeded, attempts: int, clients: int, budget: Budget
) -> collections.Counter[int]:
    """``attempts`` wrong logins from ``clients`` threads, each from its own address."""
    counts: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    left = iter(range(attempts))

    def client(n: int) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.1.{n + 1}")
        with httpx.Client(transport=transport, timeout=60) as http:
            for attempt in left:  # shared: the threads take attempts until none are left
                budget.check()
                name = (seeded.targets[attempt % len(seeded.targets)] if attempt % 2
                        else f"nobody{attempt}")  # fmt: skip
                body = {"username": name, "password": f"guess{attempt}"}
                try:
                    status = http.post(f"{base}/api/v1/auth/login", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    counts[status] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> int:
    print(f"login flood: {args.attempts} bad logins from {args.clients} clients, "
          f"{args.backend}, load {load_average()}")  # fmt: skip
    print_machine()
    with tempfile.TemporaryDirectory(prefix="pw-flood-") as tmp:
        data_dir = Path(tmp)
        with database_url(args.backend, data_dir) as url:
            seeded = seed(url, data_dir, people=20, targets=args.targets)
            with servers(url, data_dir, seeded, not args.no_site) as (base, site_url):
                return measure(args, base, site_url, seeded)


def measure(args: argparse.Namespace, base: str, site_url: str, seeded: Seeded) -> int:
    samples, phase, stop = Samples(), ["warm-up"], threading.Event()
    workers = [threading.Thread(target=other_users, args=(base, seeded, samples, phase, stop, n))
               for n in range(2)]  # fmt: skip
    for worker in workers:
        worker.start()
    modes: collections.Counter[str] = collections.Counter()
    try:
        time.sleep(2)
        phase[0] = "normal"
        time.sleep(args.normal_seconds)
        phase[0] = "flood"
        watching = threading.Event()
        watcher = threading.Thread(target=watch_site, args=(site_url, modes, watching))
        if site_url:
            watcher.start()
        started = time.perf_counter()
        counts = flood(base, seeded, args.attempts, args.clients, Budget(600, "login flood"))
        took = time.perf_counter() - started
        watching.set()
        if site_url:
            watcher.join()
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    return report(samples, counts, took, modes)


def watch_site(site_url: str, modes: collections.Counter[str], done: threading.Event) -> None:
    while not done.wait(0.25):
        modes[site_mode(site_url)] += 1


def report(
    samples: Samples, counts: collections.Counter[int], took: float,
    modes: collections.Counter[str],
) -> int:  # fmt: skip
    normal, flooded = samples.latencies["normal"], samples.latencies["flood"]
    answers = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(counts.items()))
    print(f"flood: {sum(counts.values())} logins in {took:.1f} s: {answers}")
    for name, values in (("normal", normal), ("flood", flooded)):
        statuses = dict(samples.statuses[name])
        print(f"other users, {name:<6}: {len(values)} requests, p50 "
              f"{statistics.median(values):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
              f"max {max(values):.1f} ms, statuses {statuses}")  # fmt: skip
    ratio = percentile(flooded, 99) / percentile(normal, 99)
    print(f"p99 under the flood / normal p99: {ratio:.2f} (goal <= 2)")
    if modes:
        print(f"site mode during the flood (polled every 0.25 s): {dict(modes)}")
    server_errors = sum(n for status, n in counts.items() if status >= 500 or status == 0)
    others_failed = sum(n for s, n in samples.statuses["flood"].items() if not 200 <= s < 300)
    print(f"5xx or no answer to the flood: {server_errors}; other users' failures: {others_failed}")
    ok = server_errors == 0 and others_failed == 0 and set(modes) <= {"online"}
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16, metavar="1-249", choices=range(1, 250))
    parser.add_argument("--targets", type=int, default=50, help="real users guessed at")
    parser.add_argument("--normal-seconds", type=float, default=15.0)
    parser.add_argument("--no-site", action="store_true", help="no Site Server")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
