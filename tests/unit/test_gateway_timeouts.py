"""How long a site waits for HQ before its replica answers: a login, whose password only HQ
can check, is given the time a busy App Server takes; any other request is not."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from printwarden.site.gateway import Gateway
from support.gateway_links import StubLink

HQ_DELAY = 2.5  # longer than an ordinary forward may take, shorter than a login may


async def replica(scope: Any, receive: Any, send: Any) -> None:
    """The site's own app: it knows no password, so it refuses every login."""
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"detail": "from the replica"}'})


async def slow_hq(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HQ, busy: every answer (200, "from HQ") comes after HQ_DELAY."""
    try:
        await answer_slowly(reader, writer)
    finally:
        writer.close()


async def answer_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")), 0,
    )  # fmt: skip
    await reader.readexactly(length)
    await asyncio.sleep(HQ_DELAY)
    body = json.dumps({"token": "t", "detail": "from HQ"}).encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


def ask(method: str, path: str, body: dict[str, str] | None = None) -> tuple[str, StubLink]:
    """Where the answer to ``path`` through a site's gateway came from, and the link."""
    link = StubLink()

    async def run() -> str:
        server = await asyncio.start_server(slow_hq, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        gateway = Gateway(replica, f"http://127.0.0.1:{port}", link)
        transport = httpx.ASGITransport(app=gateway)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://site") as client:
                answer = await asyncio.wait_for(client.request(method, path, json=body), 10)
        finally:
            await gateway.aclose()
            server.close()
        return str(answer.json()["detail"])

    return asyncio.run(run()), link


def test_a_login_waits_for_a_busy_hq_to_check_the_password() -> None:
    credentials = {"username": "ada", "password": "right-password"}
    source, link = ask("POST", "/api/v1/auth/login", credentials)
    assert source == "from HQ"  # not the replica's refusal of a password it never saw
    assert link.failures == []
    assert link.accepted == [("ada", "right-password")]  # and the site learns it


def test_an_answer_with_an_account_pin_waits_for_a_busy_hq_to_check_it() -> None:
    """The PIN of a shared account, with a question's answer: only HQ can check it."""
    answer = {"action": "print", "account": "Project", "pin": "2468"}
    source, link = ask("POST", "/api/v1/me/questions/job-1", answer)
    assert source == "from HQ"
    assert link.failures == []


def test_an_answer_without_a_pin_is_an_ordinary_request() -> None:
    source, link = ask("POST", "/api/v1/me/questions/job-1", {"action": "print", "pin": ""})
    assert source == "from the replica"
    assert len(link.failures) == 1


def test_an_ordinary_request_is_answered_here_when_hq_is_slow() -> None:
    source, link = ask("GET", "/api/v1/printers")
    assert source == "from the replica"
    (failure,) = link.failures
    assert "Timeout" in failure
