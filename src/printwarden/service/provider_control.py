"""The server's side of a provider's control API: release or cancel a job it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from printwarden.store.models import ProviderRow

TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class ProviderControlError(Exception):
    """The provider refused (``status`` 4xx) or could not be reached (``status`` 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True, slots=True)
class ControlTarget:
    """Where a provider's control API answers, and its token."""

    name: str
    control_url: str
    control_token: str

    @classmethod
    def of(cls, row: ProviderRow) -> ControlTarget:
        return cls(row.name, row.control_url, row.control_token)


class ProviderControl:
    """One pooled HTTP client for every provider's ``/control`` API."""

    def __init__(self) -> None:
        self._client = httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def release(self, provider: ControlTarget, job_id: int, order: dict[str, Any]) -> None:
        """Release ``job_id`` with ``order`` (printer and settings)."""
        self._post(provider, f"jobs/{job_id}/release", order)

    def cancel(self, provider: ControlTarget, job_id: int, reason: str) -> None:
        self._post(provider, f"jobs/{job_id}/cancel", {"reason": reason})

    def _post(self, provider: ControlTarget, path: str, body: dict[str, Any]) -> None:
        if not provider.control_url or not provider.control_token:
            raise ProviderControlError(0, f"provider {provider.name} has no control API")
        url = f"{provider.control_url.rstrip('/')}/{path}"
        headers = {"Authorization": f"Bearer {provider.control_token}"}
        try:
            response = self._client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderControlError(0, f"provider {provider.name} unreachable: {exc}") from None
        if response.status_code != 200:
            raise ProviderControlError(response.status_code, _detail(response))


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
