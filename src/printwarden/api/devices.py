"""Devices: their registry and the device API (``/devices``, ``/device…``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from printwarden.api.common import Count, Model, Name, SiteRef, Text, UtcDatetime
from printwarden.api.held_jobs import HeldJobOut
from printwarden.api.printers import CostModelIn
from printwarden.domain.ids import normalize_id

DeviceKind = Literal["mfd", "terminal", "release-station", "card-reader", "kiosk"]

LoginMethod = Literal["card", "identity", "password"]
EsclUrl = Annotated[str, StringConstraints(max_length=512, pattern=r"^(https?://[^\s]+)?$")]


class DeviceFields(Model):
    site: SiteRef | None = Field(default=None, description='The site it is at ("": none)')
    kind: DeviceKind | None = None
    printer: Annotated[str, StringConstraints(max_length=128)] | None = None
    location: Text | None = None
    enabled: bool | None = None
    cost_model: CostModelIn | None = None
    login_methods: list[LoginMethod] | None = Field(
        default=None, min_length=1, max_length=3, description="How people log in at it"
    )
    escl_url: EsclUrl | None = Field(
        default=None,
        description='Its network scanner (eSCL/AirScan), e.g. "http://10.0.0.5/eSCL" ("": none)',
    )


class DeviceIn(DeviceFields):
    name: Name
    kind: DeviceKind


class DeviceOut(Model):
    id: int
    name: str
    kind: str
    printer: str | None
    location: str
    enabled: bool
    cost_model: dict[str, Any]
    login_methods: list[str] = Field(default_factory=list)
    site: str | None = None
    escl_url: str = ""
    change_seq: int


class ThisDeviceOut(Model):
    name: str
    kind: str
    printer: str | None
    login_methods: list[str]
    session_idle_seconds: int
    scanner: bool = Field(
        default=False, description="It has a network scanner the server drives (eSCL)"
    )


class DeviceRegisterIn(Model):
    """What a device believes it is (all optional): reported, never applied."""

    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    printer: Name | None = None
    login_methods: list[LoginMethod] | None = Field(default=None, min_length=1, max_length=3)


class DeviceRegisterOut(ThisDeviceOut):
    differs: list[str] = Field(
        description="Reported fields unlike the configuration (kept as an administrator set them)"
    )


class SessionAccountOut(Model):
    name: str = Field(description='"" is the personal account')
    label: str
    needs_pin: bool


class DeviceSessionOut(Model):
    session_id: str
    device: str
    printer: str | None
    username: str
    full_name: str
    account: str
    balance: int
    restricted: bool
    accounts: list[SessionAccountOut]
    expires_at: UtcDatetime


class SessionAccountIn(Model):
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    pin: Annotated[str, StringConstraints(max_length=32)] = ""


class ReleaseRefusal(Model):
    id: str
    document_name: str
    reason: str


class ReleaseAllOut(Model):
    released: list[HeldJobOut]
    refused: list[ReleaseRefusal]


class AllowanceOut(Model):
    price_per_page: int
    allowed_pages: int | None = Field(description="null: the account is not restricted")


class DeviceUsageIn(Model):
    usage_id: str = Field(description="UUID or ULID chosen by the device; a replay is a no-op")
    kind: Literal["copy", "scan", "fax"]
    pages: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    colour_pages: Count = 0
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"

    @field_validator("usage_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return normalize_id(value)


class DeviceUsageOut(Model):
    usage_id: str
    cost: int
    balance: int
