"""An App Server in the test's own process: ``create_app()`` behind an in-memory transport.

The API, authorization, bad-input and web-security tests need the app, not a process: they
talk to it through :class:`AppTransport` (no socket, no second interpreter, nothing to wait
for at start). What only a process shows (signals, ``kill -9``, a cut link, a component
talking over a real socket) keeps :class:`printwarden.testing.appserver.AppServer`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from printwarden.config import ClientConfig
from printwarden.service.app import create_app
from printwarden.store.migrate import upgrade
from printwarden.testing.appserver import Seeding

log = logging.getLogger(__name__)

BASE_URL = "http://testserver"
CLIENT_ADDRESS = ("127.0.0.1", 50000)  # a loopback client, as the real server would see it


STREAM_MINUTES = 0.005


class AppTransport(httpx.BaseTransport):
    """A synchronous httpx transport into an ASGI app that runs on a portal's event loop.

    The app answers as the served one does: an exception in a route is logged and answered
    500, not raised in the test. Answers are read whole (no streaming)."""

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        inner = httpx.Request(request.method, request.url, headers=request.headers,
                              content=request.read())  # fmt: skip
        return self._portal.call(self._answer, inner)

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._asgi.handle_async_request(request)
        except Exception:  # what uvicorn does with it
            log.exception("Exception in ASGI application")
            return httpx.Response(500, text="Internal Server Error")
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers,
                              content=content, extensions=response.extensions)  # fmt: skip


@dataclass
class InProcessAppServer(Seeding):
    """The App Server's app in this process; :meth:`client` talks to it without a socket."""

    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)
    _transport: AppTransport | None = field(default=None, init=False, repr=False)
    app: Any = field(default=None, init=False, repr=False)  # the app, once started

    @property
    def url(self) -> str:
        return BASE_URL

    @property
    def api(self) -> str:
        return f"{BASE_URL}/api/v1"

    def start(self) -> None:
        """Migrate the database, build the app and run its start-up (its lifespan)."""
        upgrade(self.database_url)
        # Answers are read whole here: an event stream ends after a moment, with ``hello``.
        short = ClientConfig(stream_minutes=STREAM_MINUTES)
        app = self.app = create_app(self.settings().model_copy(update={"client": short}))
        portal = self._stack.enter_context(start_blocking_portal())
        self._stack.enter_context(
            portal.wrap_async_context_manager(app.router.lifespan_context(app))
        )
        self._transport = AppTransport(app, portal)

    def stop(self) -> None:
        """Run the app's shut-down and stop its event loop."""
        self._transport = None
        self._stack.close()

    def client(self, token: str | None = None, *, under: str = "/api/v1") -> httpx.Client:
        """A client of the paths ``under`` a prefix, with ``token`` as its bearer token."""
        assert self._transport is not None, "start() the app first"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{BASE_URL}{under}", headers=headers, timeout=30,
                            transport=self._transport)  # fmt: skip
