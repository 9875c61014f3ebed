"""The release station page: ``GET /release/{station}``, a kiosk page beside printers.

No authentication: the page and its assets are the same static files for every station and
hold no data. The station's device token travels in the URL fragment (``#token=…``), which
browsers never send to the server; the page keeps it in ``sessionStorage`` and calls the
device API (``/api/v1/device/…``) with it, so every piece of data it shows is authorised
there. Mounted at the root, not under ``/api/v1``, and left out of the OpenAPI document.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from fastapi import APIRouter, Depends, Response

from printwarden.domain.functions import Function
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.state import AppState, app_state

router = APIRouter(tags=["release station"], include_in_schema=False)

STATION = re.compile(r"[A-Za-z0-9_.-]{1,128}")
ASSETS = {
    "release_station.js": "text/javascript; charset=utf-8",
    "release_station.css": "text/css; charset=utf-8",
}
# Everything from this origin only; no inline script or style, no framing, no plugins.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# The page's placeholder for the configured currency (code and minor digits).
CURRENCY_META = b'<meta name="currency" content="USD 2">'


@cache
def web_file(name: str) -> bytes:
    return resources.files("printwarden.web").joinpath(name).read_bytes()


def asset(name: str, assets: dict[str, str], what: str) -> Response:
    """One of a device page's ``assets`` (its script and style sheet), by file name."""
    media_type = assets.get(name)
    if media_type is None:
        raise Problem(404, "Not found", f"no {what} asset named {name!r}")
    return Response(web_file(f"static/{name}"), media_type=media_type, headers=HEADERS)


def device_page(page: str, device: str, state: AppState, what: str) -> Response:
    """The page ``page`` for ``device`` (a plain name, else 404), showing money in the
    configured currency."""
    if not STATION.fullmatch(device) or set(device) == {"."}:
        raise Problem(404, "Not found", f"a {what} name is letters, digits, '_.-'")
    currency = state.currency
    meta = f'<meta name="currency" content="{currency.code} {currency.minor_digits}">'
    html = web_file(page).replace(CURRENCY_META, meta.encode())
    return Response(html, media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/release/assets/{name}", dependencies=[serves(Function.RELEASE_STATIONS)])
def release_asset(name: str) -> Response:
    """The page's script and style sheet."""
    return asset(name, ASSETS, "release station")


@router.get("/release/{station}", dependencies=[serves(Function.RELEASE_STATIONS)])
def release_page(station: str, state: AppState = Depends(app_state)) -> Response:
    """The release station page for ``station`` (a device name), showing money in the
    configured currency."""
    return device_page("release_station.html", station, state, "release station")
