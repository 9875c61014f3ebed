"""Site Servers: failover, reconciliation throughput, initial sync and change latency.

    .venv/bin/python bench/site.py                      # all three parts, full sizes (~12 min)
    .venv/bin/python bench/site.py --quick              # small sizes: a smoke test (~3 min)
    .venv/bin/python bench/site.py --part failover --cycles 10
    .venv/bin/python bench/site.py --part reconcile --backend postgresql --entries 20000
    .venv/bin/python bench/site.py --part sync --users 100000 --py-spy /tmp/spy

Real processes throughout: an App Server (``printwarden app serve``), a Site Server
(``printwarden site serve``) reaching it through ``printwarden.sim.link.Link`` (a
fault-injecting TCP proxy in this process), everything on 127.0.0.1.

1. Failover (App Server on SQLite). 200 unrestricted users, a printer. 4 client threads, each
   with its own httpx client (timeout 10 s) and a provider token, send
   ``POST /api/v1/jobs/decision`` to the Site Server back to back. Each cycle: 2 s steady,
   cut the link, poll ``GET /site/status`` (every 20 ms) until ``mode == "offline"``, stay
   offline 1 s, restore the link, wait until ``mode == "online"``, 2 s steady. Then as many
   cycles with the clients paused (idle: only the heartbeat notices the cut). Measured per
   cycle: cut -> offline seen; the longest request overlapping [cut, offline + 1 s]; the
   longest overlapping [restore, online + 1 s]; restore -> online (hysteresis + reconcile).
   A request fails if it raises, answers non-200 or the verdict is not ``allow``.
   Goal: offline <= 3 s after the cut, 0 failed requests.

2. Reconciliation (SQLite and PostgreSQL). 1,000 funded users; a journal of ``--entries``
   entries as a Site Server writes them (80 % ``printed`` jobs of those users on the printer,
   20 % walk-up ``usage`` on the site's MFD), pre-encoded, POSTed in order to
   ``/api/v1/sites/{site}/journal`` in batches of ``--batch`` with the site token, one after
   the other as the Site Server does. Rate = entries / wall time of all uploads. Then the
   very same batches again (a replay): every entry must be ``already_applied`` and the
   ledger (count, sum, every balance) unchanged. Checked: every entry applied once, the
   charged amounts equal the domain's costs, ``balance == SUM(ledger)`` for every account.
   Anchor: the same number of ledger transactions, in the same batches, on the same accounts
   and database, through ``store.ledger.apply_transactions`` in this process (as
   bench/ledger.py) — the floor a journal entry cannot beat, since each one ends in a ledger
   transaction. Goal: >= 10,000 entries/s.

3. Initial sync (SQLite and PostgreSQL). ``--users`` users (each with a card, in one of two
   groups, a personal account) are written at HQ with SQLAlchemy executemany in one database
   transaction, in two shapes (``--shape``): ``one-transaction`` — they share one change
   sequence number, as one CSV import or directory sync leaves them; ``per-user`` — each has
   a number of its own, as users created over time (the feed pages by sequence numbers;
   a new site's snapshot pages both by key). A Site Server with an empty data directory starts;
   measured from its process start until ``/site/status`` shows ``replica_seq`` >= the App
   Server's ``/api/v1/health`` ``change_seq``; the replica must then hold every user and
   card. A sync whose first page the site has asked for ``STUCK_PULLS`` times in vain is
   declared stuck (it would only repeat). Then ``--changes`` online changes at HQ
   (alternately a new card via ``PATCH /users/{name}`` and a top-up), each timed from just
   before the request until the Site Server's replica (``DATA_DIR/replica.db``, read-only)
   shows it. Anchor for the sync: HQ's own bulk write of the same rows (executemany, card
   HMACs included). Goals: initial sync <= 10 s; a change visible at the site <= 2 s.

Every loop is bounded in count and time (``--budget``, ``--sync-timeout``, 30-90 s per
wait); ``--strict`` exits 1 when a goal is missed; ``--py-spy DIR`` records (``--gil``) the
App Server during the uploads, and the Site Server and the App Server during the initial sync
(timings then include py-spy's overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from harness import (
    BACKENDS,
    Budget,
    BudgetExceeded,
    chunks,
    database_url,
    load_average,
    print_machine,
)
from printwarden import keys, security
from printwarden.domain.accounts import Role
from printwarden.domain.charges import prices_digest
from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.ids import new_id
from printwarden.domain.journal import UPLOAD_LIMIT
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.sim.link import Link
from printwarden.sim.ports import free_port
from printwarden.store import groups as group_store
from printwarden.store import ledger
from printwarden.store.changes import change_seq
from printwarden.store.db import Database
from printwarden.store.models import (
    AccountRow,
    CardRow,
    ChangeCounter,
    GroupRow,
    MembershipRow,
    PrintJobRow,
    TransactionRow,
    UserRow,
)
from printwarden.store.printers import cost_model_from_json
from printwarden.testing.appserver import AppServer
from printwarden.testing.site import BEACON_PORT_ENV, SiteProcess, beacon_route
from provider_harness import BenchError, finish_py_spy, percentile, start_py_spy

GOAL_OFFLINE_S = 3.0
GOAL_ENTRIES_PER_S = 10_000
GOAL_SYNC_S = 10.0
GOAL_CHANGE_S = 2.0
ONE_TXN, PER_USER = "one-transaction", "per-user"
SHAPES = {
    ONE_TXN: "in one transaction (one change_seq: a CSV import, a directory sync)",
    PER_USER: "one change_seq each (created over time)",
}
# What a new Site Server asks for first: a snapshot page (printwarden.site.upstream).
SNAPSHOT_PAGE = 10_000
STUCK_PULLS = 10  # failed pulls of the first page after which a sync is declared stuck

SITE = "north"
PRINTER = "north-laser"
DEVICE = "north-mfd"
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
COST_MODEL: dict[str, Any] = {"sizes": {"default": PRICES}, "base_cost": 0, "group_modifiers": {}}
GROUPS = ("staff", "students")
CLIENT_THREADS = 4
CLIENT_TIMEOUT_S = 10.0
STATUS_POLL_S = 0.02
STARTUP_SECONDS = 60.0
FUNDS = 1_000_000


# --- processes -------------------------------------------------------------------------------


def site_status(site: SiteProcess, timeout: float = 5.0) -> dict[str, Any] | None:
    """``/site/status``, or None while the server does not answer."""
    try:
        response = httpx.get(f"{site.url}/site/status", timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    found: dict[str, Any] = response.json()
    return found


def check_alive(site: SiteProcess) -> None:
    if site.process is None or site.process.poll() is not None:
        raise BenchError(f"the Site Server exited: {site.log_tail()}")


def site_pid(site: SiteProcess) -> int:
    if site.process is None:
        raise BenchError("the Site Server is not running")
    return site.process.pid


@dataclass
class Hq:
    """A running App Server with a printer, the site defined, and an admin client."""

    app: AppServer
    admin: httpx.Client
    backend: str
    url: str
    key: bytes
    server_errors: int = 0

    def head(self) -> int:
        """The App Server's last change sequence number.

        Asked twice at most: on PostgreSQL the first read on a pooled connection idle for
        10 s or more answers 500 (``store/db.py`` pings it outside autocommit, see
        docs/benchmarks-notes.md); such answers are counted, not hidden.
        """
        for _attempt in range(2):
            response = httpx.get(f"{self.app.api}/health", timeout=10)
            if response.status_code == 200:
                return int(response.json()["change_seq"])
            self.server_errors += 1
        raise BenchError(f"/health answered {response.status_code}: {response.text[:300]}")

    def database(self) -> Database:
        return Database(self.url)

    def site_server(self, root: Path, upstream_port: int, hq_beacon: str = "") -> SiteProcess:
        """The site's Site Server (not started; its start is timed by :func:`run_sync`),
        holding HQ's beacon at ``hq_beacon`` (HOST:PORT) if given."""
        site = SiteProcess(
            f"http://127.0.0.1:{upstream_port}",
            self.app.token(Role.SITE, scope=SITE),
            SITE,
            root,
        )
        site.hq_beacon = hq_beacon
        return site


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise BenchError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


