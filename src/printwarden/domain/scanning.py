"""Integrated Scanning: the scan actions an administrator offers (the replicated setting
``scan-actions``), the options a person may change at the device, the states a scan goes
through and when a failed delivery is tried again. Pure rules, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

SETTING_KEY = "scan-actions"
FORMATS = ("pdf", "pdfa", "jpeg", "tiff")
RESOLUTIONS = (75, 150, 200, 300, 600)
EDITABLE_FIELDS = ("file_name", "format", "colour", "resolution", "duplex", "ocr")
MAX_FILE_NAME = 120
# Not in a file name: path separators, what Windows shares refuse, control characters.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


class Destination(StrEnum):
    """Where an action's document goes."""

    EMAIL = "email"  # the person's own email address
    HOME = "home"  # the person's home folder (a path or share with {username} in it)
    FOLDER = "folder"  # a shared folder the server's configuration names


class Stage(StrEnum):
    """Where a scan is, on the server that takes it."""

    SCANNING = "scanning"  # pages arriving; nothing charged yet
    RECEIVED = "received"  # finished and charged: waiting for processing and delivery
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: the person was sent a download link
    ABANDONED = "abandoned"  # never finished at the device: nothing charged


OPEN = frozenset({Stage.SCANNING, Stage.RECEIVED})


class ScanError(ValueError):
    """An action or option that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What one scan is made into."""

    file_name: str = "Scan {date} {time}"
    format: str = "pdf"
    colour: bool = False
    resolution: int = 300
    duplex: bool = False
    ocr: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def checked(self) -> ScanOptions:
        """These options, or ScanError naming the bad one."""
        if self.format not in FORMATS:
            raise ScanError(f"format must be one of {', '.join(FORMATS)}")
        if self.resolution not in RESOLUTIONS:
            raise ScanError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}")
        if self.ocr and self.format not in ("pdf", "pdfa"):
            raise ScanError("OCR makes a searchable PDF: choose format pdf or pdfa")
        name = self.file_name.strip()
        if not name or len(name) > MAX_FILE_NAME:
            raise ScanError(f"file_name must be 1 to {MAX_FILE_NAME} characters")
        if _UNSAFE.search(name) or name.startswith("."):
            raise ScanError('file_name may not hold / \\ : * ? " < > | or start with a dot')
        return self


@dataclass(frozen=True, slots=True)
class ScanAction:
    """One button at the device: a destination, default options, which of them the person
    may change, and who sees it where (empty ``groups`` or ``devices``: everyone, every
    device)."""

    name: str
    destination: Destination
    folder: str = ""  # for FOLDER: the name of a shared folder in the server's configuration
    defaults: ScanOptions = field(default_factory=ScanOptions)
    editable: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    enabled: bool = True

    def offered(self, groups: frozenset[str], device: str) -> bool:
        """Whether a member of ``groups`` sees this action at ``device``."""
        if not self.enabled:
            return False
        if self.devices and device not in self.devices:
            return False
        return not self.groups or bool(groups & set(self.groups))

    def options(self, asked: dict[str, Any]) -> ScanOptions:
        """The defaults with the person's changes; ScanError for a field not theirs to
        change or a bad value."""
        fixed = sorted(set(asked) - set(self.editable))
        if fixed:
            raise ScanError(f"{self.name!r} does not let you change {', '.join(fixed)}")
        try:
            return replace(self.defaults, **asked).checked()
        except TypeError as exc:
            raise ScanError(f"bad scan option: {exc}") from None


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """The ``scan-actions`` setting: the actions, and the limits of one scan."""

    actions: tuple[ScanAction, ...] = ()
    max_pages: int = 500
    max_page_bytes: int = 64 * 1024 * 1024

    def find(self, name: str) -> ScanAction:
        for action in self.actions:
            if action.name == name:
                return action
        raise ScanError(f"no scan action {name!r}")

    def offered(self, groups: frozenset[str], device: str) -> list[ScanAction]:
        return [a for a in self.actions if a.offered(groups, device)]


def parse_settings(raw: Any) -> ScanSettings:
    """The setting's JSON value as :class:`ScanSettings`; ScanError saying what is wrong."""
    if raw in (None, ""):
        return ScanSettings()
    if not isinstance(raw, dict):
        raise ScanError("scan-actions must be an object with an 'actions' list")
    unknown = sorted(set(raw) - {"actions", "max_pages", "max_page_bytes"})
    if unknown:
        raise ScanError(f"unknown scan-actions field {', '.join(unknown)}")
    actions = tuple(parse_action(item) for item in raw.get("actions", []))
    names = [a.name for a in actions]
    if len(names) != len(set(names)):
        raise ScanError("two scan actions have the same name")
    max_pages = _positive(raw.get("max_pages", 500), "max_pages", 10_000)
    max_bytes = _positive(raw.get("max_page_bytes", 64 << 20), "max_page_bytes", 1 << 30)
    return ScanSettings(actions, max_pages, max_bytes)


