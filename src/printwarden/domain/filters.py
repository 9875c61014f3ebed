"""Filters and conversions: the administrator's rules for a job, as one ordered pipeline.

Rules are set globally and per printer (or virtual queue), each with group-specific
overrides. ``effective_rules`` merges them for one user; ``evaluate`` runs the pipeline on a
job and returns what happens to it, with the reason of every step. Conversions come first,
so every limit judges the job that will actually print, and its cost is the converted cost.

Order: conversions (greyscale, duplex, N-up, fit to paper) → document type → paper size →
document name → colour → pages over / under → cost → duplicate → period allowance →
approval. The first refusal wins; approval holds the job for an approver.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from printwarden.domain.costs import JobUsage
from printwarden.domain.money import Currency
from printwarden.domain.wording import count

NUP_CHOICES = (1, 2, 4)


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def start(self, now: datetime) -> datetime:
        """The start of the period that contains ``now`` (weeks start on Monday)."""
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Period.WEEK:
            return day - timedelta(days=day.weekday())
        if self is Period.MONTH:
            return day.replace(day=1)
        return day


@dataclass(frozen=True, slots=True)
class Rules:
    """Every rule; ``None`` / empty means "not set". Money in cents, pages over all copies."""

    max_pages: int | None = None
    min_pages: int | None = None  # e.g. a large-format printer refusing short jobs
    max_cost: int | None = None
    deny_colour: bool = False
    colour_groups: tuple[str, ...] = ()  # when set: colour only for members of these groups
    document_types: tuple[str, ...] = ()  # allowed formats (MIME types, "image/*" allowed)
    paper_sizes: tuple[str, ...] = ()  # allowed paper sizes
    deny_names: tuple[str, ...] = ()  # document name patterns (shell style, any case)
    duplicate_seconds: int | None = None
    approval_pages: int | None = None
    approval_cost: int | None = None
    approver_group: str = ""  # besides administrators
    page_allowance: int | None = None
    allowance_period: Period = Period.DAY
    grayscale: bool = False
    duplex_over_pages: int | None = None  # 0: always
    nup: int = 1
    fit_paper: bool = False  # fit to the printer's paper when it lacks the document's size

    def __post_init__(self) -> None:
        for name in (
            "max_pages",
            "min_pages",
            "max_cost",
            "duplicate_seconds",
            "approval_pages",
            "approval_cost",
            "page_allowance",
            "duplex_over_pages",
        ):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be a whole number >= 0")
        if self.nup not in NUP_CHOICES:
            raise ValueError(f"nup must be one of {', '.join(map(str, NUP_CHOICES))}")

    @property
    def needs_duplicate_check(self) -> bool:
        return bool(self.duplicate_seconds)

    @property
    def needs_allowance(self) -> bool:
        return self.page_allowance is not None

    @property
    def needs_approval_check(self) -> bool:
        """Whether a job might need approval (then: was it approved already?)."""
        return self.approval_pages is not None or self.approval_cost is not None


_FIELDS = {f.name: f for f in fields(Rules)}
_LISTS = frozenset({"colour_groups", "document_types", "paper_sizes", "deny_names"})


def parse_rules(raw: Mapping[str, Any], where: str = "rules") -> dict[str, Any]:
    """Check a JSON object of rule settings; the cleaned values (raises ``ValueError``)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be an object")
    cleaned: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _FIELDS:
            raise ValueError(f"{where}: unknown rule {name!r}")
        cleaned[name] = _clean(name, value, where)
    Rules(**cleaned)  # range checks
    return cleaned


def _clean(name: str, value: Any, where: str) -> Any:
    if name in _LISTS:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{where}: {name} must be a list of non-empty strings")
        return tuple(value)
    if name == "allowance_period":
        try:
            return Period(value)
        except ValueError:
            raise ValueError(f"{where}: allowance_period is day, week or month") from None
    if name in ("deny_colour", "grayscale", "fit_paper"):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {name} must be true or false")
        return value
    if name == "approver_group":
        if not isinstance(value, str):
            raise ValueError(f"{where}: approver_group must be a string")
        return value
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{where}: {name} must be a whole number or null")
    return value


