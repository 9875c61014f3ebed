"""Integrated Scanning in the demo: three scan actions, where their documents go (the demo's
smarthost, home folders and a shared folder under the data directory, for HQ and every
site alike) and an eSCL scanner simulator beside each device, which the portal's Scan page
and ``POST /api/v1/me/scans`` drive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from printwarden.config import ScanningConfig
from printwarden.domain.scanning import SETTING_KEY, parse_settings, settings_json
from printwarden.files import private_dir
from printwarden.sim.escl_scanner import EsclScanner
from printwarden.store import printers, settings

ESCL_PORT_OFFSET = 400  # the first device's scanner at port base + 400, the next at + 401 …
EMAIL_ACTION = "Scan to my email"
ACTIONS: list[dict[str, Any]] = [
    {"name": EMAIL_ACTION, "destination": "email", "defaults": {"resolution": 150},
     "editable": ["file_name", "format", "ocr", "resolution", "colour"]},
    {"name": "Scan to my home folder", "destination": "home",
     "defaults": {"resolution": 150, "ocr": True}, "editable": ["file_name"]},
    {"name": "Scan to the shared folder", "destination": "folder", "folder": "shared",
     "defaults": {"resolution": 150, "format": "pdfa"}, "groups": ["staff", "research"]},
]  # fmt: skip
SCANNED_PAGES = 3  # what each simulated scanner's feeder holds


def share(data_dir: Path) -> Path:
    """The folder standing for the shared folder."""
    return data_dir / "scan-share"


def homes(data_dir: Path) -> Path:
    return data_dir / "scan-homes"


def config(data_dir: Path, public_url: str) -> ScanningConfig:
    """Where a demo server's scans go (its smarthost: its ``[mail]`` one)."""
    private_dir(share(data_dir))
    private_dir(homes(data_dir))
    return ScanningConfig.model_validate(
        {
            "public_url": public_url,
            "home": str(homes(data_dir) / "{username}"),
            "folders": {"shared": {"target": str(share(data_dir))}},
        }
    )


def toml_table(data_dir: Path, public_url: str) -> str:
    """The same as a Site Server's ``[scanning]`` table."""
    found = config(data_dir, public_url)
    return "\n".join(
        [
            "[scanning]",
            f"public_url = {json.dumps(found.public_url)}",
            f"home = {json.dumps(found.home)}",
            "[scanning.folders.shared]",
            f"target = {json.dumps(found.folders['shared'].target)}",
        ]
    )


def seed(session: Session) -> list[str]:
    """The demo's scan actions; their names."""
    parsed = parse_settings({"actions": ACTIONS})
    settings.put(session, SETTING_KEY, settings_json(parsed))
    return [action.name for action in parsed.actions]


class DemoScanners:
    """An eSCL scanner simulator per device, on loopback; each device's ``escl_url``."""

    def __init__(self, devices: list[str], port_base: int) -> None:
        self.scanners = {
            name: EsclScanner(
                pages=SCANNED_PAGES,
                port=port_base + ESCL_PORT_OFFSET + index,
                name=f"{name} scanner",
            )
            for index, name in enumerate(devices)
        }

    def start(self, session: Session) -> dict[str, str]:
        """Start them and record each one's URL on its device."""
        urls = {}
        for name, scanner in self.scanners.items():
            scanner.start()
            urls[name] = scanner.url
            printers.save_device(session, name, {"escl_url": scanner.url}, create=False)
        return urls

    def stop(self) -> None:
        for scanner in self.scanners.values():
            scanner.stop()
