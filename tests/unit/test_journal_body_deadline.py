"""Once admitted, a journal upload's body must arrive in time (``routes/sites.py``): one
that trickles in would hold its share of the uploads' memory budget from every other site."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from printwarden.service.problems import Problem
from printwarden.service.routes import sites


def request_sending(chunks: list[bytes], pause: float) -> Request:
    """A request whose body comes in ``chunks``, ``pause`` seconds before the last."""
    sent = iter(range(len(chunks)))

    async def receive() -> dict[str, Any]:
        n = next(sent)
        if n == len(chunks) - 1:
            await asyncio.sleep(pause)
        return {"type": "http.request", "body": chunks[n], "more_body": n < len(chunks) - 1}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    return Request(scope, receive)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sites, "BODY_SECONDS", 0.2)
    monkeypatch.setattr(sites, "BODY_BYTES_PER_SECOND", 1000)


@pytest.mark.usefixtures("quick")
def test_a_body_that_comes_in_time_is_read_whole() -> None:
    request = request_sending([b'{"entries"', b": []}"], pause=0.05)
    assert asyncio.run(sites._body_in_time(request, 11)) == b'{"entries": []}'


@pytest.mark.usefixtures("quick")
def test_a_body_that_trickles_in_is_refused_with_408_and_the_connection_closed() -> None:
    request = request_sending([b'{"entries"', b": []}"], pause=1.0)
    with pytest.raises(Problem) as refused:
        asyncio.run(sites._body_in_time(request, 11))
    assert refused.value.status == 408
    assert refused.value.detail == "the upload's body did not arrive within 0 s"
    assert refused.value.headers == {"Connection": "close"}


@pytest.mark.usefixtures("quick")
def test_a_big_body_gets_time_by_its_size() -> None:
    """1,000 bytes a second: 600 bytes may take 0.6 s, more than the 0.2 s floor."""
    request = request_sending([b"x" * 300, b"y" * 300], pause=0.4)
    assert len(asyncio.run(sites._body_in_time(request, 600))) == 600
