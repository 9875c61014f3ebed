"""The job policy pipeline at the server that decides a job: filters, then the print script.

Runs wherever the job is decided — the App Server online, the Site Server from its replica
offline — because filters and scripts are settings, and settings replicate. The pipeline
itself only reads; what it learns that must be kept (a document seen, the script's stored
values, a script error) is returned as ``Effects`` and written by ``write_effects``, only when
there is something to write.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from printwarden.domain.accounts import Account, User
from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.decide import Printer
from printwarden.domain.filters import (
    Conversion,
    CostOf,
    JobFacts,
    Outcome,
    PolicyResult,
    Rules,
    effective_rules,
    evaluate,
)
from printwarden.domain.money import Currency
from printwarden.scripting import ScriptJob, ScriptLimits, ScriptOutcome, ScriptUser, run_print_hook
from printwarden.store import db, filters, held_jobs, jobs, recent_documents, scripts, settings
from printwarden.store.db import Database

log = logging.getLogger("printwarden.policy")


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the provider says of the job besides its usage."""

    job_ref: str = ""
    document_name: str = ""
    document_format: str = ""
    document_hash: str = ""
    size: int = 0
    paper_sizes: tuple[str, ...] = ()
    default_paper: str = "A4"
    held: bool = False
    approved: bool = False


@dataclass(frozen=True, slots=True)
class Effects:
    """What the pipeline learnt that must be written."""

    remember_document: bool = False
    script_values: dict[str, str] = field(default_factory=dict)
    script_error: str = ""
    script: scripts.Script | None = None


@dataclass(frozen=True, slots=True)
class PolicyAnswer:
    """The pipeline's answer, before credit and hold-for-release are judged."""

    result: PolicyResult
    cost_override: int | None = None
    charge_account: str = ""
    hold: bool = False
    comment: str = ""
    effects: Effects = field(default_factory=Effects)

    @property
    def denied(self) -> bool:
        return self.result.outcome is Outcome.DENY

    @property
    def usage(self) -> JobUsage:
        return self.result.usage

    @property
    def cost(self) -> int:
        return self.cost_override if self.cost_override is not None else self.result.cost

    @property
    def conversion(self) -> Conversion:
        return self.result.conversion

    @property
    def steps(self) -> tuple[str, ...]:
        return self.result.steps


def run(
    session: Session,
    user: User,
    account: Account,
    printer: Printer,
    usage: JobUsage,
    job: Submitted,
    now: datetime,
    currency: Currency | None = None,
) -> PolicyAnswer:
    """Filters, then the printer's (or the global) script; reasons show money in
    ``currency``."""
    keys = filters.keys_for_job(printer.name) + scripts.keys_for_job(printer.name)
    found = settings.get_many(session, keys)
    rules = effective_rules(filters.for_job(found, printer.name), user.groups)
    facts = replace(_facts(session, rules, user, usage, job, now), currency=currency or Currency())

    def cost_of(converted: JobUsage) -> int:
        return job_cost(printer.cost_model, converted, user.groups)

    result = evaluate(rules, facts, cost_of)
    remember = rules.needs_duplicate_check and not result.denied and bool(job.document_hash)
    script = None if result.denied else scripts.for_job(found, printer.name)
    if script is None:
        return PolicyAnswer(result, effects=Effects(remember_document=remember))
    who = ScriptUser(user.username, tuple(sorted(user.groups)), account.balance, account.restricted)
    store = scripts.SessionStore(session, script)
    seen = _script_job(result, job, printer, user, account.name)
    outcome = run_print_hook(script.source, seen, who, store, now, ScriptLimits())
    return _with_script(result, outcome, script, store, remember, cost_of)


def _facts(
    session: Session, rules: Rules, user: User, usage: JobUsage, job: Submitted, now: datetime
) -> JobFacts:
    duplicate = ""
    if rules.needs_duplicate_check and job.document_hash and not job.approved:
        since = now - timedelta(seconds=rules.duplicate_seconds or 0)
        duplicate = recent_documents.duplicate_of(
            session, user.username, job.document_hash, job.job_ref, since
        )
    approved = job.approved
    if rules.needs_approval_check and job.job_ref and not approved:
        approved = held_jobs.approved(session, job.job_ref)
    pages = 0
    if rules.needs_allowance:
        pages = jobs.pages_since(session, user.id, rules.allowance_period.start(now))
    return JobFacts(
        usage=usage,
        groups=user.groups,
        document_name=job.document_name,
        document_format=job.document_format,
        printer_papers=job.paper_sizes,
        printer_default_paper=job.default_paper,
        duplicate_of=duplicate,
        pages_in_period=pages,
        approved=approved,
    )


