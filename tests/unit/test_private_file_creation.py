"""Private files: made 0600 without disturbing a SQLite database this process has open."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from printwarden.files import private_file, private_sqlite


def test_a_missing_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    path = private_file(tmp_path / "secret")
    assert path.read_bytes() == b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_tightened_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("kept")
    path.chmod(0o644)
    private_file(path)
    assert path.read_text() == "kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_open_database_is_never_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing any descriptor of a database file drops this process's POSIX locks on it,
    those of its open SQLite connections too: a second ``Database`` over the same file (the
    in-process tests' seeding beside the app) corrupted it."""
    path = tmp_path / "db.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x)")
    opened: list[str] = []
    real_open = os.open

    def recording_open(name: str, flags: int, *args: int) -> int:
        fd = real_open(name, flags, *args)
        opened.append(str(name))
        return fd

    monkeypatch.setattr(os, "open", recording_open)
    private_sqlite(path)
    connection.close()
    assert str(path) not in opened
