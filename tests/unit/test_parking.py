"""A parked answer (``service/parking.py``): its body is sent after the request's stack has
unwound, and it ends when the client goes."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncGenerator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from printwarden.service.parking import Parked, Parking

SCOPE: dict[str, Any] = {"type": "http", "method": "GET", "path": "/poll", "headers": []}


class Request:
    """What a request in the route's stack holds: it must be gone while the answer waits."""


class Client:
    """The ASGI server's side: what was sent, and a disconnect when :meth:`leave` is called."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.left = asyncio.Event()
        self._asked = 0

    async def receive(self) -> Message:
        self._asked += 1
        if self._asked == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    @property
    def complete(self) -> bool:
        return any(m["type"] == "http.response.body" and not m["more_body"] for m in self.sent)


def route(release: asyncio.Event, seen: list[weakref.ref[Request]], log: list[str]) -> ASGIApp:
    """An app whose answer waits for ``release``; ``seen`` gets a weak reference to the request
    object its frame holds, ``log`` what became of the answer's body."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request()
        seen.append(weakref.ref(request))
        ended = asyncio.Event()

        async def chunks() -> AsyncGenerator[bytes, None]:
            try:
                yield b" "
                waiting = asyncio.ensure_future(release.wait())
                await asyncio.wait({waiting, asyncio.ensure_future(ended.wait())},
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                waiting.cancel()
                yield b'{"ok": true}' if release.is_set() else b"{}"
            finally:
                log.append("closed")

        def leave() -> None:
            log.append("left")
            ended.set()

        answer = Parked(chunks(), leave, media_type="application/json", headers={"X-A": "1"})
        await answer(scope, receive, send)

    return app


def fresh() -> tuple[asyncio.Event, list[weakref.ref[Request]], list[str], Client]:
    return asyncio.Event(), [], [], Client()


async def _until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_the_body_goes_after_the_request_stack_is_gone() -> None:
    async def main() -> None:
        release, seen, log, client = fresh()
        served = asyncio.ensure_future(
            Parking(route(release, seen, log))(dict(SCOPE), client.receive, client.send)
        )
        await _until(lambda: client.body == b" ")
        gc.collect()
        assert seen[0]() is None  # the route's frame, and its request, are gone
        assert not client.complete
        release.set()
        await served
        await asyncio.sleep(0.05)  # the watch on the client, cancelled, says nothing
        assert client.body == b' {"ok": true}'
        assert client.complete
        assert client.sent[0]["headers"] == [(b"x-a", b"1"), (b"content-type", b"application/json")]
        assert log == ["closed"]

    asyncio.run(main())


def test_a_client_that_goes_ends_the_answer() -> None:
    async def main() -> None:
        release, seen, log, client = fresh()
        served = asyncio.ensure_future(
            Parking(route(release, seen, log))(dict(SCOPE), client.receive, client.send)
        )
        await _until(lambda: client.body == b" ")
        client.left.set()
        await asyncio.wait_for(served, 2)
        assert log == ["left", "closed"]
        assert client.body == b" {}"

    asyncio.run(main())


def test_without_parking_the_answer_streams_in_its_own_stack() -> None:
    async def main() -> None:
        release, seen, log, client = fresh()
        served = asyncio.ensure_future(route(release, seen, log)(dict(SCOPE), client.receive,
                                                                  client.send))  # fmt: skip
        await _until(lambda: client.body == b" ")
        gc.collect()
        assert seen[0]() is not None  # still in the route's frame, as it waits
        release.set()
        await served
        assert client.body == b' {"ok": true}'
        assert log == ["closed"]

    asyncio.run(main())
