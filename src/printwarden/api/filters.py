"""Filters: the rules of each printer scope (``/filters``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from printwarden.api.common import Model

PrinterScope = Annotated[str, StringConstraints(max_length=128, pattern=r"^[^\x00-\x1f]*$")]


class FilterSetIO(Model):
    """The rules of one scope: ``rules`` and per-group overrides (see docs/filters.md)."""

    rules: dict[str, Any] = Field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = Field(default_factory=dict)


class FiltersOut(Model):
    global_rules: FilterSetIO = Field(description="Rules for every printer")
    printers: dict[str, FilterSetIO] = Field(description="Each printer's own rules")
