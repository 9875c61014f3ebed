"""The Site Server's own calls to the App Server (with its site token): heartbeat, changes,
journal upload. Short timeouts: a cut link must show within a second or two."""

from __future__ import annotations

from typing import Any

import httpx

HEARTBEAT_TIMEOUT = httpx.Timeout(1.0)
CALL_TIMEOUT = httpx.Timeout(10.0, connect=1.0)


class UpstreamError(Exception):
    """The App Server could not be reached, or answered 5xx."""


class UpstreamRefused(Exception):
    """The App Server refused (4xx): a configuration problem, not an outage."""


class Upstream:
    def __init__(self, url: str, token: str, site: str) -> None:
        self.site = site
        self.http = httpx.Client(
            base_url=f"{url.rstrip('/')}/api/v1/sites/{site}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=CALL_TIMEOUT,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, timeout: httpx.Timeout, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, timeout=timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise UpstreamError(f"{path}: the App Server answered {response.status_code}")
        if response.status_code >= 400:
            raise UpstreamRefused(f"{path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def status(self, body: dict[str, Any]) -> bool:
        """Send a heartbeat; returns whether an administrator forces the site offline."""
        answer = self._call("POST", "/status", HEARTBEAT_TIMEOUT, json=body)
        return bool(answer.get("forced_offline"))

    def changes(self, since: int, wait: float = 0.0, limit: int = 5000) -> dict[str, Any]:
        timeout = httpx.Timeout(wait + 10.0, connect=1.0)
        params = {"since": since, "wait": wait, "limit": limit}
        page: dict[str, Any] = self._call("GET", "/changes", timeout, params=params)
        return page

    def upload(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        report: dict[str, Any] = self._call(
            "POST", "/journal", CALL_TIMEOUT, json={"entries": entries}
        )
        return report
