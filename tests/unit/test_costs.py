"""Cost model: per-page prices by size, colour and duplex; base cost; group modifiers."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain.costs import (
    DEFAULT_SIZE,
    CostModel,
    JobUsage,
    PagePrices,
    affordable_pages,
    job_cost,
)

PROPERTY = settings(max_examples=200, deadline=None, database=None)

A4 = PagePrices(grey_simplex=10, grey_duplex=8, colour_simplex=50, colour_duplex=40)
A3 = PagePrices(grey_simplex=20, grey_duplex=16, colour_simplex=100, colour_duplex=80)
DEFAULT = PagePrices(grey_simplex=15, grey_duplex=12, colour_simplex=70, colour_duplex=60)

MODEL = CostModel(sizes={"A4": A4, "A3": A3})
MODEL_WITH_DEFAULT = CostModel(sizes={"A4": A4, DEFAULT_SIZE: DEFAULT})
GROUPS = {"staff": -2000, "students": 0, "guests": 1000, "vip": -10_000}


# --- PagePrices --------------------------------------------------------------------------


def test_page_price_picks_colour_and_duplex() -> None:
    prices = PagePrices(grey_simplex=1, grey_duplex=2, colour_simplex=3, colour_duplex=4)
    assert prices.page(colour=False, duplex=False) == 1
    assert prices.page(colour=False, duplex=True) == 2
    assert prices.page(colour=True, duplex=False) == 3
    assert prices.page(colour=True, duplex=True) == 4


def test_page_prices_default_to_free() -> None:
    assert PagePrices().page(colour=True, duplex=True) == 0
    assert PagePrices().page(colour=False, duplex=False) == 0


# --- job_cost: examples worked by hand ---------------------------------------------------


def test_a4_grey_simplex() -> None:
    # 10 grey pages at 10 = 100
    assert job_cost(MODEL, JobUsage(pages=10)) == 100


def test_a4_grey_duplex() -> None:
    # 10 grey sides at the duplex price 8 = 80
    assert job_cost(MODEL, JobUsage(pages=10, duplex=True)) == 80


def test_colour_duplex() -> None:
    # 6 colour sides at 40 = 240
    assert job_cost(MODEL, JobUsage(pages=6, colour_pages=6, duplex=True)) == 240


def test_colour_simplex() -> None:
    assert job_cost(MODEL, JobUsage(pages=3, colour_pages=3)) == 150


def test_mixed_colour_and_grey() -> None:
    # 3 colour at 50 + 7 grey at 10 = 220
    assert job_cost(MODEL, JobUsage(pages=10, colour_pages=3)) == 220
    # duplex: 3 colour at 40 + 7 grey at 8 = 176
    assert job_cost(MODEL, JobUsage(pages=10, colour_pages=3, duplex=True)) == 176


def test_copies_multiply_the_pages() -> None:
    # 3 copies of (3 colour at 50 + 7 grey at 10) = 660
    assert job_cost(MODEL, JobUsage(pages=10, colour_pages=3, copies=3)) == 660


def test_base_cost_is_charged_once_per_job_not_per_copy() -> None:
    model = CostModel(sizes={"A4": A4}, base_cost=25)
    # 25 + 3 * 220 = 685
    assert job_cost(model, JobUsage(pages=10, colour_pages=3, copies=3)) == 685
    assert job_cost(model, JobUsage(pages=0)) == 25


def test_other_listed_size_has_its_own_prices() -> None:
    # A3: 2 colour at 100 + 3 grey at 20 = 260
    assert job_cost(MODEL, JobUsage(pages=5, colour_pages=2, paper_size="A3")) == 260


def test_unknown_size_is_charged_at_default() -> None:
    # B5 is not listed: 2 colour at 70 + 3 grey at 15 = 185
    usage = JobUsage(pages=5, colour_pages=2, paper_size="B5")
    assert job_cost(MODEL_WITH_DEFAULT, usage) == 185
    assert MODEL_WITH_DEFAULT.prices_for("B5") is DEFAULT


def test_listed_size_is_not_charged_at_default() -> None:
    assert job_cost(MODEL_WITH_DEFAULT, JobUsage(pages=5, colour_pages=2)) == 2 * 50 + 3 * 10


def test_unknown_size_without_default_is_charged_at_the_dearest_listed_price() -> None:
    """An A3 colour job and a 4x6 photo at a printer priced for A4 and letter only were
    charged nothing (issue 16): an unpriced size now costs what the dearest listed paper
    costs, for each kind of page."""
    letter = PagePrices(grey_simplex=12, grey_duplex=5, colour_simplex=45, colour_duplex=44)
    model = CostModel(sizes={"A4": A4, "letter": letter}, base_cost=30)
    dearest = PagePrices(grey_simplex=12, grey_duplex=8, colour_simplex=50, colour_duplex=44)
    assert model.prices_for("A3") == dearest
    assert model.prices_for("102x152mm") == dearest
    # A3, 2 colour pages at 50 and 3 grey at 12, plus the base cost.
    assert job_cost(model, JobUsage(pages=5, colour_pages=2, paper_size="A3")) == 30 + 136
    assert job_cost(model, JobUsage(pages=1, colour_pages=1, paper_size="102x152mm")) == 80
    for size in ("A3", "102x152mm", "legal"):
        assert job_cost(model, JobUsage(pages=1, paper_size=size)) > model.base_cost


def test_a_default_entry_in_any_case_is_the_default_price() -> None:
    model = CostModel(sizes={"A4": A4, "Default": DEFAULT})
    assert model.prices_for("B5") is DEFAULT


def test_only_an_empty_price_table_prints_for_free() -> None:
    assert job_cost(CostModel(), JobUsage(pages=50, colour_pages=20)) == 0
    assert job_cost(CostModel(), JobUsage(pages=5, paper_size="A3")) == 0


@pytest.mark.parametrize("size", ["A4", "a4"])
def test_size_lookup_is_case_insensitive_for_upper_case_keys(size: str) -> None:
    assert MODEL_WITH_DEFAULT.prices_for(size) is A4
    assert job_cost(MODEL_WITH_DEFAULT, JobUsage(pages=10, paper_size=size)) == 100


@pytest.mark.parametrize("size", ["letter", "Letter", "LETTER", "lEtTeR"])
def test_size_lookup_is_case_insensitive_for_lower_case_keys(size: str) -> None:
    letter = PagePrices(grey_simplex=9)
    model = CostModel(sizes={"letter": letter, DEFAULT_SIZE: DEFAULT})
    assert model.prices_for(size) is letter
    assert job_cost(model, JobUsage(pages=10, paper_size=size)) == 90


def test_exact_size_match_wins_over_case_insensitive_match() -> None:
    upper = PagePrices(grey_simplex=1)
    lower = PagePrices(grey_simplex=2)
    model = CostModel(sizes={"A5": upper, "a5": lower})
    assert model.prices_for("A5") is upper
    assert model.prices_for("a5") is lower


def test_size_named_default_in_any_case_is_the_default() -> None:
    model = CostModel(sizes={"A4": A4, DEFAULT_SIZE: DEFAULT})
    assert model.prices_for("DEFAULT") is DEFAULT


def test_zero_priced_size_is_not_replaced_by_default() -> None:
    free = PagePrices()
    model = CostModel(sizes={"A4": free, DEFAULT_SIZE: DEFAULT})
    assert model.prices_for("A4") is free
    assert job_cost(model, JobUsage(pages=10)) == 0


# --- group modifiers ---------------------------------------------------------------------


def test_modifier_for_no_matching_group_is_zero() -> None:
    model = CostModel(group_modifiers=GROUPS)
    assert model.modifier_for(frozenset()) == 0
    assert model.modifier_for(frozenset({"unknown"})) == 0
    assert CostModel().modifier_for(frozenset({"staff"})) == 0


def test_modifier_for_several_groups_is_the_cheapest() -> None:
    model = CostModel(group_modifiers=GROUPS)
    assert model.modifier_for(frozenset({"staff", "guests"})) == -2000
    assert model.modifier_for(frozenset({"students", "guests", "unknown"})) == 0
    assert model.modifier_for(frozenset({"guests"})) == 1000
    assert model.modifier_for(frozenset({"guests", "staff", "vip"})) == -10_000


def test_group_discount() -> None:
    model = CostModel(sizes={"A4": A4}, base_cost=25, group_modifiers=GROUPS)
    usage = JobUsage(pages=10, colour_pages=3, copies=3)  # 685 before modifiers
    assert job_cost(model, usage) == 685
    assert job_cost(model, usage, frozenset({"staff"})) == 548  # 685 * 0.8
    assert job_cost(model, usage, frozenset({"students"})) == 685


def test_group_surcharge_rounds_half_up_once_at_the_end() -> None:
    model = CostModel(sizes={"A4": A4}, base_cost=25, group_modifiers=GROUPS)
    usage = JobUsage(pages=10, colour_pages=3, copies=3)
    assert job_cost(model, usage, frozenset({"guests"})) == 754  # 753.5 -> 754


def test_cheapest_of_several_groups_is_applied() -> None:
    model = CostModel(sizes={"A4": A4}, base_cost=25, group_modifiers=GROUPS)
    usage = JobUsage(pages=10, colour_pages=3, copies=3)
    assert job_cost(model, usage, frozenset({"guests", "staff", "unknown"})) == 548
    assert job_cost(model, usage, frozenset({"guests", "students"})) == 685
    assert job_cost(model, usage, frozenset({"staff", "vip"})) == 0


def test_rounding_is_applied_to_the_total_not_per_page() -> None:
    # 3 pages at 5 with 10 % off: per page 4.5 would round to 5 (15), the total 13.5 -> 14
    model = CostModel(sizes={"A4": PagePrices(grey_simplex=5)}, group_modifiers={"g": -1000})
    assert job_cost(model, JobUsage(pages=3), frozenset({"g"})) == 14


# --- unknown pages -----------------------------------------------------------------------


def test_unknown_pages_cost_the_base_cost_only() -> None:
    model = CostModel(sizes={"A4": A4}, base_cost=25, group_modifiers=GROUPS)
    assert job_cost(model, JobUsage(pages=None)) == 25
    assert job_cost(model, JobUsage(pages=None, copies=5, duplex=True)) == 25
    assert job_cost(model, JobUsage(pages=None), frozenset({"staff"})) == 20
    assert job_cost(CostModel(sizes={"A4": A4}), JobUsage(pages=None)) == 0


# --- JobUsage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pages": -1}, "pages must be >= 0"),
        ({"pages": 5, "colour_pages": -1}, "colour_pages must be >= 0"),
        ({"pages": 5, "copies": 0}, "copies >= 1"),
        ({"pages": 5, "copies": -3}, "copies >= 1"),
        ({"pages": 5, "colour_pages": 6}, "cannot exceed pages"),
        ({"pages": 0, "colour_pages": 1}, "cannot exceed pages"),
        ({"pages": None, "colour_pages": 1}, "cannot exceed pages"),
        ({"pages": None, "copies": 0}, "copies >= 1"),
    ],
)
def test_job_usage_validation(kwargs: dict[str, int | None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobUsage(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "usage",
    [
        JobUsage(pages=0),
        JobUsage(pages=None),
        JobUsage(pages=5, colour_pages=5),
        JobUsage(pages=5, colour_pages=0, copies=1),
        JobUsage(pages=1, copies=10_000),
    ],
)
def test_job_usage_valid_edges(usage: JobUsage) -> None:
    assert usage.grey_pages >= 0


def test_job_usage_defaults() -> None:
    usage = JobUsage(pages=4)
    assert (usage.colour_pages, usage.copies, usage.duplex, usage.paper_size) == (0, 1, False, "A4")


@pytest.mark.parametrize(
    ("usage", "grey", "total", "sheets"),
    [
        (JobUsage(pages=5, copies=3), 5, 15, 15),
        (JobUsage(pages=5, copies=3, duplex=True), 5, 15, 9),  # 3 sheets per copy
        (JobUsage(pages=4, copies=3, duplex=True), 4, 12, 6),  # 2 sheets per copy
        (JobUsage(pages=1, duplex=True), 1, 1, 1),
        (JobUsage(pages=7, colour_pages=2), 5, 7, 7),
        (JobUsage(pages=7, colour_pages=7, copies=2, duplex=True), 0, 14, 8),
        (JobUsage(pages=0, copies=4), 0, 0, 0),
        (JobUsage(pages=0, duplex=True), 0, 0, 0),
        (JobUsage(pages=None, copies=4), 0, 0, 0),
        (JobUsage(pages=None, copies=4, duplex=True), 0, 0, 0),
    ],
)
def test_grey_pages_total_pages_and_sheets(
    usage: JobUsage, grey: int, total: int, sheets: int
) -> None:
    assert usage.grey_pages == grey
    assert usage.total_pages == total
    assert usage.sheets == sheets


# --- properties --------------------------------------------------------------------------

prices_st = st.integers(min_value=0, max_value=10_000)
page_prices = st.builds(
    PagePrices,
    grey_simplex=prices_st,
    grey_duplex=prices_st,
    colour_simplex=prices_st,
    colour_duplex=prices_st,
)
size_names = st.sampled_from(["A4", "A3", "letter", "legal", DEFAULT_SIZE])
models = st.builds(
    CostModel,
    sizes=st.dictionaries(size_names, page_prices, max_size=5),
    base_cost=st.integers(min_value=0, max_value=10_000),
    group_modifiers=st.dictionaries(
        st.sampled_from(["staff", "students", "guests", "vip"]),
        st.integers(min_value=-15_000, max_value=15_000),
        max_size=4,
    ),
)
user_groups = st.frozensets(st.sampled_from(["staff", "students", "guests", "vip", "x"]))


@st.composite
def usages(draw: st.DrawFn) -> JobUsage:
    pages = draw(st.none() | st.integers(min_value=0, max_value=5_000))
    colour = draw(st.integers(min_value=0, max_value=pages or 0))
    return JobUsage(
        pages=pages,
        colour_pages=colour,
        copies=draw(st.integers(min_value=1, max_value=500)),
        duplex=draw(st.booleans()),
        paper_size=draw(st.sampled_from(["A4", "a4", "A3", "letter", "LETTER", "B5", "Legal"])),
    )


def reference_prices(model: CostModel, size: str) -> PagePrices:
    """The size's prices; else the default entry; else, kind by kind, the dearest listed."""
    by_name = {name.lower(): prices for name, prices in model.sizes.items()}
    if size.lower() in by_name:
        return by_name[size.lower()]
    if DEFAULT_SIZE in by_name:
        return by_name[DEFAULT_SIZE]
    kinds = ("grey_simplex", "grey_duplex", "colour_simplex", "colour_duplex")
    dearest = {k: max([getattr(p, k) for p in by_name.values()] + [0]) for k in kinds}
    return PagePrices(**dearest)


