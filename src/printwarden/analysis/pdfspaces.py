"""PDF colour spaces reduced to what colour judgement needs, and verdicts on colours.

Spot colours (Separation) are judged through their alternate space when the tint
transform is an exponential (type 2) function, as Ghostscript renders them on a CMYK
device; process colorant names (Cyan, Magenta, Yellow, Black, All) map to those inks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

import pikepdf

from printwarden.analysis.colour import cmyk_exceeds, rgb_exceeds

MAX_DEPTH = 8


class Verdict(IntEnum):
    """A page's (or a colour's) colour status; combining takes the maximum."""

    GREY = 0
    RENDER = 1
    """Cannot be judged from the content: render the page to find out."""
    COLOUR = 2


class Kind(Enum):
    GREY = "grey"
    RGB = "rgb"
    CMYK = "cmyk"
    INDEXED = "indexed"
    SEPARATION = "separation"
    PATTERN = "pattern"
    OTHER = "other"
    """Lab, DeviceN, unusual tint transforms…: judged by rendering."""


@dataclass(frozen=True, slots=True)
class Exponential:
    """A type 2 PDF function: ``C0 + t**N * (C1 - C0)`` over ``domain``."""

    c0: tuple[float, ...]
    c1: tuple[float, ...]
    n: float
    domain: tuple[float, float] = (0.0, 1.0)

    def __call__(self, t: float) -> tuple[float, ...]:
        scale = max(t, 0.0) ** self.n
        return tuple(a + scale * (b - a) for a, b in zip(self.c0, self.c1, strict=False))


@dataclass(frozen=True, slots=True)
class Space:
    """A colour space as judged here.

    ``base`` is the base (Indexed), underlying (Pattern) or alternate (Separation)
    space; ``lookup``/``hival`` the Indexed table; ``tint`` a Separation's tint
    transform; ``inks`` a Separation that paints process inks directly.
    """

    kind: Kind
    base: Space | None = None
    hival: int = 0
    lookup: bytes = b""
    tint: Exponential | None = None
    inks: bool = False


GREY = Space(Kind.GREY)
RGB = Space(Kind.RGB)
CMYK = Space(Kind.CMYK)
OTHER = Space(Kind.OTHER)
PATTERN = Space(Kind.PATTERN)

_NAMED = {
    "/DeviceGray": GREY,
    "/G": GREY,
    "/CalGray": GREY,
    "/DeviceRGB": RGB,
    "/RGB": RGB,
    "/CalRGB": RGB,
    "/DeviceCMYK": CMYK,
    "/CMYK": CMYK,
    "/Pattern": PATTERN,
}
_NEUTRAL_COLORANTS = frozenset({"/Black", "/None"})
_PROCESS_INKS = frozenset({"/Cyan", "/Magenta", "/Yellow", "/All"})
_COMPONENTS = {Kind.GREY: 1, Kind.RGB: 3, Kind.CMYK: 4}


def resolve(obj: object, named: pikepdf.Object | None, depth: int = 0) -> Space:
    """The :class:`Space` of a colour space object (a name looked up in ``named``)."""
    if depth > MAX_DEPTH:
        return OTHER
    if isinstance(obj, pikepdf.Name):
        key = str(obj)
        if key in _NAMED:
            return _NAMED[key]
        found = named.get(key) if isinstance(named, pikepdf.Dictionary) else None
        return OTHER if found is None else resolve(found, named, depth + 1)
    if isinstance(obj, pikepdf.Array) and len(obj) > 0:
        return _resolve_array(obj, named, depth)
    return OTHER


def _resolve_array(array: pikepdf.Array, named: pikepdf.Object | None, depth: int) -> Space:
    family = str(array[0])
    if family in ("/CalGray", "/CalRGB"):
        return _NAMED[family]
    if family == "/ICCBased" and len(array) > 1 and isinstance(array[1], pikepdf.Stream):
        count = array[1].get("/N")
        return {1: GREY, 3: RGB, 4: CMYK}.get(int(count) if count is not None else 0, OTHER)
    if family in ("/Indexed", "/I") and len(array) > 3:
        return _indexed(array, named, depth)
    if family == "/Pattern":
        base = resolve(array[1], named, depth + 1) if len(array) > 1 else None
        return Space(Kind.PATTERN, base=base)
    if family == "/Separation" and len(array) > 3:
        return _separation(array, named, depth)
    if family == "/DeviceN" and len(array) > 1 and isinstance(array[1], pikepdf.Array):
        names = {str(n) for n in array[1]}
        return GREY if names <= _NEUTRAL_COLORANTS else OTHER
    return OTHER


def _indexed(array: pikepdf.Array, named: pikepdf.Object | None, depth: int) -> Space:
    base = resolve(array[1], named, depth + 1)
    table = array[3]
    if isinstance(table, pikepdf.Stream):
        lookup = table.read_bytes()
    elif isinstance(table, pikepdf.String):
        lookup = bytes(table)
    else:
        return OTHER
    if base.kind not in (Kind.GREY, Kind.RGB, Kind.CMYK):
        return OTHER
    return Space(Kind.INDEXED, base=base, hival=int(array[2]), lookup=lookup)


def _separation(array: pikepdf.Array, named: pikepdf.Object | None, depth: int) -> Space:
    colorant = str(array[1])
    if colorant in _NEUTRAL_COLORANTS:
        return GREY
    if colorant in _PROCESS_INKS:
        return Space(Kind.SEPARATION, inks=True)
    base = resolve(array[2], named, depth + 1)
    return Space(Kind.SEPARATION, base=base, tint=exponential(array[3]))


def exponential(function: object) -> Exponential | None:
    """A type 2 function as an :class:`Exponential`, or ``None`` for any other kind."""
    if not isinstance(function, pikepdf.Dictionary) or function.get("/FunctionType") != 2:
        return None
    try:
        c0 = tuple(float(v) for v in function.get("/C0", [0.0]))
        c1 = tuple(float(v) for v in function.get("/C1", [1.0]))
        low, high = (float(v) for v in function.get("/Domain", [0.0, 1.0])[:2])
        return Exponential(c0, c1, float(function.get("/N", 1)), (low, high))
    except (TypeError, ValueError):
        return None


def initial(space: Space) -> Sequence[float]:
    """The colour that selecting ``space`` sets (black, index 0, or full tint)."""
    if space.kind is Kind.CMYK:
        return (0.0, 0.0, 0.0, 1.0)
    if space.kind is Kind.SEPARATION:
        return (1.0,)
    return (0.0,) * _COMPONENTS.get(space.kind, 1)


def judge(space: Space, values: Sequence[float], tolerance: int) -> Verdict:
    """Whether a colour in ``space`` is grey, colour, or unknowable here."""
    if space.kind is Kind.GREY:
        return Verdict.GREY
    if space.kind in (Kind.RGB, Kind.CMYK) and len(values) >= 3:
        clamped = [min(max(v, 0.0), 1.0) for v in values]
        exceeds = rgb_exceeds if space.kind is Kind.RGB else cmyk_exceeds
        return Verdict.COLOUR if exceeds(clamped, tolerance) else Verdict.GREY
    if space.kind is Kind.INDEXED and space.base is not None and values:
        return judge(space.base, palette_entry(space, int(values[0])), tolerance)
    if space.kind is Kind.SEPARATION and values:
        return _judge_tint(space, values[0], tolerance)
    return Verdict.RENDER


def _judge_tint(space: Space, tint: float, tolerance: int) -> Verdict:
    if space.inks:
        return Verdict.COLOUR if cmyk_exceeds((tint, 0.0, 0.0), tolerance) else Verdict.GREY
    if space.tint is None or space.base is None:
        return Verdict.RENDER
    return judge(space.base, space.tint(min(max(tint, 0.0), 1.0)), tolerance)


def palette_entry(space: Space, index: int) -> tuple[float, ...]:
    """Components (0..1) of entry ``index`` of an Indexed space (clamped to the table)."""
    base = space.base
    width = _COMPONENTS.get(base.kind, 1) if base is not None else 1
    index = min(max(index, 0), space.hival)
    raw = space.lookup[index * width : (index + 1) * width]
    return tuple(b / 255 for b in raw)
