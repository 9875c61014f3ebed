"""How long until a client sees every queue of a provider over mDNS (issue 19: 200 queues
advertised and browsable within 5 s of the provider's start).

    .venv/bin/python bench/mdns_adverts.py                  # 200 queues, 3 runs
    .venv/bin/python bench/mdns_adverts.py --queues 50 --runs 1

A real provider (no server: it announces without one) with N queues announces through the
avahi-daemon of this host, and a client in a network namespace of its own
(``printwarden.testing.mdns_lab``: a veth pair, a dbus-daemon and avahi-daemon each side)
browses ``_ipp._tcp`` with ``avahi-browse -tp`` until it lists all N. The time counts from
the provider's process start to the first complete listing.

The anchor, in the same lab and run: N ``avahi-publish -s`` processes started at once (what a
shell script would do with avahi's own tool), timed the same way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import Budget, print_machine
from printwarden.sim.processes import stop_process
from printwarden.testing.mdns_lab import MdnsLab
from printwarden.testing.provider import PrinterSpec, ProviderProcess, QueueSpec

GOAL_SECONDS = 5.0


def listed(lab: MdnsLab) -> set[str]:
    """The ``_ipp._tcp`` instances the client's avahi lists now."""
    return lab.names("_ipp._tcp")


def until_all(lab: MdnsLab, wanted: set[str], started: float, budget: Budget) -> float:
    """Seconds from ``started`` until the client lists every name in ``wanted``."""
    while True:
        budget.check()
        if wanted <= listed(lab):
            return time.monotonic() - started


def until_none(lab: MdnsLab, names: set[str], budget: Budget) -> None:
    """Wait until the client's cache has forgotten ``names`` (withdrawn on stop)."""
    while names & listed(lab):
        budget.check()
        time.sleep(0.2)


def run_ours(lab: MdnsLab, root: Path, count: int, budget: Budget) -> float:
    root.mkdir(parents=True)
    queues = [QueueSpec(f"q{n:03d}", "hold", "laser") for n in range(count)]
    provider = ProviderProcess(
        server_url="http://127.0.0.1:9",  # nobody: the adverts do not wait for a server
        token="bench",
        directory=root,
        printers=[PrinterSpec("laser", f"file://{root / 'out'}", colour=False)],
        queues=queues,
        bind=lab.host_ip,
        mdns_bus=lab.host_bus,
    )
    started = time.monotonic()
    provider.start()
    try:
        return until_all(lab, {q.name for q in queues}, started, budget)
    finally:
        provider.stop()
        until_none(lab, {q.name for q in queues}, budget)


def run_anchor(lab: MdnsLab, count: int, budget: Budget) -> float:
    names = {f"a{n:03d}" for n in range(count)}
    env = {"DBUS_SYSTEM_BUS_ADDRESS": lab.host_bus}
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            ["avahi-publish", "-s", name, "_ipp._tcp", "631", "rp=ipp/print/x"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in sorted(names)
    ]
    try:
        return until_all(lab, names, started, budget)
    finally:
        for process in processes:
            stop_process(process)
        until_none(lab, names, budget)


def alternate(runs: int, *measures: Callable[[], float]) -> list[list[float]]:
    results: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for index, measure in enumerate(measures):
            results[index].append(measure())
    return results


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=300.0)
    args = parser.parse_args()
    print_machine()
    budget = Budget(args.budget, "mdns adverts")
    with MdnsLab() as lab, tempfile.TemporaryDirectory(prefix="pw-mdns-bench-") as tmp:
        counter = iter(range(1000))
        ours, anchor = alternate(
            args.runs,
            lambda: run_ours(lab, Path(tmp) / f"p{next(counter)}", args.queues, budget),
            lambda: run_anchor(lab, args.queues, budget),
        )
    ours_median, anchor_median = statistics.median(ours), statistics.median(anchor)
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"{args.queues} queues: provider start -> avahi-browse lists all ({args.runs} runs)")
    print(f"  printwarden provider  {ours_median:6.2f} s  (runs {_runs(ours)})")
    print(f"  avahi-publish x {args.queues}  {anchor_median:6.2f} s  (runs {_runs(anchor)})")
    verdict = "met" if ours_median <= GOAL_SECONDS else "MISSED"
    ratio = ours_median / anchor_median
    print(f"  ratio ours/anchor {ratio:.2f}; goal <= {GOAL_SECONDS:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
