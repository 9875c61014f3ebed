"""The prices and print scripts HQ has published, each version kept for ever, so that a
site's offline charge can be explained by what the site had replicated (domain/charges.py).

Recorded where they are written: every save of a printer or device (``store/printers.py``)
and every write of a print script setting (``store/settings.py``), whatever the path.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from printwarden.domain.charges import prices_digest, script_digest
from printwarden.domain.costs import CostModel
from printwarden.store.models import PublishedVersionRow
from printwarden.store.users import now

SCRIPTS = "scripts"  # the setting of the print scripts: "scripts", "scripts.printer.<name>"
_PER_PRINTER = f"{SCRIPTS}.printer."
_TABLE = cast(Table, PublishedVersionRow.__table__)


def record_prices(session: Session, kind: str, name: str, model: CostModel, data: Any) -> None:
    """``model`` (stored as ``data``) is now what printer or device (``kind``) ``name``
    charges."""
    _record(session, kind, name, prices_digest(model), data)


def record_setting(session: Session, key: str, value: dict[str, Any]) -> None:
    """A setting was written: if it is a print script, its source is now published."""
    if key == SCRIPTS:
        printer = ""
    elif key.startswith(_PER_PRINTER):
        printer = key.removeprefix(_PER_PRINTER)
    else:
        return
    if value.get("source"):
        _record(session, "script", printer, script_digest(str(value["source"])), {})


def _record(session: Session, kind: str, subject: str, digest: str, content: Any) -> None:
    values = {"kind": kind, "subject": subject, "digest": digest, "content": content,
              "published_at": now()}  # fmt: skip
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(_TABLE).values(values).on_conflict_do_nothing())


def versions(session: Session, kind: str, subjects: Collection[str]) -> dict[str, dict[str, Any]]:
    """Every published version of ``kind`` for ``subjects``: ``{subject: {digest: content}}``."""
    found: dict[str, dict[str, Any]] = {}
    if not subjects:
        return found
    rows = session.execute(
        select(PublishedVersionRow.subject, PublishedVersionRow.digest, PublishedVersionRow.content)
        .where(PublishedVersionRow.kind == kind, PublishedVersionRow.subject.in_(subjects))
        .order_by(PublishedVersionRow.id)
    )
    for subject, digest, content in rows:
        found.setdefault(subject, {})[digest] = content
    return found
