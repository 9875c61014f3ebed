"""Top-up card codes: generation, the Damm check over GF(32), reading typed codes, batches."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain import vouchers
from printwarden.domain.vouchers import (
    ALPHABET,
    MAX_BATCH,
    Batch,
    CodeError,
    Malformed,
    Mistyped,
    check_symbol,
    damm,
    display,
    generate,
    is_valid_on,
    new_code,
    normalize,
    parse,
    times_alpha,
)

PROPERTY = settings(max_examples=300, deadline=None, database=None)
SHOWN = re.compile(rf"[{ALPHABET}]{{4}}(-[{ALPHABET}]{{4}}){{3}}", re.ASCII)
EXAMPLE = "9TPK1GYK0VB0P02Y"
payloads = st.text(alphabet=ALPHABET, min_size=15, max_size=15)


def gf32_multiply(a: int, b: int) -> int:
    """Schoolbook GF(2)[x] product reduced by x^5 + x^2 + 1: independent of the module."""
    product = 0
    for bit in range(5):
        if b >> bit & 1:
            product ^= a << bit
    for bit in range(8, 4, -1):
        if product >> bit & 1:
            product ^= 0b100101 << (bit - 5)
    return product


def with_check(payload: str) -> str:
    return payload + check_symbol(payload)


# --- the field and the quasigroup -------------------------------------------------------


def test_alphabet_is_crockfords_base32() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)
    assert "".join(sorted(ALPHABET)) == ALPHABET


def test_times_alpha_is_multiplication_by_2_in_a_field_where_alpha_generates_all() -> None:
    assert [times_alpha(x) for x in range(32)] == [gf32_multiply(2, x) for x in range(32)]
    for x in range(1, 32):
        assert any(gf32_multiply(x, y) == 1 for y in range(1, 32)), f"{x} has no inverse"
    powers, element = set(), 1
    for _ in range(31):
        powers.add(element)
        element = times_alpha(element)
    assert powers == set(range(1, 32))


def test_the_check_is_a_quasigroup() -> None:
    for fixed in range(32):
        assert sorted(damm(fixed, y) for y in range(32)) == list(range(32))
        assert sorted(damm(x, fixed) for x in range(32)) == list(range(32))


def test_the_quasigroup_is_totally_anti_symmetric() -> None:
    """(c∘x)∘y = (c∘y)∘x only when x = y, for every interim c: every swap is seen."""
    for c in range(32):
        for x in range(32):
            for y in range(32):
                if x != y:
                    assert damm(damm(c, x), y) != damm(damm(c, y), x), (c, x, y)


# --- generation ----------------------------------------------------------------------------


def test_a_new_code_is_16_symbols_in_groups_of_4_and_checks() -> None:
    code = new_code()
    assert SHOWN.fullmatch(code), code
    assert parse(code) == code.replace("-", "")


def test_new_code_takes_75_bits_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def randbits(k: int) -> int:
        asked.append(k)
        return 2**75 - 1

    monkeypatch.setattr("printwarden.domain.vouchers.secrets.randbits", randbits)
    assert new_code().startswith("ZZZZ-ZZZZ-ZZZZ-ZZZ")
    assert asked == [75]
    monkeypatch.setattr("printwarden.domain.vouchers.secrets.randbits", lambda k: 1)
    assert new_code()[:4] == "1000"


def test_generate_makes_different_codes_using_every_symbol_in_every_place() -> None:
    codes = generate(2000)
    assert len(codes) == len(set(codes)) == 2000
    assert all(SHOWN.fullmatch(code) for code in codes)
    symbols = [code.replace("-", "") for code in codes]
    for place in range(16):
        assert {code[place] for code in symbols} == set(ALPHABET), place


def test_generate_draws_again_on_a_repeated_code(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["AAAA", "AAAA", "BBBB"])
    monkeypatch.setattr(vouchers, "new_code", lambda: next(drawn))
    assert generate(2) == ["AAAA", "BBBB"]


@pytest.mark.parametrize("count", [0, -1, MAX_BATCH + 1, True, 2.0])
def test_generate_refuses_a_count_out_of_range(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        generate(count)


# --- the check catches typos ----------------------------------------------------------------


def test_every_substitution_and_every_swap_in_one_code_is_caught() -> None:
    """Exhaustive over one code: 16 x 31 substitutions, every transposition (adjacent or
    not) of two different symbols."""
    assert parse(EXAMPLE) == EXAMPLE
    for place, original in enumerate(EXAMPLE):
        for other in ALPHABET.replace(original, ""):
            typo = EXAMPLE[:place] + other + EXAMPLE[place + 1 :]
            with pytest.raises(Mistyped):
                parse(typo)
    for first in range(16):
        for second in range(first + 1, 16):
            if EXAMPLE[first] != EXAMPLE[second]:
                swapped = list(EXAMPLE)
                swapped[first], swapped[second] = swapped[second], swapped[first]
                with pytest.raises(Mistyped):
                    parse("".join(swapped))


@PROPERTY
@given(payloads, st.integers(0, 15), st.sampled_from(ALPHABET))
def test_any_single_substitution_is_caught(payload: str, place: int, other: str) -> None:
    code = with_check(payload)
    typo = code[:place] + other + code[place + 1 :]
    if typo == code:
        assert parse(typo) == code
    else:
        with pytest.raises(Mistyped):
            parse(typo)


@PROPERTY
@given(payloads, st.integers(0, 14))
def test_any_adjacent_transposition_is_caught(payload: str, place: int) -> None:
    code = with_check(payload)
    swapped = code[:place] + code[place + 1] + code[place] + code[place + 2 :]
    if code[place] == code[place + 1]:
        assert parse(swapped) == code
    else:
        with pytest.raises(Mistyped):
            parse(swapped)


# --- reading what people type -------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "9TPK-1GYK-0VB0-P02Y",
        "9tpk-1gyk-0vb0-p02y",
        " 9TPK 1GYK 0VB0 P02Y\n",
        "9TPK_1GYK_0VB0_P02Y",
        "9TPK–1GYK–0VB0–P02Y",  # en dashes, as copied from a document
        "9TPK-iGYK-oVB0-PO2Y",  # i and o for 1 and 0
        "9TPK-lGYK-0VBO-P02Y",  # l for 1
        "9TPK1GYK0VB0P02Y",
    ],
)
def test_parse_reads_a_code_as_people_type_it(typed: str) -> None:
    assert parse(typed) == EXAMPLE
    assert display(typed) == "9TPK-1GYK-0VB0-P02Y"


def test_normalize_only_folds() -> None:
    assert normalize("ab-c_d e\tf") == "ABCDEF"
    assert normalize("OoIiLl") == "001111"
    assert normalize("") == ""


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("9TPK-1GYK-0VB0-P02U", "no U in a code"),
        ("9TPK-1GYK-0VB0-P02Y!", '"!" is not in any code'),
        ("9TPK-1GYK-0VB0-P0\x002Y", "U+0000 is not in any code"),
        ("9TPK-1GYK-0VB0-P0ß2Y", '"ß" is not in any code'),
        ("9TPK-1GYK-0VB0-P0\u017f2Y", "is not in any code"),  # long s: upper() is S
        ("9TPK-1GYK-0VB0-P02", "16 letters and digits; this one has 15"),
        ("9TPK-1GYK-0VB0-P02YY", "this one has 17"),
        ("", "enter the 16 letters and digits"),
        (" - ", "enter the 16 letters and digits"),
        ("9" * 65, "far longer"),
    ],
)
def test_a_text_of_the_wrong_shape_is_malformed(typed: str, says: str) -> None:
    with pytest.raises(Malformed, match=re.escape(says)):
        parse(typed)


def test_a_wrong_check_symbol_is_a_typo_and_both_errors_are_value_errors() -> None:
    with pytest.raises(Mistyped, match="this code has a typo") as caught:
        parse("9TPK-1GYK-0VB0-P02Z")
    assert isinstance(caught.value, CodeError)
    assert isinstance(caught.value, ValueError)
    assert issubclass(Malformed, ValueError)
    assert not issubclass(Malformed, Mistyped)


def test_display_refuses_what_is_no_code() -> None:
    with pytest.raises(Mistyped):
        display("9TPK-1GYK-0VB0-P02Z")


# --- batches ---------------------------------------------------------------------------------


def batch(**changes: object) -> Batch:
    fields: dict[str, object] = {
        "batch_id": "spring-2026.a_1",
        "value": 1000,
        "currency": "EUR",
        "valid_until": date(2026, 12, 31),
        "count": 10,
    }
    fields.update(changes)
    return Batch(**fields)  # type: ignore[arg-type]


def test_a_valid_batch() -> None:
    made = batch(batch_id="x" * 64, count=MAX_BATCH, valid_until=None)
    assert made.count == MAX_BATCH
    assert batch(count=1, value=1).value == 1


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"batch_id": ""}, "batch id: 1 to 64"),
        ({"batch_id": "x" * 65}, "batch id: 1 to 64"),
        ({"batch_id": "a b"}, "batch id"),
        ({"batch_id": "a,b"}, "batch id"),
        ({"batch_id": "-1+1"}, "starting with a letter or digit"),
        ({"batch_id": "=cmd"}, "batch id"),
        ({"batch_id": "été"}, "batch id"),
        ({"batch_id": "x\n"}, "batch id"),
        ({"batch_id": 7}, "batch id"),
        ({"value": 0}, "value (in cents): at least 1"),
        ({"value": -500}, "value (in cents): at least 1"),
        ({"value": 10.5}, "value (in cents): a whole number"),
        ({"value": True}, "value (in cents): a whole number"),
        ({"currency": "eur"}, "currency: an ISO 4217 code"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "E1R"}, "currency"),
        ({"currency": "ÉUR"}, "currency"),
        ({"valid_until": datetime(2026, 12, 31, 12)}, "valid until: a date"),
        ({"valid_until": "2026-12-31"}, "valid until: a date"),
        ({"count": 0}, "count: at least 1"),
        ({"count": MAX_BATCH + 1}, "count: at most 10,000"),
        ({"count": "10"}, "count: a whole number"),
    ],
)
def test_a_batch_says_what_is_wrong(changes: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        batch(**changes)


def test_a_batch_is_frozen() -> None:
    made = batch()
    with pytest.raises(AttributeError):
        made.count = 5  # type: ignore[misc]


def test_validity_includes_the_last_day() -> None:
    last = date(2026, 12, 31)
    assert is_valid_on(last, date(2026, 1, 1))
    assert is_valid_on(last, last)
    assert not is_valid_on(last, date(2027, 1, 1))
    assert is_valid_on(None, date(9999, 12, 31))
    assert batch(valid_until=last).is_valid_on(last)
    assert not batch(valid_until=last).is_valid_on(date(2027, 1, 1))
    assert batch(valid_until=None).is_valid_on(date(2100, 1, 1))
