"""Greyscale conversion throughput: ``convert(..., ConversionOrder(grayscale=True))`` against the
plain ``gs`` command line with the same pdfwrite arguments, on a 50-page colour PDF.

    .venv/bin/python bench/greyscale.py                 # 5 runs each, medians
    .venv/bin/python bench/greyscale.py --runs 9 --strict

The document comes from the corpus generator: every page body text plus one colour mark
(vector fills, RGB and CMYK, images, JPEG photos, forms, shadings, spot and Lab colours,
annotations). Ours includes everything ``convert`` does: the source check, the
Ghostscript run, the verifying analysis of the output and the atomic rename. The two are
run alternately so that drift hits both alike. Goal: plain / ours >= 0.9.
Exit status: 2 when the output is not grey; 1 on a missed goal with ``--strict``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pikepdf

from harness import paired_medians
from printwarden.analysis import analyze
from printwarden.analysis.conversions import ConversionOrder, convert
from printwarden.analysis.pdfwrite import pdfwrite_args
from printwarden.testing.corpus import generate

GOAL_RATIO = 0.9
PAGES = 50
MAX_RUNS = 25
GS_BASE = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE"]


def document(path: Path) -> None:
    """A 50-page colour PDF: the generator's colour kinds in turn, each with body text."""
    colour_kinds = [kind for kind, (_, colour) in generate.KINDS.items() if colour]
    kinds = [colour_kinds[n % len(colour_kinds)] for n in range(PAGES)]
    generate.build_pdf(kinds, generate.A4, generate.TEXT_LINES).save(path)


def plain_command(source: Path, target: Path) -> list[str]:
    return [*GS_BASE, *pdfwrite_args(target, grayscale=True), "-f", str(source)]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help=f"timed runs each (median, <= {MAX_RUNS})")
    p.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs = max(1, min(args.runs, MAX_RUNS))
    print(time.strftime("greyscale conversion benchmark, %Y-%m-%d %H:%M:%S %Z"))
    version = subprocess.run(["gs", "--version"], capture_output=True, text=True, check=False)
    print(f"  pikepdf {pikepdf.__version__}, Ghostscript {version.stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="printwarden-bench-") as tmp:
        source, plain_out, workdir = Path(tmp) / "colour.pdf", Path(tmp) / "plain.pdf", Path(tmp)
        document(source)
        before = analyze(source, "application/pdf")
        print(
            f"  document: {before.pages} pages, {before.colour_page_count} colour, "
            f"{source.stat().st_size // 1024} KiB"
        )
        command = plain_command(source, plain_out)
        print(f"  plain: {' '.join(plain_command(Path('IN.pdf'), Path('OUT.pdf')))}")
        result = convert(source, "application/pdf", ConversionOrder(grayscale=True), workdir)
        plain, ours = paired_medians(
            lambda: subprocess.run(command, check=True, timeout=300),
            lambda: convert(source, "application/pdf", ConversionOrder(grayscale=True), workdir),
            runs,
        )
        verify = statistics.median(
            _seconds(lambda: analyze(result.path, "application/pdf")) for _ in range(runs)
        )
    ratio = plain / ours
    print(f"  output: {result.pages} pages, {result.colour_pages} colour")
    print(
        f"  medians of {runs}: plain gs {plain * 1e3:.0f} ms, convert {ours * 1e3:.0f} ms "
        f"(of which verifying analysis {verify * 1e3:.1f} ms)"
    )
    print(
        f"  throughput ratio plain/ours {ratio:.2f} (goal >= {GOAL_RATIO}): "
        f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}"
    )
    if result.colour_pages != 0 or result.pages != PAGES:
        return 2
    return 1 if args.strict and ratio < GOAL_RATIO else 0


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
