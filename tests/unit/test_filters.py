"""The filter pipeline: each rule, conversions before limits, group overrides, reasons."""

from __future__ import annotations

from datetime import datetime

import pytest

from printwarden.domain.costs import CostModel, JobUsage, PagePrices, job_cost
from printwarden.domain.filters import (
    FilterSet,
    JobFacts,
    Outcome,
    Period,
    Rules,
    effective_rules,
    evaluate,
)
from printwarden.domain.money import Currency

MODEL = CostModel(sizes={"default": PagePrices(10, 8, 50, 40)})


def cost_of(usage: JobUsage) -> int:
    return job_cost(MODEL, usage)


def job(pages: int = 4, colour: int = 0, **facts: object) -> JobFacts:
    usage = JobUsage(
        pages=pages,
        colour_pages=colour,
        copies=int(facts.pop("copies", 1)),  # type: ignore[call-overload]
        duplex=bool(facts.pop("duplex", False)),
        paper_size=str(facts.pop("paper", "A4")),
    )
    return JobFacts(usage=usage, **facts)  # type: ignore[arg-type]


def run(rules: Rules, facts: JobFacts) -> tuple[Outcome, str]:
    result = evaluate(rules, facts, cost_of)
    return result.outcome, result.reason


@pytest.mark.parametrize(
    ("rules", "facts", "reason"),
    [
        (Rules(max_pages=10), job(6, copies=2), "job has 12 pages; the limit is 10 pages"),
        (Rules(min_pages=5), job(2), "this printer takes jobs of 5 pages or more"),
        (Rules(max_cost=39), job(4), "job costs $0.40; the limit is $0.39"),
        (Rules(deny_colour=True), job(4, 1), "colour printing is not allowed"),
        (Rules(colour_groups=("staff",)), job(4, 1), "colour printing is allowed only for staff"),
        (
            Rules(document_types=("application/pdf",)),
            job(document_format="text/plain"),
            "document type text/plain is not allowed",
        ),
        (Rules(paper_sizes=("A4",)), job(paper="A3"), "paper size A3 is not allowed"),
        (Rules(deny_names=("*.exe", "*secret*")), job(document_name="My SECRET.pdf"), "'*secret*'"),
        (
            Rules(duplicate_seconds=60),
            job(duplicate_of="job-1"),
            "duplicate of job job-1 (same document within 60 s)",
        ),
        (
            Rules(page_allowance=100),
            job(10, pages_in_period=95),
            "page allowance of 100 pages per day reached (5 left, job has 10 pages)",
        ),
    ],
)
def test_each_rule_denies_with_its_reason(rules: Rules, facts: JobFacts, reason: str) -> None:
    outcome, said = run(rules, facts)
    assert outcome is Outcome.DENY
    assert reason in said


def test_reasons_read_right_for_one_and_show_the_currency() -> None:
    """Issue 17: "job has 1 pages", "job costs 40; the limit is 39" — now plural-aware and in
    the configured currency."""
    assert run(Rules(min_pages=2), job(1))[1] == (
        "job has 1 page; this printer takes jobs of 2 pages or more"
    )
    euro = job(4, currency=Currency("EUR"))
    assert run(Rules(max_cost=39), euro)[1] == "job costs €0.40; the limit is €0.39"
    assert run(Rules(approval_cost=39), euro)[1] == "awaiting approval: costs €0.40 (over €0.39)"
    assert run(Rules(approval_pages=0), job(1))[1] == "awaiting approval: 1 page (over 0)"


@pytest.mark.parametrize(
    ("rules", "facts"),
    [
        (Rules(max_pages=10), job(5, copies=2)),
        (Rules(min_pages=5), job(5)),
        (Rules(max_cost=40), job(4)),
        (Rules(deny_colour=True), job(4, 0)),
        (Rules(colour_groups=("staff",)), job(4, 1, groups=frozenset({"staff"}))),
        (Rules(document_types=("image/*",)), job(document_format="image/jpeg")),
        (Rules(paper_sizes=("a3", "A4")), job(paper="A3")),
        (Rules(deny_names=("*.exe",)), job(document_name="report.pdf")),
        (Rules(duplicate_seconds=60), job()),
        (Rules(page_allowance=100), job(5, pages_in_period=95)),
    ],
)
def test_jobs_within_the_rules_pass(rules: Rules, facts: JobFacts) -> None:
    assert run(rules, facts) == (Outcome.ALLOW, "")