@contextmanager
def hq(backend: str, root: Path, beacon: bool = False) -> Iterator[Hq]:
    """An App Server on a fresh ``backend`` database (with ``beacon``, a beacon port), a
    printer, the site; all torn down."""
    with database_url(backend, root) as url:
        app = AppServer(url, root / "app")
        if beacon:
            app.extra_env[BEACON_PORT_ENV] = str(free_port())
        app.data_dir.mkdir(parents=True, exist_ok=True)
        app.start()
        admin: httpx.Client | None = None
        try:
            token = app.token(Role.ADMIN, "bench-admin")
            admin = httpx.Client(
                base_url=app.api, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            body = {"name": PRINTER, "colour": True, "cost_model": COST_MODEL}
            expect(admin.post("/printers", json=body), 201)
            expect(admin.post("/sites", json={"name": SITE}), 201)
            key = app.settings().resolved_secret()
            yield Hq(app, admin, backend, url, key)
        finally:
            if admin is not None:
                admin.close()
            app.stop()


@contextmanager
def link_to(app: AppServer) -> Iterator[Link]:
    """A link to ``app``, and to its beacon if it has one (``beacon_route``)."""
    link = Link("127.0.0.1", 0, "127.0.0.1", app.port)
    link.add_route("127.0.0.1", 0, "127.0.0.1", app.port)  # as site_link's route back
    beacon = app.extra_env.get(BEACON_PORT_ENV)
    if beacon:
        link.add_route("127.0.0.1", 0, "127.0.0.1", int(beacon))
    link.start()
    try:
        yield link
    finally:
        link.stop()


@contextmanager
def running(site: SiteProcess) -> Iterator[SiteProcess]:
    try:
        yield site
    finally:
        site.stop()


@contextmanager
def spying(directory: Path | None, name: str, pid: int, what: str) -> Iterator[None]:
    """py-spy (``--gil``: where the CPU goes) on ``pid`` while the block runs, if asked."""
    if directory is None:
        yield
        return
    out = directory / f"{name}.txt"
    recorder = start_py_spy(pid, out, 3600)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes what it has
        print(f"  py-spy of {what} ({out}):\n{finish_py_spy(recorder, out)}", flush=True)


def wait_until(
    condition: Callable[[], bool], what: str, seconds: float, budget: Budget, every: float = 0.05
) -> float:
    """Poll ``condition`` until true; the monotonic time it was first seen true."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return time.monotonic()
        budget.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def caught_up(hq_: Hq, site: SiteProcess) -> bool:
    status = site_status(site)
    head = hq_.head()
    return status is not None and status["mode"] == "online" and status["replica_seq"] >= head


# --- seeding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    usernames: list[str]
    cards: dict[str, str]  # username -> card number
    account_ids: dict[str, int]  # username -> personal account id
    seq: int


def card_number(n: int) -> str:
    return f"1{n:09d}"


def bulk_users(
    database: Database,
    key: bytes,
    prefix: str,
    count: int,
    *,
    restricted: bool,
    funds: int = 0,
    seq_each: bool = False,
) -> Seeded:
    """``count`` users, each with a card, a group and a personal account, written in one
    database transaction. By default they share its change sequence number, as a CSV import
    or a directory sync writes them; ``seq_each`` gives each user a number of its own (and
    moves the counter on), as if each had been created in a transaction of its own — the
    feed pages by sequence numbers, so only then does it split them into pages. Then
    ``funds`` are credited to each through the ledger (one more transaction)."""
    names = [f"{prefix}{n:06d}" for n in range(count)]
    cards = {name: card_number(n) for n, name in enumerate(names)}
    now = datetime.now(UTC)
    with database.session() as session:
        first = change_seq(session)
        seqs = {name: first + n if seq_each else first for n, name in enumerate(names)}
        if seq_each and count > 1:
            counter = update(ChangeCounter).where(ChangeCounter.id == 1)
            session.execute(counter.values(value=first + count - 1))
        group_store.ensure_groups(session, set(GROUPS), "internal")
        named = select(GroupRow.name, GroupRow.id).where(GroupRow.name.in_(GROUPS))
        group_ids: dict[str, int] = {str(n): int(i) for n, i in session.execute(named)}
        for some_names in chunks(names, 10_000):
            rows = [_user(name, now, seqs[name]) for name in some_names]
            session.execute(insert(UserRow), rows)
        mine = select(UserRow.username, UserRow.id).where(UserRow.username.like(f"{prefix}%"))
        ids: dict[str, int] = {str(n): int(i) for n, i in session.execute(mine)}
        for some in chunks([(name, ids[name]) for name in names], 10_000):
            session.execute(
                insert(AccountRow),
                [_account(name, uid, restricted, seqs[name]) for name, uid in some],
            )
            cards_rows = [_card(key, cards[name], uid, seqs[name]) for name, uid in some]
            session.execute(insert(CardRow), cards_rows)
            members = [
                {"user_id": uid, "group_id": group_ids[GROUPS[uid % 2]],
                 "change_seq": seqs[name]}
                for name, uid in some
            ]  # fmt: skip
            session.execute(insert(MembershipRow), members)
        personal = select(AccountRow.name, AccountRow.id).where(
            AccountRow.kind == "personal", AccountRow.name.like(f"{prefix}%")
        )
        accounts: dict[str, int] = {str(n): int(i) for n, i in session.execute(personal)}
    if funds:
        top_ups = [
            Transaction(new_id(), accounts[n], funds, TransactionKind.TOP_UP, reference="bench")
            for n in names
        ]
        with database.session() as session:
            for batch in chunks(top_ups, 5_000):
                ledger.apply_transactions(session, batch)
    return Seeded(names, cards, {n: accounts[n] for n in names}, first)


def _card(key: bytes, number: str, uid: int, seq: int) -> dict[str, Any]:
    """A card as ``store.users.replace_cards`` keeps it: HQ's hash and the sealed number."""
    hashed = security.card_hash(key, number)
    sealed = keys.seal(key, keys.CARD, hashed, security.normalize_card(number))
    return {"card_hash": hashed, "user_id": uid, "change_seq": seq, "sealed": sealed}


def _user(name: str, now: datetime, seq: int) -> dict[str, Any]:
    return {
        "username": name, "full_name": f"Bench {name}", "email": f"{name}@example.org",
        "is_admin": False, "enabled": True, "source": "internal", "identity_hash": None,
        "pin_hash": None, "password_hash": None, "created_at": now, "updated_at": now,
        "deleted_at": None, "change_seq": seq,
    }  # fmt: skip


def _account(name: str, uid: int, restricted: bool, seq: int) -> dict[str, Any]:
    return {
        "kind": "personal", "name": name, "owner_id": uid, "parent_id": None, "balance": 0,
        "restricted": restricted, "credit_limit": 0, "enabled": True, "code": None,
        "pin_hash": None, "comment": "", "deleted_at": None, "change_seq": seq,
    }  # fmt: skip


def seed(
    hq_: Hq, prefix: str, count: int, *, restricted: bool, funds: int = 0, seq_each: bool = False
) -> Seeded:
    database = hq_.database()
    try:
        return bulk_users(
            database, hq_.key, prefix, count, restricted=restricted, funds=funds, seq_each=seq_each
        )
    finally:
        database.dispose()


# --- 1. failover -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    started: float
    ended: float
    ok: bool
    what: str

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Cycle:
    loaded: bool
    cut: float
    offline: float
    up: float
    online: float
    worst_cut_s: float
    worst_up_s: float
    requests_during: int

    @property
    def to_offline_s(self) -> float:
        return self.offline - self.cut

    @property
    def to_online_s(self) -> float:
        return self.online - self.up


@dataclass(frozen=True)
class FailoverResult:
    cycles: list[Cycle]
    requests: int
    failed: list[Request]
    steady_p50_ms: float
    steady_p99_ms: float
    max_latency_s: float

    @property
    def offline_p50(self) -> float:
        return statistics.median(c.to_offline_s for c in self.cycles)

    @property
    def offline_max(self) -> float:
        return max(c.to_offline_s for c in self.cycles)

    @property
    def meets_goal(self) -> bool:
        return self.offline_max <= GOAL_OFFLINE_S and not self.failed


class Clients:
    """``CLIENT_THREADS`` threads sending job decisions to the site back to back."""

    def __init__(self, url: str, token: str, usernames: Sequence[str], seconds: float) -> None:
        self.url, self.token, self.usernames = url, token, list(usernames)
        self.seconds = seconds  # a hard bound on the threads' lives
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.lock = threading.Lock()
        self.done: list[Request] = []
        self.threads = [
            threading.Thread(target=self._run, args=(n,), name=f"client-{n}", daemon=True)
            for n in range(CLIENT_THREADS)
        ]

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 5)

    def _run(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        deadline = time.monotonic() + self.seconds
        rng = random.Random(n)
        with httpx.Client(base_url=self.url, headers=headers, timeout=CLIENT_TIMEOUT_S) as client:
            while not self.stop.is_set() and time.monotonic() < deadline:
                if self.paused.is_set():
                    time.sleep(0.01)
                    continue
                body = {"username": rng.choice(self.usernames), "printer": PRINTER,
                        "pages": 2, "colour_pages": 1}  # fmt: skip
                started = time.monotonic()
                try:
                    response = client.post("/jobs/decision", json=body)
                    verdict = response.json().get("verdict") if response.status_code == 200 else ""
                    ok = verdict == "allow"
                    what = f"{response.status_code} {verdict or response.text[:200]}"
                except (httpx.HTTPError, ValueError) as exc:
                    ok, what = False, f"{type(exc).__name__}: {exc}"
                with self.lock:
                    self.done.append(Request(started, time.monotonic(), ok, what))

    def snapshot(self) -> list[Request]:
        with self.lock:
            return list(self.done)


def worst_overlapping(requests: Sequence[Request], start: float, end: float) -> float:
    """The longest latency of the requests in flight at some point of [start, end]."""
    return max((r.latency for r in requests if r.started <= end and r.ended >= start), default=0)


def run_failover(cycles: int, root: Path, budget: Budget, beacon: bool = False) -> FailoverResult:
    """``cycles`` cuts under client load, then ``cycles`` with the clients paused (only the
    site's heartbeat can notice the cut then); with ``beacon``, the site holds HQ's beacon
    through the link (its heartbeat then)."""
    with hq("sqlite", root, beacon) as hq_, link_to(hq_.app) as link:
        people = seed(hq_, "fo", 200, restricted=False)
        site = hq_.site_server(root / "site", link.port, beacon_route(link) if beacon else "")
        provider_token = hq_.app.token(Role.PROVIDER)
        site.launch()
        with running(site):
            site.wait_ready(STARTUP_SECONDS)
            wait_until(lambda: caught_up(hq_, site), "the site to catch up", 120, budget)
            bound = 2 * cycles * 90.0 + 30
            plan: list[tuple[bool, float, float, float, float]] = []
            with Clients(site.api, provider_token, people.usernames, bound) as clients:
                time.sleep(2.0)
                for n in range(2 * cycles):
                    loaded = n < cycles
                    if n == cycles:
                        clients.paused.set()
                        time.sleep(CLIENT_TIMEOUT_S / 5)  # requests in flight end first
                    budget.check()
                    timing = cut_and_restore(link, site, budget)
                    plan.append((loaded, *timing))
                    cut, offline, up, online = timing
                    print(
                        f"  cycle {n + 1} ({'under load' if loaded else 'idle'}): offline "
                        f"after {offline - cut:.2f} s, online {online - up:.2f} s after the "
                        f"link returned",
                        flush=True,
                    )
            done = clients.snapshot()
    result_cycles = [
        Cycle(loaded, cut, off, up, on, worst_overlapping(done, cut, off + 1.0),
              worst_overlapping(done, up, on + 1.0),
              sum(1 for r in done if cut <= r.started <= on))
        for loaded, cut, off, up, on in plan
    ]  # fmt: skip
    first_cut = plan[0][1] if plan else float("inf")
    steady = [r.latency * 1000 for r in done if r.ended < first_cut]
    return FailoverResult(
        cycles=result_cycles,
        requests=len(done),
        failed=[r for r in done if not r.ok],
        steady_p50_ms=percentile(steady, 0.5) if steady else 0.0,
        steady_p99_ms=percentile(steady, 0.99) if steady else 0.0,
        max_latency_s=max((r.latency for r in done), default=0.0),
    )


def cut_and_restore(
    link: Link, site: SiteProcess, budget: Budget
) -> tuple[float, float, float, float]:
    """Cut, wait offline, 1 s offline, restore, wait online, 2 s online: the four moments."""
    link.down()
    cut = time.monotonic()
    offline = wait_until(lambda: _mode(site) == "offline", "offline", 30, budget, STATUS_POLL_S)
    time.sleep(1.0)
    link.up()
    up = time.monotonic()
    online = wait_until(lambda: _mode(site) == "online", "online", 90, budget, STATUS_POLL_S)
    time.sleep(2.0)
    return cut, offline, up, online


def _mode(site: SiteProcess) -> str:
    check_alive(site)
    status = site_status(site, timeout=2.0)
    return str(status["mode"]) if status else "?"


def report_failover(result: FailoverResult) -> None:
    goal = "met" if result.meets_goal else "MISSED"
    loaded = [c for c in result.cycles if c.loaded]
    idle = [c for c in result.cycles if not c.loaded]
    print(
        f"failover/sqlite: {len(loaded)} cuts under load ({CLIENT_THREADS} client threads, "
        f"{result.requests:,} decisions through the site), then {len(idle)} idle\n"
        f"  under load: cut -> offline         {_spread([c.to_offline_s for c in loaded])}\n"
        f"              longest request, cut     {_spread([c.worst_cut_s for c in loaded])}\n"
        f"              restore -> online        {_spread([c.to_online_s for c in loaded])}"
        f" (2 s hysteresis + reconciliation)\n"
        f"              longest request, restore {_spread([c.worst_up_s for c in loaded])}\n"
        f"  idle:       cut -> offline         {_spread([c.to_offline_s for c in idle])}\n"
        f"              restore -> online        {_spread([c.to_online_s for c in idle])}\n"
        f"  steady online: p50 {result.steady_p50_ms:.1f} ms, p99 {result.steady_p99_ms:.1f} ms;"
        f" longest request of the run {result.max_latency_s:.2f} s\n"
        f"  failed requests: {len(result.failed)}"
    )
    for failure in result.failed[:5]:
        print(f"    e.g. {failure.latency:.2f} s: {failure.what}")
    print(f"  goal offline <= {GOAL_OFFLINE_S:.0f} s, 0 failed: {goal}")


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values):5.2f} s  max {max(values):5.2f} s"


