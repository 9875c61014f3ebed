"""Bounded request bodies: a body larger than its route's limit is refused with 413
(problem+json) before it is buffered — at once when its Content-Length says so, else as soon
as the bytes streamed so far (a chunked body) pass the limit.

One ASGI middleware, in front of the App Server's app and of the Site Server's gateway (which
buffers a body to forward it). Starlette's own ``RequestBodyLimitMiddleware`` has one limit
per app or route, fixed at import, and answers in plain text; here each route family has its
configured limit (``[limits]`` in the settings) and the answer is a problem document.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from printwarden.config import BodyLimits
from printwarden.service.problems import RFC_9110_TITLES, problem_response

TITLE = RFC_9110_TITLES[413]
# The routes whose bodies are legitimately big; every other route has ``default_bytes``.
LARGE_BODIES: tuple[tuple[re.Pattern[str], Callable[[BodyLimits], int]], ...] = (
    (re.compile(r"/api/v1/sites/[^/]+/journal"), lambda limits: limits.journal_bytes),
    (re.compile(r"/api/v1/held-jobs/reports"), lambda limits: limits.held_job_reports_bytes),
    (re.compile(r"/api/v1/users/import"), lambda limits: limits.user_import_bytes),
    (re.compile(r"/api/v1/me/web-print"), lambda limits: limits.web_print_bytes),
    (re.compile(r"/web/portal/web-print"), lambda limits: limits.web_print_bytes),
    (re.compile(r"/api/v1/device/scans/[^/]+/pages/\d+"), lambda limits: limits.scan_page_bytes),
)
# The client may still be sending: closing the connection stops it (RFC 9110 §15.5.14).
CLOSE = {"Connection": "close"}


def limit_for(path: str, limits: BodyLimits) -> int:
    """The largest body a request to ``path`` may have, in bytes."""
    for pattern, limit in LARGE_BODIES:
        if pattern.fullmatch(path):
            return limit(limits)
    return limits.default_bytes


class BodyTooLarge(HTTPException):
    """Raised by the bounded ``receive`` when the body passes its limit (an
    ``HTTPException``: FastAPI turns any other error raised while it reads a body into a
    400, and the app's problem handler answers this one as :func:`_refuse` does)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit), headers=CLOSE)


class BodyLimit:
    """ASGI middleware: refuse a body larger than :func:`limit_for` its path with 413."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self.limits)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(413, TITLE, _detail(limit), dict(CLOSE))
    await response(scope, receive, send)


def _detail(limit: int) -> str:
    return f"the request body may be at most {limit} bytes here"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
