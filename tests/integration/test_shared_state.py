"""Two App Server processes on one PostgreSQL share what must be shared: a token revoked or a
web session logged out through one is refused by the other within a second, and a process
that may have missed such news trusts nothing it cached."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from printwarden.domain.accounts import Role
from printwarden.service.state import AppState
from printwarden.testing.inprocess import InProcessAppServer
from printwarden.web.state import WebState

SHARED_WITHIN = 1.0  # seconds: what the scale-out issue asks of revocations and logouts


@pytest.fixture
def two_apps(pg_url: str, tmp_path: Path) -> Iterator[tuple[InProcessAppServer, ...]]:
    """Two App Servers on one database (one data directory, so one secret), as two processes
    behind a load balancer are; each has its own Database, connection pool and listener."""
    apps = (InProcessAppServer(pg_url, tmp_path), InProcessAppServer(pg_url, tmp_path))
    for app in apps:
        app.start()
    try:
        for app in apps:
            _wait(lambda app=app: _state(app).database.notices.current(), "a listener")
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


def test_a_token_revoked_through_one_process_is_refused_by_the_other_within_a_second(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    token = first.token(Role.USER, "rory")
    with first.client(token) as at_first, second.client(token) as at_second:
        assert at_second.get("/me").status_code == 200  # now cached by the second
        assert at_first.post("/auth/logout").status_code == 204
        took = _wait(lambda: at_second.get("/me").status_code == 401, "refusal")
    assert took < SHARED_WITHIN


def test_a_disabled_users_token_is_refused_by_every_process_at_once(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    person = first.token(Role.USER, "sam")
    with first.client(first.token(Role.ADMIN, "boss")) as admin, second.client(person) as sam:
        assert sam.get("/me").status_code == 200
        assert admin.patch("/users/sam", json={"enabled": False}).status_code == 200
        took = _wait(lambda: sam.get("/me").status_code == 401, "refusal")
    assert took < SHARED_WITHIN


def test_a_web_logout_through_one_process_ends_the_session_at_the_other(
    two_apps: tuple[InProcessAppServer, InProcessAppServer],
) -> None:
    first, second = two_apps
    _web(second).checked("sid-of-alice")  # the second checked this session a moment ago
    assert _web(second).recently_checked("sid-of-alice")
    _web(first).end("sid-of-alice")
    took = _wait(lambda: _web(second).ended("sid-of-alice"), "logout at the other")
    assert took < SHARED_WITHIN
    assert not _web(second).recently_checked("sid-of-alice")


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
                     "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")
            )  # fmt: skip
        _wait(lambda: not notices.current(), "deaf listener", 5.0)
        # Revoked behind every listener's back (no notice): a deaf process does not take it.
        with _state(first).database.session() as session:
            session.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL"))
        assert tess.get("/me").status_code == 401
    _wait(notices.current, "listener back", 10.0)
