"""Printers and their cost models (``/printers``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from printwarden.api.common import BasisPoints, Model, Name, NonNegativeCents, SiteRef, Text


class PagePricesIn(Model):
    grey_simplex: NonNegativeCents = 0
    grey_duplex: NonNegativeCents = 0
    colour_simplex: NonNegativeCents = 0
    colour_duplex: NonNegativeCents = 0


class CostModelIn(Model):
    sizes: dict[Name, PagePricesIn] = Field(default_factory=dict)
    base_cost: NonNegativeCents = 0
    group_modifiers: dict[Name, BasisPoints] = Field(default_factory=dict)


class PrinterFields(Model):
    site: SiteRef | None = Field(default=None, description='The site it is at ("": none)')
    location: Text | None = None
    enabled: bool | None = None
    hold_for_release: bool | None = None
    colour: bool | None = None
    cost_model: CostModelIn | None = None


class PrinterIn(PrinterFields):
    name: Name


class PrinterOut(Model):
    id: int
    name: str
    location: str
    enabled: bool
    hold_for_release: bool
    colour: bool
    cost_model: dict[str, Any]
    site: str | None = None
    change_seq: int
