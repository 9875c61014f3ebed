"""Colour verdicts on shadings and patterns, where they can be judged without rendering.

An axial or radial shading whose function is exponential (type 2), or a stitching
(type 3) of exponential functions, interpolates between end colours along one
parameter: every channel moves by the same ``t**N`` factor, so the channel spread is
largest at an end and the end colours decide. Other functions, function-based and mesh
shadings are left to rendering.
"""

from __future__ import annotations

import pikepdf

from printwarden.analysis.pdfspaces import Kind, Space, Verdict, exponential, judge, resolve

_INTERPOLATED = frozenset({2, 3})


def shading_verdict(shading: object, named: pikepdf.Object | None, tolerance: int) -> Verdict:
    """GREY/COLOUR for an interpolated shading; RENDER for any other."""
    if not isinstance(shading, pikepdf.Dictionary | pikepdf.Stream):
        return Verdict.RENDER
    kind = shading.get("/ShadingType")
    if kind is None or int(kind) not in _INTERPOLATED:
        return Verdict.RENDER
    space = resolve(shading.get("/ColorSpace"), named)
    return function_verdict(shading.get("/Function"), space, tolerance)


def function_verdict(function: object, space: Space, tolerance: int) -> Verdict:
    """Judge the end colours of an exponential or stitching function in ``space``."""
    single = exponential(function)
    if single is not None:
        ends = (single(t) for t in single.domain)
        return max(judge(space, colour, tolerance) for colour in ends)
    if isinstance(function, pikepdf.Dictionary) and function.get("/FunctionType") == 3:
        parts = function.get("/Functions")
        if isinstance(parts, pikepdf.Array) and len(parts) > 0:
            return max(function_verdict(part, space, tolerance) for part in parts)
    return Verdict.RENDER


def uncoloured_pattern(space: Space, values: list[float], tolerance: int) -> Verdict:
    """Verdict for an uncoloured tiling pattern painted with ``values`` in ``space.base``."""
    if space.kind is not Kind.PATTERN or space.base is None:
        return Verdict.RENDER
    return judge(space.base, values, tolerance)
