"""The site's replica: a local SQLite database with the App Server's schema, kept up to date
from the "changes since N" feed, with N stored in the same transaction as the changes it
covers (so a crash at any point resumes exactly where the replica is)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, delete, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from printwarden.store.db import Database
from printwarden.store.migrate import head_revision, upgrade
from printwarden.store.models import (
    AccountGrantRow,
    AccountRow,
    ApiTokenRow,
    Base,
    CardRow,
    DeviceRow,
    GroupRow,
    HeldJobRow,
    MembershipRow,
    PrinterRow,
    ProviderRow,
    ReleaseDelegateRow,
    SettingRow,
    UserRow,
)

REPLICATING = "printwarden.replicating"
STATE_TABLE = """
CREATE TABLE IF NOT EXISTS site_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""
_READ_SEQ = text("SELECT value FROM site_state WHERE key = 'seq'")
SAVE_SEQ = text(
    "INSERT INTO site_state (key, value) VALUES ('seq', :v) "
    "ON CONFLICT (key) DO UPDATE SET value = :v"
)
_PLAIN: dict[str, type[Base]] = {
    "group": GroupRow,
    "printer": PrinterRow,
    "device": DeviceRow,
    "provider": ProviderRow,
    "token": ApiTokenRow,
}


class SchemaMismatch(Exception):
    """The App Server's schema differs from this site's: nothing was applied."""


class Replica:
    """The local database and the sequence number it has reached."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
        upgrade(url)
        self.database = Database(url, durable=True)
        with self.database.session() as session:
            session.execute(text(STATE_TABLE))

    def close(self) -> None:
        self.database.dispose()

    def seq(self) -> int:
        with self.database.read() as session:
            value = session.execute(_READ_SEQ).scalar_one_or_none()
        return int(value or 0)

    def apply(
        self, schema_revision: str, since: int, upto: int, entities: list[dict[str, Any]]
    ) -> bool:
        """Apply one page of the feed (asked for ``since``) and move N to ``upto``, all in one
        transaction. A page that no longer follows N (another thread applied one meanwhile)
        is dropped: False."""
        if schema_revision != head_revision():
            raise SchemaMismatch(
                f"the App Server's schema is {schema_revision!r}, this site's is "
                f"{head_revision()!r}: upgrade the older one; nothing was applied"
            )
        with self.database.session() as session:
            session.info[REPLICATING] = True  # not an offline effect: not journaled
            current = session.execute(_READ_SEQ).scalar_one_or_none()
            if int(current or 0) != since:
                return False
            session.execute(text("PRAGMA defer_foreign_keys = ON"))
            _users_in_bulk(session, [e for e in entities if e["entity"] == "user"])
            _accounts_in_bulk(session, [e for e in entities if e["entity"] == "account"])
            for entity in entities:
                if entity["entity"] not in ("user", "account"):
                    _apply(session, entity)
            session.execute(SAVE_SEQ, {"v": str(upto)})
        return True


def _apply(session: Session, entity: dict[str, Any]) -> None:
    kind, row = str(entity["entity"]), dict(entity["row"])
    seq = int(entity["seq"])
    if kind in _PLAIN:
        _merge(session, _PLAIN[kind], row, seq)
    elif kind == "setting":
        _merge(session, SettingRow, row, seq)
    elif kind == "held_job":
        _held_job(session, row, seq)


def _upsert(session: Session, model: type[Base], entities: list[dict[str, Any]]) -> list[int]:
    """Insert or replace the rows of ``entities`` in one executemany; their ids."""
    rows = []
    for entity in entities:
        values = _typed(model, entity["row"])
        values["change_seq"] = int(entity["seq"])
        rows.append(values)
    statement = sqlite_insert(model)
    columns = [c.key for c in model.__table__.columns if c.key != "id"]
    statement = statement.on_conflict_do_update(
        index_elements=["id"], set_={c: statement.excluded[c] for c in columns}
    )
    for start in range(0, len(rows), 2000):
        session.execute(statement, rows[start : start + 2000])
    return [int(row["id"]) for row in rows]


def _replace_children(
    session: Session, model: type[Base], key: Any, ids: list[int], rows: list[dict[str, Any]]
) -> None:
    for start in range(0, len(ids), 2000):
        session.execute(delete(model).where(key.in_(ids[start : start + 2000])))
    for start in range(0, len(rows), 2000):
        session.execute(sqlite_insert(model), rows[start : start + 2000])


def _users_in_bulk(session: Session, entities: list[dict[str, Any]]) -> None:
    """Users with their cards, groups and delegates: a whole page in a few statements (an
    initial sync of 100,000 users must not cost a round of statements per user)."""
    if not entities:
        return
    ids = _upsert(session, UserRow, entities)
    cards, members, delegates = [], [], []
    for entity in entities:
        user_id, seq = int(entity["row"]["id"]), int(entity["seq"])
        cards += [{"card_hash": h, "user_id": user_id, "change_seq": seq} for h in entity["cards"]]
        members += [{"user_id": user_id, "group_id": g, "change_seq": seq}
                    for g in entity["group_ids"]]  # fmt: skip
        delegates += [{"owner_id": user_id, "delegate_id": d, "change_seq": seq}
                      for d in entity["delegate_ids"]]  # fmt: skip
    _replace_children(session, CardRow, CardRow.user_id, ids, cards)
    _replace_children(session, MembershipRow, MembershipRow.user_id, ids, members)
    _replace_children(session, ReleaseDelegateRow, ReleaseDelegateRow.owner_id, ids, delegates)


def _accounts_in_bulk(session: Session, entities: list[dict[str, Any]]) -> None:
    if not entities:
        return
    ids = _upsert(session, AccountRow, entities)
    grants = [
        {"account_id": int(e["row"]["id"]), "change_seq": int(e["seq"]), **grant}
        for e in entities
        for grant in e["grants"]
    ]
    _replace_children(session, AccountGrantRow, AccountGrantRow.account_id, ids, grants)


def _merge(session: Session, model: type[Base], row: dict[str, Any], seq: int) -> None:
    values = _typed(model, row)
    if "change_seq" in model.__table__.columns:
        values["change_seq"] = seq
    session.merge(model(**values))
    session.flush()


def _typed(model: type[Base], row: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.key not in row:
            continue
        value = row[column.key]
        if isinstance(column.type, DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[column.key] = value
    return values


def _held_job(session: Session, row: dict[str, Any], seq: int) -> None:
    """Held jobs match by ``job_ref``: one the site recorded offline has a local id."""
    values = _typed(HeldJobRow, row)
    values.pop("id", None)
    found = session.scalar(select(HeldJobRow).where(HeldJobRow.job_ref == values["job_ref"]))
    if found is None:
        found = HeldJobRow(**values, change_seq=seq)
        session.add(found)
    else:
        for name, value in values.items():
            setattr(found, name, value)
        found.change_seq = seq
    session.flush()
