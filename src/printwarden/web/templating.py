"""Rendering pages: Jinja2 (autoescaped) and the security headers every page carries.

Jinja2 loads with the first page rendered: an App Server whose pages nobody opens never
carries it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse

if TYPE_CHECKING:
    from jinja2 import Environment

# Only this origin's scripts, styles and web app manifest, nothing inline, no framing; forms
# post here only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def when(moment: datetime | str | None) -> str:
    """A timestamp as ``2025-01-31 14:05 UTC`` (ISO text accepted)."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | int | None) -> str:
    """A duration as ``2 h 5 min``, ``3 min 4 s`` or ``12.5 s``."""
    if seconds is None:
        return "—"
    value = float(seconds)
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@cache
def environment() -> Environment:
    """The pages' Jinja2 environment (loaded on first use: the module's docstring)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("printwarden.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    return env


def html(template: str, status: int = 200, headers: dict[str, str] | None = None,
         **values: Any) -> HTMLResponse:  # fmt: skip
    """Render ``template`` with ``values`` into a response with the security headers."""
    body = environment().get_template(template).render(**values)
    return HTMLResponse(body, status_code=status, headers={**HEADERS, **(headers or {})})