@dataclass(frozen=True, slots=True)
class FilterSet:
    """The rules of one scope (global or one printer) with group overrides, as stored."""

    rules: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FilterSet:
        """Parse ``{"rules": {...}, "groups": {"staff": {...}}}`` (raises ``ValueError``)."""
        unknown = set(raw) - {"rules", "groups"}
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        groups = raw.get("groups") or {}
        if not isinstance(groups, Mapping):
            raise ValueError("groups must be an object of group name → rules")
        return cls(
            rules=parse_rules(raw.get("rules") or {}),
            groups=tuple((g, parse_rules(r, f"groups.{g}")) for g, r in groups.items()),
        )

    def to_json(self) -> dict[str, Any]:
        return {"rules": _jsonable(self.rules), "groups": {g: _jsonable(r) for g, r in self.groups}}


def _jsonable(rules: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in rules.items()}


def effective_rules(scopes: Iterable[FilterSet], groups: frozenset[str]) -> Rules:
    """Global, then printer scope; in each, the base rules then the overrides of the user's
    groups in the order listed. A later value replaces an earlier one."""
    merged: dict[str, Any] = {}
    for scope in scopes:
        merged.update(scope.rules)
        for group, overrides in scope.groups:
            if group in groups:
                merged.update(overrides)
    return Rules(**merged)


@dataclass(frozen=True, slots=True)
class Conversion:
    """What is done to the document before it prints."""

    grayscale: bool = False
    duplex: bool = False
    nup: int = 1
    fit_to: str = ""

    def is_identity(self) -> bool:
        return self == Conversion()

    def to_json(self) -> dict[str, Any]:
        return {
            "grayscale": self.grayscale,
            "duplex": self.duplex,
            "nup": self.nup,
            "fit_to": self.fit_to,
        }


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What the pipeline knows of a job."""

    usage: JobUsage
    groups: frozenset[str] = frozenset()
    document_name: str = ""
    document_format: str = ""
    printer_papers: tuple[str, ...] = ()  # sizes the printer has loaded ("" : unknown)
    printer_default_paper: str = "A4"
    # Filled in by the caller only when the rules need them (they cost a query):
    duplicate_of: str = ""  # the job this one duplicates, within the window
    pages_in_period: int = 0  # pages the user printed in the allowance period so far
    approved: bool = False  # an approver released it
    currency: Currency = field(default_factory=Currency)  # how reasons show money


class Outcome(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    APPROVAL = "approval"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """The pipeline's answer: the converted usage and cost, and why."""

    outcome: Outcome
    usage: JobUsage
    cost: int
    conversion: Conversion
    reason: str = ""
    steps: tuple[str, ...] = ()
    approver_group: str = ""

    @property
    def denied(self) -> bool:
        return self.outcome is Outcome.DENY


CostOf = Callable[[JobUsage], int]


def evaluate(rules: Rules, job: JobFacts, cost_of: CostOf) -> PolicyResult:
    """Run the pipeline; every step that changed or judged the job records its reason."""
    conversion, usage, steps = _convert(rules, job)
    cost = cost_of(usage)
    for check in _CHECKS:
        refusal = check(rules, job, usage, cost)
        if refusal:
            return PolicyResult(Outcome.DENY, usage, cost, conversion, refusal, (*steps, refusal))
    approval = _approval(rules, job, usage, cost)
    if approval:
        steps = (*steps, approval)
        return PolicyResult(
            Outcome.APPROVAL, usage, cost, conversion, approval, steps, rules.approver_group
        )
    return PolicyResult(Outcome.ALLOW, usage, cost, conversion, "; ".join(steps), steps)


def _convert(rules: Rules, job: JobFacts) -> tuple[Conversion, JobUsage, tuple[str, ...]]:
    usage, steps = job.usage, []
    grayscale = rules.grayscale and usage.colour_pages > 0
    if grayscale:
        usage = replace(usage, colour_pages=0)
        steps.append("converted to greyscale")
    over, pages = rules.duplex_over_pages, usage.pages or 0
    duplex = over is not None and not usage.duplex and pages > max(over, 1)
    if duplex:
        usage = replace(usage, duplex=True)
        steps.append("converted to two-sided")
    nup = rules.nup if (usage.pages or 0) > 1 else 1
    if nup > 1:
        usage = _nup(usage, nup)
        steps.append(f"{nup} pages per side")
    fit_to = _fit_target(rules, job, usage)
    if fit_to:
        usage = replace(usage, paper_size=fit_to)
        steps.append(f"fitted to {fit_to} (the printer has no {job.usage.paper_size})")
    return Conversion(grayscale, duplex, nup, fit_to), usage, tuple(steps)


