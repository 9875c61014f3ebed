"""The reference colour judgement: ``gs -sDEVICE=inkcov``, run here independently.

Tuned: grey, RGB and CMYK colours left unmanaged (Ghostscript's plain conversion) with
full black generation/undercolour removal; a page is colour when any pixel of
Ghostscript's 72 dpi CMYK rendering (``inkcov``'s resolution) has more C, M or Y ink than
the tolerance. (The tolerance used to be a C/M/Y transfer function on ``inkcov``, which
Ghostscript applies to vector colours before transparency is composited and not to
images at all: faint transparent colour and near-grey images then counted.) CIE-based
colours (Lab, ICC-based Lab) are colour-managed into a CMYK output profile that goes
through sRGB with the same full black generation, built here with its own colour
maths (sRGB's D65 matrix and a Bradford adaptation; the code under test has its own),
which is also the default CMYK profile so that process colorants pass unchanged.
Plain: the device with Ghostscript's defaults.

Ghostscript's colour management interpolates: a CIE-based colour's C/M/Y ink comes out up
to 2/255 away from the exact value, so the corpus keeps such colours at least 4/255 from
the tolerance; unmanaged colours are exact.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from printwarden.analysis.gcrprofile import build

TOLERANCE = 8
_D50 = (0.96422, 1.0, 0.82521)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))
_BRADFORD_INV = (
    (0.9869929, -0.1470543, 0.1599627),
    (0.4323053, 0.5183603, 0.0492912),
    (-0.0085287, 0.0400428, 0.9684867),
)
_D65 = (0.95047, 1.0, 1.08883)
_XYZ_TO_SRGB = (
    (3.2404542, -1.5371385, -0.4985314),
    (-0.9692660, 1.8760108, 0.0415560),
    (
        0.0556434,
        -0.2040259,
        1.0572252,
    ),
)
_SRGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (
        0.0193339,
        0.1191920,
        0.9503041,
    ),
)
UNMANAGED = "".join(
    f"{kind}_{space}\tNone\n"
    for space in ("CMYK", "RGB", "GRAY")
    for kind in ("Graphic", "Image", "Text")
)


def _apply(m: Sequence[Sequence[float]], v: Sequence[float]) -> list[float]:
    return [sum(a * b for a, b in zip(row, v, strict=True)) for row in m]


def _adapt(xyz: Sequence[float], source: Sequence[float], target: Sequence[float]) -> list[float]:
    cone, ws, wt = _apply(_BRADFORD, xyz), _apply(_BRADFORD, source), _apply(_BRADFORD, target)
    return _apply(_BRADFORD_INV, [c * t / s for c, s, t in zip(cone, ws, wt, strict=True)])


def lab_to_rgb(lab: Sequence[float]) -> list[float]:
    """sRGB (0..1, clipped) of a D50 Lab colour."""
    fy = (lab[0] + 16) / 116
    fs = (fy + lab[1] / 500, fy, fy - lab[2] / 200)
    xyz = [
        w * (f**3 if f > 6 / 29 else 3 * (6 / 29) ** 2 * (f - 4 / 29))
        for w, f in zip(_D50, fs, strict=True)
    ]
    linear = _apply(_XYZ_TO_SRGB, _adapt(xyz, _D50, _D65))
    out = []
    for v in linear:
        v = min(max(v, 0.0), 1.0)
        out.append(12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055)
    return out


def rgb_to_lab(rgb: Sequence[float]) -> tuple[float, float, float]:
    """The D50 Lab colour of sRGB components."""
    linear = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    xyz = _adapt(_apply(_SRGB_TO_XYZ, linear), _D65, _D50)
    f = [
        t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29
        for t in (xyz[0] / _D50[0], xyz[1], xyz[2] / _D50[2])
    ]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _cmyk(lab: Sequence[float]) -> list[float]:
    c, m, y = (1 - v for v in lab_to_rgb(lab))
    k = min(c, m, y)
    return [c - k, m - k, y - k, k]


@functools.cache
def profile() -> bytes:
    """The reference's CMYK output profile."""
    return build(_cmyk, rgb_to_lab)


