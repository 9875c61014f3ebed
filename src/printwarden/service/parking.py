"""Long answers that wait without the request's whole stack: a site's beating long poll.

A thousand Site Servers each hold a long poll open at HQ, for minutes. Streamed the usual way,
each waiting poll keeps everything its request went through alive: every middleware's and
FastAPI's frames, its dependency exit stacks, the request object and (Starlette's
``StreamingResponse``) a task group of two tasks — more than half of what a connected site
costs HQ.

A route answers with :class:`Parked` instead: it sends the answer's start and hands the rest
(the body's chunks, and what ends them early) to :class:`Parking`, the outermost middleware,
through the scope; then it returns, and the request's stack unwinds. :class:`Parking` sends
the rest itself, and ends it early when the client goes. Without :class:`Parking` in front
(an app built otherwise), :class:`Parked` streams its body as a plain streaming answer would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

SLOT = "printwarden.parked"  # the scope's key for the list a parked answer is put in


class Parked(Response):
    """An answer whose body (``chunks``) may take minutes; ``leave`` is called (on the event
    loop) when the client goes meanwhile, and must make ``chunks`` end soon."""

    def __init__(
        self,
        chunks: AsyncGenerator[bytes, None],
        leave: Callable[[], None],
        *,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        # No body: Response.__init__ would give it one, and a Content-Length of 0.
        self.status_code, self.media_type, self.background = 200, media_type, None
        self.init_headers(headers)
        self.chunks, self.leave = chunks, leave

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        slot = scope.get(SLOT)
        if slot is None:  # no Parking in front: the body goes now, through this stack
            await self.finish(receive, send)
        else:
            slot.append(self)

    async def finish(self, receive: Receive, send: Send) -> None:
        """Send the body to its end, or until the client goes."""
        gone = asyncio.ensure_future(_client_gone(receive))
        gone.add_done_callback(self._left)
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            with contextlib.suppress(Exception):
                await self.chunks.aclose()

    def _left(self, gone: asyncio.Future[None]) -> None:
        if not gone.cancelled():  # cancelled: the body ended first
            self.leave()


class Parking:
    """ASGI middleware, outermost: sends the rest of the answers parked with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot: list[Parked] = []
        scope[SLOT] = slot
        await self.app(scope, receive, send)
        if slot:  # the request's stack is gone: only this frame waits with the answer
            await slot.pop().finish(receive, send)


async def _client_gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
