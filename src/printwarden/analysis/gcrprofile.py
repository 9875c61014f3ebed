"""A CMYK output ICC profile that prints a colour the way the grey tolerance judges it.

Ghostscript colour-manages CIE-based colours (Lab, and ICC-based spaces that are not
grey, RGB or CMYK) into the output device's profile; its default CMYK profile prints a
neutral Lab grey with cyan, magenta and yellow. This profile maps each colour to sRGB
(:mod:`.cie`) and then to CMYK with full black generation and undercolour removal, so a
neutral becomes black ink alone and a colour keeps C, M or Y ink equal to its sRGB channel
spread — what the unmanaged conversion of an RGB colour gives.

The profile is ICC version 2: ``B2A0`` (connection space Lab to CMYK) is a 33-point
grid whose a* and b* axes are dense near the neutral (2 units apart within ±16), where the
judgement is made; ``A2B0`` (CMYK to Lab) is the plain inverse on a 5-point grid. Built
in about 0.2 s, once per process.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Sequence

from printwarden.analysis.cie import D50, lab_to_srgb, srgb_to_lab

GRID = 33
_CORE = 16.0
_CURVE_ENTRIES = 4096
_A2B_GRID = 5

Lab = tuple[float, float, float]


def separated(rgb: Sequence[float]) -> tuple[float, float, float, float]:
    """CMYK of an RGB colour with full black generation and undercolour removal."""
    c, m, y = (1 - v for v in rgb[:3])
    k = min(c, m, y)
    return c - k, m - k, y - k, k


@functools.cache
def gcr_profile() -> bytes:
    """The profile's bytes."""
    return build(lambda lab: separated(lab_to_srgb(lab)), srgb_to_lab)


def build(
    to_cmyk: Callable[[Lab], Sequence[float]], to_lab: Callable[[Sequence[float]], Lab]
) -> bytes:
    """An ICC v2 CMYK output profile from a Lab→CMYK and an sRGB→Lab conversion."""
    tags = [
        (b"desc", _description("printwarden grey-tolerance CMYK")),
        (b"cprt", b"text" + bytes(4) + b"Public domain\0"),
        (b"wtpt", b"XYZ " + bytes(4) + b"".join(_s15(v) for v in D50)),
        (b"A2B0", _a2b(to_lab)),
        (b"B2A0", _b2a(to_cmyk)),
    ]
    offset = HEADER + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(padded))
        body += padded
    return _header(offset + len(body)) + struct.pack(">I", len(tags)) + table + body


HEADER = 128


def _header(size: int) -> bytes:
    fields = [
        struct.pack(">I", size),
        b"lcms",
        bytes([2, 0x10, 0, 0]),
        b"prtr",
        b"CMYK",
        b"Lab ",
        bytes(12),
        b"acsp",
        bytes(24),
        bytes(4),
        b"".join(_s15(v) for v in D50),
        bytes(48),
    ]
    header = b"".join(fields)
    assert len(header) == HEADER
    return header


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _u16(value: float) -> int:
    return min(65535, max(0, round(value * 65535)))


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(8 + 3 + 67)


def _lut16(
    inputs: int, outputs: int, grid: int, curves: Sequence[Sequence[int]], nodes: Iterable[int]
) -> bytes:
    """An ``mft2`` tag: identity matrix, input curves, the grid, identity output curves."""
    values = list(nodes)
    entries = len(curves[0])
    head = b"mft2" + bytes(4) + bytes([inputs, outputs, grid, 0])
    head += b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    head += struct.pack(">HH", entries, 2)
    tables = b"".join(struct.pack(f">{entries}H", *curve) for curve in curves)
    clut = struct.pack(f">{len(values)}H", *values)
    return head + tables + clut + struct.pack(">HH", 0, 65535) * outputs


def _chroma_nodes() -> list[float]:
    """a* (and b*) of the grid nodes: every 2 units within ±16, evenly spread beyond."""
    outer = (GRID - 17) // 2
    low = [-128 + i * (128 - _CORE) / outer for i in range(outer)]
    core = [-_CORE + 2 * i for i in range(17)]
    high = [_CORE + (i + 1) * (127.996 - _CORE) / outer for i in range(outer)]
    return low + core + high


def _chroma_curve(nodes: Sequence[float]) -> list[int]:
    """Input curve placing an encoded a* (v2: ``a = code / 256 - 128``) on the grid."""
    curve = []
    last = len(nodes) - 1
    segment = 0
    for entry in range(_CURVE_ENTRIES):
        value = entry * 65535 / (_CURVE_ENTRIES - 1) / 256 - 128
        while segment < last - 1 and value > nodes[segment + 1]:
            segment += 1
        t = (value - nodes[segment]) / (nodes[segment + 1] - nodes[segment])
        curve.append(round((segment + min(max(t, 0.0), 1.0)) / last * 65535))
    return curve


def _b2a(to_cmyk: Callable[[Lab], Sequence[float]]) -> bytes:
    chroma = _chroma_nodes()
    nodes: list[int] = []
    for i in range(GRID):
        lightness = i * 65535 / (GRID - 1) * 100 / 65280
        for a in chroma:
            for b in chroma:
                nodes.extend(_u16(v) for v in to_cmyk((lightness, a, b)))
    linear = [round(e * 65535 / (_CURVE_ENTRIES - 1)) for e in range(_CURVE_ENTRIES)]
    curve = _chroma_curve(chroma)
    return _lut16(3, 4, GRID, [linear, curve, curve], nodes)


def _a2b(to_lab: Callable[[Sequence[float]], Lab]) -> bytes:
    nodes: list[int] = []
    steps = _A2B_GRID - 1
    for index in range(_A2B_GRID**4):
        c, m, y, k = ((index // _A2B_GRID**p) % _A2B_GRID / steps for p in (3, 2, 1, 0))
        lightness, a, b = to_lab([1 - min(1.0, v + k) for v in (c, m, y)])
        nodes += [
            min(65535, max(0, round(lightness * 65280 / 100))),
            min(65535, max(0, round((a + 128) * 256))),
            min(65535, max(0, round((b + 128) * 256))),
        ]
    return _lut16(4, 3, _A2B_GRID, [[0, 65535]] * 4, nodes)