def _positive(value: Any, name: str, most: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise ScanError(f"{name} must be a whole number from 1 to {most}")
    return value


ACTION_FIELDS = {"name", "destination", "folder", "defaults", "editable", "groups", "devices",
                 "enabled"}  # fmt: skip


def parse_action(raw: Any) -> ScanAction:
    """One action from JSON; ScanError naming what is wrong."""
    if not isinstance(raw, dict):
        raise ScanError("each scan action must be an object")
    unknown = sorted(set(raw) - ACTION_FIELDS)
    if unknown:
        raise ScanError(f"unknown scan action field {', '.join(unknown)}")
    name = str(raw.get("name", "")).strip()
    if not name or len(name) > 80:
        raise ScanError("a scan action needs a name of 1 to 80 characters")
    try:
        destination = Destination(raw.get("destination", ""))
    except ValueError:
        choices = ", ".join(d.value for d in Destination)
        raise ScanError(f"{name}: destination must be one of {choices}") from None
    folder = str(raw.get("folder", ""))
    if (destination == Destination.FOLDER) != bool(folder):
        raise ScanError(f"{name}: a 'folder' names the shared folder, for destination folder only")
    defaults = _defaults(name, raw.get("defaults", {}))
    editable = _names(raw.get("editable", []), f"{name}: editable")
    wrong = sorted(set(editable) - set(EDITABLE_FIELDS))
    if wrong:
        raise ScanError(f"{name}: cannot make {', '.join(wrong)} editable")
    return ScanAction(
        name=name,
        destination=destination,
        folder=folder,
        defaults=defaults,
        editable=editable,
        groups=_names(raw.get("groups", []), f"{name}: groups"),
        devices=_names(raw.get("devices", []), f"{name}: devices"),
        enabled=bool(raw.get("enabled", True)),
    )


def _defaults(name: str, raw: Any) -> ScanOptions:
    if not isinstance(raw, dict):
        raise ScanError(f"{name}: defaults must be an object")
    wrong = sorted(set(raw) - set(EDITABLE_FIELDS))
    if wrong:
        raise ScanError(f"{name}: unknown option {', '.join(wrong)}")
    try:
        return replace(ScanOptions(), **raw).checked()
    except ScanError as exc:
        raise ScanError(f"{name}: {exc}") from None


def _names(raw: Any, what: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ScanError(f"{what} must be a list of names")
    return tuple(raw)


def action_json(action: ScanAction) -> dict[str, Any]:
    """An action as the setting holds it."""
    return {
        "name": action.name,
        "destination": action.destination.value,
        **({"folder": action.folder} if action.folder else {}),
        "defaults": action.defaults.to_json(),
        "editable": list(action.editable),
        "groups": list(action.groups),
        "devices": list(action.devices),
        "enabled": action.enabled,
    }


def settings_json(settings: ScanSettings) -> dict[str, Any]:
    return {
        "actions": [action_json(a) for a in settings.actions],
        "max_pages": settings.max_pages,
        "max_page_bytes": settings.max_page_bytes,
    }


# --- names and delivery ------------------------------------------------------------------------


def file_stem(template: str, moment: datetime, username: str) -> str:
    """The file name without extension: ``{date}``, ``{time}`` and ``{username}`` filled in,
    anything unsafe in a file name replaced."""
    name = (
        template.replace("{date}", moment.strftime("%Y-%m-%d"))
        .replace("{time}", moment.strftime("%H-%M-%S"))
        .replace("{username}", username)
    )
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(".")
    return cleaned[:MAX_FILE_NAME] or "Scan"


# A failed delivery is tried again after these waits, the last one repeated, until
# ``RETRY_FOR`` has passed since the scan was received; then the scan has failed.
BACKOFF = (5, 15, 30, 60, 120, 300, 600)
RETRY_FOR = timedelta(hours=1)
DOWNLOAD_FOR = timedelta(hours=24)
ABANDON_AFTER = timedelta(minutes=30)  # a scan not finished by then was abandoned


def next_attempt(received: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try delivering again after ``attempts`` failures; None: give up."""
    wait = BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts else 0
    at = now + timedelta(seconds=wait)
    return at if at - received <= RETRY_FOR else None