# --- 2. reconciliation -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileResult:
    backend: str
    entries: int
    batch: int
    upload_s: float
    replay_s: float
    anchor_s: float
    batch_p50_ms: float
    batch_max_ms: float
    charged: int

    @property
    def rate(self) -> float:
        return self.entries / self.upload_s

    @property
    def replay_rate(self) -> float:
        return self.entries / self.replay_s

    @property
    def anchor_rate(self) -> float:
        return self.entries / self.anchor_s

    @property
    def meets_goal(self) -> bool:
        return self.rate >= GOAL_ENTRIES_PER_S


def make_journal(people: Seeded, count: int, seed_: int = 20261125) -> tuple[list[Any], int]:
    """``count`` entries as a Site Server journals them; and what they must charge in total."""
    rng = random.Random(seed_)
    model = cost_model_from_json(COST_MODEL)
    digest = prices_digest(model)  # the printer's and the MFD's prices, as the site journals
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    entries: list[dict[str, Any]] = []
    total = 0
    for n in range(count):
        user = people.usernames[n % len(people.usernames)]
        at = start + timedelta(seconds=n)
        pages = rng.randint(1, 12)
        colour = rng.randint(0, pages) if rng.random() < 0.3 else 0
        duplex = rng.random() < 0.4
        if n % 5 != 4:
            copies = rng.choice((1, 1, 1, 2))
            usage = JobUsage(pages=pages, colour_pages=colour, copies=copies, duplex=duplex,
                             paper_size="A4")  # fmt: skip
            cost = job_cost(model, usage)
            txn = new_id()
            body: dict[str, Any] = {
                "txn_id": txn, "job_ref": f"north-{txn}", "username": user, "printer": PRINTER,
                "pages": pages, "colour_pages": colour, "copies": copies, "duplex": duplex,
                "paper_size": "A4", "account": "", "document_name": f"report-{n}.pdf",
                "printed_at": at.isoformat(), "cost": cost, "cost_model": digest,
                "cost_override": None, "script": "",
            }  # fmt: skip
            kind = "printed"
        else:
            usage = JobUsage(pages=pages, colour_pages=colour, copies=1, duplex=duplex,
                             paper_size="A4")  # fmt: skip
            cost = job_cost(model, usage)
            body = {
                "usage_id": new_id(), "device": DEVICE, "username": user,
                "account_id": people.account_ids[user], "kind": "copy", "pages": pages,
                "colour_pages": colour, "duplex": duplex, "paper_size": "A4", "cost": cost,
                "cost_model": digest,
            }  # fmt: skip
            kind = "usage"
        total += cost
        entries.append({"id": new_id(), "kind": kind, "at": at.isoformat(), "body": body})
    return entries, total


