"""PDF functions (ISO 32000-1, 7.10): sampled (0), exponential (2), stitching (3) and
PostScript calculator (4), and arrays of single-output functions.

``load(obj)`` gives a :class:`Function` (``None`` when the object is not a function this
module can evaluate); calling it maps inputs to outputs, clipped to domain and range as
the specification says. Sampled functions interpolate multilinearly (cubic ``/Order 3``
is taken as linear).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pikepdf

from printwarden.analysis.calculator import Block, CalculatorError, compile_program, run

MAX_SAMPLES = 1 << 20
MAX_DEPTH = 8

Evaluate = Callable[[Sequence[float]], tuple[float, ...]]


class FunctionError(ValueError):
    """A function failed while being evaluated."""


@dataclass(frozen=True, slots=True)
class Function:
    """An evaluable PDF function with ``inputs`` inputs and ``outputs`` outputs."""

    inputs: int
    outputs: int
    domain: tuple[tuple[float, float], ...]
    evaluate: Evaluate = field(repr=False)
    kind: int = 0
    """The function type (0, 2, 3, 4; -1 for an array of functions)."""
    bounds: tuple[float, ...] = ()
    """Within a 1-input domain, where the output may turn (stitching bounds, samples)."""

    def __call__(self, values: Sequence[float]) -> tuple[float, ...]:
        try:
            return self.evaluate(values)
        except (CalculatorError, ArithmeticError, IndexError, ValueError) as exc:
            raise FunctionError(str(exc)) from exc


def load(obj: object, depth: int = 0) -> Function | None:
    """The function ``obj`` describes, or ``None``."""
    if depth > MAX_DEPTH:
        return None
    try:
        if isinstance(obj, pikepdf.Array):
            return _array(obj, depth)
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            return None
        kind = obj.get("/FunctionType")
        loader = _LOADERS.get(int(kind)) if kind is not None else None
        return loader(obj, depth) if loader is not None else None
    except (pikepdf.PdfError, CalculatorError, TypeError, ValueError, KeyError, IndexError):
        return None


def _numbers(obj: object, default: Sequence[float] = ()) -> list[float]:
    if obj is None:
        return list(default)
    if not isinstance(obj, pikepdf.Array):
        raise ValueError("an array of numbers was expected")
    return [float(v) for v in obj]


def _pairs(values: Sequence[float]) -> tuple[tuple[float, float], ...]:
    return tuple((values[i], values[i + 1]) for i in range(0, len(values) - 1, 2))


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _clipper(
    ranges: tuple[tuple[float, float], ...],
) -> Callable[[Sequence[float]], tuple[float, ...]]:
    if not ranges:
        return tuple

    def clip(values: Sequence[float]) -> tuple[float, ...]:
        return tuple(_clip(v, lo, hi) for v, (lo, hi) in zip(values, ranges, strict=False))

    return clip


def _domain(obj: pikepdf.Object) -> tuple[tuple[float, float], ...]:
    domain = _pairs(_numbers(obj.get("/Domain")))
    if not domain:
        raise ValueError("a function needs a domain")
    return domain


def _interpolate(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    return y0 if x1 == x0 else y0 + (x - x0) * (y1 - y0) / (x1 - x0)


def _exponential(obj: pikepdf.Object, depth: int) -> Function:
    domain = _domain(obj)
    c0 = _numbers(obj.get("/C0"), [0.0])
    c1 = _numbers(obj.get("/C1"), [1.0])
    n = float(obj.get("/N", 1))
    clip = _clipper(_pairs(_numbers(obj.get("/Range"))))
    low, high = domain[0]

    def evaluate(values: Sequence[float]) -> tuple[float, ...]:
        x = _clip(values[0], low, high)
        if x < 0 and not n.is_integer():
            raise ValueError("a negative input to a fractional power")
        scale = x**n
        return clip([a + scale * (b - a) for a, b in zip(c0, c1, strict=False)])

    return Function(1, len(c0), domain[:1], evaluate, 2)


def _stitching(obj: pikepdf.Object, depth: int) -> Function:
    domain = _domain(obj)
    parts = [load(f, depth + 1) for f in obj.get("/Functions", [])]
    if not parts or any(p is None or p.inputs != 1 for p in parts):
        raise ValueError("a stitching function needs 1-input functions")
    functions = [p for p in parts if p is not None]
    bounds = _numbers(obj.get("/Bounds"))
    encode = _numbers(obj.get("/Encode"))
    if len(bounds) != len(functions) - 1 or len(encode) != 2 * len(functions):
        raise ValueError("stitching bounds or encode of the wrong size")
    low, high = domain[0]
    edges = [low, *bounds, high]
    clip = _clipper(_pairs(_numbers(obj.get("/Range"))))

    def evaluate(values: Sequence[float]) -> tuple[float, ...]:
        x = _clip(values[0], low, high)
        k = next((i for i, b in enumerate(bounds) if x < b), len(bounds))
        t = _interpolate(x, edges[k], edges[k + 1], encode[2 * k], encode[2 * k + 1])
        return clip(functions[k]([t]))

    turns = tuple(sorted({*bounds, *(b for f in functions for b in f.bounds)}))
    return Function(1, functions[0].outputs, domain[:1], evaluate, 3, turns)


def _calculator(obj: pikepdf.Object, depth: int) -> Function:
    if not isinstance(obj, pikepdf.Stream):
        raise ValueError("a calculator function is a stream")
    domain = _domain(obj)
    ranges = _pairs(_numbers(obj.get("/Range")))
    if not ranges:
        raise ValueError("a calculator function needs a range")
    program: Block = compile_program(obj.read_bytes())
    clip = _clipper(ranges)

    def evaluate(values: Sequence[float]) -> tuple[float, ...]:
        inputs = [_clip(v, lo, hi) for v, (lo, hi) in zip(values, domain, strict=False)]
        out = run(program, inputs)
        if len(out) < len(ranges):
            raise CalculatorError("too few results")
        return clip(out[-len(ranges) :])

    return Function(len(domain), len(ranges), domain, evaluate, 4)


def _sampled(obj: pikepdf.Object, depth: int) -> Function:
    if not isinstance(obj, pikepdf.Stream):
        raise ValueError("a sampled function is a stream")
    domain = _domain(obj)
    ranges = _pairs(_numbers(obj.get("/Range")))
    size = [int(v) for v in _numbers(obj.get("/Size"))]
    bits = int(obj.get("/BitsPerSample", 8))
    if len(size) != len(domain) or not ranges or any(s < 1 for s in size):
        raise ValueError("a sampled function needs a size per input and a range")
    count = math.prod(size) * len(ranges)
    if count > MAX_SAMPLES or bits not in (1, 2, 4, 8, 12, 16, 24, 32):
        raise ValueError("too many samples or bad bits per sample")
    encode = _pairs(_numbers(obj.get("/Encode"), [v for s in size for v in (0, s - 1)]))
    decode = _pairs(_numbers(obj.get("/Decode"), [v for r in ranges for v in r]))
    samples = _unpack(obj.read_bytes(), bits, count)
    top = (1 << bits) - 1
    table = [_interpolate(s, 0, top, *decode[i % len(ranges)]) for i, s in enumerate(samples)]
    grid = _Grid(tuple(size), len(ranges), table)
    clip = _clipper(ranges)

    def evaluate(values: Sequence[float]) -> tuple[float, ...]:
        position = []
        for x, (d0, d1), (e0, e1), s in zip(values, domain, encode, size, strict=False):
            e = _interpolate(_clip(x, d0, d1), d0, d1, e0, e1)
            position.append(_clip(e, 0, s - 1))
        return clip(grid.at(position))

    turns: tuple[float, ...] = ()
    if len(size) == 1 and size[0] > 1:
        (d0, d1), (e0, e1) = domain[0], encode[0]
        turns = tuple(_interpolate(i, e0, e1, d0, d1) for i in range(size[0]) if e1 != e0)
    return Function(len(domain), len(ranges), domain, evaluate, 0, turns)


@dataclass(frozen=True, slots=True)
class _Grid:
    size: tuple[int, ...]
    outputs: int
    table: list[float]

    def at(self, position: Sequence[float]) -> list[float]:
        """Multilinear interpolation at a (clipped) sample-space position."""
        result = [0.0] * self.outputs
        lows = [min(int(p), s - 1) for p, s in zip(position, self.size, strict=True)]
        fractions = [p - low for p, low in zip(position, lows, strict=True)]
        for corner in range(1 << len(self.size)):
            weight, offset, stride = 1.0, 0, 1
            for axis, (low, f, s) in enumerate(zip(lows, fractions, self.size, strict=True)):
                up = (corner >> axis) & 1
                index = min(low + up, s - 1)
                weight *= f if up else 1 - f
                offset += index * stride
                stride *= s
            if weight:
                base = offset * self.outputs
                for j in range(self.outputs):
                    result[j] += weight * self.table[base + j]
        return result


def _unpack(data: bytes, bits: int, count: int) -> list[int]:
    if bits == 8:
        values = list(data[:count])
    elif bits == 16:
        values = [int.from_bytes(data[i : i + 2], "big") for i in range(0, 2 * count, 2)]
    else:
        number = int.from_bytes(data, "big")
        total = len(data) * 8
        mask = (1 << bits) - 1
        values = [(number >> (total - (i + 1) * bits)) & mask for i in range(count)]
    if len(values) < count:
        raise ValueError("a sampled function has too few samples")
    return values


def _array(array: pikepdf.Array, depth: int) -> Function | None:
    parts = [load(f, depth + 1) for f in array]
    if not parts or any(p is None or p.outputs != 1 for p in parts):
        return None
    functions = [p for p in parts if p is not None]
    first = functions[0]

    def evaluate(values: Sequence[float]) -> tuple[float, ...]:
        return tuple(f(values)[0] for f in functions)

    turns = tuple(sorted({b for f in functions for b in f.bounds}))
    return Function(first.inputs, len(functions), first.domain, evaluate, -1, turns)


_LOADERS: dict[int, Callable[[pikepdf.Object, int], Function]] = {
    0: _sampled,
    2: _exponential,
    3: _stitching,
    4: _calculator,
}
