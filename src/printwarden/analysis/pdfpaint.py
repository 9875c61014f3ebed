"""How much colour ink a shading puts down, without rendering it.

- Axial and radial shadings (2, 3) paint ``f(t)`` for ``t`` across their domain: the
  function is sampled at 257 even steps plus every point where it may turn (stitching
  bounds, sample positions); between those an exponential, linear or sampled function
  moves each channel monotonically and the ink is largest at a sampled point.
- Function-based shadings (1) are sampled on a 33 x 33 grid of their domain.
- Mesh shadings (4-7) are judged by their vertex colours (:mod:`.pdfmesh`).

The ink is ``None`` when the shading cannot be read here (rendering decides).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pikepdf

from printwarden.analysis.functions import Function, FunctionError
from printwarden.analysis.pdfmesh import MeshError, vertex_colours
from printwarden.analysis.pdfspaces import Kind, Reader, Space, ink

STEPS = 256
GRID = 32
_BROKEN = (FunctionError, MeshError, pikepdf.PdfError, TypeError, ValueError, IndexError)


def shading_ink(
    shading: object, named: pikepdf.Object | None, reader: Reader, enough: float = math.inf
) -> float | None:
    """The largest colour ink a shading paints; ``math.inf`` as soon as one colour has
    more than ``enough`` (some colour, its strength not sought further)."""
    if not isinstance(shading, pikepdf.Dictionary | pikepdf.Stream):
        return None
    space = reader.resolve(shading.get("/ColorSpace", shading.get("/CS")), named)
    if space.kind in (Kind.PATTERN, Kind.OTHER):
        return None
    try:
        kind = int(shading.get("/ShadingType", 0))
        function = reader.function(shading["/Function"]) if "/Function" in shading else None
        if "/Function" in shading and function is None:
            return None
        if kind in (2, 3) and function is not None:
            return _largest(space, _along(function, shading), function, enough)
        if kind == 1 and function is not None:
            return _largest(space, _grid(shading), function, enough)
        if kind in (4, 5, 6, 7) and isinstance(shading, pikepdf.Stream):
            return _mesh(shading, space, function, enough)
    except _BROKEN:
        return None
    return None


def _largest(
    space: Space,
    points: Iterable[Sequence[float]],
    function: Function | None,
    tolerance: float,
) -> float | None:
    largest = 0.0
    for point in points:
        colour = function(point) if function is not None else point
        amount = ink(space, colour)
        if amount is None:
            return None
        if amount > tolerance:
            return math.inf
        largest = max(largest, amount)
    return largest


def _along(function: Function, shading: pikepdf.Object) -> list[tuple[float]]:
    low, high = (float(v) for v in shading.get("/Domain", [0, 1])[:2])
    steps = [low + (high - low) * i / STEPS for i in range(STEPS + 1)]
    turns = [t for t in function.bounds if min(low, high) <= t <= max(low, high)]
    return [(t,) for t in sorted({*steps, *turns})]


def _grid(shading: pikepdf.Object) -> list[tuple[float, float]]:
    x0, x1, y0, y1 = (float(v) for v in shading.get("/Domain", [0, 1, 0, 1])[:4])
    return [
        (x0 + (x1 - x0) * i / GRID, y0 + (y1 - y0) * j / GRID)
        for i in range(GRID + 1)
        for j in range(GRID + 1)
    ]


def _mesh(
    shading: pikepdf.Stream, space: Space, function: Function | None, tolerance: float
) -> float | None:
    colours = vertex_colours(shading, 1 if function is not None else space.n)
    if function is None:
        return _largest(space, colours, None, tolerance)
    ts = [c[0] for c in colours]
    if not ts:
        return 0.0
    low, high = min(ts), max(ts)
    steps = [(low + (high - low) * i / STEPS,) for i in range(STEPS + 1)]
    turns = [(t,) for t in function.bounds if low <= t <= high]
    return _largest(space, [*steps, *turns, *((t,) for t in ts)], function, tolerance)
