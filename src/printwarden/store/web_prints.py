"""Web Print and Email to Print submissions kept by this server (``web_prints``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from printwarden.domain.ids import new_id
from printwarden.domain.web_print import Stage
from printwarden.store.models import HeldJobRow, WebPrintRow

PAGE = 100  # submissions a provider is sent at once


@dataclass(frozen=True, slots=True)
class NewSubmission:
    """What a person handed in, before it is rendered."""

    user_id: int
    source: str
    provider: str
    queue: str
    queue_kind: str
    printer: str
    filename: str
    size: int
    options: dict[str, Any]
    submit: bool
    keep_hours: int
    source_key: str | None = None


def create(session: Session, new: NewSubmission) -> WebPrintRow:
    now = datetime.now(UTC)
    row = WebPrintRow(
        id=new_id(),
        user_id=new.user_id,
        source=new.source,
        source_key=new.source_key,
        provider=new.provider,
        queue=new.queue,
        queue_kind=new.queue_kind,
        printer=new.printer,
        filename=new.filename[:256],
        detected="",
        size=new.size,
        options=new.options,
        submit=new.submit,
        stage=Stage.RENDERING.value,
        detail="",
        colour_pages=0,
        paper_size="",
        document="",
        sha256="",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=new.keep_hours),
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, submission_id: str) -> WebPrintRow | None:
    return session.get(WebPrintRow, submission_id)


def by_source_key(session: Session, key: str) -> WebPrintRow | None:
    return session.scalars(select(WebPrintRow).where(WebPrintRow.source_key == key)).first()


def of_user(session: Session, user_id: int, limit: int = 50) -> list[WebPrintRow]:
    """The person's latest submissions, newest first."""
    query = (
        select(WebPrintRow)
        .where(WebPrintRow.user_id == user_id)
        .order_by(WebPrintRow.created_at.desc(), WebPrintRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def held_records(session: Session, ids: list[str]) -> dict[str, HeldJobRow]:
    """The held-job records of those of ``ids`` that a provider has reported."""
    if not ids:
        return {}
    rows = session.scalars(select(HeldJobRow).where(HeldJobRow.job_ref.in_(ids)))
    return {row.job_ref: row for row in rows}


def waiting_to_render(session: Session, limit: int = 100) -> list[str]:
    """Submissions still to be rendered, oldest first (e.g. after a restart)."""
    query = (
        select(WebPrintRow.id)
        .where(WebPrintRow.stage == Stage.RENDERING.value)
        .order_by(WebPrintRow.created_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def for_provider(session: Session, provider: str) -> list[WebPrintRow]:
    """What ``provider`` is to fetch: submitted, oldest first."""
    query = (
        select(WebPrintRow)
        .where(WebPrintRow.provider == provider, WebPrintRow.stage == Stage.SUBMITTED.value)
        .order_by(WebPrintRow.updated_at, WebPrintRow.id)
        .limit(PAGE)
    )
    return list(session.scalars(query))


def set_stage(row: WebPrintRow, stage: Stage, detail: str = "") -> None:
    row.stage, row.detail = stage.value, detail[:1000]
    row.updated_at = datetime.now(UTC)


def expired(session: Session, now: datetime) -> list[WebPrintRow]:
    """Submissions past their time that still hold a document."""
    query = select(WebPrintRow).where(WebPrintRow.expires_at < now, WebPrintRow.document != "")
    return list(session.scalars(query.limit(500)))


def forget_document(session: Session, submission_id: str) -> None:
    session.execute(update(WebPrintRow).where(WebPrintRow.id == submission_id).values(document=""))
