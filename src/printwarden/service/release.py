"""Held jobs as people see them, and the release/cancel use cases every caller shares.

Users (API), delegates, administrators and device sessions all release through
:func:`release`: check who may, check the printer is compatible (domain.release), cost the
job at that printer and check credit, record the release, commit, and only then tell the
provider (so a provider asking for the decision at once sees the release). If the provider
cannot be told, the job goes back to ``held``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from printwarden.domain.accounts import AccountKind
from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.decide import Printer, Verdict, decide
from printwarden.domain.filters import Outcome
from printwarden.domain.release import (
    HeldSettings,
    Incompatible,
    PrinterCapabilities,
    ReleasePlan,
    plan_release,
)
from printwarden.service import policy, schemas
from printwarden.service.problems import Problem
from printwarden.service.provider_control import ControlTarget, ProviderControlError
from printwarden.service.state import AppState
from printwarden.store import held_jobs, jobs, printers, users
from printwarden.store.changes import change_seq
from printwarden.store.db import utc
from printwarden.store.errors import InvalidReference, NotFound
from printwarden.store.models import HeldJobRow, PrinterRow, ProviderRow, UserRow


@dataclass(frozen=True, slots=True)
class Releaser:
    """Who asks: a user (owner or delegate), an administrator, or a device session's user."""

    name: str
    user_id: int | None  # None: an administrator, who may release anyone's jobs

    def may(self, session: Session, row: HeldJobRow) -> bool:
        if self.user_id is None or held_jobs.may_manage(session, row, self.user_id):
            return True
        return self.approves(session, row)

    def approves(self, session: Session, row: HeldJobRow) -> bool:
        """May approve ``row`` (held for approval): administrators and its approver group."""
        if self.user_id is None:
            return True
        if row.approval != "pending" or not row.approver_group:
            return False
        return row.approver_group in users.group_names(session, [self.user_id])[self.user_id]


def load_visible(session: Session, releaser: Releaser, job_ref: str) -> HeldJobRow:
    """The held job, or 404 for jobs that do not exist *or* that the caller may not see."""
    try:
        row = held_jobs.find(session, job_ref)
    except NotFound:
        row = None
    if row is None or not releaser.may(session, row):
        raise Problem(404, "Not found", f"no held job {job_ref!r}")
    return row


def settings_of(row: HeldJobRow) -> HeldSettings:
    return HeldSettings(
        pages=row.pages,
        colour_pages=row.colour_pages,
        copies=row.copies,
        duplex=row.duplex,
        grayscale=row.grayscale,
        paper_size=row.paper_size,
        document_format=row.document_format,
    )


def capabilities(provider: ProviderRow, printer: PrinterRow) -> PrinterCapabilities:
    """What ``printer`` can do, as ``provider`` (which holds the job) reported it."""
    described = next((p for p in provider.printers if p.get("name") == printer.name), None)
    if described is None:
        raise Incompatible(
            f"{printer.name} is not served by {provider.name}, where this job is held"
        )
    return PrinterCapabilities(
        name=printer.name,
        colour=printer.colour and bool(described.get("colour", True)),
        duplex=bool(described.get("duplex", True)),
        paper_sizes=frozenset(described.get("paper_sizes") or ()),
        formats=frozenset(described.get("formats") or ()),
    )


def plan_at(session: Session, row: HeldJobRow, printer: PrinterRow) -> ReleasePlan:
    provider = session.get(ProviderRow, row.provider_id)
    assert provider is not None
    return plan_release(settings_of(row), capabilities(provider, printer))


def view(
    row: HeldJobRow,
    owner: str,
    provider: str,
    *,
    cost: int | None = None,
    compatible: bool | None = None,
    reason: str = "",
) -> schemas.HeldJobOut:
    return schemas.HeldJobOut(
        id=row.job_ref,
        owner=owner,
        document_name=row.document_name,
        queue=row.queue,
        queue_kind=row.queue_kind,
        provider=provider,
        printer=row.printer,
        pages=row.pages,
        colour_pages=row.colour_pages,
        copies=row.copies,
        duplex=row.duplex,
        grayscale=row.grayscale,
        paper_size=row.paper_size,
        document_format=row.document_format,
        size=row.size,
        submitted_at=utc(row.submitted_at),
        expires_at=utc(row.expires_at),
        status=row.status,
        status_reason=row.status_reason,
        released_to=row.released_to,
        approval=row.approval,
        cost=cost,
        compatible=compatible,
        incompatible_reason=reason,
    )


