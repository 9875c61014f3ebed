"""``make demo-ha`` (``python -m printwarden.testing.demo_ha``): the scale-out set-up to try
by hand, built from the tests' harness (``testing/cluster.py``, ``testing/pg_pair.py``).

Several App Server processes (three by default) on one PostgreSQL behind HAProxy, the
configuration of ``docs/operations.md``: the primary has a synchronous streaming standby
(two clusters of Debian's PostgreSQL, started here in a directory of their own), and the
processes' database URL names both, so after a promotion they find the new primary by
themselves. The demo's sample users, accounts and printers are seeded (no sites: ``make
demo`` shows those). Once everything answers, ``DATA_DIR/demo-ha.json`` is written and the
welcome says what to try: kill a process, kill the primary and promote the standby.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from printwarden.config import Settings
from printwarden.demo.run import TOKENS_DIR, exit_on_sigterm, seed, write_token_files
from printwarden.files import private_dir, write_private
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.testing.cluster import Cluster
from printwarden.testing.pg_pair import BIN, PgPair

MANIFEST = "demo-ha.json"


def run_demo_ha(data_dir: Path, port: int, processes: int) -> None:
    """Start the PostgreSQL pair, seed it, start the processes and HAProxy on ``port``; wait
    for Ctrl-C or SIGTERM, then stop everything and remove the database clusters."""
    data_dir = private_dir(data_dir.resolve())
    (data_dir / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(data_dir / TOKENS_DIR, ignore_errors=True)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    pair = PgPair()  # under /tmp: its owner is the postgres user, not this directory's
    try:
        pair.start()
        upgrade(pair.url)
        manifest = _seed(pair.url, data_dir)
        cluster = Cluster(pair.url, data_dir, size=processes, port=port)
        try:
            cluster.start()
            manifest.update(_where(cluster, pair))
            # Whole or not at all: a reader waiting for the file never sees it half written.
            temporary = write_private(data_dir / f"{MANIFEST}.tmp", json.dumps(manifest, indent=2))
            temporary.replace(data_dir / MANIFEST)
            print("\n".join(welcome(manifest, data_dir)), flush=True)
            while True:
                time.sleep(3600)
        finally:
            for each in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not orphan them
                signal.signal(each, signal.SIG_IGN)
            cluster.stop()
    except KeyboardInterrupt:
        pass
    finally:
        pair.stop()


def _seed(url: str, data_dir: Path) -> dict[str, Any]:
    secret = Settings(data_dir=data_dir, database_url=url).resolved_secret()
    database = Database(url)
    try:
        made = seed(database, secret)
    finally:
        database.dispose()
    write_token_files(made, data_dir / TOKENS_DIR)
    return {"admin": made["admin"], "users": made["users"]}


def _where(cluster: Cluster, pair: PgPair) -> dict[str, Any]:
    return {
        "url": cluster.url,
        "stats_url": f"http://127.0.0.1:{cluster.stats_port}/stats",
        "processes": [
            {"port": s.port, "pid": s.process.pid if s.process else None, "log": s.log_name}
            for s in cluster.servers
        ],
        "postgresql": {
            "primary": {"port": pair.primary_port, "data": str(pair.primary)},
            "standby": {"port": pair.standby_port, "data": str(pair.standby)},
        },
    }


def welcome(manifest: dict[str, Any], data_dir: Path) -> list[str]:
    """What the demo prints once it is ready."""
    pg, admin = manifest["postgresql"], manifest["admin"]
    pg_ctl = f"runuser -u postgres -- {BIN / 'pg_ctl'}"
    lines = [
        "",
        f"printwarden demo-ha is ready: {len(manifest['processes'])} App Server processes "
        "on PostgreSQL behind HAProxy.",
        f"  Web console:   {manifest['url']}/web/   (user {admin['username']}, password "
        f"{admin['password']})",
        f"  API:           {manifest['url']}/api/v1   "
        f"(curl -H @{data_dir / TOKENS_DIR / 'admin.header'} {manifest['url']}/api/v1/users)",
        f"  HAProxy stats: {manifest['stats_url']}",
    ]
    lines += [
        f"  process {n}:     port {p['port']}, pid {p['pid']}, log {data_dir / p['log']}"
        for n, p in enumerate(manifest["processes"])
    ]
    lines += [
        f"  PostgreSQL:    primary 127.0.0.1:{pg['primary']['port']}, synchronous standby "
        f"127.0.0.1:{pg['standby']['port']}",
        "",
        "Try:",
        f"  kill -9 {manifest['processes'][0]['pid']}      "
        "# one process dies: HAProxy sends its requests to the others",
        f"  {pg_ctl} -D {pg['primary']['data']} stop -m immediate",
        f"  {pg_ctl} -D {pg['standby']['data']} promote",
        "        # the primary dies, the standby takes over: the processes reconnect by themselves",
        "",
        "Ctrl-C stops everything (the database clusters are removed).",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("demo-ha-data"))
    parser.add_argument("--port", type=int, default=8100, help="HAProxy's, before the processes")
    parser.add_argument("--processes", type=int, choices=range(1, 9), default=3)
    args = parser.parse_args()
    run_demo_ha(args.data_dir, args.port, args.processes)


if __name__ == "__main__":
    main()
