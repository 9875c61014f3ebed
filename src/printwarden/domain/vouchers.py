"""Top-up card (voucher) codes and the batches they are made in.

A code is 15 random symbols of Crockford's base32 (75 bits from :mod:`secrets`) and one check
symbol, shown as ``XXXX-XXXX-XXXX-XXXX``. The check is Damm's algorithm over the totally
anti-symmetric quasigroup ``x ∘ y = α·x ⊕ y`` of GF(32) = GF(2)[x]/(x⁵ + x² + 1), α = 2: it
catches every single wrong symbol and every swap of two adjacent different symbols (over 16
symbols, of any two: a code checks when Σ α¹⁵⁻ⁱ·sᵢ = 0, and α¹⁵ … α⁰ all differ).

Only the rules live here; what is stored of a code (a keyed hash) and the exports are the
I/O side's (:mod:`printwarden.payments`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O (read as 1, 1, 0) and no U."""
RANDOM_SYMBOLS = 15
CODE_LENGTH = RANDOM_SYMBOLS + 1
GROUP = 4
MAX_BATCH = 10_000
MAX_INPUT = 64
"""Longest text :func:`normalize` reads: a code with room for stray spaces."""

_FIELD = 0b100101  # x^5 + x^2 + 1
_TOP = 0b100000
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_READ_AS = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = frozenset("-_\u2010\u2011\u2012\u2013\u2014\u2212")
_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)


class CodeError(ValueError):
    """A text that is not a top-up code; its message is for the person who typed it."""


class Malformed(CodeError):
    """Not the shape of a code: wrong length or a character no code has."""


class Mistyped(CodeError):
    """The shape of a code, but its check symbol does not match: a typo."""

    def __init__(self) -> None:
        super().__init__("this code has a typo: check it against the card")


def times_alpha(x: int) -> int:
    """``x`` times α (the element 2) in GF(32)."""
    x <<= 1
    return x ^ _FIELD if x & _TOP else x


def damm(interim: int, symbol: int) -> int:
    """The quasigroup of the check: ``interim ∘ symbol = α·interim ⊕ symbol``."""
    return times_alpha(interim) ^ symbol


def _interim(symbols: str) -> int:
    interim = 0
    for symbol in symbols:
        interim = damm(interim, _VALUE[symbol])
    return interim


def check_symbol(payload: str) -> str:
    """The symbol that brings Damm's interim of ``payload`` + it to 0."""
    return ALPHABET[times_alpha(_interim(payload))]  # α·i ⊕ c = 0 ⇔ c = α·i


def new_code() -> str:
    """A fresh random code, formatted ``XXXX-XXXX-XXXX-XXXX``."""
    bits = secrets.randbits(5 * RANDOM_SYMBOLS)
    payload = "".join(ALPHABET[(bits >> (5 * n)) & 31] for n in range(RANDOM_SYMBOLS))
    return _dashed(payload + check_symbol(payload))


def generate(count: int) -> list[str]:
    """``count`` (1 to :data:`MAX_BATCH`) different fresh codes, formatted."""
    _whole("count", count, 1, MAX_BATCH)
    codes: dict[str, None] = {}
    while len(codes) < count:
        codes[new_code()] = None
    return list(codes)


def normalize(text: str) -> str:
    """``text`` without spaces, dashes and underscores, in upper case, O read as 0 and I, L
    as 1. Raises :class:`Malformed` on any other character that no code has (U among them)."""
    if len(text) > MAX_INPUT:
        raise Malformed(f"a code has {CODE_LENGTH} letters and digits; this text is far longer")
    symbols = []
    for char in text:
        if char.isspace() or char in _SEPARATORS:
            continue
        upper = char.upper() if char.isascii() else char
        symbol = _READ_AS.get(upper, upper)
        if symbol not in _VALUE:
            raise Malformed(_not_in_codes(char))
        symbols.append(symbol)
    return "".join(symbols)


def parse(text: str) -> str:
    """The canonical code (16 symbols, no dashes) that ``text`` is, as a person typed it.

    Raises :class:`Malformed` on a wrong length or character and :class:`Mistyped` when the
    check symbol does not match."""
    symbols = normalize(text)
    if not symbols:
        raise Malformed(f"enter the {CODE_LENGTH} letters and digits of the code")
    if len(symbols) != CODE_LENGTH:
        raise Malformed(f"a code has {CODE_LENGTH} letters and digits; this one has {len(symbols)}")
    if _interim(symbols) != 0:
        raise Mistyped
    return symbols


def display(code: str) -> str:
    """``code`` (in any form :func:`parse` reads) as ``XXXX-XXXX-XXXX-XXXX``."""
    return _dashed(parse(code))


def _dashed(symbols: str) -> str:
    return "-".join(symbols[n : n + GROUP] for n in range(0, len(symbols), GROUP))


def _not_in_codes(char: str) -> str:
    if char.upper() == "U":
        return "there is no U in a code (is it a V?)"
    shown = f'"{char}"' if char.isprintable() else f"U+{ord(char):04X}"
    return f"{shown} is not in any code: codes have only digits and letters"


def is_valid_on(valid_until: date | None, day: date) -> bool:
    """Whether a card valid until ``valid_until`` (that day included; None: no end) may be
    redeemed on ``day``."""
    return valid_until is None or day <= valid_until


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of ``count`` cards worth ``value`` minor units (cents) of ``currency`` each."""

    batch_id: str
    value: int
    currency: str
    valid_until: date | None
    count: int

    def __post_init__(self) -> None:
        if not isinstance(self.batch_id, str) or not _BATCH_ID.fullmatch(self.batch_id):
            raise ValueError(
                "batch id: 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit"
            )
        _whole("value (in cents)", self.value, 1, None)
        if not isinstance(self.currency, str) or not _CURRENCY.fullmatch(self.currency):
            raise ValueError("currency: an ISO 4217 code of three capital letters, e.g. EUR")
        if isinstance(self.valid_until, datetime) or not isinstance(self.valid_until, date | None):
            raise ValueError("valid until: a date (no time of day) or none")
        _whole("count", self.count, 1, MAX_BATCH)

    def is_valid_on(self, day: date) -> bool:
        """Whether this batch's cards may be redeemed on ``day``."""
        return is_valid_on(self.valid_until, day)


def _whole(name: str, number: object, low: int, high: int | None) -> None:
    if isinstance(number, bool) or not isinstance(number, int):
        raise ValueError(f"{name}: a whole number")
    if number < low:
        raise ValueError(f"{name}: at least {low:,}")
    if high is not None and number > high:
        raise ValueError(f"{name}: at most {high:,}")
