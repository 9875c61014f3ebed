"""Decide a job: may this user print it here, charged to this account, and at what cost?

The filters and the print script run first (``service/policy.py``), then the decision
(``domain/decide.py``); offline at a site the Offline Policies apply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from printwarden.domain.accounts import Account
from printwarden.domain.decide import Decision, Denial, Verdict, decide
from printwarden.domain.money import Currency
from printwarden.domain.questions import NO_RULES
from printwarden.service import policy
from printwarden.store import accounts, jobs
from printwarden.store.db import Database
from printwarden.store.errors import NotFound
from printwarden.store.tokens import Caller
from printwarden.usecases import component_scope
from printwarden.usecases.authority import Authority
from printwarden.usecases.job_accounts import Counts, released_choice

log = logging.getLogger("printwarden.policy")


@dataclass(frozen=True, slots=True)
class JobToDecide:
    """A job as a component asks about it; ``named`` is the account it names (its PIN
    checked already, outside any transaction)."""

    username: str
    printer: str
    counts: Counts
    submitted: policy.Submitted
    named: jobs.AccountChoice
    released: bool = False
    job_ref: str = ""


@dataclass(frozen=True, slots=True)
class Decided:
    """The decision, the filters' and script's verdict behind it, and the account charged."""

    decision: Decision
    verdict: policy.PolicyAnswer
    account: Account
    user_id: int


@dataclass(frozen=True, slots=True)
class Untracked:
    """An unknown user's job offline: canceled (``refusal`` says why), or printed without
    tracking when ``refusal`` is empty (by the Offline Policy)."""

    refusal: str


@dataclass(frozen=True, slots=True)
class Decider:
    """Where jobs are decided: the database, who answers for users and accounts here (HQ
    or a site), and the currency of costs."""

    database: Database
    authority: Authority
    currency: Currency

    def decide(self, caller: Caller, job: JobToDecide) -> Decided | Untracked:
        """The whole decision in one call (the hot path: one worker-thread hop)."""
        now = datetime.now(UTC)
        with self.database.read() as session:
            component_scope.check_printer(session, caller, job.printer)
            rules = self.authority.rules(session)
            where = f"job at {job.printer}"
            found = rules.resolve_user(session, job.username, where, writing=False)
            if found.username is None:
                return Untracked(found.refusal)
            username = found.username
            choice = job.named
            if job.released:
                choice = released_choice(session, job.job_ref, choice)
            choice = rules.account_choice(session, choice)
            context, printer = jobs.job_setup(session, username, job.printer, choice)
            account = context.account
            verdict = policy.run(
                session,
                context.user,
                account,
                printer,
                job.counts.usage(),
                job.submitted,
                now,
                self.currency,
            )
            if verdict.charge_account and not verdict.denied:
                account = _script_account(session, verdict.charge_account, account)
            holds = (printer.hold_for_release or verdict.hold) and not job.released
            printer = replace(printer, hold_for_release=holds)
            if job.released:  # asked and answered already
                printer = replace(printer, client_rules=NO_RULES)
            deciding = replace(rules.decision_policies(), currency=self.currency)
            decision = (
                decide(verdict.usage, context.user, account, printer, deciding, cost=verdict.cost)
                if not verdict.denied
                else Decision(Verdict.DENY, verdict.cost, verdict.result.reason, Denial.POLICY)
            )
        if decision.verdict is Verdict.DENY:
            verdict = replace(verdict, effects=replace(verdict.effects, remember_document=False))
        if policy.needs_writing(verdict.effects):
            policy.write_effects(
                self.database, verdict.effects, username, job.submitted, job.printer, now
            )
        return Decided(decision, verdict, account, context.user.id)


def _script_account(session: Session, name: str, fallback: Account) -> Account:
    """The shared account a print script charges (its name; the script's word is the
    administrator's, so no PIN). An unknown name leaves the job's own account."""
    try:
        return accounts.to_domain(session, accounts.find_shared(session, name))
    except NotFound:
        log.warning(
            "print script named unknown shared account %r; charging %s", name, fallback.name
        )
        return fallback
