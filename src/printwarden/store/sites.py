"""Sites: each with a Site Server, the printers and devices it serves, and its reported status."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from printwarden.store.changes import change_seq
from printwarden.store.db import utc
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


# Sites call in every second (``site/heartbeat.py``), and HQ writes the times down within a
# second more (``service/site_contacts.py``); four seconds of silence mean the link is down,
# and HQ then shows the site offline (the site itself went offline by then too).
REACHABLE_WITHIN = timedelta(seconds=4)


def reachable(row: SiteRow, at: datetime | None = None) -> bool:
    """Whether the site called in within :data:`REACHABLE_WITHIN` (of ``at``, default now)."""
    if row.last_contact is None:
        return False
    return (at or datetime.now(UTC)) - utc(row.last_contact) < REACHABLE_WITHIN


_TOUCH_SITES = (
    update(SiteRow)
    .where(SiteRow.name.in_(bindparam("names", expanding=True)))
    .values(last_contact=bindparam("at"))
    .execution_options(synchronize_session=False)
)
TOUCH_BATCH = 10_000  # names per statement (SQLite allows 32,766 parameters)


def touch(session: Session, names: list[str], at: datetime) -> None:
    """Note that the sites ``names`` are in contact at ``at`` (a statement per batch)."""
    for start in range(0, len(names), TOUCH_BATCH):
        session.execute(_TOUCH_SITES, {"names": names[start : start + TOUCH_BATCH], "at": at})


def silent_for(row: SiteRow, at: datetime | None = None) -> float | None:
    """Seconds since the site last called in (None: never)."""
    if row.last_contact is None:
        return None
    return ((at or datetime.now(UTC)) - utc(row.last_contact)).total_seconds()


def find_site(session: Session, name: str) -> SiteRow:
    row = session.scalar(select(SiteRow).where(SiteRow.name == name))
    if row is None:
        raise NotFound(f"no site named {name!r}")
    return row


def missing_sites(session: Session, names: Collection[str]) -> list[str]:
    """The names among ``names`` no site has (one query)."""
    found = set(session.scalars(select(SiteRow.name).where(SiteRow.name.in_(names))))
    return [name for name in names if name not in found]


def force_offline(session: Session, row: SiteRow, offline: bool) -> SiteRow:
    """Take the site offline for maintenance (or let it return). It takes a change number:
    the site's long poll, on whichever App Server process holds it, answers at once."""
    row.forced_offline = offline
    change_seq(session)
    return row


def rekey(session: Session, row: SiteRow) -> SiteRow:
    """A new card key generation for the site (after a theft, say). It takes a change
    number: the site's long poll answers soon with the new generation (and the site takes
    a fresh snapshot under it)."""
    row.key_generation += 1
    change_seq(session)
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
