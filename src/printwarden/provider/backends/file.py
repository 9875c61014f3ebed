"""The ``file:///dir`` back-end: each document copied into a folder (tests, archiving)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from printwarden.provider.delivery import Delivered, Delivery, PrinterUnavailable


class FileBackend:
    """``file:///dir``: copies each document into a folder (for tests and archiving)."""

    def __init__(self, uri: str) -> None:
        self.directory = Path(urlsplit(uri).path)

    def deliver(self, delivery: Delivery) -> Delivered:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PrinterUnavailable(str(exc)) from None
        target = self.directory / f"{delivery.path.stem}-{_safe(delivery.job_name)}"
        temporary = target.with_suffix(".part")
        shutil.copyfile(delivery.path, temporary)
        os.replace(temporary, target)
        return Delivered()


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return cleaned[:80] or "job"
