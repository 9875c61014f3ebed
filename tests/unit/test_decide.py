"""The job decision: allow, deny (with a reason) or hold; always with the job's cost."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain.accounts import Account, AccountKind, User, may_use
from printwarden.domain.costs import CostModel, JobUsage, PagePrices, job_cost
from printwarden.domain.decide import (
    CreditPolicy,
    Decision,
    Denial,
    OfflinePolicies,
    Policies,
    Printer,
    Verdict,
    decide,
)
from printwarden.domain.money import Currency

PROPERTY = settings(max_examples=200, deadline=None, database=None)

# One cent per grey page and 10 cents per colour page: the cost of a grey job is its pages.
PRICES = CostModel(sizes={"A4": PagePrices(grey_simplex=1, grey_duplex=1, colour_simplex=10)})
PRINTER = Printer(name="lobby", cost_model=PRICES)
FREE_PRINTER = Printer(name="free")
HOLD_PRINTER = Printer(name="secure", cost_model=PRICES, hold_for_release=True)

ALICE = User(id=1, username="alice", groups=frozenset({"staff"}))
BOB = User(id=2, username="bob", groups=frozenset({"students"}))


def personal(owner: User, balance: int = 1000, **changes: object) -> Account:
    account = Account(
        id=100 + owner.id,
        kind=AccountKind.PERSONAL,
        name=f"{owner.username}-personal",
        balance=balance,
        owner_id=owner.id,
    )
    return dataclasses.replace(account, **changes)  # type: ignore[arg-type]


def shared(**changes: object) -> Account:
    account = Account(id=500, kind=AccountKind.SHARED, name="research", balance=1000)
    return dataclasses.replace(account, **changes)  # type: ignore[arg-type]


def grey(pages: int, copies: int = 1) -> JobUsage:
    return JobUsage(pages=pages, copies=copies)


def offline(credit: CreditPolicy, overdraw: int = 0) -> Policies:
    return Policies(offline=OfflinePolicies(credit=credit, overdraw=overdraw))


# --- allow -------------------------------------------------------------------------------


def test_allow_own_personal_account_with_cost() -> None:
    assert decide(grey(10), ALICE, personal(ALICE), PRINTER) == Decision(Verdict.ALLOW, 10, "")


def test_cost_includes_colour_copies_and_group_modifier() -> None:
    printer = dataclasses.replace(
        PRINTER, cost_model=dataclasses.replace(PRICES, group_modifiers={"staff": -5000})
    )
    job = JobUsage(pages=5, colour_pages=2, copies=3)  # 3 * (2 * 10 + 3 * 1) = 69 -> 34.5
    decision = decide(job, ALICE, personal(ALICE), printer)
    assert decision == Decision(Verdict.ALLOW, 35)
    assert decide(job, BOB, personal(BOB), printer).cost == 69


def test_default_policies_are_online_without_page_limit() -> None:
    account = personal(ALICE, balance=100_000)
    assert decide(grey(10_000), ALICE, account, PRINTER, None).verdict is Verdict.ALLOW
    assert decide(grey(10_000), ALICE, account, PRINTER, Policies()).verdict is Verdict.ALLOW


# --- deny: printer, user, account --------------------------------------------------------


def test_deny_disabled_printer() -> None:
    printer = dataclasses.replace(PRINTER, enabled=False)
    decision = decide(grey(10), ALICE, personal(ALICE), printer)
    assert decision.verdict is Verdict.DENY
    assert decision.cost == 10
    assert decision.reason == "printer lobby is disabled"


def test_deny_disabled_user() -> None:
    user = dataclasses.replace(ALICE, enabled=False)
    decision = decide(grey(10), user, personal(ALICE), PRINTER)
    assert decision.verdict is Verdict.DENY
    assert decision.cost == 10
    assert decision.reason == "user alice is disabled"


def test_disabled_printer_is_reported_before_disabled_user() -> None:
    printer = dataclasses.replace(PRINTER, enabled=False)
    user = dataclasses.replace(ALICE, enabled=False)
    decision = decide(grey(10), user, personal(BOB), printer)
    assert decision.reason == "printer lobby is disabled"


def test_deny_personal_account_of_another_user() -> None:
    decision = decide(grey(10), ALICE, personal(BOB), PRINTER)
    assert decision.verdict is Verdict.DENY
    assert decision.reason == "user alice may not charge account bob-personal"
    assert decision.cost == 10


def test_deny_personal_account_without_owner() -> None:
    account = personal(ALICE, owner_id=None)
    assert decide(grey(1), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_personal_account_is_not_opened_by_grants() -> None:
    # Grants are for shared accounts; a personal account belongs to its owner only.
    account = personal(BOB, user_ids=frozenset({ALICE.id}), group_names=frozenset({"staff"}))
    assert decide(grey(1), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_allow_shared_account_via_user_grant() -> None:
    account = shared(user_ids=frozenset({ALICE.id}))
    assert decide(grey(10), ALICE, account, PRINTER) == Decision(Verdict.ALLOW, 10)
    denied = decide(grey(10), BOB, account, PRINTER)
    assert denied.verdict is Verdict.DENY
    assert denied.reason == "user bob may not charge account research"


def test_allow_shared_account_via_group_grant() -> None:
    account = shared(group_names=frozenset({"students", "faculty"}))
    assert decide(grey(10), BOB, account, PRINTER) == Decision(Verdict.ALLOW, 10)
    assert decide(grey(10), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_deny_shared_account_without_grant() -> None:
    account = shared()
    assert decide(grey(10), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_shared_account_owner_id_is_not_a_grant() -> None:
    account = shared(owner_id=ALICE.id)
    assert decide(grey(10), ALICE, account, PRINTER).verdict is Verdict.DENY


@pytest.mark.parametrize(
    "account",
    [
        personal(ALICE, enabled=False),
        shared(enabled=False, user_ids=frozenset({ALICE.id})),
        shared(enabled=False, group_names=frozenset({"staff"})),
    ],
    ids=["personal", "shared-user-grant", "shared-group-grant"],
)
def test_deny_disabled_account(account: Account) -> None:
    assert not may_use(ALICE, account)
    decision = decide(grey(10), ALICE, account, PRINTER)
    assert decision.verdict is Verdict.DENY
    assert decision.reason == f"user alice may not charge account {account.name}"


def test_disabled_account_is_denied_even_for_free_jobs_and_unrestricted() -> None:
    account = personal(ALICE, enabled=False, restricted=False)
    assert decide(grey(10), ALICE, account, FREE_PRINTER).verdict is Verdict.DENY


def test_may_use_rules() -> None:
    assert may_use(ALICE, personal(ALICE))
    assert not may_use(BOB, personal(ALICE))
    assert may_use(BOB, shared(user_ids=frozenset({BOB.id})))
    assert may_use(BOB, shared(group_names=frozenset({"students"})))
    assert not may_use(BOB, shared(group_names=frozenset({"staff"})))
    assert not may_use(User(id=3, username="nogroups"), shared(group_names=frozenset()))


# --- deny: page limit --------------------------------------------------------------------


def test_max_pages_per_job_counts_all_copies() -> None:
    account = personal(ALICE)
    at_limit = decide(grey(10, copies=2), ALICE, account, PRINTER, Policies(max_pages_per_job=20))
    assert at_limit == Decision(Verdict.ALLOW, 20)
    over = decide(grey(10, copies=2), ALICE, account, PRINTER, Policies(max_pages_per_job=19))
    assert over.verdict is Verdict.DENY
    assert over.reason == "job has 20 pages; the limit is 19 pages"
    assert over.cost == 20


def test_max_pages_applies_to_unrestricted_and_free_jobs() -> None:
    account = personal(ALICE, restricted=False)
    rules = Policies(max_pages_per_job=5)
    assert decide(grey(6), ALICE, account, FREE_PRINTER, rules).verdict is Verdict.DENY


def test_max_pages_of_zero_allows_only_empty_or_uncounted_jobs() -> None:
    account = personal(ALICE)
    rules = Policies(max_pages_per_job=0)
    assert decide(grey(1), ALICE, account, PRINTER, rules).verdict is Verdict.DENY
    assert decide(grey(0), ALICE, account, PRINTER, rules).verdict is Verdict.ALLOW
    assert decide(JobUsage(pages=None), ALICE, account, PRINTER, rules).verdict is Verdict.ALLOW


# --- credit ------------------------------------------------------------------------------


def test_credit_boundary_cost_equal_to_balance_plus_limit_is_allowed() -> None:
    account = personal(ALICE, balance=100, credit_limit=50)
    assert decide(grey(150), ALICE, account, PRINTER) == Decision(Verdict.ALLOW, 150)


def test_credit_boundary_one_cent_more_is_denied() -> None:
    account = personal(ALICE, balance=100, credit_limit=50)
    decision = decide(grey(151), ALICE, account, PRINTER)
    assert decision.verdict is Verdict.DENY
    assert decision.cost == 151
    assert decision.reason == "insufficient credit: job costs $1.51, available $1.50"


def test_credit_boundary_without_credit_limit() -> None:
    account = personal(ALICE, balance=100)
    assert decide(grey(100), ALICE, account, PRINTER).verdict is Verdict.ALLOW
    assert decide(grey(101), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_restricted_account_below_zero_within_limit() -> None:
    account = personal(ALICE, balance=-30, credit_limit=50)
    assert decide(grey(20), ALICE, account, PRINTER).verdict is Verdict.ALLOW
    assert decide(grey(21), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_shared_restricted_account_checks_its_own_credit() -> None:
    account = shared(balance=5, user_ids=frozenset({ALICE.id}))
    assert decide(grey(5), ALICE, account, PRINTER).verdict is Verdict.ALLOW
    assert decide(grey(6), ALICE, account, PRINTER).verdict is Verdict.DENY


def test_unrestricted_account_may_go_negative() -> None:
    account = personal(ALICE, balance=0, restricted=False)
    assert decide(grey(10_000), ALICE, account, PRINTER) == Decision(Verdict.ALLOW, 10_000)
    deep = personal(ALICE, balance=-1_000_000, restricted=False)
    assert decide(grey(10), ALICE, deep, PRINTER).verdict is Verdict.ALLOW


@pytest.mark.parametrize("balance", [0, -1, -500])
def test_zero_cost_job_allowed_even_at_negative_balance(balance: int) -> None:
    account = personal(ALICE, balance=balance)
    assert decide(grey(10), ALICE, account, FREE_PRINTER) == Decision(Verdict.ALLOW, 0)
    assert decide(grey(0), ALICE, account, PRINTER) == Decision(Verdict.ALLOW, 0)
    assert decide(JobUsage(pages=None), ALICE, account, PRINTER) == Decision(Verdict.ALLOW, 0)


def test_unknown_pages_are_judged_on_the_base_cost() -> None:
    printer = dataclasses.replace(PRINTER, cost_model=dataclasses.replace(PRICES, base_cost=30))
    assert decide(JobUsage(pages=None), ALICE, personal(ALICE, balance=30), printer) == Decision(
        Verdict.ALLOW, 30
    )
    assert decide(JobUsage(pages=None), ALICE, personal(ALICE, balance=29), printer).verdict is (
        Verdict.DENY
    )


# --- hold --------------------------------------------------------------------------------


def test_hold_printer_returns_hold_with_cost() -> None:
    decision = decide(grey(10), ALICE, personal(ALICE), HOLD_PRINTER)
    assert decision == Decision(Verdict.HOLD, 10, "held until released")


def test_hold_printer_still_denies_what_would_be_denied() -> None:
    poor = personal(ALICE, balance=5)
    decision = decide(grey(10), ALICE, poor, HOLD_PRINTER)
    assert decision.verdict is Verdict.DENY
    assert decision.reason.startswith("insufficient credit")
    assert decide(grey(10), ALICE, personal(BOB), HOLD_PRINTER).verdict is Verdict.DENY
    disabled = dataclasses.replace(HOLD_PRINTER, enabled=False)
    assert decide(grey(10), ALICE, personal(ALICE), disabled).verdict is Verdict.DENY


def test_hold_printer_holds_zero_cost_jobs_and_unrestricted() -> None:
    assert decide(grey(0), ALICE, personal(ALICE, balance=-5), HOLD_PRINTER).verdict is (
        Verdict.HOLD
    )
    unrestricted = personal(ALICE, balance=0, restricted=False)
    assert decide(grey(50), ALICE, unrestricted, HOLD_PRINTER) == Decision(
        Verdict.HOLD, 50, "held until released"
    )


# --- offline credit policies -------------------------------------------------------------


def test_offline_policies_default_to_last_known_balance() -> None:
    assert OfflinePolicies() == OfflinePolicies(CreditPolicy.LAST_KNOWN_BALANCE, 0)


def test_offline_last_known_balance_has_the_online_boundary() -> None:
    account = personal(ALICE, balance=100, credit_limit=50)
    rules = offline(CreditPolicy.LAST_KNOWN_BALANCE, overdraw=1000)  # overdraw is ignored
    assert decide(grey(150), ALICE, account, PRINTER, rules).verdict is Verdict.ALLOW
    denied = decide(grey(151), ALICE, account, PRINTER, rules)
    assert denied.verdict is Verdict.DENY
    assert denied.reason == "insufficient credit: job costs $1.51, available $1.50"


def test_offline_allow_overdraw_boundary() -> None:
    account = personal(ALICE, balance=100, credit_limit=50)
    rules = offline(CreditPolicy.ALLOW_OVERDRAW, overdraw=200)
    assert decide(grey(350), ALICE, account, PRINTER, rules) == Decision(Verdict.ALLOW, 350)
    denied = decide(grey(351), ALICE, account, PRINTER, rules)
    assert denied.verdict is Verdict.DENY
    assert denied.reason == "insufficient credit: job costs $3.51, available $3.50"


def test_offline_allow_overdraw_of_zero_is_last_known_balance() -> None:
    account = personal(ALICE, balance=100)
    rules = offline(CreditPolicy.ALLOW_OVERDRAW, overdraw=0)
    assert decide(grey(100), ALICE, account, PRINTER, rules).verdict is Verdict.ALLOW
    assert decide(grey(101), ALICE, account, PRINTER, rules).verdict is Verdict.DENY


def test_offline_allow_all_ignores_credit() -> None:
    account = personal(ALICE, balance=-10_000)
    rules = offline(CreditPolicy.ALLOW_ALL)
    assert decide(grey(1_000_000), ALICE, account, PRINTER, rules) == Decision(
        Verdict.ALLOW, 1_000_000
    )


def test_offline_allow_all_still_applies_the_other_rules() -> None:
    rules = Policies(max_pages_per_job=5, offline=OfflinePolicies(CreditPolicy.ALLOW_ALL))
    account = personal(ALICE, balance=0)
    assert decide(grey(6), ALICE, account, PRINTER, rules).verdict is Verdict.DENY
    assert decide(grey(5), ALICE, personal(BOB), PRINTER, rules).verdict is Verdict.DENY
    disabled = dataclasses.replace(ALICE, enabled=False)
    assert decide(grey(5), disabled, account, PRINTER, rules).verdict is Verdict.DENY
    assert decide(grey(5), ALICE, account, HOLD_PRINTER, rules).verdict is Verdict.HOLD


def test_offline_deny_restricted_denies_restricted_with_credit() -> None:
    account = personal(ALICE, balance=1_000_000, credit_limit=1000)
    decision = decide(grey(1), ALICE, account, PRINTER, offline(CreditPolicy.DENY_RESTRICTED))
    assert decision.verdict is Verdict.DENY
    assert decision.cost == 1
    assert decision.reason == "restricted accounts cannot print while the server is offline"


def test_offline_deny_restricted_still_allows_unrestricted() -> None:
    account = personal(ALICE, balance=-50, restricted=False)
    rules = offline(CreditPolicy.DENY_RESTRICTED)
    assert decide(grey(100), ALICE, account, PRINTER, rules) == Decision(Verdict.ALLOW, 100)


def test_offline_deny_restricted_allows_zero_cost_jobs() -> None:
    account = personal(ALICE, balance=-50)
    rules = offline(CreditPolicy.DENY_RESTRICTED)
    assert decide(grey(100), ALICE, account, FREE_PRINTER, rules) == Decision(Verdict.ALLOW, 0)


@pytest.mark.parametrize("policy", list(CreditPolicy))
def test_every_offline_policy_lets_unrestricted_accounts_print(policy: CreditPolicy) -> None:
    account = personal(ALICE, balance=-1000, restricted=False)
    decision = decide(grey(500), ALICE, account, PRINTER, offline(policy))
    assert decision == Decision(Verdict.ALLOW, 500)


# --- properties --------------------------------------------------------------------------

money = st.integers(min_value=-100_000, max_value=100_000)
limits = st.integers(min_value=0, max_value=100_000)
page_price = st.integers(min_value=0, max_value=500)
models = st.builds(
    CostModel,
    sizes=st.fixed_dictionaries(
        {
            "A4": st.builds(
                PagePrices,
                grey_simplex=page_price,
                grey_duplex=page_price,
                colour_simplex=page_price,
                colour_duplex=page_price,
            )
        }
    ),
    base_cost=st.integers(min_value=0, max_value=1_000),
    group_modifiers=st.dictionaries(
        st.sampled_from(["staff", "students"]), st.integers(min_value=-12_000, max_value=5_000)
    ),
)


@st.composite
def jobs(draw: st.DrawFn) -> JobUsage:
    pages = draw(st.none() | st.integers(min_value=0, max_value=500))
    return JobUsage(
        pages=pages,
        colour_pages=draw(st.integers(min_value=0, max_value=pages or 0)),
        copies=draw(st.integers(min_value=1, max_value=20)),
        duplex=draw(st.booleans()),
    )


users = st.builds(
    User,
    id=st.just(ALICE.id),
    username=st.just("alice"),
    groups=st.frozensets(st.sampled_from(["staff", "students", "other"])),
)


@PROPERTY
@given(
    job=jobs(),
    user=users,
    model=models,
    balance=money,
    credit_limit=limits,
    hold=st.booleans(),
)
def test_restricted_never_goes_below_limit_through_decide(
    job: JobUsage, user: User, model: CostModel, balance: int, credit_limit: int, hold: bool
) -> None:
    account = personal(ALICE, balance=balance, credit_limit=credit_limit)
    printer = Printer(name="p", cost_model=model, hold_for_release=hold)
    decision = decide(job, user, account, printer)
    assert decision.cost == job_cost(model, job, user.groups)
    if decision.verdict is not Verdict.DENY:
        # A charged job never takes the account below its limit; a free one changes nothing.
        assert decision.cost <= 0 or balance - decision.cost >= -credit_limit
        if balance >= -credit_limit:
            assert balance - decision.cost >= -credit_limit
    # And that is the only reason a restricted job on an enabled printer is denied.
    expected_deny = decision.cost > 0 and decision.cost > balance + credit_limit
    assert (decision.verdict is Verdict.DENY) == expected_deny
    if not expected_deny:
        assert decision.verdict is (Verdict.HOLD if hold else Verdict.ALLOW)


@PROPERTY
@given(
    job=jobs(),
    model=models,
    balance=money,
    credit_limit=limits,
    overdraw=limits,
    policy=st.sampled_from(list(CreditPolicy)),
)
def test_offline_policies_bound_how_far_restricted_accounts_go(
    job: JobUsage,
    model: CostModel,
    balance: int,
    credit_limit: int,
    overdraw: int,
    policy: CreditPolicy,
) -> None:
    account = personal(ALICE, balance=balance, credit_limit=credit_limit)
    decision = decide(job, ALICE, account, Printer("p", model), offline(policy, overdraw))
    cost = decision.cost
    if cost <= 0:
        assert decision.verdict is Verdict.ALLOW
        return
    allowed = decision.verdict is Verdict.ALLOW
    if policy is CreditPolicy.LAST_KNOWN_BALANCE:
        assert allowed == (balance - cost >= -credit_limit)
    elif policy is CreditPolicy.ALLOW_OVERDRAW:
        assert allowed == (balance - cost >= -(credit_limit + overdraw))
    elif policy is CreditPolicy.ALLOW_ALL:
        assert allowed
    else:
        assert not allowed


@PROPERTY
@given(job=jobs(), model=models, balance=money, credit_limit=limits)
def test_offline_last_known_balance_decides_like_online(
    job: JobUsage, model: CostModel, balance: int, credit_limit: int
) -> None:
    account = personal(ALICE, balance=balance, credit_limit=credit_limit)
    printer = Printer("p", model)
    assert decide(job, ALICE, account, printer) == decide(
        job, ALICE, account, printer, offline(CreditPolicy.LAST_KNOWN_BALANCE)
    )


@PROPERTY
@given(job=jobs(), model=models, balance=money, policy=st.sampled_from([None, *CreditPolicy]))
def test_unrestricted_accounts_are_never_denied_for_credit(
    job: JobUsage, model: CostModel, balance: int, policy: CreditPolicy | None
) -> None:
    account = personal(ALICE, balance=balance, restricted=False)
    rules = Policies() if policy is None else offline(policy)
    assert decide(job, ALICE, account, Printer("p", model), rules).verdict is Verdict.ALLOW


@PROPERTY
@given(job=jobs(), model=models, balance=money, credit_limit=limits, extra=limits)
def test_more_credit_never_turns_allow_into_deny(
    job: JobUsage, model: CostModel, balance: int, credit_limit: int, extra: int
) -> None:
    printer = Printer("p", model)
    poorer = personal(ALICE, balance=balance, credit_limit=credit_limit)
    richer = personal(ALICE, balance=balance + extra, credit_limit=credit_limit)
    if decide(job, ALICE, poorer, printer).verdict is Verdict.ALLOW:
        assert decide(job, ALICE, richer, printer).verdict is Verdict.ALLOW
    if decide(job, ALICE, richer, printer).verdict is Verdict.DENY:
        assert decide(job, ALICE, poorer, printer).verdict is Verdict.DENY


def test_reasons_show_money_in_the_configured_currency_and_say_what_refused() -> None:
    """Issue 17: "job costs 150; …" was raw minor units; now the currency's, with the kind."""
    euro = Policies(currency=Currency("EUR"))
    poor = personal(ALICE, balance=99)
    decision = decide(grey(150), ALICE, poor, PRINTER, euro)
    assert decision.reason == "insufficient credit: job costs €1.50, available €0.99"
    assert decision.denied_by is Denial.CREDIT
    one = decide(grey(2), ALICE, personal(ALICE), PRINTER, Policies(max_pages_per_job=1))
    assert (one.reason, one.denied_by) == ("job has 2 pages; the limit is 1 page", Denial.POLICY)
    off = decide(grey(1), ALICE, personal(ALICE), dataclasses.replace(PRINTER, enabled=False))
    assert off.denied_by is Denial.PRINTER
    other = decide(grey(1), BOB, personal(ALICE), PRINTER)
    assert other.denied_by is Denial.ACCOUNT
