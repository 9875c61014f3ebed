"""Alembic migrations on SQLite and PostgreSQL: upgrade, downgrade, and agreement with models."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DatabaseError

from printwarden.store import printers, users
from printwarden.store.db import Database
from printwarden.store.migrate import alembic_config, current_revision, head_revision, upgrade
from printwarden.store.models import Base, ChangeCounter, UserRow

CLI_TIMEOUT = 120


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def schema_differences(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def table_names(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def counter_rows(db: Database) -> list[tuple[int, int]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(ChangeCounter.id, ChangeCounter.value))
        return [(row.id, row.value) for row in rows]


def test_upgrade_from_empty_reaches_head(db: Database, database_url: str) -> None:
    head = head_revision()
    assert head is not None
    assert current_revision(db) is None
    assert not set(Base.metadata.tables) & table_names(db)

    upgrade(database_url)

    assert current_revision(db) == head
    assert set(Base.metadata.tables) <= table_names(db)
    upgrade(database_url)  # a second upgrade is a no-op
    assert current_revision(db) == head


def test_models_match_the_migrations(db: Database, database_url: str) -> None:
    upgrade(database_url)
    assert schema_differences(db) == []


def test_the_change_counter_starts_at_zero(db: Database, database_url: str) -> None:
    upgrade(database_url)
    assert counter_rows(db) == [(1, 0)]


def test_downgrade_to_base_then_upgrade_again(db: Database, database_url: str) -> None:
    upgrade(database_url)
    command.downgrade(alembic_config(database_url), "base")
    assert current_revision(db) is None
    assert table_names(db) <= {"alembic_version"}

    upgrade(database_url)
    assert current_revision(db) == head_revision()
    assert schema_differences(db) == []
    assert counter_rows(db) == [(1, 0)]


@pytest.mark.parametrize("table", ["users", "accounts", "printers"])
def test_rows_the_ledger_names_are_never_deleted(
    db: Database, database_url: str, table: str
) -> None:
    """The ledger and job log hold their ids without foreign keys (0007): DELETE is refused,
    the soft delete (what the application does) still works, and the row stays."""
    upgrade(database_url)
    with db.session() as session:
        user = users.create_user(session, b"k" * 32, "kept", users.UserChanges())
        printers.save_printer(session, "kept", {"cost_model": {}}, create=True)
    with pytest.raises(DatabaseError, match="never deleted"), db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (a parameter of this test)
    with db.session() as session:
        users.delete_user(session, session.get(UserRow, user.id) or user)
        printers.delete_printer(session, printers.find_printer(session, "kept"))
    with db.engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() >= 1  # noqa: S608


def test_0009_stamps_passwords_and_leaves_older_cards_unsealed(
    db: Database, database_url: str
) -> None:
    """Rows from before per-site keys: a password gets a stamp (its web sessions end once),
    a card and an identity number keep working at HQ but have no sealed number, a site
    starts at key generation 1."""
    upgrade(database_url, "0008")
    now = "2026-11-30 10:00:00"
    with db.engine.begin() as conn:
        for name, password in (("old-pw", "$argon2id$v=19$m=1,t=1,p=1$x$y"), ("old-none", None)):
            conn.execute(text(
                "INSERT INTO users (username, full_name, email, is_admin, enabled, source, "
                "identity_hash, password_hash, created_at, updated_at, change_seq) VALUES "
                "(:u, '', '', false, true, 'internal', :i, :p, :t, :t, 1)"
            ), {"u": name, "i": f"id-{name}", "p": password, "t": now})  # fmt: skip
        card = ("INSERT INTO user_cards (card_hash, user_id, change_seq) "
                "SELECT 'card-hash', id, 1 FROM users WHERE username = 'old-pw'")  # fmt: skip
        conn.execute(text(card))
        site = ("INSERT INTO sites (name, description, forced_offline, status, created_at) "
                "VALUES ('old-site', '', false, '{}', :t)")  # fmt: skip
        conn.execute(text(site), {"t": now})
    upgrade(database_url)
    with db.engine.connect() as conn:
        stamps: dict[str, str | None] = dict(
            conn.execute(text("SELECT username, password_stamp FROM users")).all()
        )
        sealed = conn.execute(text("SELECT sealed FROM user_cards")).scalar_one()
        identities = conn.execute(text("SELECT COUNT(identity_sealed) FROM users")).scalar_one()
        generation = conn.execute(text("SELECT key_generation FROM sites")).scalar_one()
    assert len(stamps["old-pw"] or "") == 16
    assert stamps["old-none"] is None
    assert (sealed, identities, generation) == (None, 0, 1)


def test_0013_gives_older_print_urls_a_change_number_sites_have_not_seen(
    db: Database, database_url: str
) -> None:
    """Print URLs made before they replicated get one new change number above the counter,
    so a site already at the counter's value pulls them next."""
    upgrade(database_url, "0012")
    now = "2026-12-05 10:00:00"
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, full_name, email, is_admin, enabled, source, "
            "created_at, updated_at, change_seq) VALUES "
            "('old-url', '', '', false, true, 'internal', :t, :t, 7)"
        ), {"t": now})  # fmt: skip
        conn.execute(text("UPDATE change_counter SET value = 7 WHERE id = 1"))
        conn.execute(text(
            "INSERT INTO print_tokens (user_id, token_hash, label, created_at) "
            "SELECT id, :h, 'phone', :t FROM users WHERE username = 'old-url'"
        ), {"h": "a" * 64, "t": now})  # fmt: skip
    upgrade(database_url)
    with db.engine.connect() as conn:
        seq = conn.execute(text("SELECT change_seq FROM print_tokens")).scalar_one()
    assert counter_rows(db) == [(1, 8)]
    assert seq == 8


def test_the_history_is_linear() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = scripts.get_heads()
    assert heads == [head_revision()]
    assert len(scripts.get_bases()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions
    for revision in revisions:
        down = revision.down_revision
        assert down is None or isinstance(down, str), (revision.revision, down)
        assert not revision.branch_labels
    # Following down_revision from the head visits every revision, each once, ending at base.
    chain: list[str] = []
    current: str | None = heads[0]
    while current is not None:
        assert current not in chain
        chain.append(current)
        script = scripts.get_revision(current)
        assert script is not None
        down = script.down_revision
        assert down is None or isinstance(down, str)
        current = down
    assert sorted(chain) == sorted(r.revision for r in revisions)


def test_db_upgrade_cli_creates_the_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTWARDEN_")}
    env["PRINTWARDEN_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "printwarden", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    database_file = data_dir / "printwarden.db"
    assert database_file.is_file()
    database = Database(f"sqlite:///{database_file}")
    try:
        assert current_revision(database) == head_revision()
        assert counter_rows(database) == [(1, 0)]
    finally:
        database.dispose()
