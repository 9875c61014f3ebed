"""How long the App Server's app takes to find a request's route, with and without skipping
the routers that cannot match (``service/route_prefixes.py``).

    .venv/bin/python bench/routing.py
    .venv/bin/python bench/routing.py --rounds 5000

The app is built by ``create_app`` over a fresh SQLite file, as served. For a few requests
(the hot ones of sites, providers and devices, and a web page) the top-level router's routes
are asked in order until one matches, as the router does for every request: once with each
router's ``matches`` as FastAPI made it (the anchor), once as the app is built. In-process,
no socket: the matching alone, in microseconds a request (the median of 5 runs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.routing import Match

from harness import print_machine
from printwarden.config import Settings
from printwarden.service.app import create_app
from printwarden.store.migrate import upgrade

REQUESTS = [
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/jobs/decision"),
    ("POST", "/api/v1/sites/site-1/status"),
    ("GET", "/api/v1/sites/site-1/changes"),
    ("POST", "/api/v1/auth/device"),
    ("GET", "/metrics"),
    ("GET", "/web/portal/app/"),
]


def _app(directory: str) -> Any:
    url = f"sqlite:///{Path(directory) / 'routing.db'}"
    upgrade(url)
    return create_app(Settings(database_url=url))


def _per_request(routes: list[Any], method: str, path: str, rounds: int) -> float:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            for route in routes:
                if route.matches(scope)[0] is Match.FULL:
                    break
        runs.append((time.perf_counter() - started) / rounds)
    return statistics.median(runs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as directory:
        app = _app(directory)
        routes = list(app.router.routes)
        for route in routes:  # the anchor: each router's matches as FastAPI made it
            route.__dict__.pop("matches", None)
        plain = {r: _per_request(routes, *r, args.rounds) for r in REQUESTS}
        built = _app(directory)
        skipping = {r: _per_request(list(built.router.routes), *r, args.rounds) for r in REQUESTS}
    print(f"{'request':<40} {'FastAPI µs':>10} {'skipping µs':>12} {'ratio':>6}")
    for method, path in REQUESTS:
        before, after = plain[(method, path)], skipping[(method, path)]
        print(f"{method + ' ' + path:<40} {before:>10.1f} {after:>12.1f} {after / before:>6.2f}")


if __name__ == "__main__":
    main()