def reference_cost(model: CostModel, usage: JobUsage, groups: frozenset[str]) -> int:
    """An independent computation with Fractions, rounded half up once at the end."""
    prices = reference_prices(model, usage.paper_size)
    if usage.duplex:
        grey_price, colour_price = prices.grey_duplex, prices.colour_duplex
    else:
        grey_price, colour_price = prices.grey_simplex, prices.colour_simplex
    pages = usage.pages or 0
    colour = usage.colour_pages if usage.pages is not None else 0
    per_copy = Fraction(colour * colour_price + (pages - colour) * grey_price)
    raw = model.base_cost + per_copy * usage.copies
    modifiers = [bp for name, bp in model.group_modifiers.items() if name in groups]
    factor = max(Fraction(0), 1 + Fraction(min(modifiers, default=0), 10_000))
    return math.floor(raw * factor + Fraction(1, 2))


@PROPERTY
@given(model=models, usage=usages(), groups=user_groups)
def test_cost_equals_independent_fraction_computation(
    model: CostModel, usage: JobUsage, groups: frozenset[str]
) -> None:
    # Keys that differ only by case would make the reference ambiguous.
    assert len({name.lower() for name in model.sizes}) == len(model.sizes)
    cost = job_cost(model, usage, groups)
    assert isinstance(cost, int)
    assert cost == reference_cost(model, usage, groups)


