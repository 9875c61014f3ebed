"""Statements over thousands of rows whose SQL text does not grow with the batch.

On PostgreSQL a batch travels as one array parameter per column (``unnest``, ``= ANY``), not
as one placeholder per value. The SQL is then the same for every batch size, so SQLAlchemy
compiles it once, psycopg parses it once (it re-parses every query longer than 4 kB, which a
1,000-row INSERT or IN list is), and the server can prepare it. SQLite keeps executemany
(in process it costs nothing of the kind); its IN lists of strings or integers go as one
JSON array (``json_each``), which spares SQLAlchemy a parameter per value.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    TextClause,
    any_,
    bindparam,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_BINARY_LISTS = "printwarden.binary_lists"
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_DEFAULT_PLANS = text("SET LOCAL plan_cache_mode TO DEFAULT")


def uses_arrays(session: Session) -> bool:
    """Whether batches travel as arrays (PostgreSQL). If so, the session's connection now
    sends Python lists in binary: psycopg's text format quotes every element through a
    regular expression, seven times slower for a 1,000-string array."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    pooled = session.connection().connection
    if not pooled.info.get(_BINARY_LISTS):
        # loaded on first use: a server on SQLite never carries psycopg
        from psycopg.types.array import ListBinaryDumper

        driver: Any = pooled.driver_connection
        driver.adapters.register_dumper(list, ListBinaryDumper)
        pooled.info[_BINARY_LISTS] = True
    return True


def among(session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL (see :func:`custom_plans`);
    on SQLite, strings or integers as one JSON array parameter that ``json_each`` reads
    (SQLAlchemy expands an IN list into a parameter per value in Python, 40 % slower for
    4,000 ids; SQLite still searches the column's index for each)."""
    if not uses_arrays(session):
        listed = list(values)
        if not _json_listable(listed):
            return column.in_(listed)  # type: ignore[no-any-return]
        given = func.json_each(bindparam(None, json.dumps(listed))).table_valued("value")
        return column.in_(select(given.c.value))  # type: ignore[no-any-return]
    array_type = postgresql.ARRAY(column.type)
    found = array_value(column.type, list(values))
    if isinstance(found, str):
        # Untyped, so the server reads the literal as the array itself, once; a text
        # parameter cast to an array is converted again for every row it is compared with.
        parameter: Any = cast(bindparam(None, found, type_=NullType()), array_type)
    else:
        parameter = bindparam(None, found, type_=array_type)
    return column == any_(parameter)  # type: ignore[no-any-return]


@contextmanager
def custom_plans(session: Session) -> Iterator[None]:
    """PostgreSQL: plan the reads inside for their own arrays.

    Once psycopg has prepared a statement, PostgreSQL may switch to a generic plan, blind to
    the array: with the statistics of a table just filled it compared each of 1,000 users
    with each of 800 names (25 ms, instead of 0.2 ms for the hashed lookup of a custom plan).
    Only around reads: foreign-key checks would then be planned for every row they check.
    """
    if not uses_arrays(session):
        yield
        return
    session.execute(_CUSTOM_PLANS)
    try:
        yield
    finally:
        session.execute(_DEFAULT_PLANS)


@cache
def _unnest_insert(
    table: Table, columns: tuple[str, ...], varying: tuple[str, ...], suffix: str
) -> TextClause:
    """The columns not ``varying`` take one value for every row (a parameter of their own)."""
    quote = _PG.identifier_preparer.quote

    def sql_type(name: str) -> str:
        return str(table.c[name].type.compile(dialect=_PG))

    arrays = ", ".join(f"CAST(:{name} AS {sql_type(name)}[])" for name in varying)
    values = ", ".join(
        f"u.{quote(name)}" if name in varying else f"CAST(:{name} AS {sql_type(name)})"
        for name in columns
    )
    names = ", ".join(quote(name) for name in columns)
    aliases = ", ".join(quote(name) for name in varying)
    # Identifiers and types come from our own table metadata, never from input.
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) SELECT {values}"  # noqa: S608
        f" FROM unnest({arrays}) AS u({aliases}) {suffix}"
    )
    return text(sql)


