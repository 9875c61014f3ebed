"""The web interface's own style sheet and scripts, served from the package (no CDN)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Response

from printwarden.web.guards import WebError
from printwarden.web.templating import HEADERS

router = APIRouter()

ASSETS = {
    "printwarden.css": "text/css; charset=utf-8",
    "htmx.min.js": "text/javascript; charset=utf-8",
    "web_print.js": "text/javascript; charset=utf-8",
}
CACHED = {**HEADERS, "Cache-Control": "public, max-age=3600"}


@cache
def asset(name: str) -> bytes:
    return resources.files("printwarden.web").joinpath(f"static/{name}").read_bytes()


@router.get("/web/static/{name}")
def static_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise WebError(404, "Not found", "No such file.")
    return Response(asset(name), media_type=media_type, headers=CACHED)
