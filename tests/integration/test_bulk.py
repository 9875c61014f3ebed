"""Batches written and looked up through ``store.bulk`` come back exactly as given, whatever
their text holds (PostgreSQL receives them as array literals it parses itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select

from printwarden.store import bulk
from printwarden.store.db import Database
from printwarden.store.models import JournalEntryRow

APPLIED = cast(Table, JournalEntryRow.__table__)
AWKWARD = [
    'say "hi"',
    "back\\slash",
    '\\"',
    "a,b",
    "{braces}",
    "NULL",
    "",
    "  spaces  ",
    "line\nbreak",
    "ünïcødé €",
    '","',
]


def columns_of(outcomes: list[str], start: datetime) -> dict[str, list[Any]]:
    count = len(outcomes)
    return {
        "entry_id": [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)],
        "site": ["north"] * count,  # one value for all: sent once
        "kind": ["printed" if n % 2 else "usage" for n in range(count)],
        "outcome": outcomes,
        "applied_at": [start + timedelta(seconds=n) for n in range(count)],
    }


def test_awkward_text_and_times_round_trip(hq: Database) -> None:
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    columns = columns_of(AWKWARD, start)
    with hq.session() as session:
        bulk.insert_columns(session, APPLIED, columns)
    with hq.session() as session:
        wanted = [*columns["outcome"][:5], "not there"]
        rows = session.execute(
            select(JournalEntryRow.outcome, JournalEntryRow.applied_at, JournalEntryRow.site)
            .where(bulk.among(session, JournalEntryRow.outcome, wanted))
            .order_by(JournalEntryRow.entry_id)
        ).all()
        everything = session.scalars(
            select(JournalEntryRow.outcome).order_by(JournalEntryRow.entry_id)
        ).all()
    assert list(everything) == AWKWARD
    assert [r.outcome for r in rows] == AWKWARD[:5]
    assert {r.site for r in rows} == {"north"}
    assert [r.applied_at.astimezone(UTC) for r in rows] == columns["applied_at"][:5]


def test_a_single_row_and_identical_rows(hq: Database) -> None:
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    with hq.session() as session:
        bulk.insert_columns(session, APPLIED, columns_of(["only"], start))
    with hq.session() as session:
        found = session.scalars(
            select(JournalEntryRow.outcome).where(bulk.among(session, JournalEntryRow.outcome, []))
        ).all()
        one = session.scalar(select(JournalEntryRow.outcome))
    assert (list(found), one) == ([], "only")


def test_literals() -> None:
    assert bulk.text_literal([]) == "{}"
    assert bulk.text_literal(["a", "b"]) == '{"a","b"}'
    assert bulk.text_literal(['q"', None, "b\\"]) == '{"q\\"",NULL,"b\\\\"}'
    assert bulk.literal([1, None, True]) == "{1,NULL,1}"


def test_a_lookup_reads_its_array_once(hq: Database) -> None:
    """PostgreSQL plans ``= ANY`` over the array itself: a text parameter cast to an array
    would be converted again for every row compared (a 5,000-id lookup took 18 s)."""
    if hq.is_sqlite:
        return  # an IN list of parameters
    with hq.session() as session:
        wanted = bulk.among(session, JournalEntryRow.outcome, ["a", "b"])
        statement = select(JournalEntryRow.entry_id).where(wanted)
        compiled = statement.compile(session.get_bind())
        explain = f"EXPLAIN VERBOSE {compiled}"
        plan = session.connection().exec_driver_sql(explain, compiled.params).scalars()
        described = "\n".join(plan)
    assert "ANY ('{a,b}'::text[])" in described, described  # a constant
    assert "cstring" not in described, described