@dataclass(frozen=True)
class Ledger:
    """What the App Server's ledger holds: the reference for "a replay changed nothing"."""

    transactions: int
    total: int
    jobs: int
    balances: dict[int, int]
    mismatched: int  # accounts whose balance is not their ledger sum


def ledger_state(url: str) -> Ledger:
    """Read with an engine of its own: a pooled PostgreSQL connection idle for 10 s fails
    its next read (the store/db.py idle-ping bug reported in docs/benchmarks-notes.md)."""
    database = Database(url)
    try:
        return _ledger_state(database)
    finally:
        database.dispose()


def _ledger_state(database: Database) -> Ledger:
    with database.read() as session:
        count = int(session.scalar(select(func.count()).select_from(TransactionRow)) or 0)
        total = int(session.scalar(select(func.coalesce(func.sum(TransactionRow.amount), 0))) or 0)
        jobs = int(session.scalar(select(func.count()).select_from(PrintJobRow)) or 0)
        balances = {
            int(i): int(b) for i, b in session.execute(select(AccountRow.id, AccountRow.balance))
        }
        sums = dict(_sums(session))
    mismatched = sum(1 for i, b in balances.items() if sums.get(i, 0) != b)
    return Ledger(count, total, jobs, balances, mismatched)


def _sums(session: Session) -> Iterator[tuple[int, int]]:
    statement = select(TransactionRow.account_id, func.sum(TransactionRow.amount)).group_by(
        TransactionRow.account_id
    )
    for account_id, total in session.execute(statement):
        yield int(account_id), int(total)


