"""Held jobs as people see them, and the release/cancel use cases every caller shares.

Users (API), delegates, administrators and device sessions all release through
:func:`release`: check who may, check the printer is compatible (domain.release), cost the
job at that printer and check credit, record the release *and the order to the provider*
(printer and settings) on the held job, commit — and only then ring the provider's doorbell
(``provider_control``). The provider fetches its pending orders from its own server with its
own token, applies them, reports what it did, and answers the ring; the outcome is then read
from the held job. A provider that refused leaves the job ``held`` with its reason (409); one
that could not be reached, or did not take the order, has it withdrawn: ``held`` again (503).

Every use case that rings waits for a provider, so callers run them with :func:`in_thread`,
in a pool of their own: a provider answering a ring calls this server back, and must never
wait for a thread held by a release waiting for it.

At HQ, a job held by a provider at a site is rung through that site's Site Server
(``provider_control``), and while HQ cannot reach the site (no heartbeat for 3 s, or forced
offline) releasing, canceling or changing the job is refused at once (503, "Site offline"):
the job is still held there and can be released at the site, whose devices work offline, or
from HQ once the link is back. Refused rather than queued: a secure job printed when the
link returns, hours later and with nobody at the printer, is what secure print exists to
prevent, and an order queued at HQ could meet the same job released at the site meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.devices import ReleaseAllOut, ReleaseRefusal
from printwarden.api.held_jobs import HeldJobChangeIn, HeldJobOut
from printwarden.domain.accounts import AccountKind
from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.decide import Policies, Printer, Verdict, decide
from printwarden.domain.filters import Outcome
from printwarden.domain.money import Currency
from printwarden.domain.release import (
    HeldSettings,
    Incompatible,
    PrinterCapabilities,
    ReleasePlan,
    plan_release,
)
from printwarden.service import policy
from printwarden.service.provider_control import Bell, ProviderUnreachable
from printwarden.service.state import AppState
from printwarden.store import held_jobs, jobs, printers, providers, sites, users
from printwarden.store.changes import change_seq
from printwarden.store.db import utc
from printwarden.store.errors import InvalidReference, NotFound
from printwarden.store.models import HeldJobRow, PrinterRow, ProviderRow, SiteRow, UserRow
from printwarden.usecases.errors import REFUSALS, Conflict, Forbidden, Unavailable

T = TypeVar("T")
RELEASE_THREADS = 16
CANNOT = "Cannot release"


async def in_thread(state: AppState, use_case: Callable[..., T], *args: Any) -> T:
    """Run a use case of this module (``use_case(state, *args)``) in the release threads."""
    if state.release_threads is None:
        state.release_threads = anyio.CapacityLimiter(RELEASE_THREADS)
    call = functools.partial(use_case, state, *args)
    return await anyio.to_thread.run_sync(call, limiter=state.release_threads)


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
    """The held job; ``NotFound`` for jobs that do not exist *or* that the caller may not
    see."""
    try:
        row = held_jobs.find(session, job_ref)
    except NotFound:
        row = None
    if row is None or not releaser.may(session, row):
        raise NotFound(f"no held job {job_ref!r}")
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
) -> HeldJobOut:
    return HeldJobOut(
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
        question=str(row.question.get("kind", "")) if row.question else "",
        cost=cost,
        compatible=compatible,
        incompatible_reason=reason,
    )


def views_at(
    session: Session, rows: list[HeldJobRow], printer: PrinterRow | None
) -> list[HeldJobOut]:
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
            groups[row.user_id] = users.groups_of(session, row.user_id)
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
) -> HeldJobOut:
    """Release one held job at ``printer_name`` (see the module docstring)."""
    ordered = _order_release(state, job_ref, printer_name, releaser, choice)
    return _conclude_release(state, ordered, _ring(state, ordered.bell))


def release_all(
    state: AppState, printer_name: str, releaser: Releaser, choice: jobs.AccountChoice
) -> ReleaseAllOut:
    """Release every job the releaser owns (not delegated ones) at ``printer_name``. A
    provider is rung at its first order, so that job is on its way to paper while the others
    are recorded, and once more for all the others."""
    assert releaser.user_id is not None
    with state.database.read() as session:
        waiting = [
            (row.job_ref, row.document_name)
            for row in held_jobs.waiting(session, [releaser.user_id])
        ]
    ordered: list[tuple[str, Ordered]] = []
    refused: list[ReleaseRefusal] = []
    failures: dict[Bell, str] = {}  # each provider rung, and why its last ring failed
    again: set[Bell] = set()  # providers with orders recorded since they were rung
    for job_ref, document in waiting:
        try:
            order = _order_release(state, job_ref, printer_name, releaser, choice)
        except REFUSALS as exc:
            refused.append(_refusal(job_ref, document, exc))
            continue
        ordered.append((document, order))
        if order.bell in failures:
            again.add(order.bell)
        else:
            failures[order.bell] = _ring(state, order.bell)
    failures.update({bell: _ring(state, bell) for bell in again})
    released = []
    for document, order in ordered:
        try:
            released.append(_conclude_release(state, order, failures[order.bell]))
        except REFUSALS as exc:
            refused.append(_refusal(order.job_ref, document, exc))
    return ReleaseAllOut(released=released, refused=refused)


def _refusal(job_ref: str, document: str, refused: Exception) -> ReleaseRefusal:
    return ReleaseRefusal(id=job_ref, document_name=document, reason=str(refused))


@dataclass(frozen=True, slots=True)
class Ordered:
    """An order recorded on a held job, for its provider to confirm."""

    job_ref: str
    order_id: str
    bell: Bell
    answer: HeldJobOut


def _order_release(
    state: AppState,
    job_ref: str,
    printer_name: str,
    releaser: Releaser,
    choice: jobs.AccountChoice,
) -> Ordered:
    try:
        with state.database.session() as session:
            row = load_visible(session, releaser, job_ref)
            return _prepare(state, session, row, printer_name, releaser, choice)
    except AwaitingApproval as pending:
        _mark_awaiting(state, pending)
        raise


def _ring(state: AppState, bell: Bell) -> str:
    """Ring ``bell``; why it failed ("" when the provider answered)."""
    try:
        state.providers.ring(bell)
    except ProviderUnreachable as exc:
        return str(exc)
    return ""


def _conclude_release(state: AppState, ordered: Ordered, failure: str) -> HeldJobOut:
    """What came of the order: the provider took it (the answer), refused it (409), or did
    not take it — then it is withdrawn (503)."""
    row = _settled(state, ordered, failure, "Release failed")
    if row.status == "held":
        raise Conflict(row.status_reason or "the provider refused", title="Release failed")
    return ordered.answer


def _settled(state: AppState, ordered: Ordered, failure: str, title: str) -> HeldJobRow:
    """The held job once its order is settled; an order still pending is withdrawn (503
    with ``title``)."""
    with state.database.read() as session:
        row = held_jobs.find(session, ordered.job_ref)
    if row.order_id != ordered.order_id:
        return row  # the provider confirmed it (or the job ended)
    with state.database.session() as session:
        withdrawn = held_jobs.withdraw_order(session, ordered.job_ref, ordered.order_id)
        row = held_jobs.find(session, ordered.job_ref)
    if not withdrawn:
        return row  # confirmed just now
    detail = failure or f"provider {ordered.bell.name} did not take the order"
    raise Unavailable(detail, title=title)


def _check_approval(session: Session, row: HeldJobRow, releaser: Releaser) -> None:
    """A job held for approval is released by an administrator or an approver only; that
    release approves it."""
    if row.approval != "pending":
        return
    if not releaser.approves(session, row):
        group = row.approver_group
        who = f"an administrator or a member of {group}" if group else "an administrator"
        raise Forbidden(f"this job must be approved by {who}", title="Awaiting approval")
    row.approval = "approved"


def _check_policy(
    session: Session,
    row: HeldJobRow,
    context: jobs.JobContext,
    printer: Printer,
    usage: JobUsage,
    releaser: Releaser,
    currency: Currency,
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
    now = datetime.now(UTC)
    verdict = policy.run(session, context.user, context.account, printer, usage, submitted, now,
                         currency)  # fmt: skip
    if verdict.denied:
        raise Conflict(verdict.result.reason, title=CANNOT)
    if verdict.result.outcome is not Outcome.APPROVAL:
        return
    row.approval, row.approver_group = "pending", verdict.result.approver_group
    try:
        _check_approval(session, row, releaser)  # an approver's release approves it
    except Forbidden as exc:
        raise AwaitingApproval(row.job_ref, row.approver_group, exc.detail) from None


class AwaitingApproval(Forbidden):
    """A filter holds the job for approval and the releaser may not approve it."""

    def __init__(self, job_ref: str, approver_group: str, detail: str) -> None:
        super().__init__(detail, title="Awaiting approval")
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
    state: AppState,
    session: Session,
    row: HeldJobRow,
    printer_name: str,
    releaser: Releaser,
    choice: jobs.AccountChoice,
) -> Ordered:
    _check_waiting(row)
    if choice.personal and row.account_id is not None:  # chosen when its question was answered
        choice = jobs.AccountChoice(account_id=row.account_id)
    provider = session.get(ProviderRow, row.provider_id)
    assert provider is not None
    bell = bell_for(state, session, provider, "release")
    _check_approval(session, row, releaser)
    try:
        printer = printers.find_printer(session, printer_name)
        plan = plan_at(session, row, printer)
        owner = session.get(UserRow, row.user_id)
        assert owner is not None
        context, deciding = jobs.job_setup(session, owner.username, printer.name, choice)
        rules = Policies(currency=state.currency)
        decision = decide(plan.usage, context.user, context.account, deciding, rules)
        if decision.verdict is not Verdict.DENY:
            _check_policy(session, row, context, deciding, plan.usage, releaser, state.currency)
    except (Incompatible, InvalidReference) as exc:
        raise Conflict(str(exc), title=CANNOT) from None
    if decision.verdict is Verdict.DENY:
        raise Conflict(decision.reason, title=CANNOT)
    shared = context.account.kind is not AccountKind.PERSONAL
    seq = change_seq(session)
    held_jobs.set_status(row, "releasing", "; ".join(plan.notes), seq)
    row.released_to, row.released_by = printer.name, releaser.name
    row.account_id = context.account.id if shared else None
    order = {
        "printer": printer.name,
        "copies": row.copies,
        "duplex": plan.duplex,
        "grayscale": plan.grayscale,
        "convert_to_pdf": plan.convert_to_pdf,
        "account": context.account.name if shared else "",
    }
    order_id = held_jobs.record_order(row, held_jobs.RELEASE, order, seq)
    answer = view(row, owner.username, provider.name, cost=decision.cost, compatible=True)
    return Ordered(row.job_ref, order_id, bell, answer)


def bell_for(state: AppState, session: Session, provider: ProviderRow, action: str) -> Bell:
    """How to ring ``provider`` for ``action`` ("release", "cancel", "change"): at HQ, a
    provider at a site through that site's Site Server, refused while HQ cannot reach the
    site; at a Site Server's local app, directly (it is on the site's network)."""
    if not state.authority.at_hq:
        return Bell.of(provider)
    site = providers.site_of(session, provider)
    found = session.scalar(select(SiteRow).where(SiteRow.name == site)) if site else None
    if found is None:  # no Site Server there: HQ reaches the provider itself
        return Bell.of(provider)
    _check_reachable(found, action)
    return Bell.of(provider, found.name, str((found.status or {}).get("url", "")))


def _check_reachable(site: SiteRow, action: str) -> None:
    if site.forced_offline:
        why = "an administrator has taken it offline"
    elif sites.reachable(site):
        return
    else:
        silent = sites.silent_for(site)
        why = "it has never called in" if silent is None else f"no word from it for {silent:.0f} s"
    where = "at a printer there" if action == "release" else "there"
    raise Unavailable(
        f"this job is held at site {site.name}, which HQ cannot reach ({why}): {action} it "
        f"{where} (the site's devices and release stations work offline), or here once the "
        "link is back",
        title="Site offline",
        site=site.name,
    )


def _check_waiting(row: HeldJobRow) -> None:
    if row.status != "held":
        raise Conflict(f"the job is {row.status}", title=CANNOT)
    if row.order_id:
        raise Conflict("the job is being canceled", title=CANNOT)
    if utc(row.expires_at) <= datetime.now(UTC):
        raise Conflict("the job has expired", title=CANNOT)


def cancel(state: AppState, job_ref: str, releaser: Releaser) -> HeldJobOut:
    """Cancel a held job: the order is recorded, the provider rung; once it has deleted the
    job (and its document) the record ends."""
    with state.database.session() as session:
        row = load_visible(session, releaser, job_ref)
        if row.status != "held" or row.order_id:
            raise Conflict(f"the job is {_state_of(row)}", title="Cannot cancel")
        provider = session.get(ProviderRow, row.provider_id)
        owner = session.get(UserRow, row.user_id)
        assert provider is not None
        assert owner is not None
        bell = bell_for(state, session, provider, "cancel")
        reason = f"canceled by {releaser.name}"
        order_id = held_jobs.record_order(
            row, held_jobs.CANCEL, {"reason": reason}, change_seq(session)
        )
        ordered = Ordered(row.job_ref, order_id, bell, view(row, owner.username, provider.name))
    row = _settled(state, ordered, _ring(state, ordered.bell), "Cancel failed")
    if row.status != "canceled":
        raise Conflict(row.status_reason or f"the job is {row.status}", title="Cancel failed")
    return view(row, ordered.answer.owner, ordered.bell.name)


def _state_of(row: HeldJobRow) -> str:
    return "being released or canceled" if row.order_id else row.status


def change(state: AppState, job_ref: str, releaser: Releaser, body: HeldJobChangeIn) -> HeldJobOut:
    """Change copies, duplex or greyscale of a job still held."""
    with state.database.session() as session:
        row = load_visible(session, releaser, job_ref)
        if row.status != "held" or row.order_id:
            raise Conflict(f"the job is {_state_of(row)}", title="Cannot change")
        provider = session.get(ProviderRow, row.provider_id)
        assert provider is not None
        bell_for(state, session, provider, "change")  # the site holds the job: it must hear
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(row, name, value)
        held_jobs.set_status(row, "held", "", change_seq(session))
        owner = session.get(UserRow, row.user_id)
        assert owner is not None
        return view(row, owner.username, provider.name)
