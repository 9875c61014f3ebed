"""Printers and their cost models (``/printers``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from printwarden.api.common import BasisPoints, Model, Name, NonNegativeCents, SiteRef, Text
from printwarden.domain.questions import MAX_TIMEOUT_SECONDS, ClientRules


class PagePricesIn(Model):
    grey_simplex: NonNegativeCents = 0
    grey_duplex: NonNegativeCents = 0
    colour_simplex: NonNegativeCents = 0
    colour_duplex: NonNegativeCents = 0


class CostModelIn(Model):
    sizes: dict[Name, PagePricesIn] = Field(default_factory=dict)
    base_cost: NonNegativeCents = 0
    group_modifiers: dict[Name, BasisPoints] = Field(default_factory=dict)


class ClientRulesIn(Model):
    """When to ask the user before a job prints here (User Client, portal or device)."""

    confirm: Literal["never", "always", "above"] = Field(
        "never", description='Ask to confirm the cost: "above" a cost or a page count'
    )
    above_cost: NonNegativeCents | None = None
    above_pages: int | None = Field(None, ge=0)
    account_selection: bool = Field(False, description="Ask which account to charge")
    allow_personal: bool = Field(True, description='"Charge to personal" is a choice')
    comment: bool = Field(False, description="Offer a comment with the account choice")
    timeout_seconds: int = Field(300, ge=1, le=MAX_TIMEOUT_SECONDS)
    on_timeout: Literal["personal", "cancel", "hold"] = Field(
        "hold", description="Without an answer in time: print to personal, cancel, or keep "
        "it held for an answer at the device or in the portal",
    )  # fmt: skip

    @model_validator(mode="after")
    def _valid(self) -> ClientRulesIn:
        ClientRules.from_json(self.model_dump())  # the domain's own checks (ValueError)
        return self


class PrinterFields(Model):
    site: SiteRef | None = Field(default=None, description='The site it is at ("": none)')
    location: Text | None = None
    enabled: bool | None = None
    hold_for_release: bool | None = None
    colour: bool | None = None
    cost_model: CostModelIn | None = None
    client_rules: ClientRulesIn | None = None


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
    client_rules: dict[str, Any] = Field(default_factory=dict)
    change_seq: int
