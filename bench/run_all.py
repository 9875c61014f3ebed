"""Every benchmark on both backends, then one summary (``make bench``).

    .venv/bin/python bench/run_all.py            # full size: about 5-8 minutes on 2 cores
    .venv/bin/python bench/run_all.py --quick    # small sizes, short runs: a smoke test
    .venv/bin/python bench/run_all.py --strict   # exit 1 when a goal is missed

Correctness failures (a wrong verdict, a replay that changed a balance, a stuck server) always
exit non-zero; missed throughput goals only do with ``--strict``. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import decision
import ledger
from harness import BACKENDS, print_machine


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    p.add_argument("--quick", action="store_true", help="10,000 txns; 3 s wrk runs, once each")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    started = time.monotonic()
    print(time.strftime("benchmarks, %Y-%m-%d %H:%M:%S %Z"))
    print("machine:")
    print_machine()

    ledgers: list[ledger.LedgerResult] = []
    for backend in backends:
        size = 10_000 if args.quick else ledger.DEFAULT_TRANSACTIONS
        result = ledger.run(backend, transactions=size)
        ledger.report(result)
        ledgers.append(result)

    decisions: list[decision.DecisionResult] = []
    for backend in backends:
        duration, runs = (3.0, 1) if args.quick else (10.0, 3)
        outcome = decision.run(backend, duration=duration, runs=runs, warmup=2.0)
        decision.report(outcome)
        decisions.append(outcome)

    print(f"\nsummary ({time.monotonic() - started:.0f} s)")
    print(f"{'benchmark':<26}{'result':>16}{'anchor':>16}{'ratio':>8}  goal")
    for lr in ledgers:
        goal = f">= {ledger.GOAL_TXN_PER_S:,} txn/s"
        for phase, rate, ratio in (
            ("apply", lr.apply_rate, lr.apply_ratio),
            ("replay", lr.replay_rate, lr.replay_ratio),
        ):
            met = "met" if rate >= ledger.GOAL_TXN_PER_S else "MISSED"
            print(
                f"{'ledger ' + phase + '/' + lr.backend:<26}{rate:>10,.0f} txn/s"
                f"{lr.anchor_rate:>10,.0f} row/s{ratio:>8.2f}  {goal}: {met}"
            )
    for dr in decisions:
        met = "met" if dr.meets_goal else "MISSED"
        print(
            f"{'decision/' + dr.backend:<26}{dr.decision.rps:>10,.0f} req/s"
            f"{dr.health.rps:>10,.0f} req/s{dr.ratio:>8.2f}  >= {decision.GOAL_RPS:,} req/s: {met}"
            f"  (p50 {dr.decision.p50_ms:.1f} ms, p99 {dr.decision.p99_ms:.1f} ms, "
            f"non-2xx {dr.decision.non2xx})"
        )
    missed = sum(not lr.meets_goal for lr in ledgers) + sum(not d.meets_goal for d in decisions)
    if missed:
        print(f"{missed} of {len(ledgers) + len(decisions)} benchmarks miss their goal")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
