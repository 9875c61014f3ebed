"""The schema's head revision, read from the migration scripts' text: the one Alembic finds,
without loading Alembic (every App Server names it to sites, every Site Server checks it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from printwarden.store import migrate


def test_the_head_is_alembics() -> None:
    alembics = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert migrate.head_revision() == alembics


def test_reading_the_head_loads_no_alembic() -> None:
    program = (
        "import sys\nfrom printwarden.store.migrate import head_revision\n"
        "print(head_revision(), 'alembic' in sys.modules, 'mako' in sys.modules)\n"
    )
    found = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           timeout=60, check=True).stdout.split()  # fmt: skip
    assert found == [migrate.head_revision(), "False", "False"]


def script(versions: Path, revision: str, down: str | None, annotated: bool = True) -> None:
    kind = ": str" if annotated else ""
    text = f'"""A migration."""\nrevision{kind} = {revision!r}\ndown_revision = {down!r}\n'
    (versions / f"{revision}_step.py").write_text(text, encoding="utf-8")


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "versions").mkdir()
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    migrate.head_revision.cache_clear()
    yield tmp_path / "versions"
    migrate.head_revision.cache_clear()


def test_the_head_is_the_revision_no_script_follows(versions: Path) -> None:
    script(versions, "0001", None)
    script(versions, "0002", "0001", annotated=False)
    script(versions, "0003", "0002")
    assert migrate.head_revision() == "0003"


def test_two_heads_are_an_error(versions: Path) -> None:
    script(versions, "0001", None)
    script(versions, "0002", "0001")
    script(versions, "0003", "0001")
    with pytest.raises(RuntimeError, match="several heads"):
        migrate.head_revision()


def test_no_scripts_no_head(versions: Path) -> None:
    assert migrate.head_revision() is None


def test_a_merge_follows_both_of_its_revisions(versions: Path) -> None:
    script(versions, "0001", None)
    script(versions, "0002", "0001")
    script(versions, "0003", "0001")
    (versions / "0004_merge.py").write_text(
        'revision = "0004"\ndown_revision = ("0002", "0003")\n', encoding="utf-8"
    )
    assert migrate.head_revision() == "0004"


def test_a_server_starting_on_a_current_database_loads_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert migrate.upgrade_if_behind(url) is True  # a new database: upgraded
    assert (tmp_path / "app.db").stat().st_mode & 0o777 == 0o600
    program = (
        "import sys\nfrom printwarden.store.migrate import upgrade_if_behind\n"
        f"print(upgrade_if_behind({url!r}), 'alembic' in sys.modules)\n"
    )
    found = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           timeout=60, check=True).stdout.split()  # fmt: skip
    assert found == ["False", "False"]  # current: nothing to do, and no Alembic for it
