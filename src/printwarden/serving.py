"""Running an ASGI app under uvicorn so that SIGTERM ends it at once.

uvicorn waits for every open request before it stops; a site's long poll for changes would
hold a stopping App Server for up to its whole wait. Here the signal also sets a
``stopping`` event the app's long waits watch, and what still runs after
``STOP_GRACE_SECONDS`` is cancelled.
"""

from __future__ import annotations

import threading
from types import FrameType
from typing import Any

import uvicorn

STOP_GRACE_SECONDS = 1.0


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self._stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._stopping.set()
        super().handle_exit(sig, frame)


def server(app: Any, stopping: threading.Event, **options: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` that sets ``stopping`` when told to stop."""
    options.setdefault("timeout_graceful_shutdown", STOP_GRACE_SECONDS)
    options.setdefault("ws", "none")  # no WebSocket routes: the websockets library stays out
    return _Server(uvicorn.Config(app, **options), stopping)


def run(app: Any, stopping: threading.Event, **options: Any) -> None:
    """Serve ``app`` in the foreground until SIGINT or SIGTERM."""
    server(app, stopping, **options).run()
