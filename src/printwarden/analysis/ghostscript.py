"""Running Ghostscript within hard bounds, and its tuned colour conversion.

Every run has a wall-clock timeout and, where util-linux ``prlimit`` exists, a cap on the
size of any file it writes.

Ghostscript's default (ICC) conversion to CMYK turns a neutral RGB grey into C, M, Y and
K ink, so it cannot judge colour. The tuned conversion (:func:`colour_args`) leaves grey,
RGB and CMYK colours (device or ICC-based) unmanaged (a ``SourceObjectICC`` file saying
``None`` for each), with full black generation and undercolour removal, so a neutral RGB
or grey colour becomes K alone and an RGB colour keeps C, M or Y ink equal to its channel
spread. CMYK content keeps its own inks. CIE-based colours (Lab, and ICC spaces whose
profile is Lab or another non-device space) are colour-managed into
:mod:`.gcrprofile`'s output profile, which separates them the same way through sRGB. The
same profile is the default CMYK profile, so that process colorants named by Separation
and DeviceN spaces (converted as CMYK) pass unchanged. (``-dUseFastColor`` would leave
every ICC-based space unmanaged, and so read the normalised L*, a*, b* of an ICC-based
Lab colour as if they were R, G and B.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TypeVar

from printwarden.analysis.gcrprofile import gcr_profile

GS = "gs"
MAX_OUTPUT_BYTES = 256 << 20
_BASE = ("-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOPROMPT")
UNMANAGED = "".join(
    f"{kind}_{space}\tNone\n"
    for space in ("CMYK", "RGB", "GRAY")
    for kind in ("Graphic", "Image", "Text")
)
"""A ``SourceObjectICC`` file: no colour management for grey, RGB and CMYK sources."""


T = TypeVar("T")


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


def run_reading(args: Sequence[str], timeout: float, reader: Callable[[IO[bytes]], T]) -> T:
    """Run ``gs`` with ``args``, handing its standard output as it comes to ``reader``;
    what ``reader`` returns. The run is killed after ``timeout`` seconds."""
    command = [GS, *_BASE, *args]
    limiter = shutil.which("prlimit")
    if limiter:
        command = [limiter, f"--fsize={MAX_OUTPUT_BYTES}", "--", *command]
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except FileNotFoundError as exc:
            raise ToolError("Ghostscript (gs) is not installed") from exc
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            process.kill()

        watchdog = threading.Timer(timeout, stop)
        watchdog.start()
        try:
            assert process.stdout is not None
            with process.stdout:
                result = reader(process.stdout)
                process.stdout.read()
            code = process.wait()
        except BaseException as exc:
            process.kill()
            process.wait()
            if expired.is_set():
                raise ToolError(f"Ghostscript ran longer than {timeout:g} s") from exc
            raise
        finally:
            watchdog.cancel()
        if expired.is_set():
            raise ToolError(f"Ghostscript ran longer than {timeout:g} s")
        if code != 0:
            raise ToolError(_failure(code, _tail(errors)))
    return result


def _tail(handle: IO[bytes], size: int = 4096) -> bytes:
    end = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, end - size))
    return handle.read()


def _failure(code: int, stderr: bytes, max_output: int = MAX_OUTPUT_BYTES) -> str:
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return f"Ghostscript output exceeded {max_output} bytes"
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return f"Ghostscript failed ({code}): {lines[-1][:200] if lines else 'no message'}"


SEPARATION = "{} setblackgeneration {} setundercolorremoval"
"""PostScript for full black generation and undercolour removal."""


def colour_args(directory: Path) -> list[str]:
    """Arguments for the tuned colour conversion of a PDF; its two files are written into
    ``directory``, which must outlive the run."""
    sources = directory / "unmanaged.txt"
    sources.write_text(UNMANAGED, encoding="ascii")
    profile = directory / "grey-tolerance.icc"
    profile.write_bytes(gcr_profile())
    return [
        f"-sSourceObjectICC={sources}",
        f"-sOutputICCProfile={profile}",
        f"-sDefaultCMYKProfile={profile}",
        "-c",
        SEPARATION,
        "-f",
    ]


def to_pdf(source: Path, target: Path, timeout: float) -> None:
    """Convert a PostScript file to PDF (colours left unchanged)."""
    args = ["-sDEVICE=pdfwrite", "-dAutoRotatePages=/None", f"-sOutputFile={target}"]
    run([*args, "-f", str(source.resolve())], timeout)
