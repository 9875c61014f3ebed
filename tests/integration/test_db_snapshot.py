"""``Database.snapshot()``: reads that agree with each other, on both backends. A site's
page of changes is read so (``service/routes/sites.py``): read statement by statement on
PostgreSQL, a row could come without the row it refers to."""

from __future__ import annotations

from sqlalchemy import func, select

from printwarden.store import sites
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.store.models import SiteRow

COUNT = select(func.count()).select_from(SiteRow)


def test_a_snapshot_does_not_see_what_commits_while_it_reads(hq: Database) -> None:
    with hq.session() as session:
        sites.create_site(session, "first")
    with hq.snapshot() as reading:
        before = reading.scalar(COUNT)
        with hq.session() as session:
            sites.create_site(session, "second")
        assert reading.scalar(COUNT) == before == 1  # as at its first read
    with hq.read() as reading:
        assert reading.scalar(COUNT) == 2


def test_on_postgresql_a_plain_read_sees_each_commit_at_once(pg_url: str) -> None:
    """Why the snapshot is needed there: :meth:`Database.read` runs each statement alone."""
    upgrade(pg_url)
    database = Database(pg_url)
    try:
        with database.read() as reading:
            before = reading.scalar(COUNT)
            with database.session() as session:
                sites.create_site(session, "late")
            assert reading.scalar(COUNT) == (before or 0) + 1
    finally:
        database.dispose()
