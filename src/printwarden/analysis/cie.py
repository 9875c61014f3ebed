"""CIE colour to sRGB: how a Lab colour looks, so that it is judged like an RGB one.

Lab values are taken relative to the D50 white of the ICC connection space, as
Ghostscript's colour management takes them (a Lab space's own white point does not move
a neutral: ``a = b = 0`` is grey whatever the white). The sRGB primaries are adapted to
D50 (Bradford) and normalised so that the white, hence every neutral, maps to equal
channels; out-of-gamut colours clip channel by channel.
"""

from __future__ import annotations

from collections.abc import Sequence

D50 = (0.9642, 1.0, 0.8249)
_SRGB_TO_XYZ = (
    (0.4360747, 0.3850649, 0.1430804),
    (0.2225045, 0.7168786, 0.0606169),
    (0.0139322, 0.0971045, 0.7141733),
)
"""Linear sRGB to XYZ, Bradford-adapted to D50."""
_DELTA = 6 / 29

Matrix = tuple[tuple[float, float, float], ...]


def _inverse(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _white_normalised(m: Matrix) -> Matrix:
    rows = []
    for row in m:
        scale = sum(v * w for v, w in zip(row, D50, strict=True))
        rows.append((row[0] / scale, row[1] / scale, row[2] / scale))
    return tuple(rows)


_XYZ_TO_SRGB = _white_normalised(_inverse(_SRGB_TO_XYZ))


def lab_to_srgb(lab: Sequence[float]) -> tuple[float, float, float]:
    """sRGB components (0..1, gamma encoded, clipped) of a D50 Lab colour."""
    lightness, a, b = lab[0], lab[1], lab[2]
    fy = (lightness + 16) / 116
    xyz = (D50[0] * _finv(fy + a / 500), _finv(fy), D50[2] * _finv(fy - b / 200))
    r, g, b_ = (_encode(sum(m * v for m, v in zip(row, xyz, strict=True))) for row in _XYZ_TO_SRGB)
    return r, g, b_


def srgb_to_lab(rgb: Sequence[float]) -> tuple[float, float, float]:
    """The D50 Lab colour of sRGB components (0..1)."""
    linear = [_decode(v) for v in rgb[:3]]
    x, y, z = (sum(m * v for m, v in zip(row, linear, strict=True)) for row in _SRGB_TO_XYZ)
    fx, fy, fz = _f(x / D50[0]), _f(y), _f(z / D50[2])
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _finv(t: float) -> float:
    return t**3 if t > _DELTA else 3 * _DELTA**2 * (t - 4 / 29)


def _f(t: float) -> float:
    return t ** (1 / 3) if t > _DELTA**3 else t / (3 * _DELTA**2) + 4 / 29


def _encode(v: float) -> float:
    v = min(max(v, 0.0), 1.0)
    return 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


def _decode(v: float) -> float:
    v = min(max(v, 0.0), 1.0)
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
