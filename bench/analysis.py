"""Job analysis speed against pikepdf and Ghostscript's inkcov, on the colour corpus and on
a generated 200-page PDF.

    .venv/bin/python bench/analysis.py                 # 5 runs each, medians
    .venv/bin/python bench/analysis.py --runs 3 --strict
    .venv/bin/python bench/analysis.py --part corpus   # or --part document

The colour corpus (``printwarden.testing.corpus.colours``: 54 small PDF and PostScript
files, one per colour construct): for each file, ``analyze`` against plain
``gs -sDEVICE=inkcov`` on the same file, run alternately, medians per file, summed by format
(goal: at least 20x faster over the corpus's PDFs; PostScript is analysed by converting it
with Ghostscript first, so it cannot be faster than Ghostscript). Every page's answer must
equal the reference (``printwarden.testing.corpus.reference``), always checked.

Two 200-page documents from the corpus generator: the benchmark document (grey and
colour text, vector art, photos, images, shadings, patterns, forms, annotations) and the
corpus's ``big.pdf``, the same mix plus 3 pages of spot and Lab colours. Page count:
``analyze(..., colour=False)`` against pikepdf's own open + ``len(pages)`` (goal: at most
1.2x). Colour: ``analyze(...)`` against ``gs -sDEVICE=inkcov`` over the whole file, plain
(goal: at least 5x faster) and tuned. Exit status: 2 on a wrong answer; 1 on a missed
goal with ``--strict``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pikepdf

from harness import paired_medians
from printwarden.analysis import DEFAULT_LIMITS, analyze, rendered
from printwarden.analysis.pdf import scan
from printwarden.analysis.pdfspaces import ColourStatus
from printwarden.testing.corpus import colours, generate, reference

GOAL_COUNT_RATIO = 1.2
GOAL_COLOUR_SPEEDUP = 5.0
"""On the 200-page document, against plain inkcov over the whole file."""
GOAL_CORPUS_SPEEDUP = 20.0
"""On the colour corpus's PDFs, file by file."""
COUNT_REPEAT = 20
"""Page counts take milliseconds: time this many more of them than of colour runs."""


