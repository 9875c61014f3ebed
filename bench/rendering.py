"""Web Print rendering: the warm pool against one-shot ``soffice --convert-to``, same run.

    .venv/bin/python bench/rendering.py               # 3 runs each, medians
    .venv/bin/python bench/rendering.py --runs 5 --strict

Documents from :mod:`printwarden.testing.office_corpus` (made once by LibreOffice): a 4-,
a 10- and a 70-page docx, a 2-sheet xlsx and a 3-slide pptx. Each is rendered ``--runs``
times by a warm :class:`~printwarden.rendering.RenderPool` of 2 sandboxed workers (one
caller: the latency of one document) and by the plain command line ``soffice --headless
--convert-to pdf`` (one process per document, its profile kept between runs, which is the
fastest way to run it), alternately. Then both render the whole set with 2 at once
(throughput, pages/s). Last, 8 callers render the 10-page docx at once, ``--rounds`` times
each: the p95 latency a user sees when the pool is queued. And the first document on a fresh
one-worker pool, with and without the workers' warm-up (``RenderSettings.warm_up``).

Goal: warm pages/s >= 10 x one-shot pages/s (throughput row). Exit status 1 on a missed
goal with ``--strict``; 2 when a PDF has the wrong number of pages. Bounded: every call has
the pool's timeout, the whole run a budget (``--budget`` seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pikepdf

from printwarden.rendering import RenderPool, RenderSettings
from printwarden.testing import office_corpus

DOCUMENTS = ("docx-4", "docx-10", "docx-70", "xlsx-2", "pptx-3")
GOAL_RATIO = 10.0
CALLERS = 8


class WrongOutput(Exception):
    pass


def _check(pdf: Path, pages: int) -> None:
    with pikepdf.open(pdf) as document:
        if len(document.pages) != pages:
            raise WrongOutput(f"{pdf.name}: {len(document.pages)} pages, expected {pages}")


async def one_shot(source: Path, out: Path, profile: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        "soffice",
        "--headless",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
        f"-env:UserInstallation={profile.as_uri()}",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out),
        str(source),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(120):
        await process.wait()


async def run(args: argparse.Namespace) -> int:
    corpus = office_corpus.build()
    deadline = time.monotonic() + args.budget
    with tempfile.TemporaryDirectory(prefix="bench-rendering-") as scratch:
        work = Path(scratch)
        profiles = [work / f"profile-{lane}" for lane in range(2)]
        pool = RenderPool(RenderSettings(workers=2), work / "pool")
        started = time.monotonic()
        await pool.start(wait=True)
        print(
            f"pool of 2 workers ready in {time.monotonic() - started:.1f} s (sandbox {pool.mode})"
        )
        # Warm the one-shot profiles as the pool is warm (its first run makes the profile).
        await asyncio.gather(
            *(one_shot(corpus.path("docx-4"), work / "warmup", p) for p in profiles)
        )
        try:
            print(f"\none document at a time, median of {args.runs} runs")
            print(f"{'document':<10} {'pages':>5} {'warm ms':>9} {'one-shot ms':>12} {'ratio':>7}")
            for name in DOCUMENTS:
                source, pages = corpus.path(name), corpus.pages(name)
                warm, cold = [], []
                for index in range(args.runs):
                    if time.monotonic() > deadline:
                        raise TimeoutError("budget exceeded")
                    dest = work / f"{name}-{index}.pdf"
                    t0 = time.monotonic()
                    await pool.render(source, dest)
                    warm.append(time.monotonic() - t0)
                    _check(dest, pages)
                    out = work / f"cold-{index}"
                    t0 = time.monotonic()
                    await one_shot(source, out, profiles[0])
                    cold.append(time.monotonic() - t0)
                    _check(out / (source.stem + ".pdf"), pages)
                w, c = statistics.median(warm), statistics.median(cold)
                print(f"{name:<10} {pages:>5} {w * 1000:>9.0f} {c * 1000:>12.0f} {c / w:>6.1f}x")

            total_pages = sum(corpus.pages(name) for name in DOCUMENTS) * args.runs
            jobs = [name for name in DOCUMENTS for _ in range(args.runs)]

            async def lanes(render: object) -> float:
                queue = list(enumerate(jobs))
                t0 = time.monotonic()

                async def lane(number: int) -> None:
                    while queue:
                        index, name = queue.pop()
                        await render(number, index, name)  # type: ignore[operator]

                await asyncio.gather(lane(0), lane(1))
                return time.monotonic() - t0

            async def warm_one(_: int, index: int, name: str) -> None:
                await pool.render(corpus.path(name), work / f"t-{index}.pdf")

            async def cold_one(lane_number: int, index: int, name: str) -> None:
                await one_shot(corpus.path(name), work / f"tc-{index}", profiles[lane_number])

            warm_time = await lanes(warm_one)
            cold_time = await lanes(cold_one)
            warm_rate, cold_rate = total_pages / warm_time, total_pages / cold_time
            ratio = warm_rate / cold_rate
            print(f"\nthroughput, {len(jobs)} documents ({total_pages} pages), 2 at a time")
            print(f"  warm pool: {warm_rate:7.1f} pages/s ({warm_time:.1f} s)")
            print(f"  one-shot:  {cold_rate:7.1f} pages/s ({cold_time:.1f} s)")
            print(f"  ratio:     {ratio:7.1f}x (goal >= {GOAL_RATIO:g}x)")

            latencies: list[float] = []

            async def caller(number: int) -> None:
                for round_ in range(args.rounds):
                    t0 = time.monotonic()
                    dest = work / f"p-{number}-{round_}.pdf"
                    await pool.render(corpus.path("docx-10"), dest)
                    latencies.append(time.monotonic() - t0)

            await asyncio.gather(*(caller(number) for number in range(CALLERS)))
            latencies.sort()
            p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
            print(
                f"\n{CALLERS} callers at once, docx-10 x {args.rounds} each: "
                f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                f"max {latencies[-1] * 1000:.0f} ms"
            )
            print(f"pool stats: {pool.stats()}")
            await first_documents(corpus, work, deadline)
        except WrongOutput as exc:
            print(f"WRONG OUTPUT: {exc}")
            return 2
        finally:
            await pool.stop()
    if args.strict and ratio < GOAL_RATIO:
        return 1
    return 0


async def first_documents(corpus: office_corpus.Corpus, work: Path, deadline: float) -> None:
    """The first and second docx-10 on a fresh one-worker pool, warm-up on and off."""
    print("\nfirst document on a fresh worker (docx-10, then xlsx-2), then the same again")
    for warm_up in (True, False):
        if time.monotonic() > deadline:
            raise TimeoutError("budget exceeded")
        fresh = RenderPool(RenderSettings(workers=1, warm_up=warm_up), work / f"fresh-{warm_up}")
        try:
            started = time.monotonic()
            await fresh.start(wait=True)
            ready = time.monotonic() - started
            times: list[float] = []
            for name in ("docx-10", "xlsx-2", "docx-10", "xlsx-2"):
                t0 = time.monotonic()
                await fresh.render(corpus.path(name), work / f"fresh-{warm_up}-{len(times)}.pdf")
                times.append((time.monotonic() - t0) * 1000)
            print(
                f"  warm-up {'on ' if warm_up else 'off'}: ready in {ready:.1f} s, "
                f"first docx-10 {times[0]:.0f} ms, xlsx-2 {times[1]:.0f} ms; "
                f"next {times[2]:.0f} ms, {times[3]:.0f} ms; renders counted "
                f"{fresh.stats()['renders']}"
            )
        finally:
            await fresh.stop()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs per document (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="renders per caller (default 3)")
    p.add_argument("--budget", type=float, default=300.0, help="seconds for the whole run")
    p.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    print(time.strftime("rendering benchmark, %Y-%m-%d %H:%M:%S %Z"))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
