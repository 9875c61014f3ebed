"""Database failover while jobs are charged: how long charging stops, and what is lost.

    .venv/bin/python bench/db_failover.py --runs 3

Each run starts a primary and a synchronous streaming standby (``testing/pg_pair.py``, Debian's
PostgreSQL 15), two App Server processes behind HAProxy on it (``testing/cluster.py``), and 6
threads charging printed jobs through HAProxy (``testing/cluster_load.py``). After ``--before``
seconds the primary is killed (``kill -9``) and, ``--promote-after`` seconds later, the standby
promoted (``pg_ctl promote``), as a failover manager would. Measured: from the primary's death
to the first charge accepted again, the charges answered and how many of them the new primary
lacks (must be 0), the requests refused meanwhile. The anchor, in the same run: from the death
to the first write a bare psycopg client (the same two-host URL, trying every 50 ms) gets the
promoted standby to take, which is what PostgreSQL itself allows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from printwarden.store.db import Database
from printwarden.testing.cluster import Cluster
from printwarden.testing.cluster_load import Load, seed
from printwarden.testing.ledger_checks import transaction_ids, unbalanced_accounts
from printwarden.testing.pg_pair import PgPair


def _first_write(conninfo: str, after: float, stop: threading.Event, found: list[float]) -> None:
    """The moment a bare client first commits a write, trying every 50 ms from ``after``."""
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, connect_timeout=1, autocommit=True) as db:
                db.execute("CREATE TEMP TABLE probe (n int)")
            found.append(time.monotonic())
            return
        except psycopg.Error:
            time.sleep(0.05)


def one_run(args: argparse.Namespace) -> dict[str, float]:
    pair = PgPair()
    pair.start()
    cluster = Cluster(pair.url, Path(tempfile.mkdtemp(prefix="failover-")), size=2)
    try:
        cluster.start()
        token, printer, users = seed(cluster, "bench")
        conninfo = Database(pair.url).conninfo or ""
        with Load(cluster, token, printer, users, seconds=args.before + 15) as load:
            time.sleep(args.before)
            pair.kill_primary()
            died = time.monotonic()
            stop, bare = threading.Event(), list[float]()
            prober = threading.Thread(target=_first_write, args=(conninfo, died, stop, bare))
            time.sleep(0.05)  # the bare client starts after the death, like the servers' retries
            prober.start()
            time.sleep(args.promote_after)
            pair.promote()
            promoted = died + args.promote_after
            deadline = time.monotonic() + 30
            while not (load.answered_at and load.answered_at[-1] > promoted):
                if time.monotonic() > deadline:
                    raise RuntimeError("no charge accepted within 30 s of the promotion")
                time.sleep(0.02)
            time.sleep(2)
            stop.set()
            prober.join(timeout=5)
        back = next(at for at in load.answered_at if at > promoted) - died
        answered = set(load.answered)
        lost = len(answered - transaction_ids(pair.url))
        unbalanced = len(unbalanced_accounts(pair.url))
        return {"back": back, "bare": (bare[0] - died) if bare else float("nan"),
                "answered": len(answered), "lost": lost, "refused": len(load.failures),
                "unbalanced": unbalanced}  # fmt: skip
    finally:
        cluster.stop()
        pair.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=float, default=4.0, help="seconds of charging first")
    parser.add_argument("--promote-after", type=float, default=1.0)
    args = parser.parse_args()
    results = []
    for number in range(1, args.runs + 1):
        result = one_run(args)
        results.append(result)
        print(f"run {number}: first charge accepted {result['back']:.2f} s after the primary "
              f"died (bare client's first write {result['bare']:.2f} s); {result['answered']:.0f} "
              f"answered, {result['lost']:.0f} lost, {result['refused']:.0f} refused meanwhile, "
              f"{result['unbalanced']:.0f} unbalanced accounts", flush=True)  # fmt: skip
    backs = [r["back"] for r in results]
    bares = [r["bare"] for r in results]
    print(
        f"death -> first charge accepted: p50 {statistics.median(backs):.2f} s, max "
        f"{max(backs):.2f} s; bare client p50 {statistics.median(bares):.2f} s: ratio "
        f"{statistics.median(backs) / statistics.median(bares):.2f}; lost "
        f"{sum(r['lost'] for r in results):.0f} of {sum(r['answered'] for r in results):.0f}"
    )
    failed = any(r["lost"] or r["unbalanced"] for r in results) or max(backs) > 10
    print("goal (<= 10 s, 0 lost):", "missed" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
