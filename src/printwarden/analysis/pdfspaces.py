"""PDF colour spaces read for what they are, and how much colour ink a colour puts down.

A colour's *ink* is its colour excess on the 0-255 scale, as the tuned Ghostscript run
(:mod:`.ghostscript`) would print it: the channel spread of an RGB colour, the largest of
C, M and Y for a CMYK colour, 0 for grey. A colour is colour when its ink exceeds the
tolerance. ``None`` means it cannot be told here (the page is then rendered).

- ICC-based spaces are what their profile header says (:mod:`.icc`): grey, RGB and CMYK
  profiles are taken as the device spaces (Ghostscript leaves them unmanaged), Lab
  profiles as Lab; others are left to rendering.
- Lab (and ICC-based Lab) is judged through sRGB (:mod:`.cie`).
- Indexed spaces look their entries up over any base.
- Separation and DeviceN spaces that name only process inks (Cyan, Magenta, Yellow,
  Black, plus All and None) paint those inks directly, as on Ghostscript's CMYK devices;
  others go through their tint transform (:mod:`.functions`) into the alternate space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum

import pikepdf

from printwarden.analysis import icc
from printwarden.analysis.cie import lab_to_srgb
from printwarden.analysis.functions import Function, FunctionError, load

MAX_DEPTH = 8
SLACK = 1e-3
"""Rounding slack (0-255 scale) for colours given as decimal fractions."""
ALL_INKS = -2
NO_INK = -1


class ColourStatus(IntEnum):
    """A page's (or a colour's) colour status; combining takes the maximum."""

    GREY = 0
    RENDER = 1
    """Cannot be judged from the content: render the page to find out."""
    COLOUR = 2


class Kind(Enum):
    GREY = "grey"
    RGB = "rgb"
    CMYK = "cmyk"
    LAB = "lab"
    INDEXED = "indexed"
    SEPARATION = "separation"
    """Separation and DeviceN: ``n`` tints."""
    PATTERN = "pattern"
    OTHER = "other"
    """Unknown here: judged by rendering."""


UNIT = (0.0, 1.0)
LAB_RANGES = ((0.0, 100.0), (-100.0, 100.0), (-100.0, 100.0))
ICC_LAB_RANGES = ((0.0, 100.0), (-128.0, 127.0), (-128.0, 127.0))


@dataclass(frozen=True, slots=True)
class Space:
    """A colour space as judged here.

    ``ranges`` bound each component; ``base`` is the base (Indexed), underlying
    (Pattern) or alternate (Separation/DeviceN) space; ``lookup``/``hival`` the Indexed
    table; ``tint`` the tint transform; ``inks`` the process ink each tint paints
    directly (0-3 for C, M, Y, K, :data:`NO_INK`, :data:`ALL_INKS`), or ``None``.
    """

    kind: Kind
    n: int = 1
    ranges: tuple[tuple[float, float], ...] = (UNIT,)
    base: Space | None = None
    hival: int = 0
    lookup: bytes = field(default=b"", repr=False)
    tint: Function | None = None
    inks: tuple[int, ...] | None = None


GREY = Space(Kind.GREY)
RGB = Space(Kind.RGB, 3, (UNIT,) * 3)
CMYK = Space(Kind.CMYK, 4, (UNIT,) * 4)
OTHER = Space(Kind.OTHER, 0, ())
PATTERN = Space(Kind.PATTERN, 0, ())

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
_PROCESS_INKS = {"/Cyan": 0, "/Magenta": 1, "/Yellow": 2, "/Black": 3, "/None": NO_INK}


class Reader:
    """Resolves colour space objects of one document, caching ICC profiles and functions."""

    def __init__(self) -> None:
        self._profiles: dict[tuple[int, int], Space] = {}
        self._functions: dict[tuple[int, int], Function | None] = {}

    def resolve(self, obj: object, named: pikepdf.Object | None, depth: int = 0) -> Space:
        """The :class:`Space` of a colour space object (a name looked up in ``named``)."""
        if depth > MAX_DEPTH:
            return OTHER
        if isinstance(obj, pikepdf.Name):
            key = str(obj)
            if key in _NAMED:
                return _NAMED[key]
            found = named.get(key) if isinstance(named, pikepdf.Dictionary) else None
            return OTHER if found is None else self.resolve(found, named, depth + 1)
        if isinstance(obj, pikepdf.Array) and len(obj) > 0:
            try:
                return self._array(obj, named, depth)
            except (pikepdf.PdfError, TypeError, ValueError, IndexError):
                return OTHER
        return OTHER

    def function(self, obj: object) -> Function | None:
        """The function ``obj`` describes (cached when it is an indirect object)."""
        key = obj.objgen if isinstance(obj, pikepdf.Object) else (0, 0)
        if key == (0, 0):
            return load(obj)
        if key not in self._functions:
            self._functions[key] = load(obj)
        return self._functions[key]

    def _array(self, array: pikepdf.Array, named: pikepdf.Object | None, depth: int) -> Space:
        family = str(array[0])
        if family in ("/CalGray", "/CalRGB", "/DeviceGray", "/DeviceRGB", "/DeviceCMYK"):
            return _NAMED[family]
        if family == "/Lab":
            return _lab(array)
        if family == "/ICCBased" and len(array) > 1 and isinstance(array[1], pikepdf.Stream):
            return self._icc(array[1], named, depth)
        if family in ("/Indexed", "/I") and len(array) > 3:
            return self._indexed(array, named, depth)
        if family == "/Pattern":
            base = self.resolve(array[1], named, depth + 1) if len(array) > 1 else None
            return Space(Kind.PATTERN, 0, (), base=base)
        if family == "/Separation" and len(array) > 3:
            return self._tinted([array[1]], array[2], array[3], named, depth)
        if family == "/DeviceN" and len(array) > 3 and isinstance(array[1], pikepdf.Array):
            return self._tinted(list(array[1]), array[2], array[3], named, depth)
        return OTHER

    def _icc(self, stream: pikepdf.Stream, named: pikepdf.Object | None, depth: int) -> Space:
        key = stream.objgen
        if key in self._profiles:
            return self._profiles[key]
        space = _profile_space(stream)
        if space is None:
            alternate = stream.get("/Alternate")
            space = OTHER if alternate is None else self.resolve(alternate, named, depth + 1)
        if key != (0, 0):
            self._profiles[key] = space
        return space

    def _indexed(self, array: pikepdf.Array, named: pikepdf.Object | None, depth: int) -> Space:
        base = self.resolve(array[1], named, depth + 1)
        table = array[3]
        if isinstance(table, pikepdf.Stream):
            lookup = table.read_bytes()
        elif isinstance(table, pikepdf.String):
            lookup = bytes(table)
        else:
            return OTHER
        if base.kind in (Kind.INDEXED, Kind.PATTERN, Kind.OTHER):
            return OTHER
        hival = min(max(int(array[2]), 0), 255)
        return Space(Kind.INDEXED, 1, ((0.0, float(hival)),), base, hival, lookup)

    def _tinted(
        self,
        names: list[object],
        alternate: object,
        transform: object,
        named: pikepdf.Object | None,
        depth: int,
    ) -> Space:
        keys = [str(n) for n in names]
        ranges = (UNIT,) * len(keys)
        if keys == ["/All"]:
            return Space(Kind.SEPARATION, 1, ranges, inks=(ALL_INKS,))
        if all(k in _PROCESS_INKS for k in keys):
            inks = tuple(_PROCESS_INKS[k] for k in keys)
            return Space(Kind.SEPARATION, len(keys), ranges, inks=inks)
        base = self.resolve(alternate, named, depth + 1)
        tint = self.function(transform)
        if tint is not None and (tint.inputs != len(keys) or tint.outputs < base.n):
            tint = None
        return Space(Kind.SEPARATION, len(keys), ranges, base=base, tint=tint)


def _lab(array: pikepdf.Array) -> Space:
    params = array[1] if len(array) > 1 else None
    ranges = LAB_RANGES
    found = params.get("/Range") if isinstance(params, pikepdf.Dictionary) else None
    if isinstance(found, pikepdf.Array) and len(found) == 4:
        a0, a1, b0, b1 = (float(v) for v in found)
        ranges = ((0.0, 100.0), (a0, a1), (b0, b1))
    return Space(Kind.LAB, 3, ranges)


def _profile_space(stream: pikepdf.Stream) -> Space | None:
    """The space an ICC profile stream describes, if one judged here."""
    n = int(stream.get("/N", 0))
    data = stream.read_bytes()
    kind = icc.data_space(data[: icc.HEADER_BYTES])
    if kind is None or icc.components(kind) != n:
        return None
    found = stream.get("/Range")
    given: tuple[tuple[float, float], ...] = ()
    if isinstance(found, pikepdf.Array) and len(found) == 2 * n:
        values = [float(v) for v in found]
        given = tuple((values[i], values[i + 1]) for i in range(0, 2 * n, 2))
    if kind == "GRAY":
        return GREY
    if kind == "RGB":
        return RGB
    if kind == "CMYK":
        return CMYK
    if kind == "Lab":
        return Space(Kind.LAB, 3, ICC_LAB_RANGES)
    return Space(Kind.OTHER, n, given or (UNIT,) * n)


def initial(space: Space) -> tuple[float, ...]:
    """The colour that selecting ``space`` sets (black, index 0, full tints)."""
    if space.kind is Kind.CMYK:
        return (0.0, 0.0, 0.0, 1.0)
    if space.kind is Kind.SEPARATION:
        return (1.0,) * space.n
    return tuple(min(max(0.0, lo), hi) for lo, hi in space.ranges)


def clamp(space: Space, values: Sequence[float]) -> list[float]:
    """The first ``space.n`` values, each clamped to its range."""
    return [min(max(v, lo), hi) for v, (lo, hi) in zip(values, space.ranges, strict=False)]


def ink(space: Space, values: Sequence[float]) -> float | None:
    """The colour ink (0-255) of a colour in ``space``; ``None`` when unknown here."""
    kind = space.kind
    if kind is Kind.GREY:
        return 0.0
    if kind in (Kind.PATTERN, Kind.OTHER) or len(values) < space.n:
        return None
    v = clamp(space, values)
    if kind is Kind.RGB:
        return (max(v) - min(v)) * 255
    if kind is Kind.CMYK:
        return max(v[:3]) * 255
    if kind is Kind.LAB:
        rgb = lab_to_srgb(v)
        return (max(rgb) - min(rgb)) * 255
    if kind is Kind.INDEXED and space.base is not None:
        return ink(space.base, palette_entry(space, int(v[0])))
    if kind is Kind.SEPARATION:
        return _tint_ink(space, v)
    return None


def _tint_ink(space: Space, tints: Sequence[float]) -> float | None:
    if space.inks is not None:
        if space.inks == (ALL_INKS,):
            return tints[0] * 255
        cmy = [t for t, i in zip(tints, space.inks, strict=False) if 0 <= i <= 2]
        return max(cmy, default=0.0) * 255
    if space.tint is None or space.base is None:
        return None
    try:
        return ink(space.base, space.tint(tints))
    except FunctionError:
        return None


def palette_entry(space: Space, index: int) -> tuple[float, ...]:
    """Components of entry ``index`` of an Indexed space (clamped to the table), each
    mapped into its base component's range."""
    base = space.base
    if base is None:
        return ()
    width = base.n
    index = min(max(index, 0), space.hival)
    raw = space.lookup[index * width : (index + 1) * width]
    return tuple(lo + b / 255 * (hi - lo) for b, (lo, hi) in zip(raw, base.ranges, strict=False))


def subtractive(space: Space) -> bool:
    """Whether colours of ``space`` are CMYK inks (which blending in an RGB transparency
    group would turn into RGB and back)."""
    if space.kind is Kind.CMYK:
        return True
    if space.kind is Kind.SEPARATION and space.inks is not None:
        return True
    return space.base is not None and space.kind is not Kind.PATTERN and subtractive(space.base)


def additive(space: Space) -> bool:
    """Whether colours of ``space`` reach the printer as RGB (converted to CMYK with the
    black generation and undercolour removal in force)."""
    if space.kind is Kind.RGB:
        return True
    if space.kind is Kind.SEPARATION and space.inks is not None:
        return False
    return space.base is not None and additive(space.base)


def verdict(amount: float | None, tolerance: int) -> ColourStatus:
    """The verdict on a colour ink (``None``: unknown, rendering decides)."""
    if amount is None:
        return ColourStatus.RENDER
    return ColourStatus.COLOUR if amount > tolerance + SLACK else ColourStatus.GREY


def judge(space: Space, values: Sequence[float], tolerance: int) -> ColourStatus:
    """Whether a colour in ``space`` is grey, colour, or unknowable here."""
    return verdict(ink(space, values), tolerance)
