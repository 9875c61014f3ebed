"""Money as integer minor units (cents) of one configured currency. No floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_AMOUNT = re.compile(r"^(?P<sign>[-+]?)(?P<whole>\d+)(?:\.(?P<frac>\d+))?$", re.ASCII)


class MoneyError(ValueError):
    """A text or number that is not a valid amount of the configured currency."""


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency: ISO 4217 code and the number of minor-unit digits (2 for cents)."""

    code: str = "USD"
    minor_digits: int = 2

    @property
    def scale(self) -> int:
        return int(10**self.minor_digits)

    def parse(self, text: str) -> int:
        """Parse a decimal text such as ``"12.30"`` into minor units, exactly.

        More fractional digits than the currency has is an error, never a rounding.
        """
        match = _AMOUNT.match(text.strip())
        if match is None:
            raise MoneyError(f"not an amount: {text!r}")
        frac = match["frac"] or ""
        if len(frac) > self.minor_digits:
            raise MoneyError(f"{text!r} has more than {self.minor_digits} decimal places")
        units = int(match["whole"]) * self.scale + int(frac.ljust(self.minor_digits, "0") or 0)
        return -units if match["sign"] == "-" else units

    def show(self, units: int) -> str:
        """Minor units as a person reads them, in this currency: ``150`` → ``"$1.50"``,
        ``-1234`` → ``"-$12.34"``, ``150`` yen → ``"¥150"`` (CLDR's English conventions:
        Babel's symbol, then digits grouped by thousands; exact — integers only, no float).
        A journal upload shows thousands of amounts, so Babel is asked once per currency."""
        sign = "-" if units < 0 else ""
        whole, frac = divmod(abs(units), self.scale)
        digits = f"{whole:,}" + (f".{frac:0{self.minor_digits}d}" if self.minor_digits else "")
        return f"{sign}{_symbol(self.code)}{digits}"

    def format(self, units: int) -> str:
        """Format minor units as a plain decimal text, e.g. ``-1234`` → ``"-12.34"`` (for
        forms and files; :meth:`show` is for people)."""
        sign = "-" if units < 0 else ""
        whole, frac = divmod(abs(units), self.scale)
        if self.minor_digits == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{frac:0{self.minor_digits}d}"


@cache
def _symbol(code: str) -> str:
    """The currency's symbol as English readers see it (``USD`` → ``$``, ``CHF`` → ``CHF``)."""
    from babel.numbers import get_currency_symbol  # its locale data loads on first use

    return str(get_currency_symbol(code, locale="en"))


def apply_basis_points(amount: int, basis_points: int) -> int:
    """Scale ``amount`` by ``(10000 + basis_points) / 10000``, rounding half away from zero.

    ``basis_points=-2000`` is a 20 % discount, ``+1000`` a 10 % surcharge. The result is never
    of the opposite sign to ``amount`` (a discount of more than 100 % gives zero).
    """
    factor = max(0, 10_000 + basis_points)
    numerator = abs(amount) * factor
    scaled = (numerator + 5_000) // 10_000
    return -scaled if amount < 0 else scaled
