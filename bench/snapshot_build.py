"""HQ's side of a new site's snapshot: every page built and encoded, in this process.

    .venv/bin/python bench/snapshot_build.py --users 100000 --repeat 3

A SQLite HQ database with ``--users`` users (each with a card, a group and a personal account,
written by bench/site.py's bulk writer), then every page of one site's snapshot (10,000
entities a page, as a Site Server asks) built by ``store.snapshot`` and encoded with
pydantic-core as ``GET /sites/{name}/changes?snapshot=true`` does; wall and CPU time per
round. This is the part of a first sync that per-site card hashing changed (each card and
identity number unsealed and hashed under the site's key); the Site Server's side and the
whole sync are bench/site.py ``--part sync``. It runs on older trees too (without the
``numbers`` argument), so two codes can be compared alternately on one machine.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from harness import load_site_bench
from printwarden.store import sites, snapshot
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade

HERE = Path(__file__).resolve().parent

SITE = "bench-site"
PAGE = 10_000
SECRET = b"snapshot-build-bench-secret-" + b"x" * 36


def _numbers() -> dict[str, Any]:
    """The keyword the snapshot takes for a site's card hashes (none before issue 15)."""
    if "numbers" not in inspect.signature(snapshot.snapshot).parameters:
        return {}
    from printwarden.store.site_numbers import SiteNumbers

    return {"numbers": SiteNumbers(SECRET, SITE, 1)}


def build_all(database: Database) -> tuple[float, float, int, int]:
    """Every page: wall seconds, CPU seconds, pages, bytes."""
    wall, cpu = time.perf_counter(), time.process_time()
    cursor, at, pages, size = snapshot.Cursor(), None, 0, 0
    while True:
        with database.read() as session:
            page = snapshot.snapshot(session, SITE, at, cursor, PAGE, **_numbers())
        size += len(to_json({"at": page.at, "entities": page.entities}))
        pages += 1
        if page.next is None:
            break
        at, cursor = page.at, page.next
    return time.perf_counter() - wall, time.process_time() - cpu, pages, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_site = load_site_bench()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'hq.db'}"
        upgrade(url)
        database = Database(url)
        try:
            with database.session() as session:
                sites.create_site(session, SITE)
            began = time.perf_counter()
            bench_site.bulk_users(database, SECRET, "u", args.users, restricted=True)
            print(f"{args.users:,} users written in {time.perf_counter() - began:.1f} s")
            rounds = [build_all(database) for _ in range(args.repeat)]
        finally:
            database.dispose()
    for wall, cpu, pages, size in rounds:
        print(f"  snapshot built: {wall:.2f} s wall, {cpu:.2f} s CPU, {pages} pages, "
              f"{size / 1e6:.1f} MB")  # fmt: skip
    print(f"median: {statistics.median(r[0] for r in rounds):.2f} s wall, "
          f"{statistics.median(r[1] for r in rounds):.2f} s CPU")  # fmt: skip


if __name__ == "__main__":
    main()
