"""Two App Server processes on one PostgreSQL share what must be shared: a token revoked or a
web session logged out through one is refused by the other from the moment the revocation is
answered, a process that may have missed such news trusts nothing it cached, and failed
logins through either count against the same keys."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from printwarden.domain.accounts import Role
from printwarden.domain.login_throttle import ACCOUNT_SCHEDULE
from printwarden.service.state import AppState
from printwarden.service.throttle import Keys, LoginThrottle, Throttled
from printwarden.store.db import Database
from printwarden.store.login_failures import SharedBook
from printwarden.store.migrate import upgrade
from printwarden.store.notices import FENCE_SECONDS, listener_name
from printwarden.testing.inprocess import InProcessAppServer
from printwarden.testing.seeding import add_user, top_up
from printwarden.web.state import WebState


@pytest.fixture
def two_apps(pg_url: str, tmp_path: Path) -> Iterator[tuple[InProcessAppServer, ...]]:
    """Two App Servers on one database (one data directory, so one secret), as two processes
    behind a load balancer are; each has its own Database, connection pool and listener."""
    apps = (InProcessAppServer(pg_url, tmp_path), InProcessAppServer(pg_url, tmp_path))
    for app in apps:
        app.start()
    try:
        for app in apps:
            _wait(_state(app).database.notices.current, "a listener")
        yield apps
    finally:
        for app in apps:
            app.stop()


def _state(app: InProcessAppServer) -> AppState:
    state: AppState = app.app.state.printwarden
    return state


def _web(app: InProcessAppServer) -> WebState:
    web: WebState = app.app.state.webui
    return web


def _wait(condition: Callable[[], Any], what: str, seconds: float = 10.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"no {what} within {seconds} s"
        time.sleep(0.01)
    return time.monotonic() - started


TRIES = 5
SLOW_SECONDS = 0.2  # how long a loaded process takes to get to each notice


def _slow(app: InProcessAppServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``app`` hear each notice from another process late, as a busy process does."""
    notices = _state(app).database.notices
    hear = notices.hear_message

    def late(message: str) -> None:
        time.sleep(SLOW_SECONDS)
        hear(message)

    monkeypatch.setattr(notices, "hear_message", late)