def _tuning(path: Path, directory: Path) -> list[str]:
    """The tuned colour conversion for ``path``.

    PDF: grey, RGB and CMYK sources unmanaged by object type, so that ICC-based Lab is
    colour-managed. PostScript: ``-dUseFastColor`` instead, because Ghostscript builds
    ICC profiles that say RGB from PostScript's CIE-based spaces (a CIEBasedABC Lab would
    then go unmanaged, its L*, a*, b* read as R, G, B), and PostScript has no ICC-based
    Lab for fast colour to misread.
    """
    icc = directory / "output.icc"
    icc.write_bytes(profile())
    args = [f"-sOutputICCProfile={icc}", f"-sDefaultCMYKProfile={icc}"]
    if path.read_bytes()[:2] == b"%!":
        return ["-dUseFastColor", *args]
    sources = directory / "sources.txt"
    sources.write_text(UNMANAGED, encoding="ascii")
    return [f"-sSourceObjectICC={sources}", *args]


def inkcov(path: Path, *, tuned: bool = True) -> list[tuple[float, float, float, float]]:
    """Per page C, M, Y, K coverage from ``gs -sDEVICE=inkcov``; tuned: with the tuned
    conversion and a C/M/Y transfer function dropping ink at or below the tolerance
    (which Ghostscript applies to vector colours before compositing, not to images)."""
    drop = f"{{dup {1 - TOLERANCE / 255:.6f} ge {{pop 1}} if}}"
    setup = (
        f"{{}} setblackgeneration {{}} setundercolorremoval {drop} {drop} {drop} {{}} "
        "setcolortransfer"
    )
    command = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=inkcov", "-o", "-"]
    with tempfile.TemporaryDirectory(prefix="reference-") as tmp:
        tuning = [*_tuning(path, Path(tmp)), "-c", setup, "-f"] if tuned else []
        done = subprocess.run(
            [*command, *tuning, str(path)], capture_output=True, text=True, timeout=600, check=True
        )
    rows = [line.split() for line in done.stdout.splitlines() if line.endswith("OK")]
    return [(float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows]


def inks(*paths: Path) -> list[int]:
    """Per page, the most C, M or Y ink (0-255) of any pixel: Ghostscript renders the
    pages at 72 dpi (as ``inkcov``) in CMYK with the tuned conversion. Several files
    (all PDF or all PostScript) go through one run, their pages one after the other."""
    setup = "{} setblackgeneration {} setundercolorremoval"
    with tempfile.TemporaryDirectory(prefix="reference-") as tmp:
        out = Path(tmp) / "pages.pam"
        command = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pamcmyk32", "-r72"]
        tuning = [*_tuning(paths[0], Path(tmp)), "-c", setup, "-f"]
        subprocess.run(
            [*command, f"-sOutputFile={out}", *tuning, *(str(p) for p in paths)],
            capture_output=True,
            timeout=600,
            check=True,
        )
        data = out.read_bytes()
    found = []
    view, at = memoryview(data), 0
    while at < len(data):
        end = data.index(b"ENDHDR\n", at)
        header = data[at:end].splitlines()[1:]
        fields = dict(line.split(b" ", 1) for line in header if b" " in line)
        length = int(fields[b"WIDTH"]) * int(fields[b"HEIGHT"]) * 4
        page = view[end + 7 : end + 7 + length]
        found.append(max(max(page[0::4]), max(page[1::4]), max(page[2::4])))
        at = end + 7 + length
    return found


def colour_pages(path: Path) -> tuple[int, ...]:
    """Pages with a pixel of more C, M or Y ink than the tolerance (:func:`inks`): the
    ``inkcov`` judgement with the tolerance applied to the finished pixels."""
    return tuple(n for n, ink in enumerate(inks(path), 1) if ink > TOLERANCE)
