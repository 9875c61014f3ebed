"""LDAP sync end to end: a real slapd, the admin CLI, and a real App Server using it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.domain.accounts import Role
from support.appserver import AppServer
from support.slapd import GROUPS_BASE, PEOPLE_BASE, READER_DN, READER_PASSWORD, SUFFIX, Slapd

pytestmark = pytest.mark.slapd


@pytest.fixture(scope="module")
def directory() -> Iterator[Slapd]:
    with Slapd() as server:
        alice = server.add_user(
            "alice", "Alice Liddell", "alice@example.test", ["0451"], "alice-pw"
        )
        bob = server.add_user("bob", "Bob Builder", "bob@example.test", ["0452", "0453"], "bob-pw")
        server.add_group("lab", [alice, bob])
        server.add_posix_group("staff", 5000, ["bob"])
        yield server


def ldap_env(directory: Slapd, **extra: str) -> dict[str, str]:
    """Settings that point an App Server at the test directory."""
    return {
        "PRINTWARDEN_DIRECTORY__SOURCE": "ldap",
        "PRINTWARDEN_DIRECTORY__LDAP__URL": directory.url,
        "PRINTWARDEN_DIRECTORY__LDAP__BIND_DN": READER_DN,
        "PRINTWARDEN_DIRECTORY__LDAP__BIND_PASSWORD": READER_PASSWORD,
        "PRINTWARDEN_DIRECTORY__LDAP__USER_BASE": PEOPLE_BASE,
        "PRINTWARDEN_DIRECTORY__LDAP__GROUP_BASE": GROUPS_BASE,
        "PRINTWARDEN_DIRECTORY__LDAP__CARD_ATTRS": '["carLicense"]',
        **{f"PRINTWARDEN_DIRECTORY__{k.upper()}": v for k, v in extra.items()},
    }


@pytest.fixture(scope="module")
def ldap_app(directory: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data_dir = tmp_path_factory.mktemp("ldap-app")
    server = AppServer(f"sqlite:///{data_dir / 'pw.db'}", data_dir, extra_env=ldap_env(directory))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _cli(server: AppServer, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "printwarden", *args]
    return subprocess.run(command, env=server.env(), capture_output=True, text=True, timeout=60)


def _client(server: AppServer, role: Role, name: str = "") -> httpx.Client:
    token = server.token(role, name)
    return httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {token}"})


def test_cli_sync_imports_users_groups_and_cards(ldap_app: AppServer) -> None:
    result = _cli(ldap_app, "admin", "directory", "sync")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 created" in result.stdout
    with _client(ldap_app, Role.ADMIN, "sync-admin") as admin:
        bob = admin.get("/users/bob").json()
        groups = {g["name"]: g for g in admin.get("/groups").json()}
    assert bob["full_name"] == "Bob Builder"
    assert bob["email"] == "bob@example.test"
    assert bob["source"] == "ldap"
    assert bob["card_count"] == 2
    assert set(bob["groups"]) == {"lab", "staff"}
    assert groups["lab"]["members"] == 2
    with _client(ldap_app, Role.DEVICE) as device:
        swipe = device.post("/auth/device", json={"method": "card", "card_number": "0453"})
    assert swipe.json()["username"] == "bob"


def test_second_sync_changes_nothing(ldap_app: AppServer) -> None:
    assert _cli(ldap_app, "admin", "directory", "sync").returncode == 0
    with _client(ldap_app, Role.ADMIN, "resync-admin") as admin:
        before = httpx.get(f"{ldap_app.api}/health").json()["change_seq"]
        report = admin.post("/directory/sync").json()
    after = httpx.get(f"{ldap_app.api}/health").json()["change_seq"]
    assert report == {"created": 0, "updated": 0, "unchanged": 2, "disabled": 0}
    assert after == before


def test_login_checks_the_password_by_ldap_bind(ldap_app: AppServer) -> None:
    assert _cli(ldap_app, "admin", "directory", "sync").returncode == 0
    good = httpx.post(
        f"{ldap_app.api}/auth/login", json={"username": "alice", "password": "alice-pw"}
    )
    bad = httpx.post(f"{ldap_app.api}/auth/login", json={"username": "alice", "password": "nope"})
    assert good.status_code == 200
    assert good.json()["role"] == "user"
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"


def test_api_sync_picks_up_new_and_removed_users(ldap_app: AppServer, directory: Slapd) -> None:
    assert _cli(ldap_app, "admin", "directory", "sync").returncode == 0
    carol = directory.add_user("carol", "Carol Chen", "carol@example.test", ["0460"], "carol-pw")
    with _client(ldap_app, Role.ADMIN, "api-sync-admin") as admin:
        added = admin.post("/directory/sync").json()
        directory.delete(carol)
        removed = admin.post("/directory/sync", params={"disable_missing": "true"}).json()
        carol_now = admin.get("/users/carol").json()
    assert added["created"] == 1
    assert removed["disabled"] == 1
    assert carol_now["enabled"] is False


def test_sync_with_internal_source_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/directory/sync")
    assert response.status_code == 409
    assert "internal" in response.json()["detail"]


def test_unreachable_directory_is_a_clear_error(tmp_path: Path) -> None:
    server = AppServer(f"sqlite:///{tmp_path / 'pw.db'}", tmp_path)
    server.extra_env = {
        "PRINTWARDEN_DIRECTORY__SOURCE": "ldap",
        "PRINTWARDEN_DIRECTORY__LDAP__URL": "ldap://127.0.0.1:1",
        "PRINTWARDEN_DIRECTORY__LDAP__USER_BASE": f"ou=people,{SUFFIX}",
    }
    result = _cli(server, "admin", "directory", "sync")
    assert result.returncode == 1
    assert "error" in result.stdout.lower()


def test_scheduled_sync_runs_by_itself(directory: Slapd, tmp_path: Path) -> None:
    env = ldap_env(directory, sync_interval_minutes="0.01")
    server = AppServer(f"sqlite:///{tmp_path / 'pw.db'}", tmp_path, extra_env=env)
    server.start()
    try:
        with _client(server, Role.ADMIN, "scheduler-admin") as admin:
            deadline = time.monotonic() + 15
            while admin.get("/users/alice").status_code == 404:
                assert time.monotonic() < deadline, "the scheduled sync never ran"
                time.sleep(0.2)
            assert admin.get("/users/alice").json()["source"] == "ldap"
    finally:
        server.stop()
