"""Held jobs as providers report them, who may see them, and release delegates."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, object_session

from printwarden.domain.ids import new_id
from printwarden.store import bulk, user_events
from printwarden.store.changes import change_seq
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import HeldJobRow, ProviderRow, ReleaseDelegateRow, UserRow
from printwarden.store.users import now

ENDED = frozenset({"printed", "canceled", "expired", "failed"})
# A "held" report racing a release the server just asked for must not undo it.
RELEASE_GRACE = timedelta(seconds=60)


# What a provider says of a held job beyond its identity (``Report.fields``).
REPORTED_FIELDS = (
    "printer",
    "document_name",
    "document_format",
    "size",
    "pages",
    "colour_pages",
    "copies",
    "duplex",
    "paper_size",
    "submitted_at",
    "expires_at",
    "approval",
    "approver_group",
)


@dataclass(frozen=True, slots=True)
class Report:
    """One held job as a provider described it (see ``HeldJobReportIn``)."""

    job_ref: str
    provider_job_id: int
    queue: str
    queue_kind: str
    username: str
    fields: dict[str, Any]
    status: str = "held"
    status_reason: str = ""

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Report:
        """A report from a provider's fields, checked already (``HeldJobReportIn``)."""
        return cls(
            job_ref=values["job_ref"],
            provider_job_id=values["provider_job_id"],
            queue=values["queue"],
            queue_kind=values["queue_kind"],
            username=values["username"],
            fields={name: values[name] for name in REPORTED_FIELDS},
            status=values["status"],
            status_reason=values["status_reason"],
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    """What came of a provider's reports: those refused (``(job_ref, reason)``) and the
    held jobs new to this server."""

    refused: list[tuple[str, str]]
    new: list[HeldJobRow]


def record_reports(session: Session, provider: ProviderRow, reports: list[Report]) -> Recorded:
    """Insert or update each report."""
    refs = [r.job_ref for r in reports]
    existing = {
        row.job_ref: row
        for row in session.scalars(select(HeldJobRow).where(HeldJobRow.job_ref.in_(refs)))
    }
    names = {r.username for r in reports if r.job_ref not in existing}
    user_ids = dict(
        session.execute(
            select(UserRow.username, UserRow.id).where(
                UserRow.username.in_(names), UserRow.deleted_at.is_(None), UserRow.enabled
            )
        ).all()
    )
    refused: list[tuple[str, str]] = []
    new: list[HeldJobRow] = []
    seq = change_seq(session)
    for report in reports:
        row = existing.get(report.job_ref)
        if row is not None:
            _update(row, report, seq)
        elif report.username not in user_ids:
            refused.append((report.job_ref, f"unknown or disabled user {report.username!r}"))
        elif report.status == "held":
            row = _new_row(report, provider.id, user_ids[report.username], seq)
            session.add(row)
            new.append(row)
            user_events.note(session, row.user_id, "job.held", job_event(row))
    session.flush()
    return Recorded(refused, new)


def job_event(row: HeldJobRow, **more: Any) -> dict[str, Any]:
    """What a User Client hears of a held job."""
    fields = {"document_name": row.document_name, "printer": row.printer or row.queue}
    return {"job": row.job_ref, **fields, "reason": row.status_reason, **more}


def _new_row(report: Report, provider_id: int, user_id: int, seq: int) -> HeldJobRow:
    return HeldJobRow(
        job_ref=report.job_ref,
        user_id=user_id,
        provider_id=provider_id,
        provider_job_id=report.provider_job_id,
        queue=report.queue,
        queue_kind=report.queue_kind,
        status="held",
        status_reason="",
        released_to="",
        released_by="",
        updated_at=now(),
        change_seq=seq,
        **report.fields,
    )


def _update(row: HeldJobRow, report: Report, seq: int) -> None:
    if row.status in ENDED:
        return
    if report.status == "held":
        recently_released = row.status == "releasing" and now() - utc(row.updated_at) < (
            RELEASE_GRACE
        )
        if recently_released or row.order_id:  # an order the provider has yet to confirm
            return
        for name in ("pages", "colour_pages", "paper_size", "document_format", "size"):
            if name in report.fields:
                setattr(row, name, report.fields[name])
        if report.fields.get("approval") == "pending" and row.approval != "approved":
            row.approval = "pending"
            row.approver_group = str(report.fields.get("approver_group") or "")
    set_status(row, report.status, report.status_reason, seq)


def set_status(row: HeldJobRow, status: str, reason: str, seq: int) -> None:
    before = row.status
    row.status, row.status_reason = status, reason
    row.updated_at = now()
    row.change_seq = seq
    if status in ENDED:
        _clear_order(row)
    if status != before:
        _tell_owner(row)


# What the owner hears when a held job's status changes, and how an open question ends.
_STATUS_EVENTS = {"held": "job.held", "releasing": "job.released", "canceled": "job.canceled",
                  "expired": "job.canceled", "failed": "job.canceled"}  # fmt: skip
_QUESTION_OUTCOMES = {"releasing": "printing", "printed": "printing", "canceled": "canceled"}


def _tell_owner(row: HeldJobRow) -> None:
    session = object_session(row)
    if session is None:
        return
    kind = _STATUS_EVENTS.get(row.status)
    if kind is not None:
        user_events.note(session, row.user_id, kind, job_event(row))
    if row.question and row.status != "held":
        close_question(session, row, _QUESTION_OUTCOMES.get(row.status, "expired"))


def close_question(session: Session, row: HeldJobRow, outcome: str) -> None:
    """End ``row``'s open question with ``outcome`` (who answered it is noted on it, a
    device by default) and tell its owner."""
    by = str(row.question.get("answered_by") or "device")
    row.question, row.answer_by = {}, None
    closed = {"job": row.job_ref, "outcome": outcome, "by": by}
    user_events.note(session, row.user_id, "question.closed", closed)


# --- orders to the provider ---------------------------------------------------------------------

RELEASE, CANCEL = "release", "cancel"  # what an order asks
DONE, REFUSED, MISSING = "done", "refused", "missing"  # what the provider says it did
ORDER_PAGE = 500


def record_order(row: HeldJobRow, action: str, order: dict[str, Any], seq: int) -> str:
    """Record what the provider is to do with ``row`` (until it confirms); the order's id."""
    row.order_id = new_id()
    row.pending_order = {"action": action, **order}
    row.updated_at, row.change_seq = now(), seq
    return row.order_id


def _clear_order(row: HeldJobRow) -> None:
    row.order_id, row.pending_order = "", {}


def pending_orders(session: Session, provider_id: int, limit: int = ORDER_PAGE) -> list[HeldJobRow]:
    """The orders ``provider_id`` has not confirmed yet, oldest first."""
    return list(
        session.scalars(
            select(HeldJobRow)
            .where(
                HeldJobRow.provider_id == provider_id,
                HeldJobRow.order_id != "",
                HeldJobRow.status.in_(("held", "releasing")),
            )
            .order_by(HeldJobRow.updated_at, HeldJobRow.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What a provider did with one order."""

    job_ref: str
    order_id: str
    outcome: str  # DONE, REFUSED or MISSING
    detail: str = ""


def apply_results(session: Session, provider_id: int, results: Sequence[OrderResult]) -> int:
    """Record what the provider did with its orders; results for orders no longer pending
    (withdrawn, or answered already) change nothing. Returns how many applied."""
    rows = {
        row.job_ref: row
        for row in session.scalars(
            select(HeldJobRow).where(
                HeldJobRow.provider_id == provider_id,
                HeldJobRow.job_ref.in_([r.job_ref for r in results]),
            )
        )
    }
    applied = 0
    for result in results:
        row = rows.get(result.job_ref)
        if row is None or not row.order_id or row.order_id != result.order_id:
            continue
        _settle(row, result, change_seq(session))
        applied += 1
    session.flush()
    return applied


def _settle(row: HeldJobRow, result: OrderResult, seq: int) -> None:
    action = row.pending_order.get("action")
    reason = str(row.pending_order.get("reason", ""))
    _clear_order(row)
    row.updated_at, row.change_seq = now(), seq
    if action == RELEASE and result.outcome != DONE:
        undo_release(row, result.detail or "the provider refused the release", seq)
    elif action == CANCEL and result.outcome in (DONE, MISSING):
        set_status(row, "canceled", reason, seq)
    elif action == CANCEL:
        set_status(row, row.status, result.detail or "the provider refused to cancel", seq)


def undo_release(row: HeldJobRow, reason: str, seq: int) -> None:
    """The release did not happen: the job is held again (``reason`` says why)."""
    set_status(row, "held", reason, seq)
    row.released_to, row.released_by, row.account_id = "", "", None


def withdraw_order(session: Session, job_ref: str, order_id: str) -> bool:
    """Withdraw an order the provider did not confirm (it could not be reached): a release
    is undone, a cancel forgotten. False if it was confirmed meanwhile (nothing changes)."""
    row = find(session, job_ref)
    if row.order_id != order_id:
        return False
    action = row.pending_order.get("action")
    seq = change_seq(session)
    _clear_order(row)
    row.updated_at, row.change_seq = now(), seq
    if action == RELEASE:
        undo_release(row, "", seq)
    return True


def mark_printed(
    session: Session,
    job_refs: Sequence[str],
    providers: Callable[[], Collection[int]] | None = None,
) -> None:
    """These jobs were charged as printed: those that were held jobs (at one of the
    ``providers()``, if given: asked only when there are any) have printed (one statement
    finds them, one more marks them)."""
    mark_printed_many(session, [(job_refs, providers)])


def mark_printed_many(
    session: Session,
    groups: Sequence[tuple[Sequence[str], Callable[[], Collection[int]] | None]],
) -> None:
    """:func:`mark_printed` for several groups of jobs, each with its own ``providers``
    (several sites' uploads), in the same two statements: a held job is marked when a group
    naming it may speak for its provider."""
    speakers: dict[str, list[Callable[[], Collection[int]] | None]] = {}
    for job_refs, providers in groups:
        for ref in job_refs:
            speakers.setdefault(ref, []).append(providers)
    if not speakers:
        return
    waiting = HeldJobRow.status.in_(("held", "releasing"))
    where = (bulk.among(session, HeldJobRow.job_ref, list(speakers)), waiting)
    found = session.execute(
        select(HeldJobRow.id, HeldJobRow.job_ref, HeldJobRow.provider_id).where(*where)
    ).all()
    ids = [
        row_id
        for row_id, ref, provider in found
        if any(p is None or provider in p() for p in speakers[ref])
    ]
    if ids:
        marked = {
            "status": "printed",
            "updated_at": now(),
            "change_seq": change_seq(session),
            "order_id": "",
            "pending_order": {},
        }
        statement = update(HeldJobRow).where(bulk.among(session, HeldJobRow.id, ids), waiting)
        session.execute(
            statement.values(marked), execution_options={"synchronize_session": "fetch"}
        )


def approved(session: Session, job_ref: str) -> bool:
    """Whether an approver released this held job (so approval filters let it through)."""
    found = session.scalar(select(HeldJobRow.approval).where(HeldJobRow.job_ref == job_ref))
    return found == "approved"


def find(session: Session, job_ref: str) -> HeldJobRow:
    row = session.scalar(select(HeldJobRow).where(HeldJobRow.job_ref == job_ref))
    if row is None:
        raise NotFound(f"no held job {job_ref!r}")
    return row


@dataclass(frozen=True, slots=True)
class Released:
    """What a held job's release and its question's answer chose: the account (None: not
    released, or personal) and the comment its owner gave ("" if none)."""

    account_id: int | None
    comment: str


def release_of(session: Session, job_ref: str) -> Released | None:
    """``job_ref``'s release and answer (None: no held job of that id), in one query."""
    found = session.execute(
        select(HeldJobRow.account_id, HeldJobRow.status, HeldJobRow.comment).where(
            HeldJobRow.job_ref == job_ref
        )
    ).first()
    if found is None:
        return None
    account_id, status, comment = found
    released = status in ("releasing", "printed")
    return Released(account_id if released else None, comment or "")


def waiting(session: Session, user_ids: list[int]) -> list[HeldJobRow]:
    """Jobs of these users that can still be released, oldest first."""
    return list(
        session.scalars(
            select(HeldJobRow)
            .where(
                HeldJobRow.user_id.in_(user_ids),
                HeldJobRow.status == "held",
                HeldJobRow.expires_at > _naive_now(session),
            )
            .order_by(HeldJobRow.submitted_at, HeldJobRow.id)
        )
    )


def count_waiting(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(HeldJobRow)
            .where(
                HeldJobRow.user_id == user_id,
                HeldJobRow.status == "held",
                HeldJobRow.expires_at > _naive_now(session),
            )
        )
        or 0
    )


def _naive_now(session: Session) -> datetime:
    """Now, comparable with stored timestamps (SQLite keeps them without a zone)."""
    moment = now()
    if session.get_bind().dialect.name == "sqlite":
        return moment.replace(tzinfo=None)
    return moment


# --- delegates ---------------------------------------------------------------------------------


def owners_delegating_to(session: Session, delegate_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ReleaseDelegateRow.owner_id).where(ReleaseDelegateRow.delegate_id == delegate_id)
        )
    )


def delegates(session: Session, owner_id: int) -> tuple[list[str], list[str]]:
    """(whom ``owner_id`` lets release their jobs, who lets ``owner_id`` release theirs)."""
    mine = select(UserRow.username).join(
        ReleaseDelegateRow, ReleaseDelegateRow.delegate_id == UserRow.id
    )
    theirs = select(UserRow.username).join(
        ReleaseDelegateRow, ReleaseDelegateRow.owner_id == UserRow.id
    )
    return (
        sorted(session.scalars(mine.where(ReleaseDelegateRow.owner_id == owner_id))),
        sorted(session.scalars(theirs.where(ReleaseDelegateRow.delegate_id == owner_id))),
    )


def set_delegates(session: Session, owner: UserRow, usernames: list[str]) -> None:
    """Replace the users who may release ``owner``'s jobs."""
    wanted = set(usernames) - {owner.username}
    ids = dict(
        session.execute(
            select(UserRow.username, UserRow.id).where(
                UserRow.username.in_(wanted), UserRow.deleted_at.is_(None)
            )
        ).all()
    )
    missing = sorted(wanted - set(ids))
    if missing:
        raise NotFound(f"no user named {missing[0]!r}")
    seq = change_seq(session)
    owner.change_seq = seq  # delegates travel to sites with their owner
    session.execute(delete(ReleaseDelegateRow).where(ReleaseDelegateRow.owner_id == owner.id))
    for delegate_id in ids.values():
        session.add(ReleaseDelegateRow(owner_id=owner.id, delegate_id=delegate_id, change_seq=seq))
    session.flush()


def visible_owner_ids(session: Session, user_id: int) -> list[int]:
    """Whose held jobs ``user_id`` sees: their own and those of users delegating to them."""
    return [user_id, *owners_delegating_to(session, user_id)]


def may_manage(session: Session, row: HeldJobRow, user_id: int) -> bool:
    if row.user_id == user_id:
        return True
    return (
        session.scalar(
            select(ReleaseDelegateRow.owner_id).where(
                ReleaseDelegateRow.owner_id == row.user_id,
                ReleaseDelegateRow.delegate_id == user_id,
            )
        )
        is not None
    )
