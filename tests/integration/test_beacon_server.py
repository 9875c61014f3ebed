"""HQ's beacon (``service/beacon.py``) over real sockets: a site with a good ticket hears a
beat every interval and is noted in contact; anything else is refused with the reason, and
a connection can neither linger nor say more than its hello."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from printwarden.domain import beacon
from printwarden.domain.beacon import Ticket
from printwarden.service import beacon as beacon_service
from printwarden.service.beacon import BeaconServer
from printwarden.store import sites
from printwarden.store.db import Database, utc

KEY = b"k" * 32
INTERVAL = 0.05
OPEN: list[asyncio.StreamWriter] = []  # the test's connections, closed after it


@pytest.fixture
def hq(hq: Database) -> Database:
    with hq.session() as session:
        sites.create_site(session, "north")
        sites.create_site(session, "south")
    return hq


def run(hq: Database, test: Callable[[BeaconServer], Awaitable[None]], limit: int = 100) -> None:
    async def main() -> None:
        server = BeaconServer(hq, KEY, interval=INTERVAL, limit=limit)
        await server.start("127.0.0.1", 0)
        try:
            await test(server)
        finally:
            for writer in OPEN:
                writer.close()
            OPEN.clear()
            await server.stop()

    asyncio.run(main())


async def connect(
    server: BeaconServer, hello: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    OPEN.append(writer)
    writer.write(hello)
    return reader, writer


def ticket(site: str = "north", generation: int = 1, expires_in: float = 60) -> bytes:
    return beacon.hello(Ticket(site, generation, int(time.time() + expires_in)).sign(KEY))


async def answer(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 2)


def test_a_good_ticket_is_welcomed_beaten_and_noted_in_contact(hq: Database) -> None:
    async def test(server: BeaconServer) -> None:
        reader, writer = await connect(server, ticket())
        assert await answer(reader) == b"OK 50\r\n"
        started = time.monotonic()
        beats = await asyncio.wait_for(reader.readexactly(10), 2)
        assert beats == beacon.BEAT * 10
        assert 0.35 < time.monotonic() - started < 1.5  # ten beats 50 ms apart
        assert server.connected() == ["north"]
        for _ in range(3):  # the site's ticks
            writer.write(beacon.BEAT)
            await asyncio.sleep(beacon_service.TOUCH_SECONDS / 2)
        with hq.read() as session:
            north = sites.find_site(session, "north")
            south = sites.find_site(session, "south")
        assert north.last_contact is not None
        assert datetime.now(UTC) - utc(north.last_contact) < timedelta(seconds=2)
        assert south.last_contact is None  # no beacon, no contact
        writer.close()
        await asyncio.sleep(0.1)
        assert server.connected() == []

    run(hq, test)


@pytest.mark.parametrize(
    ("hello", "reason"),
    [  # made when the test runs: a ticket made at collection may have expired by then
        (lambda: beacon.hello("v1.north.1.9999999999." + "0" * 32), b"forged ticket"),
        (lambda: ticket(expires_in=-10), b"expired ticket"),
        (lambda: ticket(generation=2), b"stale ticket"),
        (lambda: ticket(site="nowhere"), b"stale ticket"),
        (lambda: b"GET / HTTP/1.1\r\n", b"not a PRINTWARDEN-BEACON/1 hello"),
        (lambda: beacon.hello("not-a-ticket"), b"malformed ticket"),
        (lambda: b"\xff\xfe\r\n", b"not ASCII"),
        (lambda: b"x" * 600, b"hello too long"),
    ],
    ids=[
        "forged",
        "expired",
        "re-keyed",
        "unknown-site",
        "http",
        "malformed",
        "binary",
        "too-long",
    ],
)
def test_anything_but_a_good_ticket_is_refused_with_the_reason(
    hq: Database, hello: Callable[[], bytes], reason: bytes
) -> None:
    async def test(server: BeaconServer) -> None:
        reader, writer = await connect(server, hello())
        line = await answer(reader)
        assert line.startswith(b"NO "), line
        assert reason in line, line
        assert await asyncio.wait_for(reader.read(), 2) == b""  # and closed
        assert server.connected() == []
        assert server.stats()["refused"] == 1
        writer.close()

    run(hq, test)


def test_a_site_re_keyed_loses_its_tickets(hq: Database) -> None:
    with hq.session() as session:
        sites.find_site(session, "north").key_generation = 2

    async def test(server: BeaconServer) -> None:
        reader, _ = await connect(server, ticket(generation=1))
        assert b"stale ticket" in await answer(reader)
        reader, _ = await connect(server, ticket(generation=2))
        assert await answer(reader) == b"OK 50\r\n"

    run(hq, test)


def test_a_site_that_stops_ticking_is_out_of_contact_and_its_beacon_closed(
    hq: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(beacon_service, "TOUCH_SECONDS", 0.1)
    monkeypatch.setattr(beacon_service, "HEARD_WITHIN_SECONDS", 0.3)
    monkeypatch.setattr(beacon_service, "SILENT_SECONDS", 0.6)

    async def test(server: BeaconServer) -> None:
        reader, _ = await connect(server, ticket())
        assert await answer(reader) == b"OK 50\r\n"
        started = time.monotonic()
        await asyncio.wait_for(reader.read(), 3)  # beats, then the end
        assert 0.5 < time.monotonic() - started < 1.5
        assert server.connected() == []
        with hq.read() as session:
            touched = sites.find_site(session, "north").last_contact
        assert touched is not None  # while it was fresh
        assert datetime.now(UTC) - utc(touched) > timedelta(seconds=0.2)  # not since

    run(hq, test)


def test_a_silent_connection_is_dropped_and_one_that_says_more_is_cut(
    hq: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(beacon_service, "HELLO_SECONDS", 0.3)

    async def test(server: BeaconServer) -> None:
        reader, _ = await connect(server, b"")
        assert await answer(reader) == b"NO no hello in time\r\n"
        reader, writer = await connect(server, ticket())
        assert await answer(reader) == b"OK 50\r\n"
        writer.write(b"more")
        await asyncio.wait_for(reader.read(), 2)  # ends: the connection is closed
        await asyncio.sleep(0.05)
        assert server.connected() == []

    run(hq, test)


def test_connections_are_bounded_and_a_site_holds_one_beacon(hq: Database) -> None:
    async def test(server: BeaconServer) -> None:
        first, _ = await connect(server, ticket())
        assert await answer(first) == b"OK 50\r\n"
        crowd, _ = await connect(server, ticket("south"))
        assert await answer(crowd) == b"OK 50\r\n"
        refused, _ = await connect(server, ticket("south"))
        assert await answer(refused) == b"NO too many beacons\r\n"

    run(hq, test, limit=2)

    async def replaced(server: BeaconServer) -> None:
        older, _ = await connect(server, ticket())
        assert await answer(older) == b"OK 50\r\n"
        newer, _ = await connect(server, ticket())
        assert await answer(newer) == b"OK 50\r\n"
        rest = await asyncio.wait_for(older.read(), 2)  # the older one ends
        assert set(rest) <= set(beacon.BEAT)
        assert server.connected() == ["north"]
        assert await asyncio.wait_for(newer.readexactly(3), 1) == beacon.BEAT * 3

    run(hq, replaced)
