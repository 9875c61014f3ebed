"""A Site Server's long poll for changes sleeps on the database's change bell: it answers as
soon as a change commits, without asking the database again and again meanwhile."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from printwarden.domain.accounts import Role
from printwarden.store import users
from printwarden.store.change_bell import ChangeBell
from printwarden.store.db import WATCH_SECONDS, Database
from printwarden.store.migrate import upgrade
from printwarden.testing.inprocess import InProcessAppServer
from support.site_feed import caught_up, caught_up_site


def test_a_long_poll_answers_as_soon_as_a_change_commits(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    name = unique("bell-site")
    site, upto = caught_up_site(app_server, admin, name)
    answered: dict[str, float | int] = {}

    def poll() -> None:
        started = time.monotonic()
        found = site.get(f"/sites/{name}/changes", params={"since": upto, "wait": 20})
        answered["seconds"] = time.monotonic() - started
        answered["entities"] = len(found.json()["entities"])

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)
    app = app_server.app
    assert app is not None
    assert len(app.state.printwarden.database.changes) >= 1  # the poll sleeps on the bell
    assert admin.post("/users", json={"username": unique("newcomer")}).status_code == 201
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert answered["entities"] >= 1
    assert answered["seconds"] < 2.0  # the change woke it, not the 20 s wait running out


def test_a_waiter_registered_before_a_ring_is_woken_by_it() -> None:
    bell = ChangeBell()

    async def scenario() -> tuple[bool, bool]:
        with bell.waiting() as waiter:
            threading.Thread(target=bell.ring).start()
            rung = await waiter.wait(5.0)
        with bell.waiting() as idle:
            quiet = await idle.wait(0.05)
        return rung, quiet

    assert asyncio.run(scenario()) == (True, False)
    assert len(bell) == 0


def test_on_postgresql_another_process_commit_rings_the_bell(pg_url: str) -> None:
    """Two App Server processes on one PostgreSQL: a change one commits wakes the other's
    long polls at once (NOTIFY at commit, a listener ringing the bell), not a second later."""
    upgrade(pg_url)
    here, there = Database(pg_url), Database(pg_url)
    try:
        here.listen_for_changes()
        assert here.listener is not None
        assert here.listener.listening.wait(10)

        async def scenario() -> tuple[bool, float]:
            with here.changes.waiting() as waiter:
                started = time.monotonic()
                threading.Thread(target=_change, args=(there,)).start()
                rung = await waiter.wait(5.0)
            return rung, time.monotonic() - started

        rung, seconds = asyncio.run(scenario())
        assert rung
        assert seconds < 1.0
    finally:
        here.dispose()
        there.dispose()


def _change(database: Database) -> None:
    with database.session() as session:
        users.create_user(session, b"k" * 32, f"bell-{time.monotonic_ns()}", users.UserChanges())


def test_a_commit_no_bell_hears_still_wakes_waiters_within_the_watch(tmp_path: Path) -> None:
    """A command-line tool writing to the App Server's SQLite database rings no bell of the
    server's; the server's watch of the change counter wakes its long polls within about a
    second (one query per second, whatever the number of waiters), and rings nothing while
    nothing changes."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    server, tool = Database(url), Database(url)
    try:
        server.listen_for_changes()

        async def scenario() -> tuple[bool, bool, float]:
            with server.changes.waiting() as quiet:
                idle = await quiet.wait(2.5)  # nothing changed: no ring
            with server.changes.waiting() as waiter:
                started = time.monotonic()
                threading.Thread(target=_change, args=(tool,)).start()
                rung = await waiter.wait(5.0)
            return idle, rung, time.monotonic() - started

        idle, rung, seconds = asyncio.run(scenario())
        assert not idle
        assert rung
        assert seconds <= WATCH_SECONDS + 0.5
    finally:
        server.dispose()
        tool.dispose()


def test_a_beating_long_poll_sends_a_space_each_beat_then_its_answer(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    name = unique("beating-site")
    assert admin.post("/sites", json={"name": name}).status_code == 201
    site = app_server.client(app_server.token(Role.SITE, scope=name))
    upto = caught_up(site, name)
    params: dict[str, str | float] = {
        "since": upto,
        "wait": 1.5,
        "beats": "true",
        "forced": "false",
    }
    answer = site.get(f"/sites/{name}/changes", params=params)
    assert answer.status_code == 200
    beat = float(answer.headers["x-beat-seconds"])
    body = answer.content
    spaces = len(body) - len(body.lstrip(b" "))
    assert spaces >= int(1.5 / beat) - 2  # one each beat while it waited
    assert json.loads(body) == {**json.loads(body), "entities": [], "forced_offline": False}


def test_forcing_a_site_offline_answers_its_long_poll_at_once(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    name = unique("forced-site")
    assert admin.post("/sites", json={"name": name}).status_code == 201
    site = app_server.client(app_server.token(Role.SITE, scope=name))
    upto = caught_up(site, name)
    answered: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        params: dict[str, str | float] = {
            "since": upto,
            "wait": 20,
            "beats": "true",
            "forced": "false",
        }
        answered["page"] = site.get(f"/sites/{name}/changes", params=params).json()
        answered["seconds"] = time.monotonic() - started

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)
    forced = admin.put(f"/sites/{name}/forced-offline", json={"offline": True})
    assert forced.status_code == 200
    waiting.join(timeout=10)
    assert answered["page"]["forced_offline"] is True
    assert answered["seconds"] < 3.0
