"""Several sites' journal uploads applied together (SQLite and PostgreSQL): each answered as
if the uploads had come one after the other, with the statements of one upload; uploads
that cannot go together refuse to, and held jobs are marked printed only by a site that may
speak for their provider."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from printwarden.domain.ids import new_id
from printwarden.store import held_jobs
from printwarden.store.db import Database
from printwarden.store.models import AccountRow
from printwarden.store.providers import register
from printwarden.usecases import journal
from support.journal_entries import furnish, held_job, held_report, person, printed, usage


@pytest.fixture
def hq(hq: Database) -> Database:
    """The conftest's HQ database, with the printer and the MFD the journals name."""
    return furnish(hq)


def copied(username: str, account_id: int, usage_id: str) -> dict[str, Any]:
    return usage(username, account_id, usage_id, 5)


def balance(hq: Database, account_id: int) -> int:
    with hq.read() as session:
        row = session.get(AccountRow, account_id)
        assert row is not None
        return row.balance


def statuses(report: journal.Report) -> list[tuple[str, str]]:
    return [(r["status"], r["detail"]) for r in report.results]


def test_uploads_together_are_answered_as_one_after_the_other(hq: Database) -> None:
    """A usage id and a print's transaction id sent by two sites are charged once, to the
    first upload; a rejected entry is its own upload's; each report counts its own."""
    alice, alices = person(hq)
    bob, bobs = person(hq)
    job = printed(alice)
    copy = copied(alice, alices, new_id())
    north = [job, copy]
    south = [{**copy, "id": new_id()}, printed(bob, pages=3), printed(bob, printer="gone")]
    east = [{**job, "id": new_id(), "body": {**job["body"], "username": bob}}]
    uploads = [journal.Upload("north", north), journal.Upload("south", south),
               journal.Upload("east", east)]  # fmt: skip
    with hq.session() as session:
        first, second, third = journal.apply_uploads(session, uploads)
    assert statuses(first) == [("applied", "charged $0.20"), ("applied", "charged $0.05")]
    assert statuses(second) == [
        ("applied", "already in the ledger"),
        ("applied", "charged $0.30"),
        ("rejected", "unknown printer 'gone'"),
    ]
    assert statuses(third) == [("applied", "already in the ledger")]
    assert (first.amounts, second.amounts, third.amounts) == (
        {"print": 20, "copy": 5}, {"print": 30}, {}
    )  # fmt: skip
    assert [r["id"] for r in second.rejected] == [south[2]["id"]]
    assert (first.touched_accounts, second.touched_accounts) == ({alices}, {bobs})
    assert (balance(hq, alices), balance(hq, bobs)) == (975, 970)
    # Sent again, together or alone, each entry is already applied, with its outcome.
    with hq.session() as session:
        again = journal.apply_uploads(session, uploads[:2])
    assert [r["status"] for r in again[0].results] == ["already-applied"] * 2
    assert [r["status"] for r in again[1].results] == ["already-applied"] * 2 + ["rejected"]
    assert (balance(hq, alices), balance(hq, bobs)) == (975, 970)


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    """The SQL statements the database runs inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = database.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_ten_uploads_together_take_the_statements_of_one(hq: Database) -> None:
    people = [person(hq) for _ in range(10)]

    def upload(site: str) -> journal.Upload:
        entries = [printed(name) for name, _ in people]
        entries += [copied(name, account, new_id()) for name, account in people]
        return journal.Upload(site, entries)

    with counting(hq) as alone, hq.session() as session:
        journal.apply_uploads(session, [upload("north")])
    with counting(hq) as together, hq.session() as session:
        reports = journal.apply_uploads(session, [upload(f"site-{n}") for n in range(10)])
    assert [r.amounts for r in reports] == [{"print": 200, "copy": 50}] * 10
    assert len(together) <= len(alone), (len(together), len(alone))


def test_uploads_naming_the_same_entry_do_not_go_together(hq: Database) -> None:
    name, _ = person(hq)
    entry = printed(name)
    with hq.session() as session, pytest.raises(journal.SharedEntries):
        journal.apply_uploads(
            session, [journal.Upload("north", [entry]), journal.Upload("south", [entry])]
        )
    with hq.session() as session:  # one after the other, the second finds it applied
        (first,) = journal.apply_uploads(session, [journal.Upload("north", [entry])])
        (second,) = journal.apply_uploads(session, [journal.Upload("south", [entry])])
    assert (first.applied, second.already_applied) == (1, 1)


def test_a_held_job_is_marked_printed_only_by_a_group_that_speaks_for_its_provider(
    hq: Database,
) -> None:
    name, _ = person(hq)
    (mine, my_provider), (theirs, _their_provider) = held_job(hq, name), held_job(hq, name)
    with hq.session() as session:
        held_jobs.mark_printed_many(
            session,
            [([mine, theirs], lambda: frozenset()), ([mine], lambda: frozenset({my_provider}))],
        )
    with hq.read() as session:
        assert held_jobs.find(session, mine).status == "printed"
        assert held_jobs.find(session, theirs).status == "held"


def test_a_job_held_in_one_upload_and_printed_in_another_ends_printed(hq: Database) -> None:
    """As one after the other: the first upload's held report makes the held job, the
    second's charge marks it printed (charges go before held-job entries in a group too)."""
    name, _ = person(hq)
    ref, provider = str(uuid.uuid4()), f"p-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        register(session, provider, ipp_url="ipp://x", control_url="", queues=[], printers=[])
    job = printed(name)
    job["body"]["job_ref"] = ref
    uploads = [
        journal.Upload(
            "north",
            [{"id": new_id(), "kind": "held-report", "body": held_report(provider, ref, name)}],
        ),
        journal.Upload("north", [job]),
    ]
    with hq.session() as session:
        first, second = journal.apply_uploads(session, uploads)
    assert (first.rejected, second.rejected) == ([], [])
    assert second.amounts == {"print": 20}
    with hq.read() as session:
        assert held_jobs.find(session, ref).status == "printed"
