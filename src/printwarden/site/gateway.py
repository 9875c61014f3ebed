"""The Site Server's front door: forward to the App Server while online, answer from the
replica while offline — and answer from the replica a request whose forward just failed, so
a client never sees the outage as an error.

Providers, devices and release stations talk to this exactly as to the App Server (same
paths, same tokens): they cannot tell which one answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from starlette.datastructures import Headers

from printwarden.service.client_address import CLIENT_HEADER, SITE_TOKEN_HEADER, networks, resolve
from printwarden.site import streams
from printwarden.web.sessions import SESSION_COOKIE

log = logging.getLogger("printwarden.site")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"host",
     b"proxy-authorization", b"proxy-authenticate", b"trailer", b"content-length"}
)  # fmt: skip
# Named by the gateway itself: a client's own are dropped.
NOT_FORWARDED = HOP_BY_HOP | {CLIENT_HEADER.encode(), SITE_TOKEN_HEADER.encode()}
# Well below a provider's own server timeout (5 s by default), so that a forward that gets
# no answer is still answered from the replica before the provider gives up on the site.
FORWARD_TIMEOUT = httpx.Timeout(1.5, connect=1.0)
# A login checks a password or PIN at HQ (argon2, tens of milliseconds alone, seconds on a
# busy App Server); the replica cannot check a password it has not seen accepted, so a
# login answered here after a short wait would refuse the right one. Still under 5 s.
SECRET_CHECK_TIMEOUT = httpx.Timeout(3.5, connect=1.0)
# A request carrying an account's PIN (a question's answer, a device's or a job's account
# choice: JSON or a form) has it checked at HQ with argon2, as a login's password is.
_CARRIES_PIN = re.compile(rb'"(?:account_)?pin"\s*:\s*"[^"]|(?:^|&)(?:account_)?pin=[^&]')
# True while the replica answers a request: its effects are offline effects, journaled and
# under the Offline Policies — even when the mode is still ONLINE (a forward just failed).
ANSWERING_LOCALLY: ContextVar[bool] = ContextVar("answering_locally", default=False)
# Paths a site never forwards: its own status, and Web Print and Email to Print (a document
# handed in at a site is rendered, kept and fetched by its provider there, online or offline).
# So are a person's scans and the scanners the site drives (eSCL), and every scan the site
# took (its id says so): its pages and its delivery stay here even once the link is back.
LOCAL_ONLY = ("/site/", "/api/v1/me/web-print", "/web/portal/web-print",
              "/web/portal/mail-confirm", "/api/v1/me/scan", "/web/portal/scan",
              "/api/v1/device/scans/site-", "/scans/site-")  # fmt: skip
# A provider's Web Print submissions: the site's own, and (online) those handed in at HQ.
SUBMISSIONS = re.compile(r"/api/v1/providers/[^/]+/submissions(?P<rest>/.*)?")


def answered_here(path: str) -> bool:
    """Whether the site answers ``path`` itself, never forwarding it to HQ."""
    return path.startswith(LOCAL_ONLY)


class HqConnection:
    """What the gateway needs from the Site Server: the mode, and where failures go."""

    def online(self) -> bool:
        raise NotImplementedError

    def forward_failed(self, reason: str) -> None:
        raise NotImplementedError

    def forward_succeeded(self) -> None:
        raise NotImplementedError

    async def password_accepted(self, username: str, password: str) -> None:
        """The App Server accepted this password (for the offline password cache)."""

    def replica_ready(self) -> bool:
        """Whether the replica holds a first copy of HQ's data (it can answer)."""
        return True


