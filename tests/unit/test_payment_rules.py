"""Online payments' rules: who may pay how much, the fee on top, and our payment ids."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printwarden.domain.payments import (
    AboveMaximum,
    BelowMinimum,
    GroupMayNotPay,
    PaymentRefused,
    PaymentRules,
    new_payment_id,
)

RULES = PaymentRules(min_amount=100, max_amount=50_000, groups=frozenset({"students", "staff"}))


def test_an_amount_within_the_limits_from_an_allowed_group_passes() -> None:
    for amount in (100, 2_500, 50_000):
        RULES.check(amount, {"students"})
    RULES.check(100, ["guests", "staff"])


@pytest.mark.parametrize(
    ("amount", "groups", "refused", "message"),
    [
        (99, {"students"}, BelowMinimum, "less than the smallest amount"),
        (0, {"students"}, BelowMinimum, "less than the smallest amount"),
        (-500, {"students"}, BelowMinimum, "less than the smallest amount"),
        (50_001, {"staff"}, AboveMaximum, "more than the largest amount"),
        (500, {"guests"}, GroupMayNotPay, "your group may not add credit online"),
        (500, set(), GroupMayNotPay, "your group may not add credit online"),
        (True, {"staff"}, PaymentRefused, "whole number of cents"),
        (2.5, {"staff"}, PaymentRefused, "whole number of cents"),
    ],
)
def test_refusals_say_why(
    amount: int, groups: set[str], refused: type[PaymentRefused], message: str
) -> None:
    with pytest.raises(refused, match=message) as found:
        RULES.check(amount, groups)
    assert isinstance(found.value, ValueError)


def test_the_refusals_carry_the_limit_for_the_message_in_the_currency() -> None:
    with pytest.raises(BelowMinimum) as low:
        RULES.check(1, {"staff"})
    with pytest.raises(AboveMaximum) as high:
        RULES.check(10**9, {"staff"})
    assert (low.value.limit, high.value.limit) == (100, 50_000)


def test_no_groups_means_everyone() -> None:
    PaymentRules(min_amount=1, max_amount=10).check(5, set())


@pytest.mark.parametrize(
    ("fixed", "bp", "amount", "fee"),
    [
        (0, 0, 1_000, 0),
        (25, 0, 1_000, 25),
        (0, 250, 1_000, 25),  # 2.5 % of 10.00
        (0, 250, 1_001, 26),  # 25.025 rounds up
        (30, 140, 999, 44),  # 0.30 + 1.4 % of 9.99 (13.986 → 14)
        (0, 1, 1, 1),  # any fraction of a cent is a whole cent
        (0, 10_000, 700, 700),
    ],
)
def test_fees(fixed: int, bp: int, amount: int, fee: int) -> None:
    rules = PaymentRules(1, 10**9, fee_fixed=fixed, fee_basis_points=bp)
    assert rules.fee(amount) == fee
    assert rules.total(amount) == amount + fee


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    fixed=st.integers(min_value=0, max_value=10**6),
    bp=st.integers(min_value=0, max_value=10_000),
)
def test_the_fee_is_the_smallest_whole_amount_covering_the_rate(
    amount: int, fixed: int, bp: int
) -> None:
    fee = PaymentRules(1, 10**12, fee_fixed=fixed, fee_basis_points=bp).fee(amount)
    variable = fee - fixed
    assert isinstance(fee, int)
    assert variable * 10_000 >= amount * bp  # covers the rate
    assert (variable - 1) * 10_000 < amount * bp  # and by less than one minor unit
    assert 0 <= variable <= amount


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_amount": 0, "max_amount": 10}, "0 < min_amount <= max_amount"),
        ({"min_amount": 11, "max_amount": 10}, "0 < min_amount <= max_amount"),
        ({"min_amount": 1, "max_amount": 10, "fee_fixed": -1}, "fee_fixed >= 0"),
        ({"min_amount": 1, "max_amount": 10, "fee_basis_points": 10_001}, "fee_basis_points"),
        ({"min_amount": 1.5, "max_amount": 10}, "whole numbers"),
    ],
)
def test_inconsistent_rules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PaymentRules(**kwargs)  # type: ignore[arg-type]


def test_payment_ids_are_random_and_url_safe() -> None:
    ids = {new_payment_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"pay_[A-Za-z0-9_-]{24}", found) for found in ids)
