"""The reference colour judgement: ``gs -sDEVICE=inkcov``, run here independently.

Tuned: plain colour conversion, full black generation/undercolour removal and a C/M/Y
transfer function dropping ink at or below the tolerance; a page is colour when any C,
M or Y coverage remains. Plain: the device with Ghostscript's defaults.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

TOLERANCE = 8


def inkcov(path: Path, *, tuned: bool = True) -> list[tuple[float, float, float, float]]:
    """Per page C, M, Y, K coverage from ``gs -sDEVICE=inkcov``."""
    drop = f"{{dup {1 - TOLERANCE / 255:.6f} ge {{pop 1}} if}}"
    setup = (
        f"{{}} setblackgeneration {{}} setundercolorremoval {drop} {drop} {drop} {{}} "
        "setcolortransfer"
    )
    tuning = ["-dUseFastColor", "-c", setup, "-f"] if tuned else []
    command = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=inkcov", "-o", "-"]
    done = subprocess.run(
        [*command, *tuning, str(path)], capture_output=True, text=True, timeout=600, check=True
    )
    rows = [line.split() for line in done.stdout.splitlines() if line.endswith("OK")]
    return [(float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows]


def colour_pages(path: Path) -> tuple[int, ...]:
    """Pages with any C, M or Y coverage in a tuned ``inkcov`` run."""
    rows = inkcov(path, tuned=True)
    return tuple(n for n, (c, m, y, _) in enumerate(rows, 1) if max(c, m, y) > 0)
