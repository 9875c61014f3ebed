"""The job use cases (decide a job, charge a printed job) called directly, with no HTTP."""

from __future__ import annotations

import pytest

from printwarden.domain.accounts import Role
from printwarden.domain.decide import Verdict
from printwarden.domain.money import Currency
from printwarden.service import policy
from printwarden.store import jobs, printers, users
from printwarden.store.db import Database
from printwarden.store.tokens import Caller
from printwarden.usecases import charging
from printwarden.usecases.authority import Hq
from printwarden.usecases.decision import Decided, Decider, JobToDecide
from printwarden.usecases.errors import Forbidden, Invalid, NotFound
from printwarden.usecases.job_accounts import Counts

KEY = b"k" * 32
PRICES = {"sizes": {"default": {"grey_simplex": 10, "colour_simplex": 50}}}
PROVIDER = Caller(Role.PROVIDER, token_id=1)
USD = Currency("USD", 2)
HQ = Hq()


@pytest.fixture
def laser(hq: Database) -> Database:
    """``hq`` with the printer "laser" (10 a grey page) and "alice" holding 100."""
    with hq.session() as session:
        printers.save_printer(session, "laser", {"cost_model": PRICES}, create=True)
        row = users.create_user(session, KEY, "alice", users.UserChanges())
        users.personal_account(session, row.id).balance = 100
    return hq


def _job(pages: int, colour: int = 0, printer: str = "laser") -> JobToDecide:
    return JobToDecide(
        username="alice",
        printer=printer,
        counts=Counts(pages, colour),
        submitted=policy.Submitted(job_ref="j-1"),
        named=jobs.AccountChoice(),
    )


def _report(txn: str, pages: int = 3, origin: str = "app") -> charging.PrintedReport:
    return charging.PrintedReport(
        txn_id=txn,
        job_ref=txn,
        username="alice",
        printer="laser",
        counts=Counts(pages),
        named=jobs.AccountChoice(),
        origin=origin,
    )


def test_a_job_within_the_balance_is_allowed_at_its_cost(laser: Database) -> None:
    found = Decider(laser, HQ, USD).decide(PROVIDER, _job(4))
    assert isinstance(found, Decided)
    assert (found.decision.verdict, found.decision.cost) == (Verdict.ALLOW, 40)
    assert (found.account.name, found.account.balance) == ("alice", 100)


def test_a_job_beyond_the_balance_is_denied(laser: Database) -> None:
    found = Decider(laser, HQ, USD).decide(PROVIDER, _job(11))
    assert isinstance(found, Decided)
    assert found.decision.verdict is Verdict.DENY


def test_impossible_counts_are_invalid(laser: Database) -> None:
    with pytest.raises(Invalid, match="colour_pages cannot exceed pages"):
        Decider(laser, HQ, USD).decide(PROVIDER, _job(1, colour=2))


def test_an_unknown_printer_is_not_found(laser: Database) -> None:
    with pytest.raises(NotFound, match="no printer named 'inkjet'"):
        Decider(laser, HQ, USD).decide(PROVIDER, _job(1, printer="inkjet"))


def test_a_provider_reaches_only_the_printers_it_registered(laser: Database) -> None:
    bound = Caller(Role.PROVIDER, token_id=2, scope="provider:p1")
    with pytest.raises(Forbidden, match="provider 'p1' has not registered"):
        Decider(laser, HQ, USD).decide(bound, _job(1))


def test_a_printed_job_is_charged_once(laser: Database) -> None:
    with laser.session() as session:
        first = charging.charge_printed(session, HQ, PROVIDER, _report("t-1"))
    with laser.session() as session:
        again = charging.charge_printed(session, HQ, PROVIDER, _report("t-1"))
    assert (first.charge.job.cost, first.balance, first.charge.new) == (30, 70, True)
    assert (again.balance, again.charge.new) == (70, False)
    assert again.charge.transaction.id == "t-1"


def test_only_a_site_reports_its_own_offline_jobs(laser: Database) -> None:
    with laser.session() as session, pytest.raises(Forbidden, match="origin 'site:a'"):
        charging.charge_printed(session, HQ, PROVIDER, _report("t-2", origin="site:a"))


def test_a_held_job_nobody_may_see_is_not_found(laser: Database) -> None:
    from printwarden.usecases import release

    with laser.read() as session, pytest.raises(NotFound, match="no held job 'h-1'"):
        release.load_visible(session, release.Releaser("root", None), "h-1")
