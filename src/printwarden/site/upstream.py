"""The Site Server's own calls to the App Server (with its site token): heartbeat, changes,
journal upload. Short timeouts: a cut link must show within a second or two."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from pydantic_core import from_json

HEARTBEAT_TIMEOUT = httpx.Timeout(0.75)
CALL_TIMEOUT = httpx.Timeout(10.0, connect=1.0)
PAGE_TIMEOUT_SECONDS = 120.0
SNAPSHOT_PAGE = 10_000  # entities per snapshot page: about 5,000 users with their accounts


class UpstreamError(Exception):
    """The App Server could not be reached, or answered 5xx."""


class UpstreamRefused(Exception):
    """The App Server refused (4xx): a configuration problem, not an outage."""


class Upstream:
    def __init__(self, url: str, token: str, site: str) -> None:
        self.site = site
        self.base_url = f"{url.rstrip('/')}/api/v1/sites/{site}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        """Each thread its own client: one thread's dead connections never stall another."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, headers=self.headers)
            self._local.client = client
            self._clients.append(client)
        return client

    def _reset(self) -> None:
        """Drop this thread's connections: after a cut, a kept-alive one may be a black hole."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def release_thread(self) -> None:
        """Close the calling thread's client (a short-lived thread is done calling)."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        self._reset()
        if client is not None and client in self._clients:
            self._clients.remove(client)

    def _call(self, method: str, path: str, timeout: httpx.Timeout, **kwargs: Any) -> Any:
        try:
            response = self._client().request(method, path, timeout=timeout, **kwargs)
        except httpx.HTTPError as exc:
            self._reset()
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise UpstreamError(f"{path}: the App Server answered {response.status_code}")
        if response.status_code >= 400:
            raise UpstreamRefused(f"{path}: {response.status_code} {response.text[:300]}")
        return from_json(response.content)  # pydantic-core: a snapshot page is megabytes

    def status(self, body: dict[str, Any]) -> bool:
        """Send a heartbeat; returns whether an administrator forces the site offline."""
        answer = self._call("POST", "/status", HEARTBEAT_TIMEOUT, json=body)
        return bool(answer.get("forced_offline"))

    def changes(self, since: int, wait: float = 0.0, limit: int = 5000) -> dict[str, Any]:
        # A first sync's pages can be large (one bulk import is one page): give them time.
        timeout = httpx.Timeout(wait + 5.0 if wait else PAGE_TIMEOUT_SECONDS, connect=1.0)
        params = {"since": since, "wait": wait, "limit": limit}
        page: dict[str, Any] = self._call("GET", "/changes", timeout, params=params)
        return page

    def keys(self) -> dict[str, Any]:
        """The site's card key and HQ's public cookie key (``GET /sites/{name}/keys``)."""
        found: dict[str, Any] = self._call("GET", "/keys", CALL_TIMEOUT)
        return found

    def snapshot(self, cursor: dict[str, Any], limit: int = SNAPSHOT_PAGE) -> dict[str, Any]:
        """The snapshot page at ``cursor`` (``{"at", "kind", "after"}``, see ``Replica``)."""
        params = {"snapshot": True, "limit": limit, "kind": cursor["kind"]}
        for name in ("at", "after"):
            if cursor[name] is not None:
                params[name] = cursor[name]
        timeout = httpx.Timeout(PAGE_TIMEOUT_SECONDS, connect=1.0)
        page: dict[str, Any] = self._call("GET", "/changes", timeout, params=params)
        return page

    def upload(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        report: dict[str, Any] = self._call(
            "POST", "/journal", CALL_TIMEOUT, json={"entries": entries}
        )
        return report