def upload(
    client: httpx.Client, bodies: Sequence[bytes], sizes: Sequence[int], *, new: bool,
    budget: Budget,
) -> tuple[float, list[float], int]:  # fmt: skip
    """POST each batch in order; elapsed seconds, per-batch seconds, total charged."""
    per_batch: list[float] = []
    charged = 0
    started = time.perf_counter()
    for body, size in zip(bodies, sizes, strict=True):
        budget.check()
        began = time.perf_counter()
        response = client.post(f"/sites/{SITE}/journal", content=body)
        per_batch.append(time.perf_counter() - began)
        report = expect(response, 200)
        applied, already = int(report["applied"]), int(report["already_applied"])
        if (applied, already) != ((size, 0) if new else (0, size)):
            raise BenchError(f"expected every entry {'new' if new else 'old'}: {report}")
        charged += sum(int(v) for v in report["amounts"].values())
        if report["unknown_users"] or report["notes"] or report.get("rejected"):
            raise BenchError(f"unexpected report: {report}")
    return time.perf_counter() - started, per_batch, charged


def anchor(database: Database, people: Seeded, sizes: Sequence[int], budget: Budget) -> float:
    """The same number of ledger transactions, in the same batches, on the same accounts."""
    rng = random.Random(7)
    ids = list(people.account_ids.values())
    batches = [
        [Transaction(new_id(), rng.choice(ids), -rng.randint(1, 200), TransactionKind.PRINT,
                     reference="bench:anchor", origin=f"site:{SITE}") for _ in range(size)]
        for size in sizes
    ]  # fmt: skip
    started = time.perf_counter()
    for batch in batches:
        budget.check()
        with database.session() as session:
            results = ledger.apply_transactions(session, batch)
        if not all(new for _t, new in results):
            raise BenchError("anchor: a fresh transaction was not new")
    return time.perf_counter() - started