class Gateway:
    """ASGI app: ``upstream`` while the link is up, ``local`` (the replica) otherwise.

    A forwarded request names its client to the App Server (``X-Printwarden-Client``, with
    the site token in ``X-Printwarden-Site-Token`` as proof that a site says so), so HQ
    throttles failed logins per person, not per site; the same headers from a client are
    dropped. ``trusted_proxies``: proxies in front of this site whose forwarding headers name
    the client (none by default)."""

    def __init__(
        self,
        local: App,
        upstream_url: str,
        link: HqConnection,
        site_token: str = "",
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.local, self.link = local, link
        self.upstream = upstream_url.rstrip("/")
        self.client = httpx.AsyncClient(timeout=FORWARD_TIMEOUT)
        # User Clients' event streams: one long request each, as many as there are clients.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        self.streams = httpx.AsyncClient(timeout=streams.STREAM_TIMEOUT, limits=limits)
        self._mode_changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.site_token = site_token
        self.trusted = networks(tuple(trusted_proxies))

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.streams.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or answered_here(scope["path"]):
            await self.local(scope, receive, send)
            return
        body = await _read_body(receive)
        if streams.is_event_stream(scope):  # never forwarded whole: it has no end
            if not (self.link.online() and await self._relay_stream(scope, receive, send)):
                await self._answer_locally(scope, body, send, receive)
            return
        if SUBMISSIONS.fullmatch(scope["path"]):
            await _send_response(send, await self._submissions(scope, body))
            return
        if self.link.online():
            forwarded = await self._forward(scope, body)
            if forwarded is not None:
                await _send_response(send, forwarded)
                return
        await self._answer_locally(scope, body, send, receive)

    async def _relay_stream(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """A User Client's event stream, from HQ as it comes (``site/streams.py``), until
        the site's mode changes."""
        changed = self._mode_event()
        if not self.link.online():  # changed just now
            return False
        url, headers = self._upstream_request(scope)
        request = self.streams.build_request("GET", url, headers=headers)
        return await streams.relay(self.streams, request, send, receive, changed)

    def mode_changed(self) -> None:
        """The site went offline or online (from any thread): relayed streams end."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._signal_mode_change)

    def _signal_mode_change(self) -> None:
        if self._mode_changed is not None:
            self._mode_changed.set()
            self._mode_changed = None

    def _mode_event(self) -> asyncio.Event:
        """Set at the next change of mode (one event shared by every relayed stream)."""
        self._loop = asyncio.get_running_loop()
        if self._mode_changed is None:
            self._mode_changed = asyncio.Event()
        return self._mode_changed

    def _upstream_request(self, scope: Scope) -> tuple[str, list[tuple[bytes, bytes]]]:
        """HQ's URL for the request, and the headers to send it with."""
        # The path as the client sent it (still percent-encoded), not ``path``, decoded.
        raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
        url = self.upstream + raw.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in NOT_FORWARDED]
        return url, headers + self._client_headers(scope)

    async def _forward(self, scope: Scope, body: bytes) -> httpx.Response | None:
        url, headers = self._upstream_request(scope)
        request = self.client.request(
            scope["method"], url, headers=headers, content=body, timeout=_timeout(scope, body)
        )
        try:
            response = await self._unless_cut(request)
            if response is None:
                return None  # the site went offline meanwhile: answered here
        except httpx.InvalidURL as exc:  # the client's own doing: no fault of the link
            return _problem(400, "Bad Request", f"the request's URL cannot be forwarded: {exc}")
        except httpx.HTTPError as exc:
            self.link.forward_failed(f"{type(exc).__name__} forwarding {scope['path']}")
            return None
        if response.status_code in (502, 503, 504):
            self.link.forward_failed(f"upstream answered {response.status_code}")
            return None
        self.link.forward_succeeded()
        accepted = _accepted_password(scope["path"], body, response)
        if accepted is not None:
            await self.link.password_accepted(*accepted)
        return response

    async def _unless_cut(self, request: Awaitable[httpx.Response]) -> httpx.Response | None:
        """``request``'s answer; None if the site goes offline first (the link was cut: its
        answer may never come, and the replica answers now instead of at the timeout). A
        request HQ applied all the same is applied once: the journal's ids are HQ's too."""
        forwarding = asyncio.ensure_future(request)
        while True:
            changed = asyncio.ensure_future(self._mode_event().wait())
            done, _ = await asyncio.wait({forwarding, changed}, return_when=asyncio.FIRST_COMPLETED)
            if forwarding in done:
                changed.cancel()
                return forwarding.result()
            if not self.link.online():
                forwarding.cancel()
                await asyncio.gather(forwarding, return_exceptions=True)
                return None

    async def _submissions(self, scope: Scope, body: bytes) -> httpx.Response:
        """A provider's Web Print submissions: the site's own (rendered here) and, while
        online, HQ's (handed in at HQ for a queue of this site): listed together, each
        document fetched from where it is, results told to both (each ignores ids it does
        not have)."""
        local = await self._local_call(scope, body)
        if not self.link.online():
            return local
        rest = (SUBMISSIONS.fullmatch(scope["path"]) or {"rest": ""})["rest"] or ""
        if rest.endswith("/document") and local.status_code == 200:
            return local
        upstream = await self._forward(scope, body)
        if upstream is None or upstream.status_code != 200:
            return local
        if rest.endswith("/document"):
            return upstream
        if local.status_code != 200:
            return upstream
        return _merged(local, upstream, "applied" if rest == "/results" else "submissions")

    async def _local_call(self, scope: Scope, body: bytes) -> httpx.Response:
        """The local app's answer, as a response (to merge with HQ's)."""
        transport = httpx.ASGITransport(app=self.local)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in NOT_FORWARDED]
        async with httpx.AsyncClient(transport=transport, base_url="http://site.local") as client:
            raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
            url = raw.decode("latin-1")
            if scope.get("query_string"):
                url += "?" + scope["query_string"].decode("latin-1")
            return await client.request(scope["method"], url, headers=headers, content=body)

    def _client_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """Who the client is, and the site token that vouches for it."""
        if not self.site_token:
            return []
        peer = scope["client"][0] if scope.get("client") else ""
        client = resolve(peer, Headers(scope=scope), self.trusted)
        return [
            (CLIENT_HEADER.encode(), client.encode("latin-1")),
            (SITE_TOKEN_HEADER.encode(), self.site_token.encode("latin-1")),
        ]

    async def _answer_locally(
        self, scope: Scope, body: bytes, send: Send, receive: Receive | None = None
    ) -> None:
        """The replica answers; a route whose functions-table row is unavailable offline
        refuses itself (``service/offline_functions.py``: each route declares its row).
        A replica still taking its first copy answers 503: it knows no one yet, and a 401
        would tell a User Client its token is void."""
        if not self.link.replica_ready():
            detail = "this site is still copying HQ's data and HQ did not answer: try again soon"
            await _send_response(send, _problem(503, "Service Unavailable", detail,
                                                retry_after=5))  # fmt: skip
            return
        marker = ANSWERING_LOCALLY.set(True)
        try:
            await self.local(scope, _replay(body, receive), send)
        finally:
            ANSWERING_LOCALLY.reset(marker)


