"""``store.bulk.among`` on SQLite: strings or integers as one JSON array, anything else as
an IN list; the same rows either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session

from printwarden.store import bulk

_META = MetaData()
THINGS = Table(
    "things", _META, Column("id", Integer, primary_key=True), Column("name", String),
    Column("flag", Boolean),
)  # fmt: skip


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    _META.create_all(engine)
    with Session(engine) as session:
        session.execute(THINGS.insert(), [{"id": n, "name": f"n{n}", "flag": n % 2 == 0}
                                          for n in range(1, 101)])  # fmt: skip
        yield session
    engine.dispose()


def ids_where(session: Session, column: Any, values: list[Any]) -> tuple[list[int], str]:
    statement = select(THINGS.c.id).where(bulk.among(session, column, values))
    sql = str(statement.compile(session.get_bind()))
    return sorted(session.execute(statement).scalars()), sql


def test_strings_and_integers_go_as_one_json_array(session: Session) -> None:
    found, sql = ids_where(session, THINGS.c.name, ["n3", "n7", "nobody", 'n"q'])
    assert found == [3, 7]
    assert "json_each" in sql
    found, sql = ids_where(session, THINGS.c.id, [5, 99, 1000])
    assert found == [5, 99]
    assert "json_each" in sql


@pytest.mark.parametrize(
    ("values", "expected"), [([True], list(range(2, 101, 2))), ([], [])], ids=["bool", "none"]
)
def test_anything_else_is_an_in_list(
    session: Session, values: list[Any], expected: list[int]
) -> None:
    found, sql = ids_where(session, THINGS.c.flag, values)
    assert found == expected
    assert "json_each" not in sql


def test_mixed_kinds_are_an_in_list(session: Session) -> None:
    found, sql = ids_where(session, THINGS.c.id, [4, "8"])
    assert "json_each" not in sql
    assert found == [4, 8]