def run_reconcile(
    backend: str, entries_count: int, batch: int, root: Path, budget: Budget, spy: Path | None
) -> ReconcileResult:
    with hq(backend, root) as hq_:
        people = seed(hq_, "rc", 1_000, restricted=True, funds=FUNDS)
        hq_.app.device_token(DEVICE, PRINTER, cost_model=COST_MODEL)
        entries, expected = make_journal(people, entries_count)
        parts = list(chunks(entries, batch))
        bodies = [json.dumps({"entries": list(part)}).encode() for part in parts]
        sizes = [len(part) for part in parts]
        token = hq_.app.token(Role.SITE, scope=SITE)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        before = ledger_state(hq_.url)
        with httpx.Client(base_url=hq_.app.api, headers=headers, timeout=300) as client:
            expect(client.post(f"/sites/{SITE}/journal", content=b'{"entries": []}'), 200)
            with spying(spy, f"reconcile-{backend}-app", _pid(hq_.app), "the App Server"):
                upload_s, per_batch, charged = upload(
                    client, bodies, sizes, new=True, budget=budget
                )
            after = ledger_state(hq_.url)
            replay_s, _per, again = upload(client, bodies, sizes, new=False, budget=budget)
            replayed = ledger_state(hq_.url)
        _verify(before, after, replayed, entries_count, expected, charged, again)
        database = hq_.database()
        try:
            anchor_s = anchor(database, people, sizes, budget)
        finally:
            database.dispose()
    per_ms = [s * 1000 for s in per_batch]
    return ReconcileResult(
        backend, entries_count, batch, upload_s, replay_s, anchor_s,
        statistics.median(per_ms), max(per_ms), charged,
    )  # fmt: skip


def _pid(app: AppServer) -> int:
    if app.process is None:
        raise BenchError("the App Server is not running")
    return app.process.pid


def _verify(
    before: Ledger, after: Ledger, replayed: Ledger, count: int, expected: int, charged: int,
    again: int,
) -> None:  # fmt: skip
    problems = []
    if after.transactions - before.transactions != count:
        problems.append(f"{after.transactions - before.transactions} transactions for {count}")
    if before.total - after.total != expected or charged != expected:
        problems.append(
            f"charged {before.total - after.total} (report {charged}), expected {expected}"
        )
    if after.mismatched or replayed.mismatched:
        problems.append(f"{after.mismatched}/{replayed.mismatched} balances != ledger sum")
    if replayed != after or again != 0:
        problems.append(f"the replay changed the ledger (or charged {again})")
    if problems:
        raise BenchError("reconciliation: " + "; ".join(problems))


def report_reconcile(result: ReconcileResult) -> None:
    goal = "met" if result.meets_goal else "MISSED"
    print(
        f"reconcile/{result.backend}: {result.entries:,} journal entries (80 % printed, 20 % "
        f"usage) of 1,000 users, {result.batch:,} per upload\n"
        f"  upload  {result.rate:>9,.0f} entries/s ({result.upload_s:6.2f} s; per batch p50 "
        f"{result.batch_p50_ms:,.0f} ms, max {result.batch_max_ms:,.0f} ms)"
        f" = {result.rate / result.anchor_rate:.3f} x anchor\n"
        f"  replay  {result.replay_rate:>9,.0f} entries/s ({result.replay_s:6.2f} s): "
        f"all already applied, ledger unchanged\n"
        f"  anchor  {result.anchor_rate:>9,.0f} txn/s ({result.anchor_s:6.2f} s) "
        f"store.ledger.apply_transactions, same batches and accounts, in-process\n"
        f"  verified: each entry applied once, {result.charged:,} charged = the domain's "
        f"costs, balance == SUM(ledger) for every account\n"
        f"  goal >= {GOAL_ENTRIES_PER_S:,} entries/s: {goal}"
    )


# --- 3. initial sync and change latency ------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    backend: str
    shape: str
    users: int
    head: int
    answering_s: float  # process start -> /site/status answers
    sync_s: float  # process start -> replica_seq >= head
    changes: list[tuple[str, float]]
    replica_users: int
    replica_cards: int
    failed_pulls: list[str]
    anchor_s: float  # HQ's bulk write of the same rows
    health_500s: int  # /health answers 500 (the PostgreSQL idle-ping bug)

    @property
    def change_p50(self) -> float:
        return statistics.median(s for _w, s in self.changes) if self.changes else 0.0

    @property
    def change_max(self) -> float:
        return max((s for _w, s in self.changes), default=0.0)

    @property
    def meets_sync_goal(self) -> bool:
        return self.sync_s <= GOAL_SYNC_S

    @property
    def meets_change_goal(self) -> bool:
        return bool(self.changes) and self.change_max <= GOAL_CHANGE_S


