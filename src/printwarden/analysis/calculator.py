"""PDF type 4 functions: the PostScript calculator subset (ISO 32000-1, 7.10.5).

``compile_program(b"{ 0 exch dup 0.8 mul exch 0 }")`` parses once; the result runs on a
stack of numbers and booleans. Anything outside the subset, a stack underflow or a
runaway program raises :class:`CalculatorError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_STACK = 100
MAX_STEPS = 10_000
_TOKEN = re.compile(rb"[{}]|[^\s{}()<>\[\]/%]+|%[^\r\n]*")

Value = float | int | bool
Stack = list[Value]


class CalculatorError(ValueError):
    """The program is malformed, or failed while running."""


@dataclass(frozen=True, slots=True)
class Block:
    """A procedure: literal values, operator names and nested blocks."""

    items: tuple[Value | str | Block, ...]


def compile_program(source: bytes) -> Block:
    """Parse a calculator program (the outer braces included)."""
    tokens = [t for t in _TOKEN.findall(source) if not t.startswith(b"%")]
    if not tokens or tokens[0] != b"{":
        raise CalculatorError("a calculator function starts with {")
    block, end = _parse(tokens, 1)
    if end != len(tokens):
        raise CalculatorError("text after the closing brace")
    return block


def _parse(tokens: Sequence[bytes], start: int) -> tuple[Block, int]:
    items: list[Value | str | Block] = []
    index = start
    while index < len(tokens):
        token = tokens[index]
        if token == b"}":
            return Block(tuple(items)), index + 1
        if token == b"{":
            inner, index = _parse(tokens, index + 1)
            items.append(inner)
            continue
        items.append(_atom(token.decode("latin-1")))
        index += 1
    raise CalculatorError("unbalanced braces")


def _atom(text: str) -> Value | str:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text not in _OPERATORS and text not in ("if", "ifelse"):
        raise CalculatorError(f"unknown operator {text!r}")
    return text


def run(program: Block, inputs: Sequence[float]) -> list[float]:
    """Run ``program`` on ``inputs``; the numbers left on the stack."""
    stack: Stack = list(inputs)
    _execute(program, stack, [0])
    if any(isinstance(v, bool) for v in stack):
        raise CalculatorError("a boolean left on the stack")
    return [float(v) for v in stack]


def _execute(block: Block, stack: Stack, steps: list[int]) -> None:
    items = block.items
    index = 0
    while index < len(items):
        steps[0] += 1
        if steps[0] > MAX_STEPS or len(stack) > MAX_STACK:
            raise CalculatorError("the program runs too long")
        item = items[index]
        index += 1
        if isinstance(item, Block):
            chosen = _conditional(items, index, item, stack)
            if chosen is None:
                raise CalculatorError("a procedure outside if/ifelse")
            taken, index = chosen
            if taken is not None:
                _execute(taken, stack, steps)
        elif isinstance(item, str):
            _OPERATORS[item](stack)
        else:
            stack.append(item)


def _conditional(
    items: Sequence[Value | str | Block], index: int, first: Block, stack: Stack
) -> tuple[Block | None, int] | None:
    """``{…} if`` or ``{…} {…} ifelse`` at ``index``: the block to run and where to go on."""
    if index < len(items) and items[index] == "if":
        return (first if _pop_bool(stack) else None), index + 1
    if index + 1 < len(items) and isinstance(items[index], Block) and items[index + 1] == "ifelse":
        second = items[index]
        assert isinstance(second, Block)
        return (first if _pop_bool(stack) else second), index + 2
    return None


def _pop(stack: Stack) -> Value:
    if not stack:
        raise CalculatorError("stack underflow")
    return stack.pop()


def _pop_number(stack: Stack) -> float | int:
    value = _pop(stack)
    if isinstance(value, bool):
        raise CalculatorError("a number was expected")
    return value


def _pop_int(stack: Stack) -> int:
    value = _pop_number(stack)
    if not isinstance(value, int):
        raise CalculatorError("an integer was expected")
    return value


def _pop_bool(stack: Stack) -> bool:
    value = _pop(stack)
    if not isinstance(value, bool):
        raise CalculatorError("a boolean was expected")
    return value


def _unary(fn: Callable[[float | int], Value]) -> Callable[[Stack], None]:
    def op(stack: Stack) -> None:
        value = _pop_number(stack)
        try:
            stack.append(fn(value))
        except (ZeroDivisionError, ValueError, OverflowError) as exc:
            raise CalculatorError(str(exc)) from exc

    return op


def _binary(fn: Callable[[float | int, float | int], Value]) -> Callable[[Stack], None]:
    def op(stack: Stack) -> None:
        b = _pop_number(stack)
        a = _pop_number(stack)
        try:
            stack.append(fn(a, b))
        except (ZeroDivisionError, ValueError, OverflowError) as exc:
            raise CalculatorError(str(exc)) from exc

    return op


def _integers(fn: Callable[[int, int], int]) -> Callable[[Stack], None]:
    def op(stack: Stack) -> None:
        b = _pop_int(stack)
        a = _pop_int(stack)
        try:
            stack.append(fn(a, b))
        except ZeroDivisionError as exc:
            raise CalculatorError("division by zero") from exc

    return op


def _logical(
    on_bools: Callable[[bool, bool], bool], on_ints: Callable[[int, int], int]
) -> Callable[[Stack], None]:
    def op(stack: Stack) -> None:
        b = _pop(stack)
        a = _pop(stack)
        if isinstance(a, bool) and isinstance(b, bool):
            stack.append(on_bools(a, b))
        elif isinstance(a, int) and isinstance(b, int):
            stack.append(on_ints(a, b))
        else:
            raise CalculatorError("mixed operand types")

    return op


def _not(stack: Stack) -> None:
    value = _pop(stack)
    if isinstance(value, bool):
        stack.append(not value)
    elif isinstance(value, int):
        stack.append(~value)
    else:
        raise CalculatorError("not needs a boolean or an integer")


def _equal(stack: Stack, negate: bool) -> None:
    b = _pop(stack)
    a = _pop(stack)
    stack.append((a == b) != negate)


def _copy(stack: Stack) -> None:
    n = _pop_int(stack)
    if n < 0 or n > len(stack):
        raise CalculatorError("copy out of range")
    stack.extend(stack[len(stack) - n :] if n else [])


def _index(stack: Stack) -> None:
    n = _pop_int(stack)
    if n < 0 or n >= len(stack):
        raise CalculatorError("index out of range")
    stack.append(stack[-1 - n])


def _roll(stack: Stack) -> None:
    j = _pop_int(stack)
    n = _pop_int(stack)
    if n < 0 or n > len(stack):
        raise CalculatorError("roll out of range")
    if n:
        j %= n
        top = stack[len(stack) - n :]
        stack[len(stack) - n :] = top[n - j :] + top[: n - j]


def _exch(stack: Stack) -> None:
    b = _pop(stack)
    a = _pop(stack)
    stack += [b, a]


def _dup(stack: Stack) -> None:
    value = _pop(stack)
    stack += [value, value]


def _atan(num: float | int, den: float | int) -> float:
    if num == 0 and den == 0:
        raise ValueError("atan of 0 0")
    return math.degrees(math.atan2(num, den)) % 360


def _cvi(value: float | int) -> int:
    return int(value)


def _round(value: float | int) -> float | int:
    result = math.floor(value + 0.5)
    return result if isinstance(value, int) else float(result)


def _same_type(fn: Callable[[float], float]) -> Callable[[float | int], float | int]:
    def apply(value: float | int) -> float | int:
        return value if isinstance(value, int) else float(fn(value))

    return apply


def _bitshift(value: int, shift: int) -> int:
    return (value << shift if shift >= 0 else value >> -shift) & 0xFFFFFFFF


def _idiv(a: int, b: int) -> int:
    return int(a / b)


def _mod(a: int, b: int) -> int:
    return int(math.fmod(a, b))


def _drop(stack: Stack) -> None:
    _pop(stack)


def _push(value: bool) -> Callable[[Stack], None]:
    def op(stack: Stack) -> None:
        stack.append(value)

    return op


_OPERATORS: dict[str, Callable[[Stack], None]] = {
    "abs": _unary(abs),
    "add": _binary(lambda a, b: a + b),
    "atan": _binary(_atan),
    "ceiling": _unary(_same_type(math.ceil)),
    "cos": _unary(lambda a: math.cos(math.radians(a))),
    "cvi": _unary(_cvi),
    "cvr": _unary(float),
    "div": _binary(lambda a, b: a / b),
    "exp": _binary(lambda a, b: float(a) ** b),
    "floor": _unary(_same_type(math.floor)),
    "idiv": _integers(_idiv),
    "ln": _unary(math.log),
    "log": _unary(math.log10),
    "mod": _integers(_mod),
    "mul": _binary(lambda a, b: a * b),
    "neg": _unary(lambda a: -a),
    "round": _unary(_round),
    "sin": _unary(lambda a: math.sin(math.radians(a))),
    "sqrt": _unary(math.sqrt),
    "sub": _binary(lambda a, b: a - b),
    "truncate": _unary(_same_type(math.trunc)),
    "and": _logical(lambda a, b: a and b, lambda a, b: a & b),
    "bitshift": _integers(_bitshift),
    "eq": lambda s: _equal(s, False),
    "ge": _binary(lambda a, b: a >= b),
    "gt": _binary(lambda a, b: a > b),
    "le": _binary(lambda a, b: a <= b),
    "lt": _binary(lambda a, b: a < b),
    "ne": lambda s: _equal(s, True),
    "not": _not,
    "or": _logical(lambda a, b: a or b, lambda a, b: a | b),
    "xor": _logical(lambda a, b: a != b, lambda a, b: a ^ b),
    "true": _push(True),
    "false": _push(False),
    "copy": _copy,
    "dup": _dup,
    "exch": _exch,
    "index": _index,
    "pop": _drop,
    "roll": _roll,
}
