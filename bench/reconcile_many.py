"""Many sites reconciling at once: after a region-wide outage every site uploads its journal
together. Does the App Server take them as fast as the same entries from one site?

    .venv/bin/python bench/reconcile_many.py                         # 100 sites x 200, SQLite
    .venv/bin/python bench/reconcile_many.py --backend postgresql --sites 100 --entries 200

An App Server (``app serve``) on a fresh database, 1,000 users with funds, a printer and a
device of no site (any site may print and copy there) and ``--sites`` sites. First one site
uploads ``sites × entries`` journal entries as a Site Server does (batches of
``UPLOAD_LIMIT``, one after the other): the anchor. Then every site uploads ``entries`` new
ones at the same moment, each over its own connection with its own token (real requests,
real sockets), as the sites' reconcile threads would. Measured: the wall time of each, and
their ratio (the scale-out issue's goal: at most 1.2), ``--rounds`` times alternating on the
same server, each with new entries (the medians; on a shared machine one round of ~1 s
varied by 35 %). Verified after each: every entry applied once, the charges equal the
domain's costs, ``balance == SUM(ledger)``. Reported too: the App Server's peak memory
(``--sites 100 --entries 2000``: uploads that wait for their turn held in memory).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from harness import load_site_bench
from printwarden.domain.accounts import Role
from printwarden.domain.journal import UPLOAD_LIMIT

GOAL_RATIO = 1.2


sb = load_site_bench()


def _post(client: httpx.Client, site: str, entries: list[dict[str, Any]]) -> int:
    """Upload ``entries`` as ``site``; what HQ charged for them."""
    body = json.dumps({"entries": entries}).encode()
    report = sb.expect(client.post(f"/sites/{site}/journal", content=body), 200)
    if int(report["applied"]) != len(entries) or report.get("rejected"):
        raise sb.BenchError(f"{site}: not every entry applied: {str(report)[:500]}")
    return sum(int(v) for v in report["amounts"].values())


def _client(app: Any, site: str) -> httpx.Client:
    token = app.token(Role.SITE, scope=site)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.Client(base_url=app.api, headers=headers, timeout=600)


def one_site(app: Any, entries: list[dict[str, Any]]) -> tuple[float, int]:
    """One site's upload of every entry, in its usual batches; seconds, charged."""
    with _client(app, sb.SITE) as client:
        _post(client, sb.SITE, [])  # a connection and a token seen once: not timed
        started, charged = time.perf_counter(), 0
        for start in range(0, len(entries), UPLOAD_LIMIT):
            charged += _post(client, sb.SITE, entries[start : start + UPLOAD_LIMIT])
        return time.perf_counter() - started, charged


def many_sites(app: Any, journals: dict[str, list[dict[str, Any]]]) -> tuple[float, int]:
    """Every site's upload at once, each its own connection; seconds until the last ends."""
    clients = {site: _client(app, site) for site in journals}
    for site, client in clients.items():
        _post(client, site, [])
    barrier = threading.Barrier(len(journals) + 1)
    charged: list[int] = []
    failures: list[BaseException] = []

    def upload(site: str) -> None:
        barrier.wait()
        try:
            charged.append(_post(clients[site], site, journals[site]))
        except BaseException as exc:  # reported below, after every thread
            failures.append(exc)

    threads = [threading.Thread(target=upload, args=(site,)) for site in journals]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=900)
    took = time.perf_counter() - started
    for client in clients.values():
        client.close()
    if failures:
        raise sb.BenchError(f"{len(failures)} uploads failed, the first: {failures[0]}")
    return took, sum(charged)


