"""OCR of a scanned PDF: OCRmyPDF and Tesseract in a bounded child process.

The pages are untrusted, so OCRmyPDF never runs in the server's process. Its child starts
as a tiny Python program (:data:`_LIMITED`) that sets hard resource limits (address space,
CPU time, file size, no core files) and a private umask, then executes
``python -I -m ocrmypdf`` (every process it starts inherits the limits). The child leads
its own session, so a wall-clock timeout kills all of it at once; its environment is a
clean one (``PATH``, a locale, a private ``HOME`` and ``TMPDIR``): none of the server's
settings or secrets. The command line holds only options and file paths.

OCRmyPDF writes a plain searchable PDF (``--skip-text``: pages that already carry text
are left as they are; ``--optimize 1``: lossless, about 2 % slower than ``0`` and a third
of the size for scanned JPEGs); PDF/A is made afterwards by :func:`~.assemble.make_pdfa`,
whose pikepdf writer (with Ghostscript behind it) handles what OCRmyPDF's own PDF/A step
refuses (``--skip-text`` with Ghostscript 10.0-10.02, fonts that are not embedded).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from printwarden.scanning.assemble import AssemblyError, make_pdfa, publish_copy

MEMORY_LIMIT = 2 << 30
"""Address space of each process of an OCR run (RLIMIT_AS); a run of 20 A4 pages at 300
dpi peaks near 180 MB resident and works within 512 MiB."""
FILE_LIMIT = 2 << 30
"""Largest file an OCR run may write (RLIMIT_FSIZE)."""
OPTIMIZE = "1"
STDERR_LINES = 12
LANGUAGE = re.compile(r"[A-Za-z0-9_]{2,40}(\+[A-Za-z0-9_]{2,40}){0,7}")
_LIMITED = """\
import os, resource, sys
for name, value in zip(("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE"), sys.argv[1:5]):
    kind = getattr(resource, name)
    hard = resource.getrlimit(kind)[1]
    value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
    resource.setrlimit(kind, (value, value))
os.umask(0o077)
os.execv(sys.executable, [sys.executable, "-I", "-m", "ocrmypdf", *sys.argv[5:]])
"""
"""The child: limits from its arguments, then OCRmyPDF with the rest of them."""


class OcrError(RuntimeError):
    """OCRmyPDF failed or ran out of time; the message ends with its last words."""


def ocr_pdf(
    source: Path,
    target: Path,
    *,
    language: str = "eng",
    pdfa: bool = False,
    jobs: int = 1,
    timeout: float = 600.0,
) -> None:
    """Write ``source`` with a text layer (Tesseract ``language``, e.g. "eng+deu") to
    ``target`` (0600, fsync'd), as PDF/A-2b when ``pdfa``; OCRmyPDF uses ``jobs``
    processes and all of it is killed after ``timeout`` seconds."""
    if not LANGUAGE.fullmatch(language):
        raise ValueError(f"unusable OCR language {language!r}")
    if jobs < 1 or not timeout > 0:
        raise ValueError("jobs must be at least 1 and timeout positive")
    with tempfile.TemporaryDirectory(prefix="printwarden-ocr-") as work:
        searchable = Path(work) / "ocr.pdf"
        args = ocrmypdf_args(source.resolve(), searchable, language=language, jobs=jobs)
        run_ocrmypdf(args, Path(work), timeout)
        try:
            if pdfa:
                make_pdfa(searchable, target)
            else:
                publish_copy(searchable, target)
        except (AssemblyError, OSError) as exc:
            raise OcrError(f"the OCR output could not be written: {exc}") from exc


def ocrmypdf_args(source: Path, target: Path, *, language: str, jobs: int) -> list[str]:
    """OCRmyPDF's arguments for a plain searchable PDF (absolute paths only)."""
    return [
        "--quiet",
        "--output-type",
        "pdf",
        "--skip-text",
        "--optimize",
        OPTIMIZE,
        "--jobs",
        str(jobs),
        "--language",
        language,
        str(source),
        str(target),
    ]


def run_ocrmypdf(args: list[str], work: Path, timeout: float) -> None:
    """Run OCRmyPDF with ``args`` in the limited child (private files under ``work``);
    raise :class:`OcrError` when it fails or overruns ``timeout``."""
    home = work / "home"
    home.mkdir(mode=0o700)
    cpu = math.ceil(timeout) + 5
    limits = [str(MEMORY_LIMIT), str(cpu), str(FILE_LIMIT), "0"]
    command = [sys.executable, "-I", "-c", _LIMITED, *limits, *args]
    with tempfile.TemporaryFile(dir=work) as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            cwd=home,
            env=child_environment(home),
            start_new_session=True,
        )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise OcrError(f"OCR ran longer than {timeout:g} s{_tail(errors)}") from None
        except BaseException:
            _kill(process)
            raise
        if code != 0:
            raise OcrError(f"OCR failed ({_exit(code)}){_tail(errors)}")


def child_environment(home: Path) -> dict[str, str]:
    """The whole environment of an OCR run: nothing of the server's but ``PATH`` (and
    where Tesseract's language data is, when that is set)."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(home),
    }
    if "TESSDATA_PREFIX" in os.environ:
        env["TESSDATA_PREFIX"] = os.environ["TESSDATA_PREFIX"]
    return env


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _tail(errors: IO[bytes], size: int = 8192) -> str:
    """The last lines OCRmyPDF wrote to its standard error, as ": line; line"."""
    end = errors.seek(0, os.SEEK_END)
    errors.seek(max(0, end - size))
    lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    kept = [line.strip() for line in lines[-STDERR_LINES:] if line.strip()]
    return ": " + " | ".join(kept) if kept else ""