class ReplicaReader:
    """The site's replica, read-only (what the site would answer with offline)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)

    def close(self) -> None:
        self.db.close()

    def one(self, query: str, *args: Any) -> Any:
        row = self.db.execute(query, args).fetchone()
        return row[0] if row else None


def run_sync(
    backend: str, shape: str, users: int, changes: int, root: Path, budget: Budget,
    spy: Path | None, timeout: float,
) -> SyncResult:  # fmt: skip
    with hq(backend, root) as hq_, link_to(hq_.app) as link:
        began = time.monotonic()
        people = seed(hq_, "u", users, restricted=True, seq_each=shape == PER_USER)
        seed_s = time.monotonic() - began
        print(f"  {users:,} users written at HQ in {seed_s:.1f} s "
              f"({shape}, from change_seq {people.seq})", flush=True)  # fmt: skip
        head = hq_.head()
        page = first_page(hq_)
        print(f"  the first snapshot page, fetched from HQ by the bench: {page[0]:.2f} s, "
              f"{page[1]:,} entities, {page[2] / 1e6:.1f} MB", flush=True)  # fmt: skip
        site = hq_.site_server(root / "site", link.port)
        start = time.monotonic()
        site.launch()
        with running(site):

            def synced() -> bool:
                check_alive(site)
                status = site_status(site, timeout=5.0)
                if status is None:
                    return False
                if not status["replica_seq"] and len(failed_pulls(site.log)) >= STUCK_PULLS:
                    raise BenchError(f"the site asked {STUCK_PULLS} times for its first page")
                return int(status["replica_seq"]) >= head

            with (
                spying(spy, f"sync-{backend}-{shape}-site", site_pid(site), "the Site Server"),
                spying(spy, f"sync-{backend}-{shape}-app", _pid(hq_.app), "the App Server"),
            ):
                answering = wait_until(
                    lambda: site_status(site, timeout=1.0) is not None,
                    "the site",
                    STARTUP_SECONDS,
                    budget,
                )
                try:
                    done = wait_until(synced, "the initial sync", timeout, budget, every=0.05)
                except BenchError as exc:
                    print(f"  gave up: {exc}")
                    done = float("inf")  # reported as a miss, with the site's log
            failures = failed_pulls(site.log)
            if done == float("inf"):
                return SyncResult(backend, shape, users, head, answering - start, done, [], 0,
                                  0, failures, seed_s, hq_.server_errors)  # fmt: skip
            replica = ReplicaReader(site.data_dir / "replica.db")
            try:
                replica_users = int(
                    replica.one("SELECT COUNT(*) FROM users WHERE username LIKE 'u%'")
                )
                replica_cards = int(replica.one("SELECT COUNT(*) FROM user_cards"))
                if replica_users != users or replica_cards < users:
                    raise BenchError(f"replica holds {replica_users} users, {replica_cards} cards")
                site_key = keys.site_card_key(hq_.key, SITE, 1)  # HQ hashed them for the site
                sample = security.card_hash(site_key, people.cards[people.usernames[-1]])
                if replica.one("SELECT COUNT(*) FROM user_cards WHERE card_hash = ?", sample) != 1:
                    raise BenchError("the replica's cards are not under the site's own key")
                wait_until(lambda: caught_up(hq_, site), "the site online", 60, budget)
                timed = online_changes(hq_, replica, people, changes, budget)
            finally:
                replica.close()
        errors = hq_.server_errors
    return SyncResult(backend, shape, users, head, answering - start, done - start, timed,
                      replica_users, replica_cards, failures, seed_s, errors)  # fmt: skip


def first_page(hq_: Hq) -> tuple[float, int, int]:
    """The first snapshot page, as a new Site Server asks for it: seconds, entities, bytes."""
    token = hq_.app.token(Role.SITE, scope=SITE)
    params: dict[str, Any] = {"snapshot": True, "limit": SNAPSHOT_PAGE}
    started = time.monotonic()
    response = httpx.get(f"{hq_.app.api}/sites/{SITE}/changes", params=params, timeout=600,
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    elapsed = time.monotonic() - started
    entities = len(expect(response, 200)["entities"])
    return elapsed, entities, len(response.content)


def failed_pulls(log: Path) -> list[str]:
    """The site's "pulling changes failed" log lines (each a page it asked for in vain)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if "pulling changes failed" in line]


def online_changes(
    hq_: Hq, replica: ReplicaReader, people: Seeded, count: int, budget: Budget
) -> list[tuple[str, float]]:
    """Alternately a new card and a top-up at HQ; each timed until the replica shows it."""
    rng = random.Random(11)
    timed: list[tuple[str, float]] = []
    for n in range(count):
        budget.check()
        user = rng.choice(people.usernames)
        time.sleep(0.5)  # the site's long poll is waiting, as it would be in steady state
        started = time.monotonic()
        if n % 2 == 0:
            card = f"77{n:08d}{rng.randint(0, 999):03d}"
            expect(hq_.admin.patch(f"/users/{user}", json={"cards": [card]}), 200)
            hashed = security.card_hash(keys.site_card_key(hq_.key, SITE, 1), card)
            query, want = "SELECT COUNT(*) FROM user_cards WHERE card_hash = ?", 1
            args: tuple[Any, ...] = (hashed,)
            what = "card"
        else:
            account = people.account_ids[user]
            body = {"txn_id": str(uuid.uuid4()), "amount": 100 + n}
            balance = int(expect(hq_.admin.post(f"/accounts/by-id/{account}/top-up", json=body),
                                 200)["balance"])  # fmt: skip
            query, args, want = "SELECT balance FROM accounts WHERE id = ?", (account,), balance
            what = "top-up"
        seen = wait_until(
            _shows(replica, query, args, want), f"{what} at the site", 30, budget, every=0.005
        )
        timed.append((what, seen - started))
    return timed


def _shows(
    replica: ReplicaReader, query: str, args: tuple[Any, ...], want: Any
) -> Callable[[], bool]:
    return lambda: bool(replica.one(query, *args) == want)


