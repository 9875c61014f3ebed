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
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from harness import print_machine
from printwarden.testing.site import app_and_site

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
    with tempfile.TemporaryDirectory() as temporary, app_and_site(Path(temporary)) as both:
        assert both.app.process is not None
        assert both.site.process is not None
        token = both.admin_token
        measure("App Server", both.app.url, both.app.process.pid, token, args.mib)
        measure("Site Server", both.site.url, both.site.process.pid, token, args.mib)


if __name__ == "__main__":
    main()
