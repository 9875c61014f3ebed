"""Configuration values (policies and the like), replicated to sites."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from printwarden.store import published
from printwarden.store.changes import change_seq
from printwarden.store.models import SettingRow


def get(session: Session, key: str) -> dict[str, Any] | None:
    row = session.get(SettingRow, key)
    return dict(row.value) if row is not None else None


_MANY = select(SettingRow.key, SettingRow.value).where(
    SettingRow.key.in_(bindparam("keys", expanding=True))
)


def get_many(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The values of those of ``keys`` that are set (one query)."""
    rows = session.connection().execute(_MANY, {"keys": keys})
    return {str(key): dict(value) for key, value in rows if value}


def put(session: Session, key: str, value: dict[str, Any]) -> None:
    row = session.get(SettingRow, key)
    seq = change_seq(session)
    if row is None:
        session.add(SettingRow(key=key, value=value, change_seq=seq))
    else:
        row.value, row.change_seq = value, seq
    session.flush()
    published.record_setting(session, key, value)


_PER_PRINTER = ".printer."


def scoped_key(base: str, printer: str = "") -> str:
    """The key of a per-printer setting: ``base`` for all printers, ``base.printer.NAME``."""
    return f"{base}{_PER_PRINTER}{printer}" if printer else base


def scoped(session: Session, base: str) -> dict[str, dict[str, Any]]:
    """Every set value of a per-printer setting, by printer name ("" for all printers)."""
    prefix = base + _PER_PRINTER
    rows = session.execute(
        select(SettingRow.key, SettingRow.value).where(
            (SettingRow.key == base) | SettingRow.key.startswith(prefix)
        )
    )
    return {str(key).removeprefix(prefix): dict(value) for key, value in rows if value}
