"""The server's side of a provider's doorbell: ``POST {control_url}/wake``.

The server keeps no credential of a provider. An order (release a held job with a printer and
settings, or cancel it) is recorded on the held job first (``held_jobs.pending_order``); the
ring then only tells the provider to fetch its pending orders — with its own token, from its
own server — and carries no secret and no order. A provider answers the ring once it has
fetched and applied what it found, so the caller can read the outcome from the held job.

A provider at a site is rung through its Site Server (``Bell.via``, the site's advertised
URL; ``site/relay.py``), never directly: HQ's only way into a site is its Site Server, so a
cut WAN link cuts HQ's rings too. The site's own local app (offline) rings its providers
directly, on the site's network.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from printwarden.store.models import ProviderRow

if TYPE_CHECKING:
    import httpx

# A provider answers after one fetch of its orders from its own server (its own timeouts
# are 5 s per request by default): wait longer than that before calling it unreachable.
TIMEOUT_SECONDS = 15.0
CONNECT_SECONDS = 2.0  # for the connection itself
WAKE = "wake"


class ProviderUnreachable(Exception):
    """The provider did not answer its doorbell (or answered with an error)."""


@dataclass(frozen=True, slots=True)
class Bell:
    """Where a provider's doorbell is."""

    name: str
    control_url: str
    site: str = ""  # the site the provider is at, rung through that site's Site Server
    via: str = ""  # that Site Server's URL ("": the site never said — an older Site Server)

    @classmethod
    def of(cls, row: ProviderRow, site: str = "", via: str = "") -> Bell:
        return cls(row.name, row.control_url, site, via)

    def url(self) -> str:
        """Where to ring: the site's relay for a provider at a site, else the provider (also
        when the site has not said where it is reached: older Site Servers do not)."""
        if self.site and self.via:
            return f"{self.via.rstrip('/')}/site/providers/{quote(self.name, safe='')}/{WAKE}"
        return f"{self.control_url.rstrip('/')}/{WAKE}"


def doorbell_timeout() -> httpx.Timeout:
    """How long a doorbell's ring may take (HQ's, and a site's relay of it)."""
    import httpx

    return httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS)


class ProviderDoorbell:
    """One pooled HTTP client ringing every provider's doorbell, made on the first ring
    (loaded on first use: httpx, which a server that rings no provider never carries)."""

    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._making = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def ring(self, bell: Bell) -> None:
        """Wake the provider; return once it has fetched and applied its pending orders."""
        import httpx

        relayed = bool(bell.site and bell.via)
        if not relayed and not bell.control_url:
            raise ProviderUnreachable(f"provider {bell.name} has no control URL")
        try:
            response = self._pooled().post(bell.url(), json={})
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            where = f"site {bell.site}" if relayed else f"provider {bell.name}"
            raise ProviderUnreachable(f"{where} unreachable: {reason}") from None
        if response.status_code != 200:
            detail = _detail(response)
            who = f"site {bell.site}" if relayed else f"provider {bell.name}"
            raise ProviderUnreachable(f"{who} answered {response.status_code}: {detail}")

    def _pooled(self) -> httpx.Client:
        import httpx

        with self._making:
            if self._client is None:
                self._client = httpx.Client(timeout=doorbell_timeout())
            return self._client


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]
