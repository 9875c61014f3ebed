"""Documents users printed recently, by content hash: duplicate job detection."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from printwarden.store.models import RecentDocumentRow

KEEP = timedelta(days=1)  # longer than any sensible duplicate window
PRUNE_EVERY = 200


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
    """Note a document that will print (a job decided again is noted again: harmless, the
    lookup skips the job's own notes), and now and then forget day-old ones."""
    row = {"username": username, "digest": digest, "job_ref": job_ref, "printer": printer}
    session.execute(insert(RecentDocumentRow).values(**row, seen_at=now))
    if secrets.randbelow(PRUNE_EVERY) == 0:
        session.execute(delete(RecentDocumentRow).where(RecentDocumentRow.seen_at < now - KEEP))
