"""Running Ghostscript within hard bounds, and its ``inkcov`` device tuned to judge colour.

Every run has a wall-clock timeout and, where util-linux ``prlimit`` exists, a cap on the
size of any file it writes.

Plain ``inkcov`` cannot judge colour: Ghostscript's default (ICC) conversion turns a
neutral RGB grey into C, M, Y and K ink. The tuned run uses the plain conversion
(``-dUseFastColor``) with full black generation and undercolour removal, so a neutral RGB
or grey colour becomes K alone and an RGB colour keeps C, M or Y ink equal to its
channel spread; a C/M/Y transfer function then drops ink at or below the tolerance.
A page is colour when any C, M or Y coverage remains. CMYK content keeps its own inks:
any C, M or Y above the tolerance is colour (rich black included).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

GS = "gs"
MAX_OUTPUT_BYTES = 256 << 20
_BASE = ("-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOPROMPT")


class ToolError(RuntimeError):
    """Ghostscript is missing, failed, overran its time, or wrote too much."""


def run(
    args: Sequence[str],
    timeout: float,
    *,
    capture: bool = False,
    max_output: int = MAX_OUTPUT_BYTES,
) -> str:
    """Run ``gs`` with ``args``; its standard output when ``capture``, else ``""``.

    No file it writes may exceed ``max_output`` bytes. Standard error goes to a temporary
    file (bounded like any output) and only its last line is kept, for the error message.
    """
    command = [GS, *_BASE, *args]
    limiter = shutil.which("prlimit")
    if limiter:
        command = [limiter, f"--fsize={max_output}", "--", *command]
    with tempfile.TemporaryFile() as errors:
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                stderr=errors,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise ToolError("Ghostscript (gs) is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"Ghostscript ran longer than {timeout:g} s") from exc
        if done.returncode != 0:
            raise ToolError(_failure(done.returncode, _tail(errors), max_output))
    return done.stdout.decode("utf-8", "replace") if capture else ""


def _tail(handle: IO[bytes], size: int = 4096) -> bytes:
    end = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, end - size))
    return handle.read()


def _failure(code: int, stderr: bytes, max_output: int = MAX_OUTPUT_BYTES) -> str:
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return f"Ghostscript output exceeded {max_output} bytes"
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return f"Ghostscript failed ({code}): {lines[-1][:200] if lines else 'no message'}"


def colour_setup(tolerance: int) -> str:
    """PostScript that makes ``inkcov`` count only colour ink above ``tolerance`` (0-255)."""
    threshold = 1 - tolerance / 255
    drop = f"{{dup {threshold:.6f} ge {{pop 1}} if}}"
    return (
        "{} setblackgeneration {} setundercolorremoval "
        f"{drop} {drop} {drop} {{}} setcolortransfer"
    )


def inkcov_args(output: str, dpi: int, tolerance: int) -> list[str]:
    """Arguments for a tuned ``inkcov`` run writing its report to ``output``."""
    return [
        "-sDEVICE=inkcov",
        f"-r{dpi}",
        "-dUseFastColor",
        f"-sOutputFile={output}",
        "-c",
        colour_setup(tolerance),
    ]


def parse_coverage(report: str) -> list[tuple[float, float, float, float]]:
    """Per page (C, M, Y, K) coverage from an ``inkcov`` report."""
    rows = []
    for line in report.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[-1] == "OK":
            c, m, y, k = (float(f) for f in fields[:4])
            rows.append((c, m, y, k))
    return rows


def colour_pages(
    path: Path, pages: Sequence[int], dpi: int, tolerance: int, timeout: float
) -> frozenset[int]:
    """Which of ``pages`` (1-based) of a PDF carry colour ink, by a tuned ``inkcov`` run."""
    if not pages:
        return frozenset()
    with tempfile.TemporaryDirectory(prefix="printwarden-gs-") as tmp:
        report = Path(tmp) / "inkcov.txt"
        page_list = "-sPageList=" + ",".join(str(p) for p in pages)
        args = [page_list, *inkcov_args(str(report), dpi, tolerance), "-f", str(path.resolve())]
        run(args, timeout)
        rows = parse_coverage(report.read_text(encoding="ascii", errors="replace"))
    if len(rows) != len(pages):
        raise ToolError(f"Ghostscript reported {len(rows)} of {len(pages)} pages")
    return frozenset(
        page for page, (c, m, y, _) in zip(pages, rows, strict=True) if max(c, m, y) > 0
    )


def to_pdf(source: Path, target: Path, timeout: float) -> None:
    """Convert a PostScript file to PDF (colours left unchanged)."""
    args = ["-sDEVICE=pdfwrite", "-dAutoRotatePages=/None", f"-sOutputFile={target}"]
    run([*args, "-f", str(source.resolve())], timeout)
