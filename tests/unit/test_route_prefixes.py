"""Routers a request cannot reach are skipped, and routing answers as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from printwarden.service.route_prefixes import fixed_part, skip_unreachable_routers


def _app() -> tuple[FastAPI, list[str]]:
    asked: list[str] = []
    users, sites = APIRouter(), APIRouter()

    @users.get("/users")
    def list_users() -> list[str]:
        return ["ann"]

    @users.get("/users/{name}")
    def get_user(name: str) -> dict[str, str]:
        return {"user": name}

    @sites.post("/sites/{name}/status")
    def site_status(name: str) -> dict[str, str]:
        return {"site": name}

    app = FastAPI()
    app.include_router(users, prefix="/api/v1")
    app.include_router(sites, prefix="/api/v1")
    for route, name in zip(app.router.routes[-2:], ("users", "sites"), strict=True):
        inner = route.matches

        def spying(scope: Any, inner: Any = inner, name: str = name) -> Any:
            asked.append(name)
            return inner(scope)

        setattr(route, "matches", spying)  # noqa: B010
    return app, asked


def _get(app: FastAPI, method: str, path: str) -> httpx.Response:
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, follow_redirects=False)

    return asyncio.run(ask())


def test_the_fixed_part_ends_at_the_first_parameter() -> None:
    assert fixed_part("/api/v1/sites/{name}/status") == "/api/v1/sites/"
    assert fixed_part("/metrics") == "/metrics"


def test_a_router_whose_paths_cannot_match_is_not_asked() -> None:
    app, asked = _app()
    assert skip_unreachable_routers(app) == 2
    answer = _get(app, "POST", "/api/v1/sites/s1/status")
    assert answer.json() == {"site": "s1"}
    assert asked == ["sites"]  # the users router, first in order, was skipped


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/api/v1/users", 200, ["ann"]),
        ("GET", "/api/v1/users/bob", 200, {"user": "bob"}),
        ("POST", "/api/v1/users/bob", 405, None),  # the path matches, the method does not
        ("GET", "/api/v1/sites/s1/status", 405, None),
        ("GET", "/api/v1/nowhere", 404, None),
        ("GET", "/api/v1/users/", 307, None),  # the trailing slash is redirected, as before
    ],
)
def test_answers_are_those_of_unguarded_routing(
    method: str, path: str, status: int, body: Any
) -> None:
    plain, _ = _app()
    guarded, _ = _app()
    skip_unreachable_routers(guarded)
    before, after = _get(plain, method, path), _get(guarded, method, path)
    assert (after.status_code, after.headers.get("location")) == (
        before.status_code,
        before.headers.get("location"),
    )
    assert after.status_code == status
    if body is not None:
        assert after.json() == body
