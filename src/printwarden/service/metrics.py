"""Prometheus text exposition (format 0.0.4), by hand: the App Server's ``GET /metrics``
and the pieces the Site Server's uses too. A server's background services each report
their counters (``stats()``: loops restarted among them), one family per service."""

from __future__ import annotations

import math
from collections.abc import Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return repr(round(value, 3)) if isinstance(value, float) else str(value)


def label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def service_lines(services: Mapping[str, Mapping[str, int]], labels: str = "") -> list[str]:
    """``printwarden_<service>{counter="…"}`` for each service's counters; ``labels``: more
    labels for every sample (``site="north"``)."""
    lines: list[str] = []
    extra = f"{labels}," if labels else ""
    for service, counts in sorted(services.items()):
        name = f"printwarden_{service}"
        about = f"{service} counters since start (loop_restarts: loops that died, restarted)."
        lines += family(name, "gauge", about)
        for counter, value in sorted(counts.items()):
            lines.append(f'{name}{{{extra}counter="{label(counter)}"}} {value}')
    return lines


def render(services: Mapping[str, Mapping[str, int]]) -> str:
    """The App Server's exposition: its services' counters."""
    return "\n".join(service_lines(services)) + "\n"