PASSWORD_LOGINS = ("/api/v1/auth/login", "/api/v1/auth/device", "/api/v1/device/sessions")
WEB_LOGIN = "/web/login"


def _accepted_password(path: str, body: bytes, response: httpx.Response) -> tuple[str, str] | None:
    """The username and password of a login the App Server accepted, else None."""
    if path == WEB_LOGIN:
        return _accepted_web_login(body, response)
    if response.status_code not in (200, 201) or not _is_password_login(path, body, response):
        return None
    credentials = json.loads(body)
    return str(credentials["username"]), str(credentials["password"])


def _accepted_web_login(body: bytes, response: httpx.Response) -> tuple[str, str] | None:
    """The web login form: accepted when it redirects with a new session cookie."""
    if response.status_code != 303 or SESSION_COOKIE not in response.cookies:
        return None
    form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    username, password = form.get("username", [""])[0], form.get("password", [""])[0]
    return (username, password) if username and password else None


def _is_password_login(path: str, body: bytes, response: httpx.Response) -> bool:
    """A login with a username and password that the App Server accepted."""
    if path not in PASSWORD_LOGINS:
        return False
    try:
        sent = json.loads(body)
        answer = response.json()
    except ValueError:
        return False
    if not isinstance(sent, dict) or not sent.get("username") or not sent.get("password"):
        return False
    if path != "/api/v1/auth/login" and sent.get("method") != "password":
        return False
    return path != "/api/v1/auth/device" or bool(answer.get("authenticated"))


def _merged(local: httpx.Response, upstream: httpx.Response, field: str) -> httpx.Response:
    """The two answers as one: their ``field`` lists joined, or their counts added."""
    mine, theirs = local.json(), upstream.json()
    merged = mine[field] + theirs[field]
    return httpx.Response(200, json={field: merged})


def _timeout(scope: Scope, body: bytes = b"") -> httpx.Timeout:
    """Long polls get their own time, logins and requests that carry a PIN the time a busy
    HQ takes to check a secret; everything else the short forwarding timeout."""
    if scope["path"] in PASSWORD_LOGINS or scope["path"] == WEB_LOGIN:
        return SECRET_CHECK_TIMEOUT
    if b"pin" in body and _CARRIES_PIN.search(body):
        return SECRET_CHECK_TIMEOUT
    query = scope.get("query_string", b"").decode("latin-1")
    for part in query.split("&"):
        if part.startswith("wait="):
            try:
                return httpx.Timeout(float(part[5:]) + 5.0, connect=1.0)
            except ValueError:
                break
    return FORWARD_TIMEOUT


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive | None = None) -> Receive:
    """The request's body (read already) once; then what the client does next (``then``:
    its disconnect, which a streamed answer waits for), or at once a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then() if then is not None else {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _problem(status: int, title: str, detail: str, retry_after: int = 0) -> httpx.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    headers = {"content-type": "application/problem+json"}
    if retry_after:
        headers["retry-after"] = str(retry_after)
    return httpx.Response(status, json=body, headers=headers)


async def _send_response(send: Send, response: httpx.Response) -> None:
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
    content = response.content
    headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})
