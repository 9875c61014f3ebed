"""Money: exact parse/format of minor units and basis-point scaling."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain.money import Currency, MoneyError, apply_basis_points

PROPERTY = settings(max_examples=200, deadline=None, database=None)

USD = Currency("USD", 2)
JPY = Currency("JPY", 0)
KWD = Currency("KWD", 3)
CURRENCIES = [USD, JPY, KWD]

currencies = st.sampled_from(CURRENCIES)
big_ints = st.integers(min_value=-(10**30), max_value=10**30)


def canonical_pattern(currency: Currency) -> re.Pattern[str]:
    if currency.minor_digits == 0:
        return re.compile(r"-?(0|[1-9][0-9]*)", re.ASCII)
    return re.compile(rf"-?(0|[1-9][0-9]*)\.[0-9]{{{currency.minor_digits}}}", re.ASCII)


# --- parse: examples ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "text", "units"),
    [
        (USD, "12.30", 1230),
        (USD, "12.3", 1230),
        (USD, "12", 1200),
        (USD, "0.05", 5),
        (USD, "-0.05", -5),
        (USD, "-12.34", -1234),
        (USD, "+1", 100),
        (USD, "+0.01", 1),
        (USD, "-0", 0),
        (USD, "-0.00", 0),
        (USD, "007.10", 710),
        (USD, "  7.50\n", 750),
        (USD, "12345678901234567890.99", 1234567890123456789099),
        (JPY, "1234", 1234),
        (JPY, "-1234", -1234),
        (JPY, "0", 0),
        (KWD, "1.234", 1234),
        (KWD, "1.2", 1200),
        (KWD, "-0.001", -1),
        (KWD, "5", 5000),
    ],
)
def test_parse_examples(currency: Currency, text: str, units: int) -> None:
    assert currency.parse(text) == units


@pytest.mark.parametrize(
    ("currency", "units", "text"),
    [
        (USD, 0, "0.00"),
        (USD, 5, "0.05"),
        (USD, -5, "-0.05"),
        (USD, 1230, "12.30"),
        (USD, -1234, "-12.34"),
        (USD, 100, "1.00"),
        (USD, -100, "-1.00"),
        (JPY, 0, "0"),
        (JPY, 1234, "1234"),
        (JPY, -7, "-7"),
        (KWD, 1, "0.001"),
        (KWD, -1, "-0.001"),
        (KWD, 1234, "1.234"),
        (KWD, 10_000, "10.000"),
    ],
)
def test_format_examples(currency: Currency, units: int, text: str) -> None:
    assert currency.format(units) == text


def test_scale_follows_minor_digits() -> None:
    assert JPY.scale == 1
    assert USD.scale == 100
    assert KWD.scale == 1000


def test_default_currency_is_usd_with_cents() -> None:
    assert Currency() == Currency("USD", 2)
    assert Currency().parse("1.01") == 101


# --- parse: rejections -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "text"),
    [
        (USD, "1.234"),
        (USD, "0.001"),
        (USD, "-0.005"),
        (USD, "1.000"),
        (JPY, "1.0"),
        (JPY, "1.5"),
        (KWD, "1.2345"),
        (KWD, "0.0000"),
    ],
)
def test_parse_rejects_too_many_decimals(currency: Currency, text: str) -> None:
    with pytest.raises(MoneyError, match="decimal places"):
        currency.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "12abc",
        "1.",
        ".5",
        "-.5",
        "1,50",
        "1.2.3",
        "--1",
        "+-1",
        "-+1",
        "1 000",
        "1 .00",
        "$1.00",
        "1.00 USD",
        "1_000",
        "0x10",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "Infinity",
        "1e3",
        "1E3",
        "1e-2",
        "1.5e2",
        "-2E+1",
        "١٢",  # Arabic-Indic digits
        "١٢.٣٤",
        "１２",  # fullwidth digits
        "1.٥",
        "²",
    ],
)
@pytest.mark.parametrize("currency", CURRENCIES, ids=lambda c: c.code)
def test_parse_rejects_garbage(currency: Currency, text: str) -> None:
    with pytest.raises(MoneyError, match="not an amount"):
        currency.parse(text)


def test_money_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not an amount"):
        USD.parse("twelve")


@PROPERTY
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=12), currency=currencies)
def test_parse_either_returns_exact_value_or_raises(text: str, currency: Currency) -> None:
    """Whatever the text, parse gives its exact value in minor units or a MoneyError."""
    try:
        units = currency.parse(text)
    except MoneyError:
        return
    stripped = text.strip()
    assert re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?", stripped, re.ASCII)
    assert Fraction(units, currency.scale) == Fraction(stripped)


# --- round trips -------------------------------------------------------------------------


@PROPERTY
@given(units=big_ints, currency=currencies)
def test_parse_of_format_is_identity(units: int, currency: Currency) -> None:
    assert currency.parse(currency.format(units)) == units


@PROPERTY
@given(units=big_ints, currency=currencies)
def test_format_is_canonical_and_exact(units: int, currency: Currency) -> None:
    text = currency.format(units)
    assert canonical_pattern(currency).fullmatch(text)
    assert Fraction(text) == Fraction(units, currency.scale)


@PROPERTY
@given(units=big_ints, currency=currencies)
def test_format_of_parse_is_identity_on_canonical_text(units: int, currency: Currency) -> None:
    canonical = currency.format(units)
    assert currency.format(currency.parse(canonical)) == canonical


@PROPERTY
@given(
    currency=currencies,
    sign=st.sampled_from(["", "+", "-"]),
    whole=st.from_regex(r"[0-9]{1,25}", fullmatch=True),
    frac=st.from_regex(r"[0-9]{0,3}", fullmatch=True),
)
def test_parse_of_any_decimal_text_is_exact(
    currency: Currency, sign: str, whole: str, frac: str
) -> None:
    text = f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"
    exact = Fraction(text) * currency.scale
    if len(frac) > currency.minor_digits:
        with pytest.raises(MoneyError):
            currency.parse(text)
        return
    units = currency.parse(text)
    assert units == exact
    # Formatting gives back the same number, canonically written.
    assert Fraction(currency.format(units)) == Fraction(text)


# --- apply_basis_points ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "basis_points", "expected"),
    [
        (1000, 0, 1000),
        (1000, -2000, 800),  # 20 % discount
        (1000, 1000, 1100),  # 10 % surcharge
        (1000, 10_000, 2000),  # doubled
        (1000, -10_000, 0),  # 100 % discount
        (1000, -15_000, 0),  # more than 100 % never flips the sign
        (1000, -1_000_000, 0),
        (-1000, -15_000, 0),
        (-1000, -2000, -800),
        (-1000, 1000, -1100),
        (0, 5000, 0),
        # rounding half away from zero
        (5, -5000, 3),  # 2.5 -> 3
        (-5, -5000, -3),  # -2.5 -> -3
        (1, 5000, 2),  # 1.5 -> 2
        (-1, 5000, -2),  # -1.5 -> -2
        (3, -5000, 2),  # 1.5 -> 2
        (1, 4999, 1),  # 1.4999 -> 1
        (-1, 4999, -1),
        (1, 5001, 2),  # 1.5001 -> 2
        (1, -6000, 0),  # 0.4 -> 0
        (1, -5000, 1),  # 0.5 -> 1
        (-1, -5000, -1),  # -0.5 -> -1
        (1, -5001, 0),  # 0.4999 -> 0
        (999, -3333, 666),  # 666.0333
        (685, 1000, 754),  # 753.5 -> 754
        (1, 1, 1),
    ],
)
def test_apply_basis_points_examples(amount: int, basis_points: int, expected: int) -> None:
    assert apply_basis_points(amount, basis_points) == expected


def exact_scaled(amount: int, basis_points: int) -> Fraction:
    return Fraction(amount * max(0, 10_000 + basis_points), 10_000)


def round_half_away_from_zero(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


amounts = st.integers(min_value=-(10**15), max_value=10**15)
basis_points = st.integers(min_value=-30_000, max_value=30_000)


@PROPERTY
@given(amount=amounts, bp=basis_points)
def test_apply_basis_points_is_between_floor_and_ceil(amount: int, bp: int) -> None:
    exact = exact_scaled(amount, bp)
    result = apply_basis_points(amount, bp)
    assert math.floor(exact) <= result <= math.ceil(exact)
    assert abs(result - exact) <= Fraction(1, 2)


@PROPERTY
@given(amount=amounts, bp=basis_points)
def test_apply_basis_points_rounds_half_away_from_zero(amount: int, bp: int) -> None:
    assert apply_basis_points(amount, bp) == round_half_away_from_zero(exact_scaled(amount, bp))


@PROPERTY
@given(amount=amounts, bp=basis_points)
def test_apply_basis_points_never_flips_sign(amount: int, bp: int) -> None:
    result = apply_basis_points(amount, bp)
    assert result == 0 or (result > 0) == (amount > 0)
    assert apply_basis_points(-amount, bp) == -result


@PROPERTY
@given(amount=st.integers(min_value=-(10**40), max_value=10**40))
def test_zero_basis_points_is_exactly_the_amount(amount: int) -> None:
    assert apply_basis_points(amount, 0) == amount


@PROPERTY
@given(amount=amounts, bp=st.integers(min_value=-1_000_000, max_value=-10_000))
def test_discount_of_100_percent_or_more_gives_zero(amount: int, bp: int) -> None:
    assert apply_basis_points(amount, bp) == 0


@PROPERTY
@given(
    amount=st.integers(min_value=0, max_value=10**12),
    low=basis_points,
    high=basis_points,
)
def test_apply_basis_points_is_monotone_in_basis_points(amount: int, low: int, high: int) -> None:
    low, high = sorted((low, high))
    assert apply_basis_points(amount, low) <= apply_basis_points(amount, high)


@pytest.mark.parametrize(
    ("currency", "units", "shown"),
    [
        (USD, 150, "$1.50"),
        (USD, -25, "-$0.25"),
        (USD, 123_456_789, "$1,234,567.89"),
        (JPY, 150, "¥150"),
        (Currency("EUR"), 5, "€0.05"),
        (Currency("GBP"), 100, "£1.00"),
        (Currency("USD", 3), 1_500, "$1.500"),
    ],
)
def test_show_is_the_amount_as_people_read_it(currency: Currency, units: int, shown: str) -> None:
    """Issue 17: messages said "job costs 150"; a person reads "$1.50"."""
    assert currency.show(units) == shown


@PROPERTY
@given(units=st.integers(min_value=-(10**15), max_value=10**15))
def test_show_is_exact_for_every_amount(units: int) -> None:
    digits = re.sub(r"[^0-9-]", "", USD.show(units))
    assert int(digits) == units


@PROPERTY
@given(
    units=st.integers(min_value=-(10**13), max_value=10**13),
    code=st.sampled_from(["USD", "EUR", "GBP", "JPY", "CHF", "AUD", "SEK", "INR", "KWD", "XYZ"]),
    digits=st.integers(min_value=0, max_value=3),
)
def test_show_agrees_with_babels_currency_format(units: int, code: str, digits: int) -> None:
    """``show`` formats the digits itself (Babel per amount was a third of a journal upload's
    CPU); what it writes is what Babel writes for CLDR's English pattern."""
    from decimal import Decimal

    from babel.numbers import format_currency

    pattern = "¤#,##0" + ("." + "0" * digits if digits else "")
    amount = Decimal(units).scaleb(-digits)
    expected = format_currency(amount, code, format=pattern, locale="en", currency_digits=False)
    assert Currency(code, digits).show(units) == expected
