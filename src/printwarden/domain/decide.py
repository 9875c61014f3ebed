"""The job decision: may this user print this job on this printer, charged to this account?"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from printwarden.domain.accounts import Account, User, may_use
from printwarden.domain.costs import CostModel, JobUsage, job_cost
from printwarden.domain.money import Currency
from printwarden.domain.offline_policies import CreditPolicy, OfflinePolicies
from printwarden.domain.questions import HOLD_REASONS, NO_RULES, ClientRules, QuestionKind
from printwarden.domain.wording import count

__all__ = [
    "CreditPolicy",
    "Decision",
    "Denial",
    "OfflinePolicies",
    "Policies",
    "Printer",
    "Verdict",
    "decide",
]


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    HOLD = "hold"


class Denial(StrEnum):
    """What refused a job, for clients that show a kind beside the reason (IPP keywords)."""

    NONE = ""
    CREDIT = "credit"  # not enough credit on the account
    ACCOUNT = "account"  # the user may not print, or may not charge that account
    PRINTER = "printer"  # the printer is disabled
    POLICY = "policy"  # a limit, filter or print script refused it


@dataclass(frozen=True, slots=True)
class Printer:
    """A printer as the decision sees it."""

    name: str
    cost_model: CostModel = field(default_factory=CostModel)
    enabled: bool = True
    hold_for_release: bool = False
    client_rules: ClientRules = NO_RULES  # when to ask the user before printing


@dataclass(frozen=True, slots=True)
class Policies:
    """Rules that apply to every job. ``offline`` is set when deciding without the App Server."""

    max_pages_per_job: int | None = None
    offline: OfflinePolicies | None = None
    currency: Currency = field(default_factory=Currency)  # how reasons show money


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    cost: int
    reason: str = ""
    denied_by: Denial = Denial.NONE


def decide(
    job: JobUsage,
    user: User,
    account: Account,
    printer: Printer,
    policies: Policies | None = None,
    cost: int | None = None,
) -> Decision:
    """Decide a job: deny with a reason, hold (for release, or for an answer to the
    printer's question), or allow; always with its cost.

    ``cost`` replaces the printer's price for the job (a print script set it)."""
    rules = policies or Policies()
    if cost is None:
        cost = job_cost(printer.cost_model, job, user.groups)
    refusal, denial = _refusal(job, user, account, printer, rules, cost)
    asked = printer.client_rules.question(cost, job.total_pages)
    # Asked which account to charge: the credit that counts is the chosen account's,
    # checked when the answer releases the job.
    if refusal and not (asked is QuestionKind.ACCOUNT and denial is Denial.CREDIT):
        return Decision(Verdict.DENY, cost, refusal, denial)
    if asked is not None:
        return Decision(Verdict.HOLD, cost, HOLD_REASONS[asked])
    if printer.hold_for_release:
        return Decision(Verdict.HOLD, cost, "held until released")
    return Decision(Verdict.ALLOW, cost)


def _refusal(
    job: JobUsage, user: User, account: Account, printer: Printer, rules: Policies, cost: int
) -> tuple[str, Denial]:
    if not printer.enabled:
        return f"printer {printer.name} is disabled", Denial.PRINTER
    if not user.enabled:
        return f"user {user.username} is disabled", Denial.ACCOUNT
    if not may_use(user, account):
        return f"user {user.username} may not charge account {account.name}", Denial.ACCOUNT
    limit = rules.max_pages_per_job
    if limit is not None and job.total_pages > limit:
        pages = count(job.total_pages, "page")
        return f"job has {pages}; the limit is {count(limit, 'page')}", Denial.POLICY
    return _credit_refusal(account, cost, rules.offline, rules.currency), Denial.CREDIT


def _credit_refusal(
    account: Account, cost: int, offline: OfflinePolicies | None, currency: Currency
) -> str:
    if not account.restricted or cost <= 0:
        return ""
    available = account.available()
    if offline is not None:
        if offline.credit is CreditPolicy.ALLOW_ALL:
            return ""
        if offline.credit is CreditPolicy.DENY_RESTRICTED:
            return "restricted accounts cannot print while the server is offline"
        if offline.credit is CreditPolicy.ALLOW_OVERDRAW:
            available += offline.overdraw
    if cost > available:
        show = currency.show
        return f"insufficient credit: job costs {show(cost)}, available {show(available)}"
    return ""
