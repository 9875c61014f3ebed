"""Pooled PostgreSQL connections that died while idle are replaced, not handed out."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import text

from printwarden.store import db


def test_a_connection_killed_while_idle_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.05)
    database = db.Database(pg_url)
    try:
        with database.engine.connect() as connection:
            first_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
        time.sleep(0.1)
        with database.engine.connect() as connection:
            second_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second_pid != first_pid
    finally:
        database.dispose()


def test_a_read_after_an_idle_spell_works(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The idle ping must not leave a transaction open: read sessions run in autocommit, which
    cannot be switched on inside one ("can't change 'autocommit' now")."""
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.05)
    database = db.Database(pg_url)
    try:
        for _ in range(3):
            with database.read() as session:
                assert session.execute(text("SELECT 1")).scalar_one() == 1
            time.sleep(0.1)  # idle long enough to be pinged at the next checkout
        with database.session() as session:
            assert session.execute(text("SELECT 2")).scalar_one() == 2
    finally:
        database.dispose()