@PROPERTY
@given(model=models, usage=usages(), groups=user_groups)
def test_cost_is_never_negative_with_non_negative_prices(
    model: CostModel, usage: JobUsage, groups: frozenset[str]
) -> None:
    assert job_cost(model, usage, groups) >= 0


@PROPERTY
@given(
    model=models,
    usage=usages(),
    groups=user_groups,
    more_pages=st.integers(min_value=0, max_value=1_000),
    more_copies=st.integers(min_value=0, max_value=100),
)
def test_cost_is_monotone_in_pages_and_copies(
    model: CostModel, usage: JobUsage, groups: frozenset[str], more_pages: int, more_copies: int
) -> None:
    cost = job_cost(model, usage, groups)
    pages = usage.pages or 0
    colour = usage.colour_pages
    more_paged = JobUsage(
        pages=pages + more_pages,
        colour_pages=colour,
        copies=usage.copies,
        duplex=usage.duplex,
        paper_size=usage.paper_size,
    )
    more_copied = JobUsage(
        pages=usage.pages,
        colour_pages=colour,
        copies=usage.copies + more_copies,
        duplex=usage.duplex,
        paper_size=usage.paper_size,
    )
    both = JobUsage(
        pages=pages + more_pages,
        colour_pages=colour,
        copies=usage.copies + more_copies,
        duplex=usage.duplex,
        paper_size=usage.paper_size,
    )
    assert cost <= job_cost(model, more_paged, groups)
    assert cost <= job_cost(model, more_copied, groups)
    assert job_cost(model, more_paged, groups) <= job_cost(model, both, groups)
    assert job_cost(model, more_copied, groups) <= job_cost(model, both, groups)


