"""IPP ingest of held one-page PDF jobs: the Print Provider against a private cupsd.

    .venv/bin/python bench/provider_ingest.py                  # disk and tmpfs, 3 runs of 2x500
    .venv/bin/python bench/provider_ingest.py --fs tmpfs --runs 1 --jobs-per-worker 300
    .venv/bin/python bench/provider_ingest.py --profile        # + py-spy of the provider
    .venv/bin/python bench/provider_ingest.py --compare-src /tmp/patched/src   # A/B a change

Both servers get the very same client: ``ipptool`` with one ``.test`` file holding one
Print-Job (``job-hold-until=indefinite``, a 1-page PDF), run as 2 parallel workers that each
repeat it N times, one new connection per job (``-i 0.000001 -n N``). cupsd runs with its own
ServerRoot and a raw queue on ``file:///dev/null``, ``MaxJobs 0``; its RequestRoot and the
provider's spool sit under one temporary directory, on disk (``/tmp``) and on tmpfs
(``/dev/shm``). The provider's hold queue holds every job; nothing prints.

cupsd runs twice: with its defaults (no fsync; job control files written up to 30 s later,
``DirtyCleanInterval``) and "durable" (``SyncOnClose Yes``, ``DirtyCleanInterval 0``).
The crash check submits K jobs, SIGKILLs each server as soon as ipptool got the last answer,
restarts it and counts the held jobs that survived.

Goals (issue 16, "lean ingest"), against default cupsd in the same run: server CPU per held
job <= cupsd's, and jobs/s >= 1.0x, with every job fsync'd before its answer (the crash
check: all survive). Server CPU is counted twice: while ipptool runs ("ingest"), and until
the server is idle again ("all": for the provider also the work it does after answering —
each held job analysed and reported to the App Server in batches).

The same client also runs against a do-nothing responder (``bench/null_ipp.py``: canned
answer, no parsing, no spool): its rate is the ceiling this client and this machine allow
any server, and its ratio to cupsd says how much of the goal is reachable here at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import Budget, BudgetExceeded, print_machine
from printwarden.provider.ipp.client import IppError
from printwarden.sim.ports import free_port
from printwarden.sim.processes import stop_process
from provider_harness import (
    CUPSD,
    HOLD_QUEUE,
    IPPTOOL,
    LPADMIN,
    BenchError,
    Cupsd,
    Ours,
    filesystem,
    finish_py_spy,
    header,
    held_count,
    ipptool_command,
    ipptool_workers,
    make_pdf,
    median,
    start_ours,
    start_provider,
    start_py_spy,
    system_cupsd_on_631,
    wait_listening,
    write_held_test,
)

GOAL_RATE = 1.0  # ours / default cupsd, jobs/s
GOAL_CPU = 1.0  # ours / default cupsd, server CPU per held job
IDLE_CPU_SECONDS = 0.005  # per SETTLE_STEP: what counts as idle (the loops' polling)
SETTLE_STEP = 0.5
SETTLE_QUIET_STEPS = 4  # idle this long in a row (longer than any batching delay) = settled
SETTLE_MAX = 60.0
COMPARED = "printwarden B"
CEILING = "null responder"
FILESYSTEMS = {"disk": "/tmp", "tmpfs": "/dev/shm"}
WARMUP_PER_WORKER = 25


@dataclass
class Target:
    """One server under test: how to reach it and how to crash and restart it."""

    name: str
    uri: str
    pid: Callable[[], int]
    kill9: Callable[[], None]
    stop: Callable[[], None]
    restart: Callable[[], None]
    rates: list[float] = field(default_factory=list)
    cpu_ms_per_job: list[float] = field(default_factory=list)
    all_cpu_ms_per_job: list[float] = field(default_factory=list)


@dataclass
class CrashResult:
    name: str
    submitted: int
    acknowledged_to_kill_ms: float
    survived: int


@dataclass
class FsResult:
    fs: str
    where: str
    rates: dict[str, list[float]]
    cpu: dict[str, list[float]]
    all_cpu: dict[str, list[float]]
    crashes: list[CrashResult]
    profile: str = ""


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` so far, all its threads: the scheduler's nanosecond count
    (``/proc/PID/task/*/schedstat``), where ``/proc/PID/stat`` counts 10 ms ticks — 5 % of
    a run of 600 jobs. Falls back to the ticks without schedstat."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                total += int((task / "schedstat").read_text().split()[0])
    except FileNotFoundError:
        total = 0
    if total:
        return total / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def settled_cpu(pid: int, limit: float = SETTLE_MAX) -> float:
    """The CPU seconds of ``pid`` once it is idle again (its deferred work done): idle for
    ``SETTLE_QUIET_STEPS`` steps in a row; the CPU of those idle steps is not counted."""
    deadline = time.monotonic() + limit
    quiet, last, busy_until = 0, cpu_seconds(pid), cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(SETTLE_STEP)
        now = cpu_seconds(pid)
        if now - last <= IDLE_CPU_SECONDS:
            quiet += 1
            if quiet >= SETTLE_QUIET_STEPS:
                return busy_until
        else:
            quiet, busy_until = 0, now
        last = now
    raise BenchError(f"pid {pid} still busy {limit:.0f} s after the run")


def cupsd_target(cupsd: Cupsd, name: str) -> Target:
    def restart() -> None:
        cupsd.start()

    return Target(name, cupsd.uri(), lambda: cupsd.pid, cupsd.kill9, cupsd.stop, restart)


def ours_target(ours: Ours, name: str = "printwarden") -> Target:
    return Target(
        name, ours.uri(), lambda: ours.pid, ours.kill9, ours.stop_provider, ours.start_provider
    )


class NullResponder:
    """``bench/null_ipp.py`` on a free loopback port."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("null_ipp.py")), str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_listening(self.port, self.process, "the null responder", log)

    def stop(self) -> None:
        stop_process(self.process)

    def target(self) -> Target:
        def unsupported() -> None:
            raise BenchError("the null responder keeps nothing: no crash check")

        uri = f"ipp://127.0.0.1:{self.port}/ipp/print/{HOLD_QUEUE}"
        return Target(CEILING, uri, lambda: self.process.pid, unsupported, self.stop, unsupported)


