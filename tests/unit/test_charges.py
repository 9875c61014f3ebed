"""The pure rules HQ checks a site's charges with (domain/charges.py)."""

from __future__ import annotations

import pytest

from printwarden.domain import charges
from printwarden.domain.charges import Refused
from printwarden.domain.costs import CostModel, PagePrices
from printwarden.domain.journal import CHARGES, CREDITS

A4 = PagePrices(grey_simplex=10, grey_duplex=8, colour_simplex=50, colour_duplex=40)


def test_equal_prices_have_equal_digests_whatever_their_order() -> None:
    one = CostModel(sizes={"A4": A4, "default": PagePrices(3)}, group_modifiers={"a": 1, "b": 2})
    two = CostModel(sizes={"default": PagePrices(3), "A4": A4}, group_modifiers={"b": 2, "a": 1})
    assert charges.prices_digest(one) == charges.prices_digest(two)
    dearer = CostModel(sizes={"A4": A4, "default": PagePrices(4)}, group_modifiers={"a": 1})
    assert charges.prices_digest(dearer) != charges.prices_digest(one)
    assert charges.prices_digest(CostModel(base_cost=1)) != charges.prices_digest(CostModel())


def test_script_digests_name_the_source() -> None:
    assert charges.script_digest("a") == charges.script_digest("a")
    assert charges.script_digest("a") != charges.script_digest("a ")


@pytest.mark.parametrize(("owner", "allowed"), [("north", True), (None, True), ("south", False)])
def test_a_site_uses_its_own_printers_and_those_of_no_site(
    owner: str | None, allowed: bool
) -> None:
    assert charges.belongs(owner, "north") is allowed
    if allowed:
        charges.check_place("printer", "laser", owner, "north")
    else:
        with pytest.raises(Refused, match="belongs to site 'south', not 'north'"):
            charges.check_place("printer", "laser", owner, "north")


@pytest.mark.parametrize("value", [-1, -100_000, 1.5, "10", True, None])
def test_an_amount_is_a_whole_non_negative_number(value: object) -> None:
    with pytest.raises(Refused):
        charges.amount(value)


def test_a_zero_or_positive_amount_is_a_charge() -> None:
    assert charges.amount(0) == 0
    assert charges.amount(120) == 120


def test_a_cost_is_explained_only_by_the_costs_the_prices_give() -> None:
    assert charges.explained(20, (20, 25)) == 20
    assert charges.explained(25, (20, 25)) == 25
    assert charges.explained(None, (20, 25)) == 20  # no cost sent: the first explanation
    with pytest.raises(
        Refused, match=r"cost \$0\.01 is not what published prices give .* \(\$0\.20 or \$0\.25\)"
    ):
        charges.explained(1, (20, 25))
    with pytest.raises(Refused, match="negative"):
        charges.explained(-20, (-20,))


def test_a_cost_override_needs_a_published_script_and_is_never_negative() -> None:
    published = {"s1"}
    assert charges.overridden(7, 7, "s1", published, "laser") == 7
    assert charges.overridden(0, None, "s1", published, "laser") == 0
    with pytest.raises(Refused, match="negative"):
        charges.overridden(-5_000, -5_000, "s1", published, "laser")
    with pytest.raises(Refused, match="never published for 'laser'"):
        charges.overridden(7, 7, "s2", published, "laser")
    with pytest.raises(Refused, match="without the print script"):
        charges.overridden(7, 7, "", published, "laser")
    with pytest.raises(Refused, match="differs"):
        charges.overridden(7, 70, "s1", published, "laser")


def test_journal_kinds_that_move_money_are_charges_or_checked_credits() -> None:
    assert {"printed", "usage"} == CHARGES
    assert {"voucher", "cash"} == CREDITS
    assert not CHARGES & CREDITS