@PROPERTY
@given(model=models, usage=usages())
def test_without_groups_cost_is_the_plain_sum(model: CostModel, usage: JobUsage) -> None:
    prices = reference_prices(model, usage.paper_size)
    expected = model.base_cost + usage.copies * (
        usage.colour_pages * prices.page(colour=True, duplex=usage.duplex)
        + usage.grey_pages * prices.page(colour=False, duplex=usage.duplex)
    )
    assert job_cost(model, usage) == expected


@PROPERTY
@given(model=models, usage=usages(), groups=user_groups)
def test_unknown_pages_cost_only_the_modified_base_cost(
    model: CostModel, usage: JobUsage, groups: frozenset[str]
) -> None:
    unknown = JobUsage(
        pages=None, copies=usage.copies, duplex=usage.duplex, paper_size=usage.paper_size
    )
    base_only = CostModel(base_cost=model.base_cost, group_modifiers=model.group_modifiers)
    assert job_cost(model, unknown, groups) == job_cost(base_only, JobUsage(pages=0), groups)


def test_affordable_pages_counts_the_base_cost_once() -> None:
    def cost(pages: int) -> int:
        return 25 + 10 * pages  # a base cost and 10 a page

    assert affordable_pages(cost, 100) == 7
    assert affordable_pages(cost, 34) == 0
    assert affordable_pages(cost, -50) == 0
    with pytest.raises(ValueError, match="no price"):
        affordable_pages(lambda pages: 5, 100)