def views_at(
    session: Session, rows: list[HeldJobRow], printer: PrinterRow | None
) -> list[schemas.HeldJobOut]:
    """Views of ``rows``; with a printer, each with its cost there and whether it fits."""
    owners: dict[int, UserRow] = {}
    providers: dict[int, ProviderRow] = {}
    groups: dict[int, frozenset[str]] = {}
    result = []
    for row in rows:
        owner = owners.get(row.user_id) or session.get(UserRow, row.user_id)
        provider = providers.get(row.provider_id) or session.get(ProviderRow, row.provider_id)
        assert owner is not None
        assert provider is not None
        owners[row.user_id], providers[row.provider_id] = owner, provider
        if printer is None:
            result.append(view(row, owner.username, provider.name))
            continue
        try:
            plan = plan_release(settings_of(row), capabilities(provider, printer))
        except Incompatible as exc:
            result.append(
                view(row, owner.username, provider.name, compatible=False, reason=str(exc))
            )
            continue
        if row.user_id not in groups:
            groups[row.user_id] = frozenset(users.group_names(session, [row.user_id])[row.user_id])
        model = printers.cost_model_from_json(printer.cost_model)
        cost = job_cost(model, plan.usage, groups[row.user_id])
        result.append(view(row, owner.username, provider.name, cost=cost, compatible=True))
    return result


def release(
    state: AppState,
    job_ref: str,
    printer_name: str,
    releaser: Releaser,
    choice: jobs.AccountChoice,
) -> schemas.HeldJobOut:
    """Release one held job at ``printer_name`` (see the module docstring)."""
    try:
        with state.database.session() as session:
            row = load_visible(session, releaser, job_ref)
            target, order, answer = _prepare(session, row, printer_name, releaser, choice)
            provider_job_id = row.provider_job_id
    except AwaitingApproval as pending:
        _mark_awaiting(state, pending)
        raise
    try:
        state.providers.release(target, provider_job_id, order)
    except ProviderControlError as exc:
        _undo_release(state, job_ref)
        status = 409 if exc.status in (404, 409) else 503
        raise Problem(status, "Release failed", exc.detail) from None
    return answer


def release_all(
    state: AppState, printer_name: str, releaser: Releaser, choice: jobs.AccountChoice
) -> schemas.ReleaseAllOut:
    """Release every job the releaser owns (not delegated ones) at ``printer_name``."""
    assert releaser.user_id is not None
    with state.database.read() as session:
        waiting = [
            (row.job_ref, row.document_name)
            for row in held_jobs.waiting(session, [releaser.user_id])
        ]
    released, refused = [], []
    for job_ref, document in waiting:
        try:
            released.append(release(state, job_ref, printer_name, releaser, choice))
        except Problem as exc:
            refused.append(
                schemas.ReleaseRefusal(id=job_ref, document_name=document, reason=exc.detail)
            )
    return schemas.ReleaseAllOut(released=released, refused=refused)


def _check_approval(session: Session, row: HeldJobRow, releaser: Releaser) -> None:
    """A job held for approval is released by an administrator or an approver only; that
    release approves it."""
    if row.approval != "pending":
        return
    if not releaser.approves(session, row):
        group = row.approver_group
        who = f"an administrator or a member of {group}" if group else "an administrator"
        raise Problem(403, "Awaiting approval", f"this job must be approved by {who}")
    row.approval = "approved"


def _check_policy(
    session: Session,
    row: HeldJobRow,
    context: jobs.JobContext,
    printer: Printer,
    usage: JobUsage,
    releaser: Releaser,
) -> None:
    """Run the printer's filters and script before releasing, so the person at the printer
    hears a refusal (or that the job needs approval) now, not after it left. Nothing the
    pipeline would store is kept here: the provider's own decision does that."""
    submitted = policy.Submitted(
        job_ref=row.job_ref,
        document_name=row.document_name,
        document_format=row.document_format,
        size=row.size,
        held=True,
        approved=row.approval == "approved",
    )
    verdict = policy.run(
        session, context.user, context.account, printer, usage, submitted, datetime.now(UTC)
    )
    if verdict.denied:
        raise Problem(409, "Cannot release", verdict.result.reason)
    if verdict.result.outcome is not Outcome.APPROVAL:
        return
    row.approval, row.approver_group = "pending", verdict.result.approver_group
    try:
        _check_approval(session, row, releaser)  # an approver's release approves it
    except Problem as exc:
        raise AwaitingApproval(row.job_ref, row.approver_group, exc.detail) from None


