"""What the job state machine costs on the direct print path: jobs/s and provider CPU per job.

    .venv/bin/python bench/provider_lifecycle.py                       # this tree only
    .venv/bin/python bench/provider_lifecycle.py --other /tmp/old/src  # A/B, alternating

One App Server (SQLite) and, per run, a fresh Print Provider with a direct queue in front of
a ``file://`` printer. One client submits N one-page text jobs (Print-Job, one at a time);
the clock stops when every job is completed and charged (read from the provider's spool).
Reported per run: end-to-end jobs/s, and the provider's CPU time (user + system, from
/proc/PID/stat) per job. With ``--other``, runs alternate between this tree and another
source tree's ``src/`` (its provider imports printwarden from there), in the same minutes.
Every job walks the machine: queued -> analysing -> deciding -> allowed -> sending ->
completed, one SQLite commit per step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from harness import Budget, print_machine
from printwarden.provider.ipp.client import IppClient
from printwarden.testing.provider import PrinterSpec, ProviderProcess, QueueSpec
from provider_harness import USER, Ours, header, median, start_ours

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def settled(data: Path, jobs: int) -> bool:
    database = f"file:{data / 'state.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(database, uri=True)) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE state = 9 AND charge_state = 'done'"
        ).fetchone()
    return int(row[0]) >= jobs


def run(ours: Ours, root: Path, src: Path | None, jobs: int, budget: Budget) -> tuple[float, float]:
    """One run on a fresh provider: (jobs/s, provider CPU ms per job)."""
    root.mkdir(parents=True)
    provider = ProviderProcess(
        server_url=ours.app.url,
        token=ours.provider.token,
        directory=root,
        printers=[PrinterSpec("mono", f"file://{root / 'printed'}", colour=False)],
        queues=[QueueSpec("direct", "direct", "mono")],
    )
    side = Ours(ours.app, provider, src)
    side.start_provider()
    try:
        time.sleep(1.0)  # registered, idle
        before, started = cpu_seconds(side.pid), time.monotonic()
        with IppClient(provider.uri("direct"), user_name=USER, timeout=30) as client:
            for number in range(jobs):
                text = f"lifecycle bench page {number}\n".encode()
                client.print_job(text, document_format="text/plain", job_name=f"b{number}")
        while not settled(root / "data", jobs):
            budget.check()
            time.sleep(0.01)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(side.pid) - before
    finally:
        side.stop_provider()
    return jobs / elapsed, cpu * 1000 / jobs


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--other", type=Path, help="another tree's src/ to compare with")
    args = parser.parse_args(argv)
    title = "Print Provider direct path through the job state machine"
    header(title, ["bench/provider_lifecycle.py", *argv])
    print_machine()
    budget = Budget(900, "provider lifecycle bench")
    sides: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.other:
        sides.append((str(args.other), args.other))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in sides}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        ours = start_ours(root / "app", f"file://{root / 'unused'}", balance=10_000_000)
        try:
            for number in range(args.runs):
                for side, (name, src) in enumerate(sides):
                    place = root / f"run-{number}-{side}"
                    result = run(ours, place, src, args.jobs, budget)
                    results[name].append(result)
                    print(f"  {name}: {result[0]:7.1f} jobs/s, {result[1]:6.2f} ms CPU per job")
        finally:
            ours.stop()
    for name, values in results.items():
        rate = median([value[0] for value in values])
        cpu = median([value[1] for value in values])
        print(f"{name}: median {rate:.1f} jobs/s, {cpu:.2f} ms provider CPU per job "
              f"({args.jobs} jobs x {args.runs} runs)")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
