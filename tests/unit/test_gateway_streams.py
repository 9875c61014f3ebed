"""A User Client's event stream at a site: passed on from HQ, or answered here at once
when HQ cannot be reached, never forwarded as an ordinary request (it has no end)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from printwarden.sim.ports import free_port
from printwarden.site.gateway import Gateway
from printwarden.site.streams import EVENT_STREAMS
from support.gateway_links import StubLink


async def local_stream(scope: Any, receive: Any, send: Any) -> None:
    """The site's own app: a stream that says where it comes from and ends."""
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"event: hello\ndata: site\n\n"})


def test_a_stream_hq_cannot_open_is_answered_here_at_once() -> None:
    link = StubLink()
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: HQ unreachable

    async def open_stream() -> tuple[httpx.Response, float]:
        gateway = Gateway(local_stream, nobody, link)
        transport = httpx.ASGITransport(app=gateway)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://site") as client:
                answer = await asyncio.wait_for(client.get(EVENT_STREAMS[0]), 10)
        finally:
            await gateway.aclose()
        return answer, loop.time() - started

    answer, seconds = asyncio.run(open_stream())
    assert answer.status_code == 200
    assert answer.text == "event: hello\ndata: site\n\n"  # the site's own, not HQ's
    assert seconds < 5  # not left waiting on a forward that never ends
    assert link.failures == []  # a stream's failure is not a request forwarded and failed
