"""The Site Server's own calls to the App Server (with its site token): heartbeat, changes,
journal upload. Short timeouts: a cut link must show within a second or two."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import httpx
from pydantic import BaseModel
from pydantic_core import from_json

from printwarden.api.client import ApiClient, ApiError, NoAnswer, build, parse
from printwarden.api.journal import JournalEntry, JournalOut, JournalUpload
from printwarden.api.sites import SiteKeysOut, SiteStatusIn, SiteStatusOut

# A beating long poll hears a space every beat (0.25 s at HQ): this much silence is a cut.
SILENCE_SECONDS = 0.7
BEATING_TIMEOUT = httpx.Timeout(SILENCE_SECONDS, connect=1.0)
QUIET_TIMEOUT = httpx.Timeout(45.0, connect=1.0)  # a quiet poll beats every 20 s
CALL_TIMEOUT = httpx.Timeout(10.0, connect=1.0)
PAGE_TIMEOUT_SECONDS = 120.0
SNAPSHOT_PAGE = 10_000  # entities per snapshot page: about 5,000 users with their accounts


class UpstreamError(Exception):
    """The App Server could not be reached, or answered 5xx."""


class LinkSilent(UpstreamError):
    """The App Server's beats stopped mid-poll: the link is cut (not merely slow)."""


class UpstreamRefused(Exception):
    """The App Server refused (4xx): a configuration problem, not an outage."""


class Upstream:
    """The site token's calls to ``/sites/{site}`` at HQ; each thread its own connection."""

    def __init__(
        self, url: str, token: str, site: str, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.site = site
        self.base_url = f"{url.rstrip('/')}/api/v1/sites/{site}"
        self.token = token
        self.transport = transport  # shared by the threads' clients (e.g. a test's mock)
        self._local = threading.local()
        self._clients: list[ApiClient] = []

    def _client(self) -> ApiClient:
        """Each thread its own client: one thread's dead connections never stall another."""
        client: ApiClient | None = getattr(self._local, "client", None)
        if client is None:
            client = ApiClient(self.base_url, self.token, transport=self.transport)
            self._local.client = client
            self._clients.append(client)
        return client

    def _reset(self) -> None:
        """Drop this thread's connections: after a cut, a kept-alive one may be a black hole.
        The client is forgotten too (kept, every failed heartbeat would leak one)."""
        client: ApiClient | None = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None
            with contextlib.suppress(ValueError):
                self._clients.remove(client)

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def release_thread(self) -> None:
        """Close the calling thread's client (a short-lived thread is done calling)."""
        self._reset()

    def _call(
        self,
        method: str,
        path: str,
        timeout: httpx.Timeout,
        body: BaseModel | Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        with self._answered(path):
            return self._client().call(method, path, body=body, params=params, timeout=timeout)

    @contextlib.contextmanager
    def _answered(self, path: str) -> Iterator[None]:
        """What went wrong calling ``path`` as :class:`UpstreamError` (no answer, 5xx: the
        thread's connections are dropped) or :class:`UpstreamRefused` (4xx)."""
        try:
            yield
        except NoAnswer as exc:
            self._reset()
            raise UpstreamError(f"{type(exc.error).__name__}: {exc.error}") from None
        except httpx.HTTPError as exc:
            self._reset()
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None
        except ApiError as exc:
            if exc.server_fault:
                raise UpstreamError(f"{path}: the App Server answered {exc.status}") from None
            raise UpstreamRefused(f"{path}: {exc.status} {exc.text[:300]}") from None

    def status(self, body: Mapping[str, Any], timeout: float) -> SiteStatusOut:
        """Send a heartbeat (``timeout`` seconds in all); HQ's answer: whether an
        administrator forces the site offline, and HQ's beacon if it has one."""
        sent = build(SiteStatusIn, body)
        answer = self._call("POST", "/status", httpx.Timeout(timeout), sent)
        return parse(SiteStatusOut, answer)

    def beating_changes(
        self,
        since: int,
        wait: float,
        forced: bool,
        on_beat: Callable[[], None],
        quiet: bool = False,
    ) -> dict[str, Any]:
        """A long poll that streams a space each beat while it waits (``on_beat`` is called
        for each); :class:`LinkSilent` when none came for ``SILENCE_SECONDS``. Answers at
        once when HQ's forced mode is not ``forced``. ``quiet``: HQ beats every 20 s only
        (the site hears its link on its beacon), and the poll may last longer."""
        params: dict[str, str | float] = {"since": since, "wait": wait, "beats": "true",
                                          "forced": str(forced).lower()}  # fmt: skip
        if quiet:
            params["quiet"] = "true"
        http = self._client().http
        timeout = QUIET_TIMEOUT if quiet else BEATING_TIMEOUT
        with self._answered("/changes"):
            try:
                with http.stream("GET", "/changes", params=params,
                                 timeout=timeout) as answer:  # fmt: skip
                    if answer.status_code >= 400:
                        answer.read()
                        raise ApiError.from_response(answer)
                    body = _beaten_body(answer.iter_raw(), on_beat)
            except httpx.ReadTimeout:
                self._reset()
                silence = timeout.read
                raise LinkSilent(f"no beat from the App Server for {silence} s") from None
        page: dict[str, Any] = from_json(body)
        return page

    def changes(self, since: int, wait: float = 0.0, limit: int = 5000) -> dict[str, Any]:
        """A page of changes, as sent (pydantic-core reads megabytes fast; the replica applies
        the entities as they are)."""
        # A first sync's pages can be large (one bulk import is one page): give them time.
        timeout = httpx.Timeout(wait + 5.0 if wait else PAGE_TIMEOUT_SECONDS, connect=1.0)
        params = {"since": since, "wait": wait, "limit": limit}
        page: dict[str, Any] = from_json(
            self._call("GET", "/changes", timeout, params=params).content
        )
        return page

    def keys(self) -> SiteKeysOut:
        """The site's card key and HQ's public cookie key (``GET /sites/{name}/keys``)."""
        return parse(SiteKeysOut, self._call("GET", "/keys", CALL_TIMEOUT))

    def snapshot(self, cursor: dict[str, Any], limit: int = SNAPSHOT_PAGE) -> dict[str, Any]:
        """The snapshot page at ``cursor`` (``{"at", "kind", "after"}``, see ``Replica``)."""
        params = {"snapshot": True, "limit": limit, "kind": cursor["kind"]}
        for name in ("at", "after"):
            if cursor[name] is not None:
                params[name] = cursor[name]
        timeout = httpx.Timeout(PAGE_TIMEOUT_SECONDS, connect=1.0)
        page: dict[str, Any] = from_json(
            self._call("GET", "/changes", timeout, params=params).content
        )
        return page

    def upload(self, entries: list[dict[str, Any]]) -> JournalOut:
        """Upload journal entries (as the journal holds them); HQ's report."""
        body = JournalUpload(entries=cast("list[JournalEntry]", entries))
        return parse(JournalOut, self._call("POST", "/journal", CALL_TIMEOUT, body))


def _beaten_body(chunks: Iterator[bytes], on_beat: Callable[[], None]) -> bytes:
    """The JSON after the beats (spaces) a beating long poll sends first."""
    parts: list[bytes] = []
    for chunk in chunks:
        if not parts:
            body = chunk.lstrip(b" ")
            if len(body) < len(chunk):
                on_beat()
            if not body:
                continue
            chunk = body
        parts.append(chunk)
    return b"".join(parts)
