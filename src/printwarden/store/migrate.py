"""Run Alembic migrations from code (``printwarden db upgrade``) and check them.

Alembic (with Mako and Pygments) loads only to migrate or to read a database's revision:
the schema's head, which every App Server names in its answers to sites and every Site
Server checks, is read from the scripts' own ``revision`` lines (:func:`head_revision`).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from printwarden.store.db import Database, make_engine, normalize_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def upgrade_if_behind(url: str) -> bool:
    """Bring the database at ``url`` up to the head unless it is there already (read
    without Alembic: a server starting on a current database never loads it); whether it
    upgraded."""
    if _stored_revisions(url) == {head_revision()}:
        return False
    upgrade(url)
    return True


def _stored_revisions(url: str) -> set[str]:
    """What the database's ``alembic_version`` holds (empty: none, or no such table)."""
    engine = make_engine(url)  # a new SQLite file is made private, as always
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return {str(row[0]) for row in rows}
    except DBAPIError:  # no schema yet
        return set()
    finally:
        engine.dispose()


@cache
def head_revision() -> str | None:
    """The newest migration's revision: the one no script names as its ``down_revision``
    (read from the scripts' text, without running them; as Alembic, an error if two are)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        names = _assigned(path)
        if "revision" in names:
            revisions.add(str(names["revision"]))
            down = names.get("down_revision")  # None, one revision, or a merge's several
            if isinstance(down, str):
                parents.add(down)
            elif isinstance(down, tuple | list):
                parents.update(str(d) for d in down)
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {sorted(heads)}")
    return next(iter(heads), None)


_NAMES = ("revision", "down_revision")


def _assigned(path: Path) -> dict[str, object]:
    """The literal values a script assigns to ``revision`` and ``down_revision``."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id in _NAMES and value is not None:
            found[target.id] = ast.literal_eval(value)
    return found


def current_revision(database: Database) -> str | None:
    from alembic.migration import MigrationContext

    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
