"""The server's health (``/health``)."""

from __future__ import annotations

from typing import Literal

from printwarden.api.common import Model


class HealthOut(Model):
    status: Literal["ok"]
    version: str
    database: str
    change_seq: int
