"""The admin command line against a real database, checked through a real App Server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from support.appserver import AppServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data_dir = tmp_path_factory.mktemp("cli")
    app = AppServer(f"sqlite:///{data_dir / 'pw.db'}", data_dir)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def cli(server: AppServer, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "printwarden", *args]
    return subprocess.run(command, env=server.env(), capture_output=True, text=True, timeout=60)


def ok(server: AppServer, *args: str) -> str:
    result = cli(server, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_admin_user_logs_in_and_manages_users(server: AppServer) -> None:
    ok(server, "admin", "user", "add", "root-admin", "--admin", "--password", "s3cret-pass")
    login = httpx.post(
        f"{server.api}/auth/login", json={"username": "root-admin", "password": "s3cret-pass"}
    )
    assert login.status_code == 200
    assert login.json()["role"] == "admin"
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    assert httpx.get(f"{server.api}/users", headers=headers).status_code == 200


def test_user_add_with_cards_groups_and_list(server: AppServer) -> None:
    ok(server, "admin", "user", "add", "dora", "--full-name", "Dora Dee", "--card", "777",
       "--group", "art", "--pin", "4321")  # fmt: skip
    listing = ok(server, "admin", "user", "list", "--search", "dora")
    assert "Dora Dee" in listing
    assert "art" in listing
    duplicate = cli(server, "admin", "user", "add", "dora")
    assert duplicate.returncode == 1
    assert "exists already" in duplicate.stdout


def test_balance_topup_and_adjust_move_the_ledger(server: AppServer) -> None:
    ok(server, "admin", "user", "add", "eve")
    assert "balance 5.00" in ok(server, "admin", "balance", "topup", "5.00", "eve")
    assert "balance 3.75" in ok(server, "admin", "balance", "adjust", "--", "-1.25", "eve")
    refused = cli(server, "admin", "balance", "topup", "1.005", "eve")
    assert refused.returncode == 1
    assert "decimal places" in refused.stdout
    negative = cli(server, "admin", "balance", "topup", "--", "-1.00", "eve")
    assert negative.returncode == 1


def test_shared_account_add_and_list(server: AppServer) -> None:
    ok(server, "admin", "user", "add", "finn")
    ok(server, "admin", "account", "add", "Physics", "--user", "finn", "--code", "42")
    ok(server, "admin", "account", "add", "Physics-Lab", "--parent", "Physics")
    ok(server, "admin", "balance", "topup", "10.00", "--account", "Physics-Lab")
    listing = ok(server, "admin", "account", "list")
    assert "Physics-Lab" in listing
    assert "10.00" in listing
    missing_parent = cli(server, "admin", "account", "add", "Orphan", "--parent", "Nope")
    assert missing_parent.returncode == 1


def test_component_token_works_until_revoked(server: AppServer) -> None:
    token = ok(server, "admin", "token", "create", "--role", "provider", "--name", "ps1").strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.api}/printers", headers=headers).status_code == 200
    listing = ok(server, "admin", "token", "list")
    token_id = next(
        line.split()[1] for line in listing.splitlines() if "ps1" in line and "provider" in line
    )
    ok(server, "admin", "token", "revoke", token_id)
    # The server caches valid tokens for a few seconds; a fresh process sees the revocation.
    server.stop()
    server.start()
    assert httpx.get(f"{server.api}/printers", headers=headers).status_code == 401


def test_user_import_from_csv(server: AppServer, tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "username,full_name,groups,cards,restricted,credit_limit\n"
        "gina,Gina Green,chem;staff,9001,false,2.50\n"
        "hank,Hank Hill,chem,,true,\n"
    )
    assert "2 created, 0 updated" in ok(server, "admin", "user", "import", str(csv_file))
    assert "0 created, 2 updated" in ok(server, "admin", "user", "import", str(csv_file))
    bad = tmp_path / "bad.csv"
    bad.write_text("username,credit_limit\nivy,abc\n")
    result = cli(server, "admin", "user", "import", str(bad))
    assert result.returncode == 1
    assert "row 2" in result.stdout
    assert "ivy" not in ok(server, "admin", "user", "list")


def test_token_create_refuses_unknown_roles(server: AppServer) -> None:
    result = cli(server, "admin", "token", "create", "--role", "admin")
    assert result.returncode == 1


def test_a_site_server_refuses_the_app_servers_secret(server: AppServer, tmp_path: Path) -> None:
    secret = server.data_dir / "secret.key"
    site = ["--upstream", server.url, "--token", "t", "--site", "north"]
    where = ["--data-dir", str(tmp_path / "site"), "--secret-file", str(secret)]
    result = cli(server, "site", "serve", *site, *where)
    assert result.returncode == 1
    said = " ".join((result.stdout + result.stderr).split())  # the console wraps lines
    assert "no longer takes the App Server's secret" in said
    assert not (tmp_path / "site").exists()  # refused before anything was made


def _poll_answer(server: AppServer, name: str, since: int, forced: bool) -> dict[str, Any]:
    """The site's quiet long poll's answer, and when it came (``ended``, monotonic)."""
    token = server.token(Role.SITE, scope=name)
    params: dict[str, str | int] = {"since": since, "wait": 60, "beats": "true",
                                    "quiet": "true", "forced": str(forced).lower()}  # fmt: skip
    answer = httpx.get(f"{server.api}/sites/{name}/changes", params=params, timeout=90,
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return {**answer.json(), "ended": time.monotonic()}


def _head(server: AppServer) -> int:
    return int(httpx.get(f"{server.api}/health").json()["change_seq"])


def test_site_force_and_rekey_wake_the_sites_long_poll(server: AppServer) -> None:
    """A site waits quietly for minutes when nothing changes: what an administrator does
    at the command line reaches it at once all the same (the watch of commits no bell
    hears, within a second), a re-key too, though it numbers no row the site receives."""
    ok(server, "admin", "site", "add", "watched")
    for command, forced, field, value in (
        (("force", "watched", "--offline"), False, "forced_offline", True),
        (("rekey", "watched"), True, "key_generation", 2),
    ):
        since = _head(server)
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_poll_answer, server, "watched", since, forced)
            time.sleep(1.0)  # the poll is waiting
            ok(server, "admin", "site", *command)
            done = time.monotonic()  # the command's own start takes seconds in a busy run
            page = waiting.result(timeout=90)
        assert page[field] == value, page
        assert page["ended"] - done < 5.0, page  # not the 60 s wait, nor the 10 s catch-up


def test_site_rekey_raises_the_sites_key_generation(server: AppServer) -> None:
    ok(server, "admin", "site", "add", "rekeyed")
    assert "card key generation 2" in ok(server, "admin", "site", "rekey", "rekeyed")
    assert "card key generation 3" in ok(server, "admin", "site", "rekey", "rekeyed")
    missing = cli(server, "admin", "site", "rekey", "no-such-site")
    assert missing.returncode == 1


def test_user_print_url_is_shown_once_and_stored_as_a_hash(server: AppServer) -> None:
    import sqlite3

    from printwarden import security

    ok(server, "admin", "user", "add", "phone-owner")
    queue = "ipps://print.example:8632/ipp/print/byod"
    url = ok(server, "admin", "user", "print-url", "phone-owner", "--queue-uri", queue,
             "--label", "phone").strip()  # fmt: skip
    assert url.startswith(f"{queue}/u/pw_print_")
    token = url.rsplit("/", 1)[1]
    database = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        stored = db.execute("SELECT token_hash, label FROM print_tokens").fetchall()
    assert stored == [(security.token_hash(token), "phone")]
    missing = cli(server, "admin", "user", "print-url", "nobody-here")
    assert missing.returncode == 1


def test_scan_actions_are_added_shown_set_and_removed(server: AppServer, tmp_path: Path) -> None:
    ok(server, "admin", "scan-actions", "add", "Scan to my email", "--editable", "ocr,format")
    ok(server, "admin", "scan-actions", "add", "Finance share", "--destination", "folder",
       "--folder", "finance", "--group", "finance")  # fmt: skip
    shown = json.loads(ok(server, "admin", "scan-actions", "show"))
    assert [a["name"] for a in shown["actions"]] == ["Scan to my email", "Finance share"]
    assert shown["actions"][0]["editable"] == ["ocr", "format"]
    bad = cli(server, "admin", "scan-actions", "add", "Broken", "--destination", "ftp")
    assert bad.returncode == 1
    assert "destination" in bad.stdout + bad.stderr
    wrong = tmp_path / "actions.json"
    wrong.write_text(json.dumps({"actions": [{"name": "x", "destination": "folder"}]}))
    refused = cli(server, "admin", "scan-actions", "set", str(wrong))
    assert refused.returncode == 1
    assert "folder" in refused.stdout + refused.stderr
    ok(server, "admin", "scan-actions", "remove", "Finance share")
    shown = json.loads(ok(server, "admin", "scan-actions", "show"))
    assert [a["name"] for a in shown["actions"]] == ["Scan to my email"]