def measure(
    target: Target, test: Path, pdf: Path, workers: int, per_worker: int, timeout: float
) -> None:
    """One timed run of ``workers`` x ``per_worker`` held jobs; checks every job is held."""
    keeps_jobs = target.name != CEILING
    before = held_count(target.uri) if keeps_jobs else 0
    pid = target.pid()
    cpu_before = cpu_seconds(pid)
    elapsed = ipptool_workers(target.uri, test, pdf, workers, per_worker, timeout)
    cpu = cpu_seconds(pid) - cpu_before
    all_cpu = settled_cpu(pid) - cpu_before
    jobs = workers * per_worker
    after = held_count(target.uri) if keeps_jobs else jobs
    if after - before != jobs:
        raise BenchError(f"{target.name}: {after - before} new held jobs, expected {jobs}")
    target.rates.append(jobs / elapsed)
    target.cpu_ms_per_job.append(1000 * cpu / jobs)
    target.all_cpu_ms_per_job.append(1000 * all_cpu / jobs)
    print(
        f"    {target.name:<15} {jobs} jobs in {elapsed:6.2f} s = {jobs / elapsed:7.0f} jobs/s"
        f"  (server CPU {1000 * cpu / jobs:.2f} ms/job, all {1000 * all_cpu / jobs:.2f};"
        f" {after} held)"
    )


