"""The server's side of a provider's doorbell: ``POST {control_url}/wake``.

The server keeps no credential of a provider. An order (release a held job with a printer and
settings, or cancel it) is recorded on the held job first (``held_jobs.pending_order``); the
ring then only tells the provider to fetch its pending orders — with its own token, from its
own server — and carries no secret and no order. A provider answers the ring once it has
fetched and applied what it found, so the caller can read the outcome from the held job.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from printwarden.store.models import ProviderRow

# A provider answers after one fetch of its orders from its own server (its own timeouts
# are 5 s per request by default): wait longer than that before calling it unreachable.
TIMEOUT = httpx.Timeout(15.0, connect=2.0)
WAKE = "wake"


class ProviderUnreachable(Exception):
    """The provider did not answer its doorbell (or answered with an error)."""


@dataclass(frozen=True, slots=True)
class Bell:
    """Where a provider's doorbell is."""

    name: str
    control_url: str

    @classmethod
    def of(cls, row: ProviderRow) -> Bell:
        return cls(row.name, row.control_url)


class ProviderDoorbell:
    """One pooled HTTP client ringing every provider's doorbell."""

    def __init__(self) -> None:
        self._client = httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def ring(self, bell: Bell) -> None:
        """Wake the provider; return once it has fetched and applied its pending orders."""
        if not bell.control_url:
            raise ProviderUnreachable(f"provider {bell.name} has no control URL")
        url = f"{bell.control_url.rstrip('/')}/{WAKE}"
        try:
            response = self._client.post(url, json={})
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise ProviderUnreachable(f"provider {bell.name} unreachable: {reason}") from None
        if response.status_code != 200:
            detail = _detail(response)
            raise ProviderUnreachable(
                f"provider {bell.name} answered {response.status_code}: {detail}"
            )


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]