def run(backend: str, sites: int, per_site: int, rounds: int, root: Path) -> None:
    with sb.hq(backend, root) as hq_:
        people = sb.seed(hq_, "rm", 1_000, restricted=True, funds=sb.FUNDS)
        hq_.app.device_token(sb.DEVICE, sb.PRINTER, cost_model=sb.COST_MODEL)
        names = [sb.SITE] + [f"site-{n:03d}" for n in range(1, sites)]
        for name in names[1:]:
            sb.expect(hq_.admin.post("/sites", json={"name": name}), 201)
        total = sites * per_site
        ones, manys, peaks = list[float](), list[float](), list[float]()
        for round_ in range(rounds):  # alternating: the machine's speed drifts
            one_s, many_s = _round(hq_, people, names, per_site, seed=2 * round_ + 1,
                                   peaks=peaks)  # fmt: skip
            ones.append(one_s)
            manys.append(many_s)
    one_s, many_s = statistics.median(ones), statistics.median(manys)
    ratio = many_s / one_s
    print(f"reconcile-many/{backend}: {total:,} entries (80 % printed, 20 % usage), "
          f"{rounds} rounds, medians\n"
          f"  one site, {UPLOAD_LIMIT:,} an upload: {one_s:6.2f} s "
          f"({total / one_s:,.0f} entries/s; {_each(ones)})\n"
          f"  {sites} sites x {per_site} at once: {many_s:6.2f} s "
          f"({total / many_s:,.0f} entries/s; {_each(manys)}) = {ratio:.2f} x one site "
          f"(goal <= {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'MISSED'}; "
          f"by round {', '.join(f'{m / o:.2f}' for o, m in zip(ones, manys, strict=True))})\n"
          f"  App Server peak memory (VmHWM) after one site's first uploads {peaks[0]:,.0f} MB,"
          f" after all at once {peaks[1]:,.0f} MB, at the end {peaks[-1]:,.0f} MB\n"
          f"  verified: every entry applied once, the charges the domain's costs, "
          f"balance == SUM(ledger) for every account", flush=True)  # fmt: skip


def _peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux's VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise sb.BenchError("no VmHWM in /proc: not Linux?")


def _each(seconds: list[float]) -> str:
    return " / ".join(f"{s:.2f}" for s in seconds)


def _round(
    hq_: Any, people: Any, names: list[str], per_site: int, seed: int, peaks: list[float]
) -> tuple[float, float]:
    """One site's upload of new entries, then every site's at once; both verified. The App
    Server's peak memory after each is added to ``peaks``."""
    total = len(names) * per_site
    alone, alone_cost = sb.make_journal(people, total, seed)
    together, together_cost = sb.make_journal(people, total, seed + 1)
    before = sb.ledger_state(hq_.url)
    one_s, one_charged = one_site(hq_.app, alone)
    peaks.append(_peak_memory_mb(hq_.app.process.pid))
    middle = sb.ledger_state(hq_.url)
    journals = {name: together[n * per_site : (n + 1) * per_site]
                for n, name in enumerate(names)}  # fmt: skip
    many_s, many_charged = many_sites(hq_.app, journals)
    peaks.append(_peak_memory_mb(hq_.app.process.pid))
    after = sb.ledger_state(hq_.url)
    checks = [
        (middle.transactions - before.transactions, total, "transactions, one site"),
        (after.transactions - middle.transactions, total, "transactions, many sites"),
        (before.total - middle.total, alone_cost, "charged, one site"),
        (middle.total - after.total, together_cost, "charged, many sites"),
        (one_charged + many_charged, alone_cost + together_cost, "charged, as reported"),
        (after.mismatched, 0, "balances that are not their ledger's sum"),
    ]
    wrong = [f"{what}: {got} (expected {want})" for got, want, what in checks if got != want]
    if wrong:
        raise sb.BenchError("; ".join(wrong))
    return one_s, many_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="sqlite")
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--entries", type=int, default=200, help="each site's journal")
    parser.add_argument("--rounds", type=int, default=3, help="one site, then all, N times")
    args = parser.parse_args()
    rounds = min(max(args.rounds, 1), 10)
    sites, per_site = min(max(args.sites, 2), 500), min(max(args.entries, 1), UPLOAD_LIMIT)
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    print(time.strftime("reconcile-many, %Y-%m-%d %H:%M:%S %Z"), flush=True)
    with tempfile.TemporaryDirectory(prefix="pw-bench-rm-") as tmp:
        for backend in backends:
            run(backend, sites, per_site, rounds, Path(tmp) / backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