def test_approval_holds_big_or_costly_jobs_until_approved() -> None:
    rules = Rules(approval_pages=20, approval_cost=500, approver_group="managers")
    result = evaluate(rules, job(30), cost_of)
    assert result.outcome is Outcome.APPROVAL
    assert result.reason == "awaiting approval: 30 pages (over 20)"
    assert result.approver_group == "managers"
    assert run(rules, job(11, 11))[0] is Outcome.APPROVAL  # 11 colour pages cost 550
    assert run(rules, job(30, approved=True)) == (Outcome.ALLOW, "")


def test_conversions_come_first_and_limits_judge_the_converted_job() -> None:
    rules = Rules(grayscale=True, deny_colour=True, max_cost=40)
    result = evaluate(rules, job(4, 4), cost_of)
    assert result.outcome is Outcome.ALLOW  # grey now: neither colour nor too costly
    assert result.conversion.grayscale
    assert (result.usage.colour_pages, result.cost) == (0, 40)
    assert result.steps == ("converted to greyscale",)


def test_duplex_nup_and_fit_change_the_usage_and_the_cost() -> None:
    rules = Rules(duplex_over_pages=2, nup=2, fit_paper=True)
    facts = job(6, paper="A3", printer_papers=("A4", "Letter"), printer_default_paper="A4")
    result = evaluate(rules, facts, cost_of)
    conversion = result.conversion
    assert (conversion.duplex, conversion.nup, conversion.fit_to) == (True, 2, "A4")
    assert (result.usage.pages, result.usage.duplex, result.usage.paper_size) == (3, True, "A4")
    assert result.cost == 3 * 8
    assert result.steps == (
        "converted to two-sided",
        "2 pages per side",
        "fitted to A4 (the printer has no A3)",
    )


def test_conversions_skip_jobs_they_cannot_change() -> None:
    rules = Rules(grayscale=True, duplex_over_pages=0, nup=4, fit_paper=True)
    result = evaluate(rules, job(1, 0, printer_papers=("A4",)), cost_of)
    assert result.conversion.is_identity()
    assert result.steps == ()


def test_group_overrides_apply_in_order_after_the_printer_scope() -> None:
    everywhere = FilterSet.from_json(
        {"rules": {"max_pages": 50, "deny_colour": True}, "groups": {"staff": {"max_pages": 500}}}
    )
    at_printer = FilterSet.from_json(
        {"rules": {"max_pages": 20}, "groups": {"staff": {"deny_colour": False}}}
    )
    student = effective_rules([everywhere, at_printer], frozenset({"students"}))
    staff = effective_rules([everywhere, at_printer], frozenset({"staff"}))
    assert (student.max_pages, student.deny_colour) == (20, True)
    assert (staff.max_pages, staff.deny_colour) == (20, False)
    staff_everywhere = effective_rules([everywhere], frozenset({"staff"}))
    assert staff_everywhere.max_pages == 500


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": {"max_pagez": 3}}, "unknown rule 'max_pagez'"),
        ({"rules": {"max_pages": -1}}, "max_pages must be a whole number >= 0"),
        ({"rules": {"max_pages": 2.5}}, "max_pages must be a whole number or null"),
        ({"rules": {"nup": 3}}, "nup must be one of 1, 2, 4"),
        ({"rules": {"deny_colour": "yes"}}, "deny_colour must be true or false"),
        ({"rules": {"colour_groups": "staff"}}, "colour_groups must be a list"),
        ({"rules": {"allowance_period": "year"}}, "allowance_period is day, week or month"),
        ({"groups": {"staff": {"bogus": 1}}}, "groups.staff: unknown rule 'bogus'"),
        ({"rulez": {}}, "unknown keys: rulez"),
    ],
)
def test_bad_filter_settings_are_refused_with_a_message(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FilterSet.from_json(raw)


def test_filter_sets_round_trip_through_json() -> None:
    raw = {
        "rules": {"max_pages": 5, "paper_sizes": ["A4"], "allowance_period": "week"},
        "groups": {"staff": {"max_pages": 50}},
    }
    assert FilterSet.from_json(FilterSet.from_json(raw).to_json()).to_json() == raw


def test_allowance_periods_start_at_day_monday_and_first_of_month() -> None:
    now = datetime(2026, 11, 26, 15, 30)  # a Thursday
    assert Period.DAY.start(now) == datetime(2026, 11, 26)
    assert Period.WEEK.start(now) == datetime(2026, 11, 23)
    assert Period.MONTH.start(now) == datetime(2026, 11, 1)