def _script_job(
    result: PolicyResult, job: Submitted, printer: Printer, user: User, account: str
) -> ScriptJob:
    usage = result.usage
    return ScriptJob(
        pages=usage.pages or 0,
        colour_pages=usage.colour_pages,
        copies=usage.copies,
        cost=result.cost,
        document_name=job.document_name,
        size=job.size,
        duplex=usage.duplex,
        grayscale=usage.colour_pages == 0,
        paper_size=usage.paper_size,
        printer=printer.name,
        is_held=job.held,
        username=user.username,
        account=account,
    )


def _with_script(
    result: PolicyResult,
    outcome: ScriptOutcome,
    script: scripts.Script,
    store: scripts.SessionStore,
    remember: bool,
    cost_of: CostOf,
) -> PolicyAnswer:
    for level, message in outcome.logs:
        log.log(logging.getLevelName(level.upper()), "script %s: %s", script.name, message)
    if outcome.error:
        log.warning("script %s failed: %s (the job goes on)", script.name, outcome.error)
        effects = Effects(remember, script_error=outcome.error, script=script)
        return PolicyAnswer(result, effects=effects)
    effects = Effects(remember, dict(store.writes), script=script)
    if outcome.cancel:
        reason = outcome.cancel_message or "canceled by the print script"
        denied = replace(result, outcome=Outcome.DENY, reason=reason, steps=(*result.steps, reason))
        return PolicyAnswer(denied, effects=replace(effects, remember_document=False))
    converted = _script_conversions(result, outcome, cost_of)
    return PolicyAnswer(
        converted,
        cost_override=outcome.cost,
        charge_account=outcome.charge_account,
        hold=outcome.hold,
        comment=outcome.comment,
        effects=effects,
    )


def _script_conversions(
    result: PolicyResult, outcome: ScriptOutcome, cost_of: CostOf
) -> PolicyResult:
    usage, conversion, steps = result.usage, result.conversion, list(result.steps)
    if outcome.grayscale and usage.colour_pages:
        usage, conversion = replace(usage, colour_pages=0), replace(conversion, grayscale=True)
        steps.append("converted to greyscale by the print script")
    if outcome.duplex and not usage.duplex and (usage.pages or 0) > 1:
        usage, conversion = replace(usage, duplex=True), replace(conversion, duplex=True)
        steps.append("converted to two-sided by the print script")
    if outcome.comment:
        steps.append(f"script: {outcome.comment}")
    if usage == result.usage and len(steps) == len(result.steps):
        return result
    cost = cost_of(usage)
    return replace(result, usage=usage, conversion=conversion, cost=cost, steps=tuple(steps))


def keep(
    session: Session, effects: Effects, user: str, job: Submitted, printer: str, now: datetime
) -> None:
    """Write what the pipeline learnt (in the caller's write transaction)."""
    if effects.remember_document:
        if not (effects.script_values or effects.script_error):
            # Only duplicate-detection memory: losing it to a database crash costs nothing
            # worth a disk flush per job.
            db.relaxed_commit(session)
        recent_documents.remember(session, user, job.document_hash, job.job_ref, printer, now)
    if effects.script_values:
        scripts.save_values(session, effects.script_values)
    if effects.script_error and effects.script is not None:
        scripts.record_error(session, effects.script, job.job_ref, user, effects.script_error)


_LATER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-memory")


def write_effects(
    database: Database, effects: Effects, user: str, job: Submitted, printer: str, now: datetime
) -> None:
    """Write what the pipeline learnt: at once when a script's values or error are in it;
    a document to remember for duplicate detection alone is written by a background thread
    just after the answer (the next job of the same user is decided after that)."""
    if effects.script_values or effects.script_error:
        with database.session() as session:
            keep(session, effects, user, job, printer, now)
        return
    _LATER.submit(_keep_logged, database, effects, user, job, printer, now)


def _keep_logged(
    database: Database, effects: Effects, user: str, job: Submitted, printer: str, now: datetime
) -> None:
    try:
        with database.session() as session:
            keep(session, effects, user, job, printer, now)
    except Exception:
        log.exception("could not remember job %s for duplicate detection", job.job_ref)


def needs_writing(effects: Effects) -> bool:
    return effects.remember_document or bool(effects.script_values or effects.script_error)
