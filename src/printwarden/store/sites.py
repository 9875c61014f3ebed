"""Sites: each with a Site Server, the printers and devices it serves, and its reported status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.models import JournalEntryRow, SiteRow
from printwarden.store.users import now


def create_site(session: Session, name: str, description: str = "") -> SiteRow:
    if session.scalar(select(SiteRow).where(SiteRow.name == name)) is not None:
        raise AlreadyExists(f"a site named {name!r} exists")
    row = SiteRow(
        name=name,
        description=description,
        forced_offline=False,
        status={},
        created_at=now(),
        last_contact=None,
    )
    session.add(row)
    session.flush()
    return row


def find_site(session: Session, name: str) -> SiteRow:
    row = session.scalar(select(SiteRow).where(SiteRow.name == name))
    if row is None:
        raise NotFound(f"no site named {name!r}")
    return row


def list_sites(session: Session) -> list[SiteRow]:
    return list(session.scalars(select(SiteRow).order_by(SiteRow.name)))


def record_status(session: Session, row: SiteRow, status: dict[str, Any]) -> None:
    """What the Site Server says of itself (it calls in while it can reach us)."""
    row.status = status
    row.last_contact = now()


def rejections(session: Session, site: str, limit: int) -> list[JournalEntryRow]:
    """The journal entries of ``site`` that HQ rejected, newest first: HQ's own record (the
    reconciliation report a site sends back is the site's word)."""
    statement = (
        select(JournalEntryRow)
        .where(JournalEntryRow.site == site, JournalEntryRow.rejected.is_(True))
        .order_by(JournalEntryRow.applied_at.desc(), JournalEntryRow.entry_id)
        .limit(limit)
    )
    return list(session.scalars(statement))
