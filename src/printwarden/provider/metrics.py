"""The Print Provider's ``GET /metrics``: Prometheus text exposition format 0.0.4, by hand
(as ``site/metrics.py``).

Counters since the process started: rounds of a background loop that failed, loops that
died and were restarted, jobs that failed unexpectedly, and state changes the job state
machine refused (races lost, harmlessly). Gauges read at scrape time: whether each loop
runs, and how many jobs are in each phase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from printwarden.domain.job_states import Phase

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "printwarden_provider_"


@dataclass(frozen=True, slots=True)
class Scrape:
    """The values of one scrape."""

    provider: str
    loops_up: Mapping[str, bool]
    loop_errors: Mapping[str, int]
    loop_restarts: Mapping[str, int]
    job_failures: int
    refused: Mapping[str, int]
    phases: Mapping[Phase, int]
    password_checks: Mapping[str, int] = field(default_factory=dict)
    heap: Mapping[str, int] = field(default_factory=dict)  # printwarden.heap.stats()


def render(values: Scrape) -> str:
    """The exposition text."""
    who = f'provider="{_label(values.provider)}"'
    lines: list[str] = []
    for name, kind, help_text, label, series in (
        ("loop_up", "gauge", "1 while the background loop's thread runs.", "loop",
         {loop: int(up) for loop, up in values.loops_up.items()}),
        ("loop_errors_total", "counter", "Rounds of a background loop that raised.", "loop",
         {loop: values.loop_errors.get(loop, 0) for loop in values.loops_up}),
        ("loop_restarts_total", "counter", "Background loops that died and were restarted.",
         "loop", {loop: values.loop_restarts.get(loop, 0) for loop in values.loops_up}),
        ("transitions_refused_total", "counter",
         "Job state changes the state machine refused, by event (nothing changed).", "event",
         dict(values.refused)),
        ("jobs", "gauge", "Jobs in the spool, by phase.", "phase",
         {phase.value: count for phase, count in values.phases.items()}),
        ("password_checks_total", "counter",
         "HTTP Basic passwords checked: asked of the server, or remembered from an earlier "
         "request on the same connection.", "outcome", dict(values.password_checks)),
        ("heap", "gauge", "The garbage collector: on, objects frozen at start-up, the young "
         "generation's threshold, collections and objects collected by generation.",
         "counter", dict(values.heap)),
    ):  # fmt: skip
        lines += _family(PREFIX + name, kind, help_text)
        for key, value in sorted(series.items()):
            lines.append(f'{PREFIX}{name}{{{who},{label}="{_label(key)}"}} {value}')
    help_text = "Jobs that failed unexpectedly (each retried or ended by the machine)."
    lines += _family(PREFIX + "job_failures_total", "counter", help_text)
    lines.append(f"{PREFIX}job_failures_total{{{who}}} {values.job_failures}")
    return "\n".join(lines) + "\n"


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
