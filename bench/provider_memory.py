"""Memory per held job: Print Provider RSS with 0 and 10,000 held jobs, against cupsd.

    .venv/bin/python bench/provider_memory.py                  # 10,000 jobs, spools on disk
    .venv/bin/python bench/provider_memory.py --jobs 2000 --fs tmpfs

Both servers start empty (cupsd: its defaults, a raw queue; provider: a hold queue, with its
App Server), get a few requests that create no job, and their ``VmRSS`` is read from
/proc/PID/status. Then the same ipptool client as bench/provider_ingest.py (2 workers, one
connection per job) submits held 1-page PDF jobs: RSS is read again at 1,000 and at N jobs,
and sampled for a few seconds while the servers sit idle with N held jobs (the provider's
background threads run then; their CPU time is reported too).

Per-job memory = (RSS at N - RSS at 0) / N, and the marginal (RSS at N - RSS at 1,000) /
(N - 1,000), which leaves out one-time costs of the first requests. Goals: ours per job
<= 2x cupsd's per job (the issue's anchor: cupsd ~3 KB per held job), provider total <= 80 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import Budget, print_machine
from printwarden.provider.ipp.client import IppClient
from provider_harness import (
    CUPSD,
    IPPTOOL,
    LPADMIN,
    USER,
    BenchError,
    Cupsd,
    Ours,
    filesystem,
    header,
    held_count,
    ipptool_command,
    ipptool_workers,
    make_pdf,
    require_tools,
    rss_kib,
    start_ours,
    system_cupsd_on_631,
    write_held_test,
)

GOAL_PER_JOB_RATIO = 2.0
GOAL_TOTAL_MIB = 80.0
FILESYSTEMS = {"disk": "/tmp", "tmpfs": "/dev/shm"}
CHECKPOINT = 1_000
IDLE_SECONDS = 6.0


@dataclass
class Memory:
    """RSS readings (KiB) of one server."""

    name: str
    rss: dict[int, int] = field(default_factory=dict)
    idle_samples: list[int] = field(default_factory=list)
    idle_cpu_percent: float = 0.0
    hwm_kib: int = 0
    ingest_s: float = 0.0

    def per_job(self, jobs: int) -> float:
        """Bytes per held job, from the empty server."""
        return 1024 * (self.final(jobs) - self.rss[0]) / jobs

    def marginal(self, jobs: int) -> float:
        """Bytes per held job between CHECKPOINT and ``jobs`` held jobs."""
        return 1024 * (self.final(jobs) - self.rss[CHECKPOINT]) / (jobs - CHECKPOINT)

    def final(self, jobs: int) -> int:
        """RSS with ``jobs`` held, after the idle period (the largest sample)."""
        return max([self.rss[jobs], *self.idle_samples])


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def touch(uri: str) -> None:
    """Requests that create no job: Get-Printer-Attributes and Validate-Job, a few times."""
    with IppClient(uri, user_name=USER, timeout=30) as client:
        for _ in range(5):
            client.get_printer_attributes()
            client.validate_job(document_format="application/pdf", requesting_user_name=USER)


def measure(
    name: str,
    pid: Callable[[], int],
    uri: str,
    test: Path,
    pdf: Path,
    jobs: int,
    workers: int,
    budget: Budget,
) -> Memory:
    memory = Memory(name)
    touch(uri)
    time.sleep(1.0)
    memory.rss[0] = rss_kib(pid())
    started = time.perf_counter()
    done = 0
    for target in (CHECKPOINT, jobs):
        per_worker = (target - done) // workers
        ipptool_workers(uri, test, pdf, workers, per_worker, budget.remaining())
        done += per_worker * workers
        memory.rss[target] = rss_kib(pid())  # before the check: Get-Jobs of all jobs costs
        held = held_count(uri)
        if held != done:
            raise BenchError(f"{name}: {held} held jobs, expected {done}")
        print(f"    {name:<12} {done:>6} held: VmRSS {memory.rss[target] / 1024:6.1f} MiB")
    memory.ingest_s = time.perf_counter() - started
    cpu_before = cpu_seconds(pid())
    deadline = time.monotonic() + IDLE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.5)
        memory.idle_samples.append(rss_kib(pid()))
    memory.idle_cpu_percent = 100 * (cpu_seconds(pid()) - cpu_before) / IDLE_SECONDS
    memory.hwm_kib = status_kib(pid(), "VmHWM")
    return memory


def report(cupsd: Memory, ours: Memory, app_rss: tuple[int, int], jobs: int) -> bool:
    print(f"\n== summary: RSS with 0 and {jobs:,} held 1-page PDF jobs")
    for memory in (cupsd, ours):
        idle = f"{min(memory.idle_samples) / 1024:.1f}..{max(memory.idle_samples) / 1024:.1f}"
        print(
            f"  {memory.name:<12} 0 jobs {memory.rss[0] / 1024:6.1f} MiB; "
            f"{CHECKPOINT:,} jobs {memory.rss[CHECKPOINT] / 1024:6.1f} MiB; "
            f"{jobs:,} jobs {memory.rss[jobs] / 1024:6.1f} MiB (idle {idle}; "
            f"peak VmHWM {memory.hwm_kib / 1024:.1f} MiB, with Get-Jobs of all)"
        )
        print(
            f"  {'':<12} per held job {memory.per_job(jobs) / 1024:5.2f} KiB "
            f"(marginal {CHECKPOINT:,}..{jobs:,}: {memory.marginal(jobs) / 1024:5.2f} KiB); "
            f"idle CPU with {jobs:,} held: {memory.idle_cpu_percent:.1f}% of a core; "
            f"ingest {jobs / memory.ingest_s:.0f} jobs/s"
        )
    print(
        f"  App Server (not on the ingest path) VmRSS {app_rss[0] / 1024:.1f} MiB before, "
        f"{app_rss[1] / 1024:.1f} MiB after"
    )
    ratio = ours.per_job(jobs) / cupsd.per_job(jobs) if cupsd.per_job(jobs) > 0 else float("inf")
    total = ours.final(jobs) / 1024
    per_job_ok = ratio <= GOAL_PER_JOB_RATIO
    total_ok = total <= GOAL_TOTAL_MIB
    print(
        f"  ours/cupsd per job {ratio:.2f}x "
        f"({'meets' if per_job_ok else 'MISSES'} <= {GOAL_PER_JOB_RATIO}x); "
        f"provider total {total:.1f} MiB ({'meets' if total_ok else 'MISSES'} "
        f"<= {GOAL_TOTAL_MIB:.0f} MB)"
    )
    return per_job_ok and total_ok


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--fs", choices=list(FILESYSTEMS), default="disk")
    p.add_argument("--budget", type=float, default=280.0, help="seconds for the whole run")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.jobs <= CHECKPOINT or args.jobs % args.workers:
        raise SystemExit(f"--jobs must exceed {CHECKPOINT} and divide by --workers")
    header("Print Provider memory per held job vs cupsd", [sys.executable, *sys.argv])
    print_machine()
    require_tools(CUPSD, LPADMIN, IPPTOOL)
    if system_cupsd_on_631():
        print("  warning: something listens on 127.0.0.1:631 (a system cupsd? `service cups stop`)")
    budget = Budget(args.budget, "provider memory")
    root = Path(tempfile.mkdtemp(prefix="printwarden-memory-", dir=FILESYSTEMS[args.fs]))
    print(f"spools under {root} [{filesystem(root)}]")
    cupsd = Cupsd(root / "cupsd")
    ours: Ours | None = None
    try:
        pdf = make_pdf(root / "page.pdf")
        test = write_held_test(root / "held.test")
        print(f"client: {' '.join(ipptool_command('URI', test, pdf, args.jobs // args.workers))}")
        cupsd.start()
        cupsd.add_queue()
        ours = running = start_ours(root / "ours", f"file://{root / 'out'}")
        app = ours.app.process
        assert app is not None
        app_before = rss_kib(app.pid)
        load = (test, pdf, args.jobs, args.workers, budget)
        ours_memory = measure("printwarden", lambda: running.pid, ours.uri(), *load)
        cupsd_memory = measure("cupsd", lambda: cupsd.pid, cupsd.uri(), *load)
        met = report(cupsd_memory, ours_memory, (app_before, rss_kib(app.pid)), args.jobs)
    finally:
        if ours is not None:
            ours.stop()
        cupsd.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"total {time.monotonic() - budget.started:.0f} s")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
