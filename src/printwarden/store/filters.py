"""Filter sets, stored as settings (so they replicate to sites with every other setting)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain.filters import SETTING_PREFIX, FilterSet, setting_key
from printwarden.store import settings
from printwarden.store.models import SettingRow

_PRINTER_PREFIX = f"{SETTING_PREFIX}.printer."


def get(session: Session, printer: str = "") -> FilterSet:
    """The rules of ``printer`` ("" : the global rules); empty when none are set."""
    stored = settings.get(session, setting_key(printer))
    return FilterSet.from_json(stored) if stored else FilterSet()


def put(session: Session, filter_set: FilterSet, printer: str = "") -> None:
    settings.put(session, setting_key(printer), filter_set.to_json())


def keys_for_job(printer: str) -> list[str]:
    """The settings keys of the scopes that apply at ``printer``: global, then its own."""
    return [setting_key(), setting_key(printer)]


def for_job(found: dict[str, dict[str, Any]], printer: str) -> list[FilterSet]:
    """The filter sets at ``printer`` out of settings ``found`` (see ``keys_for_job``)."""
    return [FilterSet.from_json(found[key]) for key in keys_for_job(printer) if key in found]


def all_sets(session: Session) -> dict[str, FilterSet]:
    """Every stored filter set by printer name ("" for the global one)."""
    rows = session.execute(
        select(SettingRow.key, SettingRow.value).where(
            (SettingRow.key == SETTING_PREFIX) | SettingRow.key.startswith(_PRINTER_PREFIX)
        )
    )
    return {
        key.removeprefix(_PRINTER_PREFIX) if key != SETTING_PREFIX else "": FilterSet.from_json(
            value
        )
        for key, value in rows.tuples()
        if value
    }