class AwaitingApproval(Problem):
    """A filter holds the job for approval and the releaser may not approve it."""

    def __init__(self, job_ref: str, approver_group: str, detail: str) -> None:
        super().__init__(403, "Awaiting approval", detail)
        self.job_ref, self.approver_group = job_ref, approver_group


def _mark_awaiting(state: AppState, pending: AwaitingApproval) -> None:
    """Keep the job's approval pending (so its approvers can find it) though the release
    that found out was refused and rolled back."""
    with state.database.session() as session:
        row = held_jobs.find(session, pending.job_ref)
        if row.approval != "approved":
            row.approval, row.approver_group = "pending", pending.approver_group
            row.change_seq = change_seq(session)


def _prepare(
    session: Session,
    row: HeldJobRow,
    printer_name: str,
    releaser: Releaser,
    choice: jobs.AccountChoice,
) -> tuple[ControlTarget, dict[str, Any], schemas.HeldJobOut]:
    _check_waiting(row)
    _check_approval(session, row, releaser)
    try:
        printer = printers.find_printer(session, printer_name)
        plan = plan_at(session, row, printer)
        owner = session.get(UserRow, row.user_id)
        assert owner is not None
        context, deciding = jobs.job_setup(session, owner.username, printer.name, choice)
        decision = decide(plan.usage, context.user, context.account, deciding)
        if decision.verdict is not Verdict.DENY:
            _check_policy(session, row, context, deciding, plan.usage, releaser)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except (Incompatible, InvalidReference) as exc:
        raise Problem(409, "Cannot release", str(exc)) from None
    if decision.verdict is Verdict.DENY:
        raise Problem(409, "Cannot release", decision.reason)
    shared = context.account.kind is not AccountKind.PERSONAL
    held_jobs.set_status(row, "releasing", "; ".join(plan.notes), change_seq(session))
    row.released_to, row.released_by = printer.name, releaser.name
    row.account_id = context.account.id if shared else None
    provider = session.get(ProviderRow, row.provider_id)
    assert provider is not None
    order = {
        "printer": printer.name,
        "copies": row.copies,
        "duplex": plan.duplex,
        "grayscale": plan.grayscale,
        "convert_to_pdf": plan.convert_to_pdf,
        "account": context.account.name if shared else "",
    }
    answer = view(row, owner.username, provider.name, cost=decision.cost, compatible=True)
    return ControlTarget.of(provider), order, answer


def _check_waiting(row: HeldJobRow) -> None:
    if row.status != "held":
        raise Problem(409, "Cannot release", f"the job is {row.status}")
    if utc(row.expires_at) <= datetime.now(UTC):
        raise Problem(409, "Cannot release", "the job has expired")


def _undo_release(state: AppState, job_ref: str) -> None:
    with state.database.session() as session:
        row = held_jobs.find(session, job_ref)
        if row.status == "releasing":
            held_jobs.set_status(row, "held", "", change_seq(session))
            row.released_to, row.released_by, row.account_id = "", "", None


def cancel(state: AppState, job_ref: str, releaser: Releaser) -> schemas.HeldJobOut:
    """Cancel a held job: the provider deletes it (and its document), then the record ends."""
    with state.database.session() as session:
        row = load_visible(session, releaser, job_ref)
        if row.status != "held":
            raise Problem(409, "Cannot cancel", f"the job is {row.status}")
        provider = session.get(ProviderRow, row.provider_id)
        assert provider is not None
        target, job_id = ControlTarget.of(provider), row.provider_job_id
    try:
        state.providers.cancel(target, job_id, f"canceled by {releaser.name}")
    except ProviderControlError as exc:
        if exc.status != 404:  # already gone at the provider: end the record anyway
            raise Problem(503, "Cancel failed", exc.detail) from None
    with state.database.session() as session:
        row = held_jobs.find(session, job_ref)
        held_jobs.set_status(row, "canceled", f"canceled by {releaser.name}", change_seq(session))
        owner = session.get(UserRow, row.user_id)
        assert owner is not None
        return view(row, owner.username, target.name)


def change(
    state: AppState, job_ref: str, releaser: Releaser, body: schemas.HeldJobChangeIn
) -> schemas.HeldJobOut:
    """Change copies, duplex or greyscale of a job still held."""
    with state.database.session() as session:
        row = load_visible(session, releaser, job_ref)
        if row.status != "held":
            raise Problem(409, "Cannot change", f"the job is {row.status}")
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(row, name, value)
        held_jobs.set_status(row, "held", "", change_seq(session))
        owner = session.get(UserRow, row.user_id)
        provider = session.get(ProviderRow, row.provider_id)
        assert owner is not None
        assert provider is not None
        return view(row, owner.username, provider.name)