def array_value(type_: Any, values: list[Any]) -> Any:
    """``values`` as the parameter of a PostgreSQL array of ``type_``: integers, booleans,
    strings and times as the text of an array literal (``{1,NULL}``, ``{"a","b"}``), which
    the server parses; psycopg would walk the list twice in Python, element by element, to
    find its type and then dump it — most of the cost of sending a batch. Other values as
    the list."""
    python_type = _python_type(type_)
    if python_type in (int, bool):
        return literal(values)
    if python_type is str:
        return text_literal(values)
    if python_type is datetime:
        if None in values:
            return text_literal([None if v is None else v.isoformat() for v in values])
        return text_literal(list(map(datetime.isoformat, values)))
    return values


def literal(values: list[Any]) -> str:
    """A PostgreSQL array literal of integers or booleans (``None``: NULL)."""
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"
    return "{" + ",".join(map(str, map(int, values))) + "}"


def text_literal(values: list[str | None]) -> str:
    """A PostgreSQL array literal of strings, each quoted (``None``: NULL)."""
    if not values:
        return "{}"
    if None not in values:
        joined = '","'.join(values)  # type: ignore[arg-type]
        # Nothing to escape (only the separators' quotes): all done in C.
        if joined.count('"') == 2 * (len(values) - 1) and "\\" not in joined:
            return '{"' + joined + '"}'
    return "{" + ",".join(_quoted(v) for v in values) + "}"


def _quoted(value: str | None) -> str:
    if value is None:
        return "NULL"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _executemany(session: Session, table: Table, columns: Mapping[str, list[Any]]) -> None:
    """SQLite: the driver's own executemany, each column through its type's bind processor
    once, as a whole (SQLAlchemy's per-row parameter handling costs more than SQLite's
    insert here)."""
    dialect = session.get_bind().dialect
    values = []
    for name, column in columns.items():
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values.append(column if process is None else [_or_none(process, v) for v in column])
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    # Table and column names come from our own metadata, never from input.
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
    driver: Any = session.connection().connection.driver_connection
    driver.executemany(sql, list(zip(*values, strict=True)))


def _json_listable(values: list[Any]) -> bool:
    """Whether ``values`` (some) are all strings or all integers (not booleans: JSON's
    ``true`` is not SQLite's 1 to every comparison)."""
    if not values:
        return False
    kind = type(values[0])
    return kind in (str, int) and all(type(v) is kind for v in values)


def _or_none(process: Any, value: Any) -> Any:
    return None if value is None else process(value)


def _python_type(type_: Any) -> type | None:
    try:
        found: type = type_.python_type
    except NotImplementedError:
        return None
    return found


def insert_columns(session: Session, table: Table, columns: Mapping[str, list[Any]]) -> None:
    """Insert rows given column by column (lists of one length): on PostgreSQL in one
    statement (:func:`insert_arrays`), on SQLite with the driver's executemany."""
    if uses_arrays(session):
        insert_arrays(session, table, columns)
    else:
        _executemany(session, table, columns)


def insert_arrays(
    session: Session, table: Table, columns: Mapping[str, list[Any]], suffix: str = ""
) -> CursorResult[Any]:
    """PostgreSQL: insert rows given column by column in one statement, one array per
    column, except that a column holding one value for every row (a batch's origin, its
    time) travels once; ``suffix`` (``ON CONFLICT …``, ``RETURNING …``) ends the statement."""
    params: dict[str, Any] = {}
    varying: list[str] = []
    for name, values in columns.items():
        if values and values.count(values[0]) == len(values):
            params[name] = values[0]
        else:
            varying.append(name)
            params[name] = array_value(table.c[name].type, values)
    if not varying:  # one row, or all alike: unnest needs one array
        first = next(iter(columns))
        varying.append(first)
        params[first] = array_value(table.c[first].type, columns[first])
    statement = _unnest_insert(table, tuple(columns), tuple(varying), suffix)
    return session.connection().execute(statement, params)