def report_sync(result: SyncResult) -> None:
    sync_goal = "met" if result.meets_sync_goal else "MISSED"
    change_goal = "met" if result.meets_change_goal else "MISSED"
    cards = [s for w, s in result.changes if w == "card"]
    tops = [s for w, s in result.changes if w == "top-up"]
    print(
        f"sync/{result.backend}/{result.shape}: {result.users:,} users (+cards, groups, "
        f"accounts) written at HQ {SHAPES[result.shape]}; head change_seq {result.head:,}\n"
        f"  initial sync     {_seconds(result.sync_s)} from process start "
        f"(answering after {result.answering_s:.2f} s); replica: {result.replica_users:,} users, "
        f"{result.replica_cards:,} cards\n"
        f"  anchor           {result.anchor_s:6.2f} s HQ's bulk write of the same rows "
        f"(executemany, one transaction)\n"
        f"  App Server /health answers 500 then 200: {result.health_500s}\n"
        f"  failed pulls of the changes feed: {len(result.failed_pulls)}"
        f"{' (' + result.failed_pulls[0][-160:] + ')' if result.failed_pulls else ''}\n"
        f"  online change    p50 {result.change_p50 * 1000:6.0f} ms, max "
        f"{result.change_max * 1000:6.0f} ms over {len(result.changes)} changes "
        f"(card p50 {_ms(cards)}, top-up p50 {_ms(tops)})\n"
        f"  goal initial sync <= {GOAL_SYNC_S:.0f} s: {sync_goal}; "
        f"goal change visible <= {GOAL_CHANGE_S:.0f} s: "
        f"{change_goal if result.changes else 'not measured (no sync)'}"
    )


def _seconds(value: float) -> str:
    return f"{value:6.2f} s" if value != float("inf") else "NOT DONE (gave up waiting)"


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms" if values else "-"


# --- main ------------------------------------------------------------------------------------


PARTS = ("failover", "reconcile", "sync")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--part", choices=[*PARTS, "all"], default="all")
    p.add_argument("--backend", choices=[*BACKENDS, "all"], default="all",
                   help="for reconcile and sync (failover runs on SQLite)")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help="2 cuts, 2,000 entries, 10,000 users, 4 changes")  # fmt: skip
    p.add_argument(
        "--cycles", type=int, default=None, help="link cuts under load (10), as many idle"
    )
    p.add_argument("--entries", type=int, default=None, help="journal entries (20,000)")
    p.add_argument(
        "--batch", type=int, default=UPLOAD_LIMIT,
        help=f"entries per upload (500-{UPLOAD_LIMIT}; a Site Server sends {UPLOAD_LIMIT})",
    )  # fmt: skip
    p.add_argument("--users", type=int, default=None, help="users to sync (100,000)")
    p.add_argument("--changes", type=int, default=None, help="online changes timed (20)")
    p.add_argument("--shape", choices=[*SHAPES, "both"], default="both",
                   help="how the users to sync were written at HQ")  # fmt: skip
    p.add_argument("--sync-timeout", type=float, default=600.0, help="seconds for one sync")
    p.add_argument("--budget", type=float, default=3600.0, help="seconds for the whole run")
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the App Server (uploads), Site and App Server (sync) with py-spy",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    p.add_argument("--beacon", action="store_true", help="failover: the site holds a beacon")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cycles = args.cycles or (2 if args.quick else 10)
    entries = args.entries or (2_000 if args.quick else 20_000)
    users = args.users or (10_000 if args.quick else 100_000)
    changes = args.changes or (4 if args.quick else 20)
    if not 500 <= args.batch <= UPLOAD_LIMIT and not args.quick:
        print(f"note: --batch {args.batch} is outside 500-{UPLOAD_LIMIT}")
    parts = PARTS if args.part == "all" else (args.part,)
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    budget = Budget(args.budget, "site benchmark")
    print(time.strftime("site benchmark, %Y-%m-%d %H:%M:%S %Z"))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load average before: {load_average()}")
    print("machine:")
    print_machine()
    missed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="pw-bench-site-") as tmp:
            root = Path(tmp)
            if "failover" in parts:
                print(f"\n[failover] {cycles} link cuts{' (beacon)' * args.beacon}", flush=True)
                fo = run_failover(cycles, root / "failover", budget, args.beacon)
                report_failover(fo)
                missed += [] if fo.meets_goal else ["failover"]
            for backend in backends if "reconcile" in parts else ():
                print(f"\n[reconcile/{backend}] {entries:,} entries", flush=True)
                rc = run_reconcile(backend, entries, args.batch, root / f"rc-{backend}", budget,
                                   args.py_spy)  # fmt: skip
                report_reconcile(rc)
                missed += [] if rc.meets_goal else [f"reconcile/{backend}"]
            shapes = tuple(SHAPES) if args.shape == "both" else (args.shape,)
            for backend in backends if "sync" in parts else ():
                for shape in shapes:
                    print(f"\n[sync/{backend}/{shape}] {users:,} users", flush=True)
                    sy = run_sync(backend, shape, users, changes, root / f"sync-{backend}-{shape}",
                                  budget, args.py_spy, args.sync_timeout)  # fmt: skip
                    report_sync(sy)
                    missed += [] if sy.meets_sync_goal else [f"initial sync/{backend}/{shape}"]
                    if sy.changes and not sy.meets_change_goal:
                        missed.append(f"change latency/{backend}/{shape}")
    except BudgetExceeded as exc:
        print(f"\nstopped: {exc}")
        return 1
    print(f"\nload average after: {load_average()}; {budget.seconds - budget.remaining():.0f} s")
    print("goals missed: " + (", ".join(missed) if missed else "none"))
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
