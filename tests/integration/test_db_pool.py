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
