"""Each route declares its functions-table row; offline, a row the table marks unavailable
is refused by the route itself (what the Site Server's gateway once did by path)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from printwarden.config import Settings
from printwarden.domain import functions
from printwarden.domain.functions import TABLE, Function
from printwarden.service.app import API_PREFIX, ROUTERS, create_app
from printwarden.service.offline import OfflineMode
from printwarden.service.offline_functions import declarations
from printwarden.service.routes import release_page
from printwarden.store.db import Database
from printwarden.usecases.authority import Site


def all_declarations() -> dict[tuple[str, str], Function]:
    found: dict[tuple[str, str], Function] = {}
    for prefix, router in [*((API_PREFIX, r) for r in ROUTERS), ("", release_page.router)]:
        found.update(declarations(prefix, router))
    return found


def test_the_routes_declare_their_rows() -> None:
    found = all_declarations()
    assert found[("POST", "/api/v1/device/sessions")] is Function.MFD_LOGIN
    assert found[("PUT", "/api/v1/device/sessions/{session_id}/account")] is (
        Function.ACCOUNT_SELECTION_AT_MFD
    )
    assert found[("POST", "/api/v1/device/sessions/{session_id}/usage")] is (
        Function.MFD_DEVICE_FUNCTIONS
    )
    assert found[("POST", "/api/v1/device/sessions/{session_id}/release-all")] is (
        Function.SERVER_SIDE_PRINTING_AT_MFD
    )
    assert found[("POST", "/api/v1/held-jobs/{job_ref}/release")] is Function.SECURE_PRINT
    assert found[("GET", "/api/v1/me/held-jobs")] is Function.SECURE_PRINT
    assert found[("GET", "/api/v1/me/summary")] is Function.USER_BALANCES
    assert found[("GET", "/release/{station}")] is Function.RELEASE_STATIONS
    assert ("GET", "/api/v1/devices") not in found  # administering devices is no function
    assert set(found.values()) <= {row.function for row in TABLE}


class Client:
    """GETs into an ASGI app, in this thread."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://site") as c:
                return await c.get(path)

        return anyio.run(fetch)


@pytest.fixture
def app_and_site(hq: Database, tmp_path: Path) -> tuple[Client, list[bool]]:
    """The app over ``hq``, with a site's authority whose offline switch the test holds."""
    settings = Settings(data_dir=tmp_path, database_url=hq.url, secret_key="s" * 40)
    app = create_app(settings, hq)
    offline = [False]
    app.state.printwarden.authority = Site(OfflineMode(lambda: offline[0], lambda *_: None))
    return Client(app), offline


def test_offline_a_function_the_table_refuses_is_refused_by_its_route(
    app_and_site: tuple[Client, list[bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, offline = app_and_site
    row = functions.row(Function.RELEASE_STATIONS)
    refused = replace(row, offline_with_site=False)
    monkeypatch.setitem(functions._BY_FUNCTION, Function.RELEASE_STATIONS, refused)
    assert client.get("/release/desk-1").status_code == 200  # online: the table's online
    offline[0] = True
    answer = client.get("/release/desk-1")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert json.loads(answer.content) == {
        "type": "https://printwarden.org/problems/function-unavailable",
        "title": "Unavailable while offline",
        "status": 503,
        "detail": "Release Stations is not available while the site is offline",
        "function": "release-stations",
    }
    assert client.get("/api/v1/health").status_code != 503  # a route of no row


def test_offline_a_function_the_table_allows_is_answered(
    app_and_site: tuple[Client, list[bool]],
) -> None:
    client, offline = app_and_site
    offline[0] = True
    assert client.get("/release/desk-1").status_code == 200
