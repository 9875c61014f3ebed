"""A Site Server passes a User Client's event stream on from the App Server as it comes.

The stream ends when the client goes, when HQ ends it, or as soon as the site goes offline:
the client then reconnects, and the site's own app answers it from the replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import httpx

log = logging.getLogger("printwarden.site")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The API's stream (the User Client's) and the portal's (the Questions page's).
EVENT_STREAMS = ("/api/v1/me/events", "/web/portal/events")
# HQ sends a heartbeat (15 s by default); a link that died without the site noticing ends
# the stream after this. The site's change of mode ends it at once.
STREAM_TIMEOUT = httpx.Timeout(60.0, connect=1.0)
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length"})


def is_event_stream(scope: MutableMapping[str, Any]) -> bool:
    return bool(scope["method"] == "GET" and scope["path"] in EVENT_STREAMS)


async def relay(
    client: httpx.AsyncClient,
    request: httpx.Request,
    send: Send,
    receive: Receive,
    mode_changed: asyncio.Event,
) -> bool:
    """Pass HQ's answer to ``request`` on to the client, until ``mode_changed`` is set (the
    site went offline); False (nothing sent) when HQ could not be reached or answered 5xx,
    for the caller to answer from the replica."""
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        log.info("event stream: HQ unreachable (%s); answering here", type(exc).__name__)
        return False
    if response.status_code >= 500:
        await response.aclose()
        return False
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_pass_on, response, send, group.cancel_scope)
            group.start_soon(_until_gone, receive, group.cancel_scope)
            group.start_soon(_until_set, mode_changed, group.cancel_scope)
    finally:
        await response.aclose()
    with contextlib.suppress(OSError):  # the client has gone
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return True


async def _pass_on(response: httpx.Response, send: Send, scope: anyio.CancelScope) -> None:
    try:
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except httpx.HTTPError:
        pass  # HQ went away mid-stream: the client reconnects
    scope.cancel()


async def _until_gone(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def _until_set(event: asyncio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