def test_a_token_logged_out_through_one_process_is_refused_by_the_other_at_once(
    two_apps: tuple[InProcessAppServer, InProcessAppServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_apps
    _slow(second, monkeypatch)
    for number in range(TRIES):
        token = first.token(Role.USER, f"rory-{number}")
        with first.client(token) as at_first, second.client(token) as at_second:
            assert at_second.get("/me").status_code == 200  # now cached by the second
            assert at_first.post("/auth/logout").status_code == 204
            assert at_second.get("/me").status_code == 401


def test_a_disabled_users_token_is_refused_by_every_process_at_once(
    two_apps: tuple[InProcessAppServer, InProcessAppServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_apps
    _slow(second, monkeypatch)
    person = first.token(Role.USER, "sam")
    with first.client(first.token(Role.ADMIN, "boss")) as admin, second.client(person) as sam:
        for _ in range(TRIES):
            assert sam.get("/me").status_code == 200
            assert admin.patch("/users/sam", json={"enabled": False}).status_code == 200
            assert sam.get("/me").status_code == 401
            assert admin.patch("/users/sam", json={"enabled": True}).status_code == 200


def test_a_web_logout_through_one_process_ends_the_session_at_the_other_at_once(
    two_apps: tuple[InProcessAppServer, InProcessAppServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_apps
    _slow(second, monkeypatch)
    for number in range(TRIES):
        sid = f"sid-of-alice-{number}"
        _web(second).checked(sid)  # the second checked this session a moment ago
        assert _web(second).recently_checked(sid)
        _web(first).end(sid)
        assert _web(second).ended(sid)
        assert not _web(second).recently_checked(sid)


def test_a_revocation_waits_for_a_silent_process_only_so_long(
    two_apps: tuple[InProcessAppServer, InProcessAppServer], pg_url: str
) -> None:
    """A process that listens but never answers (hung) holds a revocation up for at most
    ``FENCE_SECONDS``; the two that answer are counted."""
    first, _second = two_apps
    database = _state(first).database
    silent = psycopg.connect(
        Database(pg_url).conninfo or "", application_name=listener_name("silent")
    )
    try:
        started = time.monotonic()
        passed = database.fence()
        took = time.monotonic() - started
    finally:
        silent.close()
    assert passed == 1  # the second answered, the silent one did not
    assert FENCE_SECONDS <= took < FENCE_SECONDS + 0.5
    _wait_gone(pg_url, listener_name("silent"))  # its backend ends a moment after the close
    started = time.monotonic()
    assert database.fence() == 1  # with it gone, nobody is waited for
    assert time.monotonic() - started < 0.5


def _wait_gone(pg_url: str, application_name: str) -> None:
    """Until PostgreSQL lists no connection named ``application_name`` (at most 10 s)."""
    deadline = time.monotonic() + 10
    with psycopg.connect(Database(pg_url).conninfo or "", autocommit=True) as watcher:
        while time.monotonic() < deadline:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            row = watcher.execute(query, (application_name,)).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError(f"{application_name} still connected after 10 s")


def test_a_process_that_lost_its_listener_trusts_no_cached_token(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    token = first.token(Role.USER, "tess")
    with second.client(token) as tess:
        assert tess.get("/me").status_code == 200
        notices = _state(second).database.notices
        with _state(first).database.session() as session:  # cut the second's listener
            session.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = :name"), {"name": listener_name(notices.origin)}
            )  # fmt: skip
        _wait(lambda: not notices.current(), "deaf listener", 5.0)
        # Revoked behind every listener's back (no notice): a deaf process does not take it.
        with _state(first).database.session() as session:
            session.execute(
                text("UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL")
            )
        assert tess.get("/me").status_code == 401
    _wait(notices.current, "listener back", 10.0)


def test_failed_logins_through_either_process_count_against_the_same_account(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    first.token(Role.USER, "uma")  # a user without a password: every guess is wrong
    free = ACCOUNT_SCHEDULE.free  # failures before the first wait
    with first.client() as at_first, second.client() as at_second:
        for n in range(free):
            client = at_first if n % 2 else at_second
            wrong = client.post("/auth/login", json={"username": "uma", "password": f"guess{n}"})
            assert wrong.status_code == 401
        throttled = at_first.post("/auth/login", json={"username": "uma", "password": "again"})
        assert throttled.status_code == 429
        assert (
            at_second.post("/auth/login", json={"username": "uma", "password": "x"}).status_code
            == 429
        )
        admin = first.token(Role.ADMIN, "lockout-admin")
        with second.client(admin) as administrator:
            listed = administrator.get("/lockouts").json()
            assert any(e["key"] == "user:uma" and e["failures"] == free for e in listed["items"])
            assert administrator.delete("/lockouts/user:uma").status_code == 204
        assert (
            at_first.post("/auth/login", json={"username": "uma", "password": "y"}).status_code
            == 401
        )


def test_concurrent_attempts_from_two_processes_are_counted_once_each(pg_url: str) -> None:
    upgrade(pg_url)
    databases = [Database(pg_url), Database(pg_url)]
    try:
        throttles = [LoginThrottle(None, time.time, SharedBook(db, "logins")) for db in databases]
        keys = Keys("user:vic", "address:192.0.2.7")
        admitted: list[bool] = []

        def attempt(n: int) -> None:
            try:
                throttles[n % 2].begin(keys)  # counted as failed until it ends: none ends
            except Throttled:
                admitted.append(False)
            else:
                admitted.append(True)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(attempt, range(24)))
        assert admitted.count(True) == ACCOUNT_SCHEDULE.free
    finally:
        for database in databases:
            database.dispose()


def test_one_process_leads_the_scheduled_work_and_another_takes_over_when_it_stops(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    leaders = [_state(app).leadership for app in two_apps]
    _wait(lambda: sum(leader.leads() for leader in leaders) == 1, "a leader")
    time.sleep(2.5)  # longer than a try: the other still does not lead
    assert sum(leader.leads() for leader in leaders) == 1
    leading, other = (first, second) if leaders[0].leads() else (second, first)
    leading.stop()
    took = _wait(_state(other).leadership.leads, "a new leader", 10.0)
    assert took < 10.0
    leading.start()  # restarted (the fixture stops it again): it now waits its turn
    time.sleep(2.5)
    assert not _state(leading).leadership.leads()


def test_a_persons_events_reach_their_client_through_any_process(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    with first.client(first.token(Role.ADMIN, "cashier")) as admin:
        account_id = add_user(admin, "wren")
        user_id = admin.get("/users/wren").json()["id"]
        hub = _state(second).events
        hub.subscribe(user_id)  # wren's User Client streams from the second process
        top_up(admin, account_id, 250)  # … and the first credits her
    _wait(lambda: any(e.kind == "balance" for e in hub.since(user_id, 0)), "balance event", 5.0)
    balance = next(e for e in hub.since(user_id, 0) if e.kind == "balance")
    assert balance.data["balance"] == 250
