"""Questions before printing, as pure rules: when a printer asks, what a timeout does, and
how the decision holds a job that needs an answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from printwarden.domain.accounts import Account, AccountKind, User
from printwarden.domain.costs import CostModel, JobUsage, PagePrices
from printwarden.domain.decide import Printer, Verdict, decide
from printwarden.domain.questions import (
    HOLD_REASONS,
    ClientRules,
    Confirm,
    OnTimeout,
    OpenQuestion,
    Outcome,
    QuestionKind,
    timeout_action,
)

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
TEN_CENTS = CostModel(sizes={"default": PagePrices(10, 10, 10, 10)})
USER = User(1, "ann", True, frozenset())


def account(balance: int) -> Account:
    return Account(id=1, kind=AccountKind.PERSONAL, name="ann", balance=balance,
                   restricted=True, credit_limit=0, enabled=True, owner_id=1)  # fmt: skip


def test_rules_that_ask_nothing_never_ask() -> None:
    assert ClientRules().question(10_000, 500) is None
    assert not ClientRules().asks


def test_account_selection_is_asked_before_any_confirmation() -> None:
    rules = ClientRules(confirm=Confirm.ALWAYS, account_selection=True)
    assert rules.question(0, 1) is QuestionKind.ACCOUNT


@pytest.mark.parametrize(
    ("cost", "pages", "asked"),
    [(100, 1, False), (101, 1, True), (50, 20, False), (50, 21, True), (50, None, False)],
)
def test_confirm_above_a_cost_or_a_page_count(cost: int, pages: int | None, asked: bool) -> None:
    rules = ClientRules(confirm=Confirm.ABOVE, above_cost=100, above_pages=20)
    assert (rules.question(cost, pages) is QuestionKind.CONFIRM) is asked


@pytest.mark.parametrize(
    "data",
    [{"confirm": "above"}, {"timeout_seconds": 0}, {"above_cost": -1}, {"colour": True},
     {"confirm": "sometimes"}],
)  # fmt: skip
def test_invalid_rules_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the domain's own message varies
        ClientRules.from_json(data)


def test_rules_round_trip_through_json_keeping_only_what_differs() -> None:
    rules = ClientRules(confirm=Confirm.ABOVE, above_cost=250, on_timeout=OnTimeout.CANCEL)
    assert rules.to_json() == {"confirm": "above", "above_cost": 250, "on_timeout": "cancel"}
    assert ClientRules.from_json(rules.to_json()) == rules


def test_an_open_question_keeps_its_deadline_and_round_trips() -> None:
    rules = ClientRules(account_selection=True, allow_personal=False, comment=True,
                        timeout_seconds=90)  # fmt: skip
    asked = OpenQuestion.ask(rules, QuestionKind.ACCOUNT, 30, NOW)
    assert asked.answer_by == NOW + timedelta(seconds=90)
    assert not asked.overdue(NOW + timedelta(seconds=89))
    assert asked.overdue(NOW + timedelta(seconds=90))
    assert asked.allow_personal is False
    assert OpenQuestion.from_json(asked.to_json()) == asked
    assert OpenQuestion.from_json({}) is None


def test_a_confirmation_always_offers_the_personal_account() -> None:
    rules = ClientRules(confirm=Confirm.ALWAYS, allow_personal=False, comment=True)
    asked = OpenQuestion.ask(rules, QuestionKind.CONFIRM, 30, NOW)
    assert asked.allow_personal is True
    assert asked.comment is False


@pytest.mark.parametrize(
    ("policy", "direct", "expected"),
    [
        (OnTimeout.CANCEL, True, ("cancel", Outcome.CANCELED)),
        (OnTimeout.PERSONAL, True, ("release", Outcome.PRINTING)),
        (OnTimeout.PERSONAL, False, ("keep", Outcome.HELD)),  # never printed unattended
        (OnTimeout.HOLD, True, ("keep", Outcome.HELD)),
    ],
)
def test_what_a_timeout_does(
    policy: OnTimeout, direct: bool, expected: tuple[str, Outcome]
) -> None:
    rules = ClientRules(confirm=Confirm.ALWAYS, on_timeout=policy)
    asked = OpenQuestion.ask(rules, QuestionKind.CONFIRM, 10, NOW)
    assert timeout_action(asked, direct) == expected


def test_the_decision_holds_a_job_whose_printer_asks() -> None:
    printer = Printer("p", TEN_CENTS, client_rules=ClientRules(confirm=Confirm.ALWAYS))
    decided = decide(JobUsage(pages=3), USER, account(1000), printer)
    assert decided.verdict is Verdict.HOLD
    assert decided.cost == 30
    assert decided.reason == HOLD_REASONS[QuestionKind.CONFIRM]


def test_a_confirmation_is_not_asked_for_a_job_that_cannot_be_paid() -> None:
    printer = Printer("p", TEN_CENTS, client_rules=ClientRules(confirm=Confirm.ALWAYS))
    assert decide(JobUsage(pages=3), USER, account(0), printer).verdict is Verdict.DENY


def test_the_account_question_is_asked_even_when_the_personal_account_cannot_pay() -> None:
    printer = Printer("p", TEN_CENTS, client_rules=ClientRules(account_selection=True))
    decided = decide(JobUsage(pages=3), USER, account(0), printer)
    assert decided.verdict is Verdict.HOLD
    assert decided.reason == HOLD_REASONS[QuestionKind.ACCOUNT]


def test_a_disabled_printer_denies_before_asking() -> None:
    rules = ClientRules(account_selection=True)
    printer = Printer("p", TEN_CENTS, enabled=False, client_rules=rules)
    assert decide(JobUsage(pages=1), USER, account(1000), printer).verdict is Verdict.DENY
