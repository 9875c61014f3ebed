"""Format conversion cost per page: the provider's chain against the plain tools, same run.

    .venv/bin/python bench/conversion.py                 # 5 runs each, medians
    .venv/bin/python bench/conversion.py --runs 9 --strict

Two conversions a queue does every day (issue 16), each timed two ways, alternately, so that
drift hits both alike:

* PostScript to PDF, a 50-page document (text and a colour fill on every page): the chain's
  step (:func:`printwarden.analysis.chain.run_chain`, which runs Ghostscript bounded by
  ``prlimit`` and renames its output into place) against the plain ``gs`` command line
  with the same ``pdfwrite`` arguments;
* JPEG to PDF, 20 photos of 3000 x 2000 pixels: the chain's step (img2pdf in the provider's
  process, shrunk onto A4) against ``img2pdf.convert`` called directly with the same layout
  (what a hand-written call costs), and for reference the ``img2pdf`` command line (one
  process per photo, as a CUPS-style filter would run it).

Also shown, not part of the goal: ``prepare()`` as the provider runs it before sending a
job (format detection, the chain, and the analysis of what prints, for charging).
Goal: ours / plain <= 1.1 for each conversion. Exit status 1 on a missed goal with
``--strict``; 2 when an output is wrong (pages).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image

from harness import paired_times
from printwarden.analysis.chain import Setup, run_chain
from printwarden.analysis.conversions import ConversionOrder
from printwarden.analysis.pdfwrite import pdfwrite_args
from printwarden.domain import formats
from printwarden.provider.capabilities import effective
from printwarden.provider.config import PrinterConfig
from printwarden.provider.preparation import prepare

GOAL_RATIO = 1.1
PS_PAGES = 50
PHOTOS = 20
MAX_RUNS = 25
A4 = (595.28, 841.89)
GS_BASE = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE"]


def postscript(path: Path, pages: int = PS_PAGES) -> Path:
    """A multi-page PostScript document: 45 lines of text and a colour fill per page."""
    lines = [b"%!PS-Adobe-3.0", b"%%Pages: " + str(pages).encode(), b"%%EndComments"]
    lines.append(b"/Helvetica findfont 10 scalefont setfont")
    for page in range(1, pages + 1):
        lines.append(b"%%Page: " + f"{page} {page}".encode())
        lines.append(b"0.8 0.2 0.1 setrgbcolor 72 72 200 100 rectfill 0 setgray")
        for row in range(45):
            text = f"page {page} line {row}: the quick brown fox jumps over the lazy dog"
            lines.append(f"72 {770 - 14 * row} moveto ({text}) show".encode())
        lines.append(b"showpage")
    lines.append(b"%%EOF")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def photos(directory: Path, count: int = PHOTOS) -> list[Path]:
    """``count`` JPEG photos of 3000 x 2000 pixels (a noisy gradient, about 1 MB each)."""
    base = Image.effect_noise((3000, 2000), 40).convert("RGB")
    made = []
    for index in range(count):
        path = directory / f"photo-{index}.jpg"
        tinted = Image.blend(base, Image.new("RGB", base.size, (index * 12, 90, 200)), 0.4)
        tinted.save(path, "JPEG", quality=88, dpi=(300, 300))
        made.append(path)
    return made


def pages_of(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def report(
    name: str, times: tuple[list[float], list[float]], pages: int, plain_name: str
) -> tuple[bool, float]:
    """Print medians (and minima: the least disturbed runs on a busy machine); whether the
    median ratio meets the goal, and our median."""
    ours, plain = (statistics.median(t) for t in times)
    least = min(times[0]) / min(times[1])
    met = ours / plain <= GOAL_RATIO
    verdict = "met" if met else "MISSED"
    print(f"  {name}: ours {ours * 1000:.0f} ms ({ours / pages * 1000:.2f} ms/page), "
          f"{plain_name} {plain * 1000:.0f} ms ({plain / pages * 1000:.2f} ms/page); "
          f"ours/plain median {ours / plain:.3f}, minimum {least:.3f} -> {verdict} "
          f"(goal <= {GOAL_RATIO})")  # fmt: skip
    return met, ours


def bench_postscript(work: Path, runs: int) -> tuple[bool, bool]:
    source = postscript(work / "doc.ps")
    chain = formats.cheapest(formats.POSTSCRIPT, frozenset({formats.PDF}))
    assert chain is not None
    ours_dir, plain_out = work / "ours-ps", work / "plain.pdf"
    ours_dir.mkdir()

    def ours() -> None:
        for leftover in ours_dir.iterdir():
            leftover.unlink()
        run_chain(source, chain, ours_dir, Setup(paper=A4))

    def plain() -> None:
        args = pdfwrite_args(plain_out, grayscale=False, postscript=True)
        subprocess.run([*GS_BASE, *args, "-f", str(source)], check=True, timeout=300)

    met, _ = report("PostScript -> PDF", paired_times(ours, plain, runs), PS_PAGES, "plain gs")
    good = pages_of(next(ours_dir.iterdir())) == pages_of(plain_out) == PS_PAGES
    return met, good


def bench_jpeg(work: Path, runs: int) -> tuple[bool, bool]:
    sources = photos(work)
    chain = formats.cheapest(formats.JPEG, frozenset({formats.PDF}))
    assert chain is not None
    out = work / "ours-jpeg"
    out.mkdir()
    layout = img2pdf.get_layout_fun(pagesize=A4, fit=img2pdf.FitMode.shrink, auto_orient=True)

    def ours() -> None:
        for index, source in enumerate(sources):
            target = out / str(index)
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            run_chain(source, chain, target, Setup(paper=A4))

    def plain() -> None:
        for index, source in enumerate(sources):
            data = img2pdf.convert(str(source), layout_fun=layout)
            (work / f"plain-{index}.pdf").write_bytes(data)

    times = paired_times(ours, plain, runs)
    met, ours_time = report("JPEG -> PDF", times, PHOTOS, "img2pdf.convert")
    cli = shutil.which("img2pdf") or str(Path(sys.executable).parent / "img2pdf")
    started = time.perf_counter()
    for index, source in enumerate(sources):
        target = work / f"cli-{index}.pdf"
        subprocess.run([cli, "--pagesize", "A4", "--fit", "shrink", "--auto-orient",
                        "-o", str(target), str(source)], check=True, timeout=120)  # fmt: skip
    cli_time = time.perf_counter() - started
    per_page = cli_time / PHOTOS * 1000
    print(f"    (img2pdf command line, one process per photo, one run: {cli_time * 1000:.0f} "
          f"ms, {per_page:.1f} ms/page; ours/cli {ours_time / cli_time:.2f})")  # fmt: skip
    good = all(pages_of(next((out / str(i)).iterdir())) == 1 for i in range(PHOTOS))
    return met, good


def bench_prepare(work: Path, runs: int) -> None:
    """The provider's whole preparation of a job, for reference."""
    printer = effective(
        PrinterConfig(name="p", uri="socket://x:9100", formats=["application/pdf"]), None
    )
    scratch = work / "scratch"
    scratch.mkdir()
    cases = {"PostScript, 50 pages": (work / "doc.ps", PS_PAGES),
             "one JPEG photo": (work / "photo-0.jpg", 1)}  # fmt: skip
    for name, (source, pages) in cases.items():

        def job(source: Path = source) -> None:
            prepared = prepare(source, "application/octet-stream", {}, ConversionOrder(), printer,
                               work / "prepared", scratch=scratch)  # fmt: skip
            prepared.path.unlink()

        times = []
        for _ in range(runs):
            started = time.perf_counter()
            job()
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"  prepare(), {name}: {median * 1000:.0f} ms ({median / pages * 1000:.2f} ms/page) "
              "(format detection and the chain)")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help=f"timed runs each (median, <= {MAX_RUNS})")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs = max(1, min(args.runs, MAX_RUNS))
    print(time.strftime("format conversion benchmark, %Y-%m-%d %H:%M:%S %Z"))
    version = subprocess.run(["gs", "--version"], capture_output=True, text=True, check=False)
    print(f"  Ghostscript {version.stdout.strip()}, img2pdf {img2pdf.__version__}, runs {runs}")
    with open("/proc/loadavg") as load:
        print(f"  load average at start: {load.read().split()[0]}")
    with tempfile.TemporaryDirectory(prefix="printwarden-bench-") as tmp:
        work = Path(tmp)
        ps_met, ps_good = bench_postscript(work, runs)
        jpeg_met, jpeg_good = bench_jpeg(work, runs)
        bench_prepare(work, runs)
    if not (ps_good and jpeg_good):
        print("wrong output: pages differ", file=sys.stderr)
        return 2
    return 1 if args.strict and not (ps_met and jpeg_met) else 0


if __name__ == "__main__":
    sys.exit(main())
