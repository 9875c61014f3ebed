"""Filter sets, stored as settings (so they replicate to sites with every other setting)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from printwarden.domain.filters import FilterSet
from printwarden.store import settings

SETTING = "filters"  # keys: "filters" (every printer), "filters.printer.<name>"


def setting_key(printer: str = "") -> str:
    return settings.scoped_key(SETTING, printer)


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
    stored = settings.scoped(session, SETTING)
    return {printer: FilterSet.from_json(value) for printer, value in stored.items()}
