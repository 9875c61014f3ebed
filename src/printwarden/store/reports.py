"""Read-only reports over printed jobs: the job log, daily totals and busiest printers.

``print_jobs`` has no index on ``printed_at``; its ids grow as jobs are recorded, so a time
window starts at the first id recorded in it, found by bisection over the primary key (about
20 index probes). Jobs recorded late (a site's offline journal) carry an older
``printed_at``; the ``printed_at`` condition still applies, so they are never counted in a
window they do not belong to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from printwarden.store.db import utc
from printwarden.store.models import AccountRow, PrinterRow, PrintJobRow, UserRow


@dataclass(frozen=True, slots=True)
class JobFilter:
    username: str = ""
    printer: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoggedJob:
    id: int
    job_ref: str
    username: str
    printer: str
    account: str
    document_name: str
    pages: int
    colour_pages: int
    copies: int
    duplex: bool
    paper_size: str
    cost: int
    origin: str
    printed_at: datetime


@dataclass(frozen=True, slots=True)
class Totals:
    jobs: int
    pages: int


def first_id_since(session: Session, moment: datetime) -> int:
    """The first job id recorded at or after ``moment`` (past the last id if none)."""
    low = session.scalar(select(func.min(PrintJobRow.id))) or 1
    high = (session.scalar(select(func.max(PrintJobRow.id))) or 0) + 1
    while low < high:
        middle = (low + high) // 2
        found = session.execute(
            select(PrintJobRow.id, PrintJobRow.printed_at)
            .where(PrintJobRow.id >= middle)
            .order_by(PrintJobRow.id)
            .limit(1)
        ).first()
        if found is None or utc(found.printed_at) >= moment:
            high = middle
        else:
            low = found.id + 1
    return low


def _jobs(session: Session, where: JobFilter) -> Select[PrintJobRow, str, str, str]:
    query = (
        select(PrintJobRow, UserRow.username, PrinterRow.name, AccountRow.name)
        .join(UserRow, UserRow.id == PrintJobRow.user_id)
        .join(PrinterRow, PrinterRow.id == PrintJobRow.printer_id)
        .join(AccountRow, AccountRow.id == PrintJobRow.account_id)
    )
    if where.username:
        query = query.where(UserRow.username == where.username)
    if where.printer:
        query = query.where(PrinterRow.name == where.printer)
    if where.since is not None:
        query = query.where(
            PrintJobRow.id >= first_id_since(session, where.since),
            PrintJobRow.printed_at >= where.since,
        )
    if where.until is not None:
        # Jobs recorded late (older printed_at, higher id) past the bound are missed here;
        # the window's end is where recording passed it.
        query = query.where(
            PrintJobRow.id < first_id_since(session, where.until),
            PrintJobRow.printed_at < where.until,
        )
    return query


def job_log(
    session: Session, where: JobFilter, *, before: int | None = None, limit: int = 50
) -> list[LoggedJob]:
    """A page of the job log, newest first; page on with ``before`` = the last id shown."""
    query = _jobs(session, where)
    if before is not None:
        query = query.where(PrintJobRow.id < before)
    rows = session.execute(query.order_by(PrintJobRow.id.desc()).limit(limit))
    return [_logged(job, user, printer, account) for job, user, printer, account in rows]


def iter_job_log(session: Session, where: JobFilter, chunk: int = 2000) -> Iterator[LoggedJob]:
    """Every job matching ``where``, newest first, fetched ``chunk`` at a time (CSV export)."""
    before: int | None = None
    while page := job_log(session, where, before=before, limit=chunk):
        yield from page
        before = page[-1].id


def _logged(job: PrintJobRow, username: str, printer: str, account: str) -> LoggedJob:
    return LoggedJob(
        id=job.id,
        job_ref=job.job_ref,
        username=username,
        printer=printer,
        account=account,
        document_name=job.document_name,
        pages=job.pages,
        colour_pages=job.colour_pages,
        copies=job.copies,
        duplex=job.duplex,
        paper_size=job.paper_size,
        cost=job.cost,
        origin=job.origin,
        printed_at=utc(job.printed_at),
    )


def totals_since(session: Session, moment: datetime, floor: int | None = None) -> Totals:
    """Jobs and pages since ``moment`` (``floor``: its first id, if already known)."""
    floor = floor or first_id_since(session, moment)
    jobs, pages = session.execute(
        select(func.count(), func.coalesce(func.sum(PrintJobRow.pages), 0)).where(
            PrintJobRow.id >= floor, PrintJobRow.printed_at >= moment
        )
    ).one()
    return Totals(int(jobs), int(pages))


def pages_per_day(session: Session, since: datetime) -> dict[date, int]:
    """Pages printed per (UTC) day from ``since`` on."""
    floor = first_id_since(session, since)
    day = func.date(PrintJobRow.printed_at)
    rows = session.execute(
        select(day, func.sum(PrintJobRow.pages))
        .where(PrintJobRow.id >= floor, PrintJobRow.printed_at >= since)
        .group_by(day)
    )
    return {_as_date(when): int(pages or 0) for when, pages in rows}


def _as_date(value: date | str) -> date:
    """SQLite's ``date()`` answers text; PostgreSQL's a date."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def top_printers(
    session: Session, since: datetime, limit: int = 5, floor: int | None = None
) -> list[tuple[str, int, int]]:
    """The printers with the most pages since ``since``: (name, jobs, pages)."""
    floor = floor or first_id_since(session, since)
    pages = func.sum(PrintJobRow.pages)
    rows = session.execute(
        select(PrinterRow.name, func.count(), pages)
        .join(PrinterRow, PrinterRow.id == PrintJobRow.printer_id)
        .where(PrintJobRow.id >= floor, PrintJobRow.printed_at >= since)
        .group_by(PrinterRow.name)
        .order_by(pages.desc(), PrinterRow.name)
        .limit(limit)
    )
    return [(name, int(jobs), int(total or 0)) for name, jobs, total in rows]