def _nup(usage: JobUsage, nup: int) -> JobUsage:
    pages = usage.pages or 0
    sides = -(-pages // nup)
    return replace(usage, pages=sides, colour_pages=min(sides, usage.colour_pages))


def _fit_target(rules: Rules, job: JobFacts, usage: JobUsage) -> str:
    papers = job.printer_papers
    if not rules.fit_paper or not papers or _has(papers, usage.paper_size):
        return ""
    return job.printer_default_paper if _has(papers, job.printer_default_paper) else papers[0]


def _has(names: Iterable[str], wanted: str) -> bool:
    return wanted.lower() in {n.lower() for n in names}


Check = Callable[[Rules, JobFacts, JobUsage, int], str]


def _document_type(rules: Rules, job: JobFacts, _usage: JobUsage, _cost: int) -> str:
    allowed = rules.document_types
    kind = job.document_format.lower()
    if not allowed or not kind or any(fnmatch.fnmatchcase(kind, a.lower()) for a in allowed):
        return ""
    return f"document type {job.document_format} is not allowed on this printer"


def _paper_size(rules: Rules, _job: JobFacts, usage: JobUsage, _cost: int) -> str:
    if not rules.paper_sizes or _has(rules.paper_sizes, usage.paper_size):
        return ""
    return f"paper size {usage.paper_size} is not allowed (allowed: {', '.join(rules.paper_sizes)})"


def _document_name(rules: Rules, job: JobFacts, _usage: JobUsage, _cost: int) -> str:
    name = job.document_name.lower()
    for pattern in rules.deny_names:
        if fnmatch.fnmatchcase(name, pattern.lower()):
            return f"document name matches the blocked pattern {pattern!r}"
    return ""


def _colour(rules: Rules, job: JobFacts, usage: JobUsage, _cost: int) -> str:
    if usage.colour_pages == 0:
        return ""
    if rules.deny_colour:
        return "colour printing is not allowed on this printer"
    if rules.colour_groups and not job.groups & set(rules.colour_groups):
        return f"colour printing is allowed only for {', '.join(rules.colour_groups)}"
    return ""


def _pages(rules: Rules, _job: JobFacts, usage: JobUsage, _cost: int) -> str:
    total = usage.total_pages
    if usage.pages is None:
        return ""
    if rules.max_pages is not None and total > rules.max_pages:
        return f"job has {count(total, 'page')}; the limit is {count(rules.max_pages, 'page')}"
    if rules.min_pages is not None and total < rules.min_pages:
        least = count(rules.min_pages, "page")
        return f"job has {count(total, 'page')}; this printer takes jobs of {least} or more"
    return ""


def _cost(rules: Rules, job: JobFacts, _usage: JobUsage, cost: int) -> str:
    if rules.max_cost is not None and cost > rules.max_cost:
        show = job.currency.show
        return f"job costs {show(cost)}; the limit is {show(rules.max_cost)}"
    return ""


def _duplicate(rules: Rules, job: JobFacts, _usage: JobUsage, _cost: int) -> str:
    if not rules.needs_duplicate_check or not job.duplicate_of or job.approved:
        return ""
    return f"duplicate of job {job.duplicate_of} (same document within {rules.duplicate_seconds} s)"


def _allowance(rules: Rules, job: JobFacts, usage: JobUsage, _cost: int) -> str:
    allowance = rules.page_allowance
    if allowance is None or job.pages_in_period + usage.total_pages <= allowance:
        return ""
    left = max(0, allowance - job.pages_in_period)
    period = rules.allowance_period.value
    wanted = usage.total_pages
    return (
        f"page allowance of {count(allowance, 'page')} per {period} reached ({left} left, "
        f"job has {count(wanted, 'page')})"
    )


_CHECKS: tuple[Check, ...] = (
    _document_type,
    _paper_size,
    _document_name,
    _colour,
    _pages,
    _cost,
    _duplicate,
    _allowance,
)


def _approval(rules: Rules, job: JobFacts, usage: JobUsage, cost: int) -> str:
    if job.approved:
        return ""
    if rules.approval_pages is not None and usage.total_pages > rules.approval_pages:
        return (
            f"awaiting approval: {count(usage.total_pages, 'page')} (over {rules.approval_pages})"
        )
    if rules.approval_cost is not None and cost > rules.approval_cost:
        show = job.currency.show
        return f"awaiting approval: costs {show(cost)} (over {show(rules.approval_cost)})"
    return ""
