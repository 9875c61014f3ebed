"""The pay station page: ``GET /kiosk/{name}``, full screen in a browser in kiosk mode.

Like the release station page (``release_page.py``): static files that hold no data, the
kiosk's device token in the URL fragment (never sent to the server), every call through the
device API, where it is authorised. A person logs in, inserts cash (the kiosk's bridge
reports it: ``printwarden kiosk``), sees the balance rise, or redeems a top-up card.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from printwarden.domain.functions import Function
from printwarden.service.offline_functions import serves
from printwarden.service.routes.release_page import asset, device_page
from printwarden.service.state import AppState, app_state

router = APIRouter(tags=["kiosk"], include_in_schema=False)
ASSETS = {"kiosk.js": "text/javascript; charset=utf-8", "kiosk.css": "text/css; charset=utf-8"}


@router.get("/kiosk/assets/{name}", dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)])
def kiosk_asset(name: str) -> Response:
    """The page's script and style sheet."""
    return asset(name, ASSETS, "kiosk")


@router.get("/kiosk/{name}", dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)])
def kiosk_page(name: str, state: AppState = Depends(app_state)) -> Response:
    """The pay station page of kiosk ``name`` (a device name)."""
    return device_page("kiosk.html", name, state, "kiosk")
