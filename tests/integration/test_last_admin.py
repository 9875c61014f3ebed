"""The last administrator stays one: not deleted, demoted or disabled — on the API, the web
console, the command line and by a directory sync (a real App Server with one admin)."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.domain.directory import DirectorySnapshot, DirectoryUser
from printwarden.store import sync, users
from printwarden.store.db import Database
from printwarden.store.errors import LastAdministrator
from support.appserver import AppServer
from support.web import add_person, browser, csrf_of, login

ROOT, PASSWORD = "root", "the only admin 1"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """An App Server whose one administrator is ``root``."""
    directory: Path = tmp_path_factory.mktemp("last-admin")
    server = AppServer(f"sqlite:///{directory / 'app.db'}", directory)
    server.start()
    add_person(server, ROOT, PASSWORD, admin=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def root(app: AppServer) -> Iterator[httpx.Client]:
    """``root``'s API session (logged in with its password: no other admin is made)."""
    login_answer = httpx.post(
        f"{app.api}/auth/login", json={"username": ROOT, "password": PASSWORD}, timeout=30
    )
    assert login_answer.status_code == 200, login_answer.text
    token = login_answer.json()["token"]
    with httpx.Client(
        base_url=app.api, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


def assert_still_admin(root: httpx.Client, username: str = ROOT) -> None:
    found = root.get(f"/users/{username}")
    assert found.status_code == 200, found.text
    assert (found.json()["is_admin"], found.json()["enabled"]) == (True, True)


def assert_conflict(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "last administrator" in response.json()["detail"]


def test_the_api_refuses_to_delete_demote_or_disable_the_last_admin(root: httpx.Client) -> None:
    assert_conflict(root.delete(f"/users/{ROOT}"))
    assert_conflict(root.patch(f"/users/{ROOT}", json={"is_admin": False}))
    assert_conflict(root.patch(f"/users/{ROOT}", json={"enabled": False}))
    assert_conflict(root.patch(f"/users/{ROOT}", json={"is_admin": False, "full_name": "x"}))
    assert_still_admin(root)
    assert root.get("/users").status_code == 200  # the session still works
    assert root.get(f"/users/{ROOT}").json()["full_name"] == ROOT  # nothing else changed


def test_an_admin_may_step_down_while_another_remains(root: httpx.Client) -> None:
    deputy = f"deputy-{uuid.uuid4().hex[:8]}"
    made = root.post("/users", json={"username": deputy, "is_admin": True})
    assert made.status_code == 201, made.text

    demoted = root.patch(f"/users/{deputy}", json={"is_admin": False})

    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["is_admin"] is False
    assert root.delete(f"/users/{deputy}").status_code == 204
    assert_conflict(root.delete(f"/users/{ROOT}"))  # root is the only one again


def test_the_web_console_refuses_to_demote_or_disable_the_last_admin(
    app: AppServer, root: httpx.Client
) -> None:
    with browser(app) as client:
        csrf = login(client, ROOT, PASSWORD)
        base = {"csrf_token": csrf, "full_name": ROOT, "email": "", "credit_limit": "0.00"}
        for body in ({**base, "enabled": "on"}, {**base, "is_admin": "on"}):
            page = client.post(f"/web/admin/users/{ROOT}", data=body)
            assert page.status_code == 409, page.text[:2000]
            assert "last administrator" in page.text
            csrf = csrf_of(page)
    assert_still_admin(root)


def cli(app: AppServer, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "printwarden", "admin", "user", *args]
    return subprocess.run(
        command, env=app.env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_the_command_line_refuses_too_and_can_make_another_admin(
    app: AppServer, root: httpx.Client
) -> None:
    for args in (("set", ROOT, "--no-admin"), ("set", ROOT, "--disabled"), ("delete", ROOT)):
        refused = cli(app, *args)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "last administrator" in refused.stdout
    assert_still_admin(root)
    helper = f"helper-{uuid.uuid4().hex[:8]}"
    assert root.post("/users", json={"username": helper}).status_code == 201

    promoted = cli(app, "set", helper, "--admin")
    demoted = cli(app, "set", helper, "--no-admin")  # root remains: allowed

    assert promoted.returncode == demoted.returncode == 0, promoted.stdout + demoted.stdout
    assert root.get(f"/users/{helper}").json()["is_admin"] is False


def test_a_directory_sync_keeps_the_last_admin_enabled(hq: Database) -> None:
    with hq.session() as session:
        for name, admin in (("chief", True), ("leaver", False), ("stayer", False)):
            changes = users.UserChanges(is_admin=admin, source="ldap")
            users.create_user(session, b"k" * 32, name, changes)
    snapshot = DirectorySnapshot(users=(DirectoryUser("stayer"),))

    with hq.session() as session:
        report = sync.sync_directory(session, b"k" * 32, snapshot, disable_missing=True)

    assert report.disabled == 1
    with hq.read() as session:
        enabled = {name: users.find_user(session, name).enabled for name in ("chief", "leaver")}
    assert enabled == {"chief": True, "leaver": False}


def test_two_admins_demoting_each_other_at_once_leave_one(hq: Database) -> None:
    with hq.session() as session:
        for name in ("ann", "ben"):
            users.create_user(session, b"k" * 32, name, users.UserChanges(is_admin=True))
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def demote(name: str) -> None:
        start.wait()
        try:
            with hq.session() as session:
                row = users.find_user(session, name)
                users.update_user(session, b"", row, users.UserChanges(is_admin=False))
            outcomes.append("demoted")
        except LastAdministrator:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(name,)) for name in ("ann", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["demoted", "refused"]
    with hq.read() as session:
        admins = [users.find_user(session, n).is_admin for n in ("ann", "ben")]
    assert admins.count(True) == 1
