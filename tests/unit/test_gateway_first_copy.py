"""A Site Server still taking its first copy of HQ's data, and cut off from HQ: its replica
knows no one yet, so it says "try again soon" (503), never "who are you?" (401), which
would make a User Client drop its token."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from printwarden.site.gateway import Gateway
from support.gateway_links import StubLink


async def replica(scope: Any, receive: Any, send: Any) -> None:
    """The site's own app: it knows no token."""
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"detail": "unknown token"}'})


def ask(ready: bool) -> httpx.Response:
    async def run() -> httpx.Response:
        gateway = Gateway(replica, "http://127.0.0.1:9", StubLink(online=False, ready=ready))
        transport = httpx.ASGITransport(app=gateway)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://site") as client:
                return await client.get("/api/v1/me", headers={"Authorization": "Bearer t"})
        finally:
            await gateway.aclose()

    return asyncio.run(run())


def test_a_site_without_a_first_copy_asks_to_try_again() -> None:
    answer = ask(ready=False)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "copying HQ's data" in answer.json()["detail"]


def test_a_site_with_its_copy_answers_from_it() -> None:
    answer = ask(ready=True)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "unknown token"
