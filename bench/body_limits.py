"""Huge request bodies: what a 300 MiB POST costs an App Server and a Site Server.

    .venv/bin/python bench/body_limits.py              # 300 MiB, each server, both framings
    .venv/bin/python bench/body_limits.py --mib 1024

Each server starts over a fresh SQLite database. For each framing (Content-Length declared,
chunked) the client streams MIBs of zeros, a mebibyte at a time, to a JSON route with an
admin token; reported: the answer's status, how long until it came, and how much the
server's peak resident size (``VmHWM``, reset before each request through
/proc/PID/clear_refs) grew. Before bounded bodies the Site Server grew by about 500 MB for
300 MB (issue 15). Goal: 413, and growth far below the body's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from harness import ROOT, print_machine

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from printwarden.domain.accounts import Role
from support.appserver import AppServer
from support.site import SiteProcess

MIB = 1024 * 1024


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _stream(mib: int) -> Iterator[bytes]:
    chunk = bytes(MIB)
    for _ in range(mib):
        yield chunk


def measure(name: str, url: str, pid: int, token: str, mib: int) -> None:
    for declared in (True, False):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if declared:
            headers["Content-Length"] = str(mib * MIB)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        before = _peak_kib(pid)
        started = time.perf_counter()
        answer = httpx.post(f"{url}/api/v1/users", content=_stream(mib), headers=headers,
                            timeout=600)  # fmt: skip
        seconds = time.perf_counter() - started
        growth = (_peak_kib(pid) - before) / 1024
        framing = "Content-Length" if declared else "chunked"
        print(f"{name:12} {framing:15} {mib} MiB: {answer.status_code} in {seconds * 1000:.0f} ms,"
              f" peak RSS +{growth:.1f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=300)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "app").mkdir()
        app = AppServer(f"sqlite:///{root / 'app.db'}", root / "app")
        app.start()
        site = None
        try:
            token = app.token(Role.ADMIN, "bench-admin")
            headers = {"Authorization": f"Bearer {token}"}
            httpx.post(f"{app.api}/sites", json={"name": "north"}, headers=headers)
            site = SiteProcess(app.url, app.token(Role.SITE, scope="north"), "north",
                               root / "site")  # fmt: skip
            site.start()
            assert app.process is not None
            assert site.process is not None
            measure("App Server", app.url, app.process.pid, token, args.mib)
            measure("Site Server", site.url, site.process.pid, token, args.mib)
        finally:
            if site is not None:
                site.stop()
            app.stop()


if __name__ == "__main__":
    main()
