"""The Site Server's ``GET /metrics``: Prometheus text exposition format 0.0.4, by hand.

Counters the mode machine does not keep (transitions by kind, every outage ever — it keeps
the last 50 — and completed reconciliations) are kept here, fed by the server whenever it
changes the machine; gauges are read at scrape time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from printwarden.domain.site_mode import ModeMachine, Outage, SiteMode
from printwarden.service.metrics import CONTENT_TYPE, family, label, number, service_lines

__all__ = ["CONTENT_TYPE", "Scrape", "SiteCounters", "render"]


@dataclass(slots=True)
class SiteCounters:
    """What happened since the process started (the caller holds its lock)."""

    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    outages: int = 0
    reconciliations: int = 0
    last_contact: float | None = None  # time.monotonic() of the last answer from HQ
    _outage: Outage | None = None

    def saw(self, machine: ModeMachine, before: SiteMode) -> None:
        """Count what the machine did since it was in ``before``."""
        if machine.mode is not before:
            self.transitions[(before.value, machine.mode.value)] += 1
        latest = machine.outages[-1] if machine.outages else None
        if latest is not None and latest is not self._outage:
            self.outages += 1
            self._outage = latest

    def contact_age(self, now: float) -> float:
        """Seconds since the App Server last answered; NaN if it never has."""
        return math.nan if self.last_contact is None else now - self.last_contact


@dataclass(frozen=True, slots=True)
class Scrape:
    """The values of one scrape."""

    site: str
    mode: SiteMode
    transitions: dict[tuple[str, str], int]
    outages: int
    reconciliations: int
    backlog: int
    contact_age: float  # NaN: no answer from the App Server yet
    replica_seq: int
    # Web Print's and Email to Print's counters (``stats()`` of their services), by name.
    services: dict[str, dict[str, int]] = field(default_factory=dict)


def render(values: Scrape) -> str:
    """The exposition text."""
    site = f'site="{label(values.site)}"'
    lines = family("printwarden_site_mode", "gauge", "1 for the mode the site is in.")
    for mode in SiteMode:
        on = 1 if mode is values.mode else 0
        lines.append(f'printwarden_site_mode{{{site},mode="{mode.value}"}} {on}')
    name = "printwarden_site_mode_changes_total"
    lines += family(name, "counter", "Mode changes, by the modes before and after.")
    for (before, after), count in sorted(values.transitions.items()):
        lines.append(f'{name}{{{site},from="{before}",to="{after}"}} {count}')
    for name, kind, help_text, value in (
        ("outages_total", "counter", "Outages begun.", values.outages),
        ("reconciliations_total", "counter",
         "Reconciliations completed (journal uploaded, replica refreshed).",
         values.reconciliations),
        ("journal_backlog", "gauge", "Journal entries not yet uploaded.", values.backlog),
        ("last_contact_age_seconds", "gauge",
         "Seconds since the App Server last answered (NaN: never).", values.contact_age),
        ("replica_seq", "gauge", "The change number the replica has reached.",
         values.replica_seq),
    ):  # fmt: skip
        lines += family(f"printwarden_site_{name}", kind, help_text)
        lines.append(f"printwarden_site_{name}{{{site}}} {number(value)}")
    lines += service_lines(values.services, site)
    return "\n".join(lines) + "\n"
