"""Integrated Scanning: assembling scanned pages, and our OCR path against plain OCRmyPDF.

    .venv/bin/python bench/scan_ocr.py                       # 20 pages, 1 timed run each
    .venv/bin/python bench/scan_ocr.py --pages 10 --repeat 3 --strict

The pages come from the scan page generator (:mod:`printwarden.scanning.sample_pages`): A4 at
300 dpi, greyscale JPEGs of text. Timed, on the same machine in the same run:

(a) ``assemble`` of the pages into a PDF (no OCR): page checks, img2pdf, pikepdf, fsync;
(b) ours: ``ocr_pdf`` of that PDF (a limited child with a clean environment, OCRmyPDF with
    ``--skip-text --optimize 1 --output-type pdf``, the output copied into place, fsync'd);
(c) plain: the ``ocrmypdf IN OUT`` command line with its default options (all CPUs,
    ``--output-type auto``, ``--optimize 1``);
(d) ours to PDF/A (``pdfa=True``: the same, then pikepdf's PDF/A writer), for reference.

(b) and (c) use the same number of OCRmyPDF jobs (``--jobs``, all CPUs by default) and run
alternately after one warm-up each, so that drift hits both alike; medians of ``--repeat``
runs. Goal: ours / plain <= 1.1 in seconds per page. Exit status 2 when an OCR output lacks
the pages' text; 1 on a missed goal with ``--strict``. Bounded: at most 200 pages and 10
repeats, every OCR run has a timeout, and the whole run a budget (``--budget`` seconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import ocrmypdf
import pikepdf

from harness import Budget, load_average, paired_times
from printwarden.scanning.assemble import assemble
from printwarden.scanning.ocr import ocr_pdf
from printwarden.scanning.sample_pages import generate_page, page_text

GOAL_RATIO = 1.1
MAX_PAGES = 200
MAX_REPEAT = 10
OCR_PAGE_SECONDS = 30.0


def pages(directory: Path, count: int) -> list[Path]:
    """``count`` scanned pages: 300 dpi greyscale A4 JPEGs."""
    made = []
    for number in range(1, count + 1):
        path = directory / f"page-{number:03}.jpg"
        path.write_bytes(generate_page(number, dpi=300))
        made.append(path)
    return made


def plain_command(source: Path, target: Path) -> list[str]:
    script = Path(sys.executable).with_name("ocrmypdf")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "ocrmypdf"]
    return [*program, str(source), str(target)]


def has_text(pdf: Path, count: int) -> bool:
    """Whether the first and last pages' text is found in ``pdf`` (by pdftotext)."""
    if shutil.which("pdftotext") is None:
        return True
    done = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=120
    )
    return page_text(1) in done.stdout and page_text(count) in done.stdout


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pages", type=int, default=20, help=f"pages (<= {MAX_PAGES})")
    p.add_argument("--repeat", type=int, default=1, help=f"timed runs each (<= {MAX_REPEAT})")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="OCRmyPDF jobs")
    p.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole run")
    p.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    count = max(1, min(args.pages, MAX_PAGES))
    repeat = max(1, min(args.repeat, MAX_REPEAT))
    budget = Budget(args.budget, "scan OCR benchmark")
    timeout = 60.0 + OCR_PAGE_SECONDS * count
    print(time.strftime("scan OCR benchmark, %Y-%m-%d %H:%M:%S %Z"))
    print(
        f"  ocrmypdf {ocrmypdf.__version__}, pikepdf {pikepdf.__version__}, "
        f"{_version(['tesseract', '--version'])}, Ghostscript {_version(['gs', '--version'])}"
    )
    print(f"  {os.cpu_count()} CPUs, load {load_average()}, {count} pages, {args.jobs} jobs")
    with tempfile.TemporaryDirectory(prefix="printwarden-bench-") as tmp:
        work = Path(tmp)
        scanned = pages(work, count)
        source = work / "scan.pdf"

        def assembly() -> None:
            assemble(scanned, "pdf", work, "scan")

        assembled = [_seconds(assembly) for _ in range(repeat + 1)][1:]
        budget.check()
        ours_out, plain_out, pdfa_out = work / "ours.pdf", work / "plain.pdf", work / "pdfa.pdf"
        command = plain_command(source, plain_out)

        def ours() -> None:
            ocr_pdf(source, ours_out, jobs=args.jobs, timeout=timeout)
            budget.check()

        def plain() -> None:
            subprocess.run(command, check=True, timeout=timeout, capture_output=True)
            budget.check()

        ours_times, plain_times = paired_times(ours, plain, repeat)
        pdfa_times = [
            _seconds(lambda: ocr_pdf(source, pdfa_out, pdfa=True, jobs=args.jobs, timeout=timeout))
            for _ in range(repeat)
        ]
        texts = {name: has_text(path, count) for name, path in _outputs(work).items()}
        sizes = {name: path.stat().st_size for name, path in _outputs(work).items()}
    return _report(count, assembled, ours_times, plain_times, pdfa_times, texts, sizes, args)


def _outputs(work: Path) -> dict[str, Path]:
    return {"ours": work / "ours.pdf", "plain": work / "plain.pdf", "pdfa": work / "pdfa.pdf"}


def _report(
    count: int,
    assembled: list[float],
    ours: list[float],
    plain: list[float],
    pdfa: list[float],
    texts: dict[str, bool],
    sizes: dict[str, int],
    args: argparse.Namespace,
) -> int:
    rows = {
        "(a) assemble, no OCR": assembled,
        "(b) ours: ocr_pdf": ours,
        "(c) plain ocrmypdf": plain,
        "(d) ours: ocr_pdf to PDF/A": pdfa,
    }
    print(f"  medians of {len(ours)} run(s); seconds per page (whole document):")
    for name, times in rows.items():
        median = statistics.median(times)
        print(f"    {name:<28} {median / count:7.3f} s/page  ({median:.2f} s)")
    print(f"  output sizes (KiB): {', '.join(f'{k} {v // 1024}' for k, v in sizes.items())}")
    ratio = statistics.median(ours) / statistics.median(plain)
    met = ratio <= GOAL_RATIO
    print(f"  ratio ours/plain {ratio:.2f} (goal <= {GOAL_RATIO}): {'met' if met else 'MISSED'}")
    if not all(texts.values()):
        print(f"  text missing from: {[name for name, ok in texts.items() if not ok]}")
        return 2
    return 1 if args.strict and not met else 0


def _version(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return f"{command[0]} not installed"
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
