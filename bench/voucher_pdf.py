"""Top-up cards: making a batch of codes, their keyed hashes and both exports.

    .venv/bin/python bench/voucher_pdf.py                  # 10,000 cards, 1 timed run
    .venv/bin/python bench/voucher_pdf.py --cards 2000 --repeat 3 --strict

Timed, one after the other on the same codes (medians of ``--repeat`` runs):

(a) ``generate``: the codes (CSPRNG, check symbol, uniqueness);
(b) the keyed hash stored of each code: HMAC-SHA256 of its canonical form;
(c) ``to_csv``: the CSV file;
(d) ``to_pdf``: the printable sheets (10 cards a page, a QR code each, drawn as rectangles).

Goal: all four in under :data:`GOAL_SECONDS` for 10,000 cards. Exit status 2 when the PDF
lacks a page or the CSV a code; 1 on a missed goal with ``--strict``. Bounded: at most
:data:`MAX_BATCH` cards and 10 repeats, and the whole run a budget (``--budget`` seconds).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import math
import os
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

import fpdf
import pikepdf
import segno

from harness import Budget, load_average
from printwarden.domain.vouchers import MAX_BATCH, Batch, generate, parse
from printwarden.payments.voucher_export import PER_PAGE, to_csv, to_pdf

GOAL_SECONDS = 30.0
"""For the four steps together, on 10,000 cards (scaled for fewer)."""
MAX_REPEAT = 10
REDEEM_URL = "https://print.example.edu/topup-cards/redeem"

T = TypeVar("T")


def hashes(key: bytes, codes: Sequence[str]) -> list[str]:
    """What the server keeps of each code: HMAC-SHA256 of its canonical form."""
    return [hmac.new(key, parse(code).encode(), hashlib.sha256).hexdigest() for code in codes]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cards", type=int, default=MAX_BATCH, help=f"cards (<= {MAX_BATCH:,})")
    p.add_argument("--repeat", type=int, default=1, help=f"timed runs (<= {MAX_REPEAT})")
    p.add_argument("--budget", type=float, default=300.0, help="seconds for the whole run")
    p.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    count = max(1, min(args.cards, MAX_BATCH))
    repeat = max(1, min(args.repeat, MAX_REPEAT))
    budget = Budget(args.budget, "top-up card benchmark")
    print(time.strftime("top-up card benchmark, %Y-%m-%d %H:%M:%S %Z"))
    print(f"  fpdf2 {fpdf.__version__}, segno {segno.__version__}, pikepdf {pikepdf.__version__}")
    print(f"  {os.cpu_count()} CPUs, load {load_average()}, {count:,} cards, {repeat} run(s)")
    batch = Batch("bench-2026", 1000, "EUR", date(2026, 12, 31), count)
    key = secrets.token_bytes(32)
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        text, pdf = _once(times, batch, key)
        budget.check()
    return _report(count, times, text, pdf, args.strict)


def _once(times: dict[str, list[float]], batch: Batch, key: bytes) -> tuple[str, bytes]:
    """One timed run of the four steps: the CSV and the PDF made."""
    codes = _timed(times, "(a) generate codes", lambda: generate(batch.count))
    _timed(times, "(b) HMAC-SHA256 hashes", lambda: hashes(key, codes))
    text = _timed(times, "(c) to_csv", lambda: to_csv(batch, codes))
    return text, _timed(times, "(d) to_pdf", lambda: to_pdf(batch, codes, REDEEM_URL))


def _timed(times: dict[str, list[float]], name: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = action()
    times.setdefault(name, []).append(time.perf_counter() - started)
    return result


def _report(count: int, times: dict[str, list[float]], text: str, pdf: bytes, strict: bool) -> int:
    print(f"  {'step':<26} {'seconds':>8} {'µs/card':>9}")
    total = 0.0
    for name, runs in times.items():
        median = statistics.median(runs)
        total += median
        print(f"  {name:<26} {median:8.2f} {median / count * 1e6:9.1f}")
    print(f"  {'total':<26} {total:8.2f} {total / count * 1e6:9.1f}")
    pages = _pages(pdf)
    rows = sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1
    print(f"  PDF {len(pdf) / 2**20:.1f} MiB, {pages} pages; CSV {len(text) / 2**10:.0f} KiB")
    goal = GOAL_SECONDS * count / MAX_BATCH
    met = total <= goal
    print(f"  total {total:.2f} s (goal <= {goal:.1f} s): {'met' if met else 'MISSED'}")
    if pages != math.ceil(count / PER_PAGE) or rows != count:
        print(f"  wrong output: {pages} pages, {rows} CSV rows")
        return 2
    return 1 if strict and not met else 0


def _pages(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return len(document.pages)


if __name__ == "__main__":
    raise SystemExit(main())
