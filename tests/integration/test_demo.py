"""`printwarden demo`: the manifest other tools rely on, and that what it lists works."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.demo import running_demo
from support.seeding import NO_POLICY
from support.sse import listening

READY_SECONDS = 60


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_demo(tmp_path_factory.mktemp("demo"), "queues") as manifest:
        yield manifest


def test_manifest_has_the_stable_keys(demo: dict[str, Any]) -> None:
    assert demo["app_url"].startswith("http://127.0.0.1:")
    assert demo["database_url"].startswith("sqlite:///")
    assert demo["admin_token"]
    assert len(demo["users"]) >= 3
    for user in demo["users"]:
        assert {"username", "password", "card", "pin"} <= set(user)


def test_health_and_openapi_answer(demo: dict[str, Any]) -> None:
    assert httpx.get(f"{demo['app_url']}/api/v1/health").status_code == 200
    assert "paths" in httpx.get(f"{demo['app_url']}/openapi.json").json()


def test_admin_token_lists_the_sample_users(demo: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {demo['admin_token']}"}
    users = httpx.get(f"{demo['app_url']}/api/v1/users", headers=headers).json()
    names = {u["username"] for u in users["items"]}
    assert {u["username"] for u in demo["users"]} <= names


def test_sample_users_log_in_with_password_card_and_pin(demo: dict[str, Any]) -> None:
    api = f"{demo['app_url']}/api/v1"
    person = demo["users"][0]
    login = httpx.post(
        f"{api}/auth/login", json={"username": person["username"], "password": person["password"]}
    )
    assert login.status_code == 200
    device = {"Authorization": f"Bearer {demo['device_token']}"}
    card = httpx.post(
        f"{api}/auth/device", headers=device, json={"method": "card", "card_number": person["card"]}
    )
    assert card.json()["username"] == person["username"]


def test_sample_printer_decides_and_charges(demo: dict[str, Any]) -> None:
    api = f"{demo['app_url']}/api/v1"
    provider = {"Authorization": f"Bearer {demo['provider_token']}"}
    job = {"username": "alice", "printer": "colour-laser", "pages": 2, "colour_pages": 1}
    decision = httpx.post(f"{api}/jobs/decision", headers=provider, json=job).json()
    assert decision == {
        "verdict": "allow",
        "cost": 60,
        "reason": "",
        "account_id": decision["account_id"],
        "account": "alice",
        "balance": 500,
        **NO_POLICY,
    }


def test_manifest_lists_queues_of_each_kind_and_two_printers(demo: dict[str, Any]) -> None:
    kinds = {queue["kind"] for queue in demo["queues"].values()}
    assert kinds == {"direct", "hold", "findme"}
    for queue in demo["queues"].values():
        assert queue["ipp_uri"].startswith("ipp://127.0.0.1:")
    colours = {printer["color"] for printer in demo["printers"].values()}
    assert colours == {False, True}
    for printer in demo["printers"].values():
        assert Path(printer["received_dir"]).is_dir()


def test_a_queue_asks_to_confirm_and_one_asks_for_the_account_and_the_client_hears_it(
    demo: dict[str, Any],
) -> None:
    asking = {name: queue for name, queue in demo["queues"].items()
              if queue.get("confirm") or queue.get("account_selection")}  # fmt: skip
    assert {"confirm", "account_selection"} <= {k for q in asking.values() for k in q}
    confirm = next(name for name, queue in asking.items() if queue.get("confirm"))
    person = demo["users"][0]
    body = {"username": person["username"], "password": person["password"], "client": "demo"}
    token = httpx.post(f"{demo['app_url']}/api/v1/auth/login", json=body).json()["token"]
    with listening(f"{demo['app_url']}/api/v1", token) as heard:
        port = demo["queues"][confirm]["ipp_uri"].split(":")[2].split("/")[0]
        document = subprocess.run(
            ["lp", "-h", f"127.0.0.1:{port}", "-d", confirm, "-U", person["username"],
             "-t", "demo-question", "-"], input="asked first\n", capture_output=True,
            text=True, timeout=60, check=True,
        )  # fmt: skip
        assert document.returncode == 0
        asked = heard.wait("question", lambda q: q["document_name"] == "demo-question")
    assert asked["kind"] == "confirm"
    assert asked["printer"] == demo["queues"][confirm]["printer"]


def test_every_queue_answers_over_ipps_trusting_the_manifests_tls_ca(
    demo: dict[str, Any],
) -> None:
    import ssl

    from printwarden.provider.ipp.client import IppClient

    context = ssl.create_default_context(cafile=demo["tls_ca"])
    for name, queue in demo["queues"].items():
        assert queue["identity"] == "trust-client-username"  # lp -U works as before
        transport = httpx.HTTPTransport(verify=context)
        with IppClient(queue["ipps_uri"], transport=transport, timeout=30) as client:
            printer = client.get_printer_attributes(["printer-name", "uri-security-supported"])
        assert printer.value("printer-name") == name
        assert printer.value("uri-security-supported") == "tls"


def test_every_queue_is_browsable_through_the_manifests_avahi(demo: dict[str, Any]) -> None:
    import os
    import subprocess
    import time

    from printwarden.testing.mdns_lab import unescape_name

    assert demo["mdns"]["avahi"] is True
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": demo["mdns"]["dbus_address"]}
    wanted = {queue["dns_sd_name"] for queue in demo["queues"].values()}
    assert any(name.startswith("Secure Print @ ") for name in wanted)  # the Find-Me queue
    names: set[str] = set()
    deadline = time.monotonic() + 30
    while not wanted <= names and time.monotonic() < deadline:
        browse = ["avahi-browse", "-tp", "_ipp._tcp"]
        listed = subprocess.run(browse, env=env, capture_output=True, text=True, timeout=30)
        lines = [line.split(";") for line in listed.stdout.splitlines()]
        names = {unescape_name(fields[3]) for fields in lines if fields[0] == "+"}
    assert wanted <= names


def test_every_announced_queue_is_in_the_demos_dns_sd_zone(demo: dict[str, Any]) -> None:
    import subprocess
    import time

    host, port = demo["dns_sd"]["server"].rsplit(":", 1)
    domain = demo["dns_sd"]["domain"]
    wanted = {queue["dns_sd_name"] for queue in demo["queues"].values()}
    command = ["dig", "+short", "+time=2", "-p", port, f"@{host}", "PTR", f"_ipp._tcp.{domain}"]
    names: set[str] = set()
    deadline = time.monotonic() + 30
    while not wanted <= names and time.monotonic() < deadline:
        listed = subprocess.run(command, capture_output=True, text=True, timeout=30)
        names = {_presented(line.split("._ipp._tcp.")[0]) for line in listed.stdout.split()}
        time.sleep(0.3)
    assert wanted <= names, names


def _presented(label: str) -> str:
    """A label as dig presents it (``\\032`` for a space, ``\\@`` for @), unescaped."""
    import re

    decimal = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), label)
    return re.sub(r"\\(.)", r"\1", decimal)


def test_manifest_lists_two_sites_and_the_site_of_everything(demo: dict[str, Any]) -> None:
    assert set(demo["sites"]) == {"site-a", "site-b"}
    for name, site in demo["sites"].items():
        assert site["url"].startswith("http://127.0.0.1:")
        status = httpx.get(f"{site['url']}/site/status", timeout=5).json()
        assert status["site"] == name
        assert status["mode"] in {"online", "offline", "reconciling"}
    for kind in ("queues", "printers", "devices"):
        for entry in demo[kind].values():
            assert entry["site"] in demo["sites"]
    for queue in demo["queues"].values():  # a queue prints on a printer of its own site
        assert not queue["printer"] or demo["printers"][queue["printer"]]["site"] == queue["site"]
    for device in demo["devices"].values():
        assert demo["printers"][device["printer"]]["site"] == device["site"]
    assert {printer["site"] for printer in demo["printers"].values()} == set(demo["sites"])
    assert demo["provider"] == demo["sites"][demo["queues"]["direct-colour"]["site"]]["provider"]


def test_the_welcome_texts_curl_reads_the_admin_token_from_a_file(demo: dict[str, Any]) -> None:
    header = demo["_dir"] / "tokens" / "admin.header"
    command = ["curl", "-sf", "-H", f"@{header}", f"{demo['app_url']}/api/v1/users"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert {u["username"] for u in demo["users"]} <= {
        u["username"] for u in json.loads(result.stdout)["items"]
    }


def test_each_site_keeps_its_own_secret_and_a_replica_without_password_hashes(
    demo: dict[str, Any],
) -> None:
    hq_secret = (Path(demo["_dir"]) / "secret.key").read_bytes().strip()
    secrets = set()
    for name, site in demo["sites"].items():
        replica, secret = Path(site["replica_path"]), Path(site["secret_path"])
        assert replica == Path(demo["_dir"]) / "sites" / name / "site" / "replica.db"
        assert secret.stat().st_mode & 0o777 == 0o600
        secrets.add(secret.read_bytes().strip())
        for path in (p for p in replica.parent.iterdir() if p.is_file()):  # not HQ's secret
            assert hq_secret not in path.read_bytes()
        with sqlite3.connect(f"file:{replica}?mode=ro", uri=True) as db:
            users = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            hashes = db.execute("SELECT COUNT(password_hash) FROM users").fetchone()[0]
        assert (users, hashes) == (len(demo["users"]) + 2, 0)  # + admin, the offline stand-in
    assert len(secrets) == len(demo["sites"])
    assert hq_secret not in secrets


def test_the_app_server_lists_both_sites_online(demo: dict[str, Any]) -> None:
    command = [sys.executable, "-m", "printwarden", "admin", "site", "status", "--json",
               "--server", demo["app_url"],
               "--token-file", str(demo["_dir"] / "tokens" / "admin.token")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(demo["sites"]) <= set(rows)
    for name in demo["sites"]:
        assert rows[name]["mode"] == "online"
        assert rows[name]["journal_backlog"] == 0


def test_lp_to_the_demo_reaches_the_real_printer(demo: dict[str, Any], tmp_path: Path) -> None:
    document = tmp_path / "hello.txt"
    document.write_text("hello from the demo\n")
    queue = demo["queues"]["direct-colour"]
    host = queue["ipp_uri"].split("/")[2]
    result = subprocess.run(
        [
            "lp",
            "-h",
            host,
            "-d",
            "direct-colour",
            "-U",
            demo["users"][0]["username"],
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    received = Path(demo["printers"][queue["printer"]]["received_dir"])
    deadline = time.monotonic() + 30

    def arrived() -> list[bytes]:
        return [p.read_bytes() for p in received.iterdir() if p.suffix != ".prn"]

    while b"hello from the demo\n" not in arrived():
        assert time.monotonic() < deadline, "the document never reached ippeveprinter"
        time.sleep(0.1)


def test_find_me_job_is_released_by_the_device_simulators_card_swipe(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    person = demo["users"][0]
    document = tmp_path / "find-me.txt"
    document.write_text("released with a card swipe\n")
    host = demo["queues"]["findme"]["ipp_uri"].split("/")[2]
    lp = ["lp", "-h", host, "-d", "findme", "-U", person["username"], "-t", "find-me.txt"]
    printed = subprocess.run([*lp, str(document)], capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0, printed.stderr
    site = demo["queues"]["findme"]["site"]
    name, device = next((n, d) for n, d in demo["devices"].items() if d["site"] == site)
    assert device["printer"] in demo["printers"]
    # The device talks to its site's Site Server, as the welcome text shows.
    token_file = demo["_dir"] / "tokens" / f"{name}.token"
    assert token_file.read_text().strip() == device["token"]
    simulate = [sys.executable, "-m", "printwarden", "device", "simulate", "--server",
                demo["sites"][site]["url"], "--token-file", str(token_file), "--card",
                person["card"], "release-all"]  # fmt: skip
    deadline = time.monotonic() + 30
    while True:  # the provider reports the held job to the server within a moment
        result = subprocess.run(simulate, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        if "find-me.txt" in result.stdout:
            break
        assert time.monotonic() < deadline, f"never released at {name}: {result.stdout}"
        time.sleep(0.5)
    received = Path(demo["printers"][device["printer"]]["received_dir"])
    while not any(b"released with a card swipe" in p.read_bytes() for p in received.iterdir()):
        assert time.monotonic() < deadline + 30, "the released job never reached the printer"
        time.sleep(0.1)


def test_a_scan_to_my_email_at_a_demo_device_reaches_the_mail_sink(demo: dict[str, Any]) -> None:
    assert "Scan to my email" in demo["scan_actions"]
    assert Path(demo["scan_share"]).is_dir()
    person = demo["users"][0]
    name, device = next(iter(demo["devices"].items()))
    capabilities = httpx.get(f"{device['escl_url']}/ScannerCapabilities", timeout=10)
    assert capabilities.status_code == 200
    assert b"ScannerCapabilities" in capabilities.content
    token_file = demo["_dir"] / "tokens" / f"{name}.token"
    simulate = [sys.executable, "-m", "printwarden", "device", "simulate", "--server",
                demo["sites"][device["site"]]["url"], "--token-file", str(token_file),
                "--card", person["card"], "scan", "--action", "Scan to my email",
                "--pages", "2", "--wait", "60"]  # fmt: skip
    result = subprocess.run(simulate, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "delivered" in result.stdout
    mails = [p.read_bytes() for p in (Path(demo["mail_sink"]) / "new").iterdir()]
    assert any(b"Subject: Scan from" in m and person["email"].encode() in m for m in mails), (
        "the scan in the demo's mail sink"
    )


def _tokens(demo: dict[str, Any]) -> set[str]:
    """Every token and secret demo.json names."""
    found = {demo["admin_token"], demo["provider_token"], demo["device_token"]}
    found |= {device["token"] for device in demo["devices"].values()}
    found |= {site["token"] for site in demo["sites"].values()}
    found |= {path.read_text().strip() for path in (demo["_dir"] / "tokens").glob("*.token")}
    return found


def _command_lines() -> dict[int, bytes]:
    lines = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                lines[int(entry.name)] = (entry / "cmdline").read_bytes()
    return lines


def test_no_process_has_a_token_on_its_command_line(demo: dict[str, Any]) -> None:
    lines = _command_lines()
    root = str(demo["_dir"]).encode()
    children = [line for line in lines.values() if root in line]
    serving = [line for line in children if b"\0serve\0" in line]
    assert len(serving) >= 4, children  # two Site Servers and two providers, at least
    for token in _tokens(demo):
        assert len(token) >= 16
        holders = [line for line in lines.values() if token.encode() in line]
        assert not holders, f"a token is on a command line: {holders}"


def test_data_directories_are_0700_and_files_0600(demo: dict[str, Any]) -> None:
    root = demo["_dir"]
    site = root / "sites" / "site-a"
    expected = [
        root / "demo.json", root / "secret.key", root / "printwarden.db",
        root / "printwarden.db-wal", site / "site.log", site / "link.log",
        site / "provider.log", site / "provider.toml", site / "site" / "replica.db",
        site / "site" / "replica.db-wal", site / "provider" / "state.db",
        root / "tokens" / "admin.token",
    ]  # fmt: skip
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{path.relative_to(root)}: {mode:o}")
        if path.is_dir():
            assert mode == 0o700, f"{path}: {mode:o}"
    assert not loose, loose
    for path in expected:
        assert path.exists(), path
    for printer in demo["printers"].values():  # what the demo's printers received, too
        received = Path(printer["received_dir"])
        for path in [received, *received.rglob("*")]:
            assert not stat.S_IMODE(path.lstat().st_mode) & 0o077, path