def median_seconds(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls (after one warm-up call)."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def pikepdf_count(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def plain_inkcov(path: Path) -> None:
    command = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=inkcov", "-o", "-"]
    subprocess.run([*command, str(path)], capture_output=True, check=True, timeout=600)


def scan_split(path: Path) -> tuple[float, list[int]]:
    """Seconds to scan every page, and the pages left to the Ghostscript run."""
    started = time.perf_counter()
    with pikepdf.open(path) as pdf:
        verdicts = scan(pdf, DEFAULT_LIMITS.tolerance)
    elapsed = time.perf_counter() - started
    return elapsed, [n for n, v in enumerate(verdicts, 1) if v is ColourStatus.RENDER]


def fallback(path: Path, pages: list[int]) -> None:
    limits = DEFAULT_LIMITS
    rendered.colour_pages(path, pages, limits.render_dpi, limits.tolerance, limits.timeout)


def report(path: Path, runs: int) -> tuple[bool, bool]:
    """Print the measurements; whether the answers were right, and every goal met."""
    ours = analyze(path, "application/pdf")
    wanted = reference.colour_pages(path)
    same = ours.colour_pages == wanted
    print(f"  pages {ours.pages}, colour pages {len(wanted)} (the reference)")
    print(f"  per-page answers identical to the reference: {'yes' if same else 'NO'}")
    if not same:
        print(f"    ours {ours.colour_pages}\n    reference {wanted}")

    count_pikepdf, count_ours = paired_medians(
        lambda: pikepdf_count(path),
        lambda: analyze(path, "application/pdf", colour=False),
        runs * COUNT_REPEAT,
        warm_up=False,
    )
    count_ratio = count_ours / count_pikepdf
    print(f"  page count: pikepdf {count_pikepdf * 1e3:.2f} ms, analyze {count_ours * 1e3:.2f} ms")
    print(f"    ratio {count_ratio:.2f}x (goal <= {GOAL_COUNT_RATIO}x)")

    analyze(path, "application/pdf")  # warm up
    ink_plain, colour_ours = paired_medians(
        lambda: plain_inkcov(path), lambda: analyze(path, "application/pdf"), runs, warm_up=False
    )
    ink_tuned = median_seconds(lambda: reference.inkcov(path), runs)
    speedup = ink_plain / colour_ours
    print(f"  colour: analyze {colour_ours * 1e3:.1f} ms")
    print(f"    gs -sDEVICE=inkcov plain {ink_plain * 1e3:.1f} ms -> {speedup:.1f}x faster")
    print(
        f"    gs -sDEVICE=inkcov tuned {ink_tuned * 1e3:.1f} ms -> {ink_tuned / colour_ours:.1f}x"
    )
    print(f"    (goal >= {GOAL_COLOUR_SPEEDUP}x against plain inkcov)")

    scan_seconds, rendered = scan_split(path)
    gs_seconds = median_seconds(lambda: fallback(path, rendered), runs) if rendered else 0.0
    print(f"  split: content scan {scan_seconds * 1e3:.1f} ms (one run);")
    print(f"    {len(rendered)} pages left to one Ghostscript run: {gs_seconds * 1e3:.1f} ms")
    return same, count_ratio <= GOAL_COUNT_RATIO and speedup >= GOAL_COLOUR_SPEEDUP


def corpus_report(out: Path, runs: int) -> tuple[bool, bool]:
    """Speed and answers on the colour corpus; whether all answers were right, and the
    goal met on its PDFs."""
    colours.generate(out)
    totals: dict[str, list[float]] = {}
    wrong: list[str] = []
    rendered = 0
    for case in colours.CASES:
        path, kind = out / case.name, case.format
        found = analyze(path, kind)  # also warms up: the profile is built once per process
        if found.colour_pages != reference.colour_pages(path):
            wrong.append(case.name)
        if kind == "application/pdf":
            with pikepdf.open(path) as document:
                rendered += ColourStatus.RENDER in scan(document, DEFAULT_LIMITS.tolerance)
        ink, ours = paired_medians(
            functools.partial(plain_inkcov, path),
            functools.partial(analyze, path, kind),
            runs,
            warm_up=False,
        )
        kind = "PDF" if case.format == "application/pdf" else "PostScript"
        sums = totals.setdefault(kind, [0.0, 0.0, 0.0, 0.0])
        sums[0] += 1
        sums[1] += len(case.pages)
        sums[2] += ours
        sums[3] += ink
    print(f"  answers identical to the reference on every page: {'yes' if not wrong else 'NO'}")
    for name in wrong:
        print(f"    wrong: {name}")
    print(f"  {rendered} PDFs have a page left to the Ghostscript fallback")
    everything = [sum(v[i] for v in totals.values()) for i in range(4)]
    for kind, (files, pages, ours, ink) in [*totals.items(), ("all", everything)]:
        print(
            f"  {kind}: {files:.0f} files, {pages:.0f} pages: analyze {ours * 1e3:.0f} ms,"
            f" gs -sDEVICE=inkcov {ink * 1e3:.0f} ms -> {ink / ours:.1f}x faster"
        )
    pdfs = totals["PDF"]
    speedup = pdfs[3] / pdfs[2]
    print(f"    (goal >= {GOAL_CORPUS_SPEEDUP}x over the PDFs: {speedup:.1f}x)")
    return not wrong, speedup >= GOAL_CORPUS_SPEEDUP


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a speed goal is missed")
    p.add_argument("--part", choices=("all", "corpus", "document"), default="all")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    print(time.strftime("job analysis benchmark, %Y-%m-%d %H:%M:%S %Z"))
    gs_version = subprocess.run(["gs", "--version"], capture_output=True, text=True, check=False)
    print(f"  pikepdf {pikepdf.__version__}, Ghostscript {gs_version.stdout.strip()}")
    all_same, goals_met = True, True
    with tempfile.TemporaryDirectory(prefix="printwarden-bench-") as tmp:
        if args.part in ("all", "corpus"):
            print(f"colour corpus: {len(colours.CASES)} files")
            all_same, goals_met = corpus_report(Path(tmp) / "corpus", args.runs)
        for rendered in (False, True) if args.part in ("all", "document") else ():
            path = Path(tmp) / f"big-{rendered}.pdf"
            kinds = generate.big_kinds(rendered=rendered)
            generate.build_pdf(kinds, generate.LETTER, generate.TEXT_LINES).save(path)
            size = path.stat().st_size // 1024
            title = "big.pdf, with 3 spot/Lab pages" if rendered else "benchmark document"
            print(f"{title}: {len(kinds)} pages, {size} KiB")
            same, met = report(path, args.runs)
            all_same = all_same and same
            goals_met = goals_met and (met or rendered)
    print("every goal met" if goals_met else "a speed goal was missed")
    if not all_same:
        return 2
    return 1 if args.strict and not goals_met else 0


if __name__ == "__main__":
    raise SystemExit(main())
