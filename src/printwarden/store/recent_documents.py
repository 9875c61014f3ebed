"""Documents users printed recently, by content hash: duplicate job detection."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from printwarden.store.models import RecentDocumentRow

KEEP = timedelta(days=1)  # longer than any sensible duplicate window


_DUPLICATE = (
    select(RecentDocumentRow.job_ref)
    .where(
        RecentDocumentRow.username == bindparam("username"),
        RecentDocumentRow.digest == bindparam("digest"),
        RecentDocumentRow.job_ref != bindparam("job_ref"),
        RecentDocumentRow.seen_at >= bindparam("since"),
    )
    .order_by(RecentDocumentRow.id)
    .limit(1)
)


def duplicate_of(
    session: Session, username: str, digest: str, job_ref: str, since: datetime
) -> str:
    """The job this one duplicates (same user, same content, seen since ``since``), or ""."""
    parameters = {"username": username, "digest": digest, "job_ref": job_ref, "since": since}
    found = session.connection().execute(_DUPLICATE, parameters).scalar()
    return str(found or "")


def remember(
    session: Session, username: str, digest: str, job_ref: str, printer: str, now: datetime
) -> None:
    """Note a document that will print (once per job), and forget day-old ones."""
    known = session.scalar(
        select(RecentDocumentRow.id).where(
            RecentDocumentRow.job_ref == job_ref, RecentDocumentRow.digest == digest
        )
    )
    if known is None:
        session.add(
            RecentDocumentRow(
                username=username, digest=digest, job_ref=job_ref, printer=printer, seen_at=now
            )
        )
    session.execute(delete(RecentDocumentRow).where(RecentDocumentRow.seen_at < now - KEEP))
    session.flush()
