"""The Site Server's calls to HQ while HQ cannot be reached: each failed call drops its
connection, and nothing piles up (a heartbeat fails twice a second for as long as the
outage lasts)."""

from __future__ import annotations

import httpx
import pytest

from printwarden.site.upstream import Upstream, UpstreamError


def refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_failed_heartbeats_keep_no_client_behind() -> None:
    upstream = Upstream("http://hq.invalid", "token", "north",
                        transport=httpx.MockTransport(refusing))  # fmt: skip
    for _ in range(50):
        with pytest.raises(UpstreamError):
            upstream.status({"mode": "offline"}, 0.75)
    assert len(upstream._clients) <= 1  # what leaked is the point
    upstream.close()
