"""Integrated Scanning (``/device/…/scan-actions``, ``/device/scans…``, ``/me/scans…``,
``/scan-actions``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Model, UtcDatetime

ActionName = Annotated[str, StringConstraints(min_length=1, max_length=80)]


class ScanOptionsIn(Model):
    """Changes to an action's defaults (only the fields the action lets people change)."""

    file_name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    format: Literal["pdf", "pdfa", "jpeg", "tiff"] | None = None
    colour: bool | None = None
    resolution: Literal[75, 150, 200, 300, 600] | None = None
    duplex: bool | None = None
    ocr: bool | None = None

    def asked(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ScanOptionsOut(Model):
    file_name: str
    format: str
    colour: bool
    resolution: int
    duplex: bool
    ocr: bool


class ScanActionOut(Model):
    name: str
    destination: str = Field(description="email, home or folder")
    folder: str = ""
    defaults: ScanOptionsOut
    editable: list[str] = Field(description="The options a person may change at the device")


class ScanActionsOut(Model):
    actions: list[ScanActionOut]


class ScanStartIn(Model):
    action: ActionName
    options: ScanOptionsIn = Field(default_factory=ScanOptionsIn)
    from_scanner: bool = Field(
        default=False,
        description="The server fetches the pages from this device's network scanner (eSCL; "
        "a release station beside one): nothing to upload, follow it with GET",
    )


class ScanStartedOut(Model):
    scan_id: str
    upload_token: str = Field(
        description="One-time: send as X-Scan-Token with each page and the finish, from this "
        "device only"
    )
    pages_url: str = Field(description="PUT each page to pages_url/<n>, n from 1")
    finish_url: str
    options: ScanOptionsOut
    max_pages: int
    max_page_bytes: int
    allowed_pages: int | None = Field(description="What the account can pay for (null: any)")


class ScanPageOut(Model):
    page: int
    bytes: int
    media_type: str


class ScanFinishIn(Model):
    pages: Annotated[int, Field(strict=True, ge=0, le=10_000)]


class ScanOut(Model):
    scan_id: str
    device: str
    action: str
    stage: str = Field(description="scanning, received, delivered, failed or abandoned")
    pages: int
    pages_received: list[int] = Field(default_factory=list)
    cost: int
    detail: str = ""
    delivered_to: str = ""
    download_url: str = Field(default="", description="While the download link lasts")
    download_until: UtcDatetime | None = None
    created_at: UtcDatetime


class ScansOut(Model):
    scans: list[ScanOut]


class ScanDeviceOut(Model):
    device: str
    location: str
    actions: list[ScanActionOut]


class ScanDevicesOut(Model):
    devices: list[ScanDeviceOut]


class RemoteScanIn(Model):
    """A scan the server fetches from a device's network scanner (eSCL)."""

    device: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    action: ActionName
    options: ScanOptionsIn = Field(default_factory=ScanOptionsIn)


class ScanSettingsIO(Model):
    """The ``scan-actions`` setting: actions, and a scan's limits."""

    actions: list[dict[str, Any]] = Field(
        description="Each: name, destination (email, home, folder), folder, defaults, "
        "editable, groups, devices, enabled (docs/scanning.md)"
    )
    max_pages: int = 500
    max_page_bytes: int = 64 * 1024 * 1024
