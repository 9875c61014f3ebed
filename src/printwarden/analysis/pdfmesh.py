"""The vertex colours of mesh shadings (types 4-7), read from their packed stream data.

Inside a triangle or patch the colour is interpolated between its corners, so in an RGB
or CMYK space the colour ink (a convex function of the components) is largest at a
corner: the corners decide. With a ``/Function`` each vertex holds a parameter ``t`` and
the function is sampled between the smallest and largest ``t``. Layout as in ISO
32000-1 8.7.4.5.5-8: type 4 vertices start on a byte boundary; lattices (5) and patches
(6, 7) are packed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pikepdf

MAX_VERTICES = 200_000


class MeshError(ValueError):
    """The mesh data does not read as its dictionary describes."""


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0
        self.total = len(data) * 8

    def left(self) -> int:
        return self.total - self.position

    def read(self, count: int) -> int:
        if count > self.left():
            raise MeshError("mesh data ends inside a record")
        value = 0
        while count:
            byte = self.data[self.position // 8]
            offset = self.position % 8
            take = min(count, 8 - offset)
            chunk = (byte >> (8 - offset - take)) & ((1 << take) - 1)
            value = (value << take) | chunk
            self.position += take
            count -= take
        return value

    def align(self) -> None:
        self.position = (self.position + 7) // 8 * 8


def vertex_colours(shading: pikepdf.Stream, components: int) -> list[tuple[float, ...]]:
    """Every vertex colour (or ``(t,)`` parameter) of a mesh shading, decoded."""
    kind = int(shading.get("/ShadingType", 0))
    coordinate = int(shading.get("/BitsPerCoordinate", 0))
    per_component = int(shading.get("/BitsPerComponent", 0))
    flag = int(shading.get("/BitsPerFlag", 0))
    decode = [float(v) for v in shading.get("/Decode", [])]
    if coordinate <= 0 or per_component <= 0 or len(decode) < 4 + 2 * components:
        raise MeshError("mesh shading without bit widths or decode ranges")
    if kind != 5 and flag not in (2, 4, 8):
        raise MeshError("mesh shading flags must be 2, 4 or 8 bits")
    bits = _Bits(shading.read_bytes())
    ranges = [(decode[4 + 2 * i], decode[5 + 2 * i]) for i in range(components)]
    top = (1 << per_component) - 1

    def colour() -> tuple[float, ...]:
        return tuple(lo + bits.read(per_component) * (hi - lo) / top for lo, hi in ranges)

    record = 2 * coordinate + components * per_component
    colours: list[tuple[float, ...]] = []
    for found in _records(kind, bits, flag, coordinate, record, colour):
        colours.extend(found)
        if len(colours) > MAX_VERTICES:
            raise MeshError("too many vertices")
    return colours


def _records(
    kind: int,
    bits: _Bits,
    flag: int,
    coordinate: int,
    record: int,
    colour: object,
) -> Iterator[Sequence[tuple[float, ...]]]:
    read_colour = colour if callable(colour) else None
    if read_colour is None:
        raise MeshError("no colour reader")
    if kind == 4:
        while bits.left() >= flag + record:
            bits.read(flag + 2 * coordinate)
            yield [read_colour()]
            bits.align()
    elif kind == 5:
        while bits.left() >= record:
            bits.read(2 * coordinate)
            yield [read_colour()]
    elif kind in (6, 7):
        points = 12 if kind == 6 else 16
        while bits.left() >= flag + 8 * 2 * coordinate:
            edge = bits.read(flag)
            if edge > 3:
                raise MeshError("bad patch edge flag")
            bits.read((points if edge == 0 else points - 4) * 2 * coordinate)
            yield [read_colour() for _ in range(4 if edge == 0 else 2)]
    else:
        raise MeshError(f"not a mesh shading type: {kind}")
