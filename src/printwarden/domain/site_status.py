"""What of a Site Server's status report is news (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def essentials(status: Mapping[str, Any]) -> dict[str, Any]:
    """What of ``status`` is worth telling and storing again when it changes: all of it but
    the outages' growing durations."""
    kept = {key: value for key, value in status.items() if key != "outages"}
    kept["outages"] = [(o.get("reason"), o.get("ongoing")) for o in status.get("outages", ())]
    return kept