def crash_check(target: Target, test: Path, pdf: Path, jobs: int) -> CrashResult:
    """Submit ``jobs`` held jobs, SIGKILL right after the last answer, restart, count.

    The server is first stopped gracefully and started again, so that everything from
    before (cupsd writes printers.conf and job files lazily) is on disk: only the new
    ``jobs`` are at stake.
    """
    target.stop()
    target.restart()
    before = held_count(target.uri)
    command = ipptool_command(target.uri, test, pdf, jobs)
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    acknowledged = time.perf_counter()
    os.kill(target.pid(), signal.SIGKILL)
    gap_ms = 1000 * (time.perf_counter() - acknowledged)
    target.kill9()  # reaps the process
    if done.returncode != 0:
        raise BenchError(f"{target.name}: ipptool failed: {done.stdout.decode()[-1000:]}")
    target.restart()
    try:
        survived = held_count(target.uri) - before
    except IppError as exc:  # cupsd may come back without the queue
        print(f"    {target.name}: after the restart: {exc}")
        survived = 0
    return CrashResult(target.name, jobs, gap_ms, survived)


def run_filesystem(
    fs: str, base: str, args: argparse.Namespace, budget: Budget, test: Path, pdf: Path
) -> FsResult:
    root = Path(tempfile.mkdtemp(prefix="printwarden-ingest-", dir=base))
    where = filesystem(root)
    print(f"\n== {fs}: cupsd RequestRoot and provider spool under {root}  [{where}]")
    servers: list[Cupsd] = []
    ours: Ours | None = None
    others: list[Ours] = []
    ceiling: NullResponder | None = None
    try:
        cupsd = Cupsd(root / "cupsd")
        durable = Cupsd(root / "cupsd-durable", durable=True)
        for server in (cupsd, durable):
            servers.append(server)
            server.start()
            server.add_queue()
        ours = start_ours(root / "ours", f"file://{root / 'out'}")
        targets = [
            cupsd_target(cupsd, "cupsd"),
            cupsd_target(durable, "cupsd (durable)"),
            ours_target(ours),
        ]
        if args.compare_src is not None:
            other = start_provider(ours, root / "other", f"file://{root / 'out'}", args.compare_src)
            others.append(other)
            targets.append(ours_target(other, COMPARED))
        ceiling = NullResponder(root / "null-ipp.log")
        targets.append(ceiling.target())
        print(f"  warm-up: {args.workers} x {WARMUP_PER_WORKER} jobs each")
        for target in targets:
            ipptool_workers(target.uri, test, pdf, args.workers, WARMUP_PER_WORKER, 60)
        for run in range(1, args.runs + 1):
            print(f"  run {run}/{args.runs}: {args.workers} workers x {args.jobs_per_worker} jobs")
            for target in targets:
                budget.check()
                measure(target, test, pdf, args.workers, args.jobs_per_worker, budget.remaining())
        profile = ""
        if args.profile:
            budget.check()
            out = root.parent / f"printwarden-ingest-{fs}.collapsed"
            recorder = start_py_spy(ours.pid, out, 8)
            deadline = time.monotonic() + 7
            while time.monotonic() < deadline:
                ipptool_workers(ours.uri(), test, pdf, args.workers, 100, 60)
            profile = f"  py-spy of the provider ({out}):\n" + finish_py_spy(recorder, out)
            print(profile)
        crashes = []
        if args.crash_jobs:
            budget.check()
            print(f"  crash check: {args.crash_jobs} held jobs, SIGKILL after the last answer")
            for target in targets[:-1]:  # not the null responder
                crashes.append(crash_check(target, test, pdf, args.crash_jobs))
                print(f"    {target.name:<15} {crashes[-1].survived}/{args.crash_jobs} survived")
        return FsResult(
            fs,
            where,
            {t.name: t.rates for t in targets},
            {t.name: t.cpu_ms_per_job for t in targets},
            {t.name: t.all_cpu_ms_per_job for t in targets},
            crashes,
            profile,
        )
    finally:
        if ceiling is not None:
            ceiling.stop()
        for other in others:
            other.stop_provider()
        if ours is not None:
            ours.stop()
        for server in servers:
            server.stop()
        if args.keep:
            print(f"  kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def report(results: Sequence[FsResult], args: argparse.Namespace) -> bool:
    print(
        "\n== summary: held 1-page PDF jobs/s, ipptool, "
        f"{args.workers} workers, one connection per job (median of {args.runs} runs)"
    )
    met = True
    for result in results:
        ours = median(result.rates["printwarden"])
        cupsd = median(result.rates["cupsd"])
        print(f"  {result.fs}: {result.where}")
        for name, rates in result.rates.items():
            spread = f"{min(rates):.0f}..{max(rates):.0f}"
            print(
                f"    {name:<15} {median(rates):7.0f} jobs/s  (runs {spread})  server CPU"
                f" {median(result.cpu[name]):.2f} ms/job while answering,"
                f" {median(result.all_cpu[name]):.2f} all"
            )
        rate = ours / cupsd
        cpu = median(result.cpu["printwarden"]) / median(result.cpu["cupsd"])
        all_cpu = median(result.all_cpu["printwarden"]) / median(result.all_cpu["cupsd"])
        durable = ours / median(result.rates["cupsd (durable)"])
        print(f"    jobs/s ours/cupsd         {rate:5.2f}x  ({_verdict(rate >= GOAL_RATE)}"
              f" >= {GOAL_RATE}x; ours/durable cupsd {durable:.2f}x)")  # fmt: skip
        print(f"    CPU/job ours/cupsd        {cpu:5.2f}x  ({_verdict(cpu <= GOAL_CPU)}"
              f" <= {GOAL_CPU}x while answering; {all_cpu:.2f}x with the work after)")  # fmt: skip
        if COMPARED in result.rates:
            other = median(result.rates[COMPARED])
            print(
                f"    {COMPARED} ({args.compare_src}) / printwarden: {other / ours:.2f}x jobs/s, "
                f"{median(result.cpu[COMPARED]) / median(result.cpu['printwarden']):.2f}x CPU/job"
            )
        if CEILING in result.rates:
            ceiling = median(result.rates[CEILING]) / cupsd
            print(
                f"    {CEILING}/cupsd    {ceiling:5.2f}x  (the most any server can reach with"
                f" this client here)"
            )
        met &= rate >= GOAL_RATE and cpu <= GOAL_CPU
        for crash in result.crashes:
            print(
                f"    crash: {crash.name:<15} {crash.survived:>4}/{crash.submitted} held jobs"
                f" survived SIGKILL ({crash.acknowledged_to_kill_ms:.1f} ms after the last answer)"
            )
    return met


def _verdict(met: bool) -> str:
    return "meets" if met else "MISSES"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fs", choices=[*FILESYSTEMS, "all"], default="all")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--jobs-per-worker", type=int, default=500)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--crash-jobs", type=int, default=200, help="0 skips the crash check")
    p.add_argument("--profile", action="store_true", help="py-spy the provider (investigation)")
    p.add_argument("--budget", type=float, default=280.0, help="seconds for the whole run")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    p.add_argument(
        "--compare-src",
        type=Path,
        help="also run a provider importing printwarden from this src/ (an A/B, same run)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    header("Print Provider IPP ingest vs cupsd", [sys.executable, *sys.argv])
    print_machine()
    for tool in (CUPSD, LPADMIN, IPPTOOL):
        if not Path(tool).exists():
            raise SystemExit(f"missing {tool}: run `make system-deps`")
    if system_cupsd_on_631():
        print("  warning: something listens on 127.0.0.1:631 (a system cupsd? `service cups stop`)")
    budget = Budget(args.budget, "provider ingest")
    work = Path(tempfile.mkdtemp(prefix="printwarden-ingest-client-"))
    results: list[FsResult] = []
    try:
        pdf = make_pdf(work / "page.pdf")
        test = write_held_test(work / "held.test")
        print(f"client: {' '.join(ipptool_command('URI', test, pdf, args.jobs_per_worker))}")
        print(f"document: {pdf.stat().st_size} bytes, 1 page, application/pdf")
        chosen = FILESYSTEMS if args.fs == "all" else {args.fs: FILESYSTEMS[args.fs]}
        for fs, base in chosen.items():
            results.append(run_filesystem(fs, base, args, budget, test, pdf))
    except BudgetExceeded as exc:
        print(f"stopped: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    met = report(results, args)
    print(f"total {time.monotonic() - budget.started:.0f} s")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
