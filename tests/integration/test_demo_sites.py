"""`printwarden demo`'s sites: cutting a site's link takes that site (and only it) offline,
it keeps printing, and restoring the link brings it back online with its journal uploaded.

A module of its own, with its own demo: it cuts a link, which the other demo tests must not
see (and, as in test_demo_stop.py, no two demos run at once).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.provider.ipp.client import IppClient
from support.demo import running_demo

READY_SECONDS = 60
OFFLINE_WITHIN = 8.0  # two failed heartbeats (0.5 s apart, 1 s timeouts each) and slack
ONLINE_WITHIN = 30.0  # settle (2 s), upload the journal, refresh the replica


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_demo(tmp_path_factory.mktemp("demo-sites"), "sites") as manifest:
        yield manifest


def _printwarden(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "printwarden", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _link(demo: dict[str, Any], state: str, site: str) -> None:
    result = _printwarden("demo", "link", state, site, "--data-dir", str(demo["_dir"]))
    assert result.returncode == 0, result.stdout + result.stderr


def _site_status(demo: dict[str, Any], site: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(demo["sites"][site]["status_url"], timeout=5).json()
    return found


def _app_view(demo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``printwarden admin site status --json`` against the App Server, by site name."""
    result = _printwarden("admin", "site", "status", "--json", "--server", demo["app_url"],
                          "--token-file", str(demo["_dir"] / "tokens" / "admin.token"))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``condition`` until true; returns how long it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.1)
    return time.monotonic() - start


def test_every_site_starts_online_at_the_app_server(demo: dict[str, Any]) -> None:
    rows = _app_view(demo)
    for site in ("site-a", "site-b"):
        assert rows[site]["mode"] == "online"
        assert rows[site]["journal_backlog"] == 0
        assert _site_status(demo, site)["mode"] == "online"
        # its heartbeat is the beacon, through its link (docs/operations.md)
        _wait(functools.partial(_beacon_holds, demo, site), 10, f"{site}'s beacon")


def _beacon_holds(demo: dict[str, Any], site: str) -> bool:
    return bool(_site_status(demo, site)["beacon"])


def test_a_cut_link_takes_only_its_site_offline_and_restoring_it_brings_it_back(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    person = demo["users"][0]
    queue = next(name for name, q in demo["queues"].items()
                 if q["site"] == "site-a" and q["kind"] == "direct")  # fmt: skip
    received = Path(demo["printers"][demo["queues"][queue]["printer"]]["received_dir"])
    held = _held_at_site_a(demo, person["username"])
    _link(demo, "down", "site-a")
    try:
        _wait(lambda: _site_status(demo, "site-a")["mode"] == "offline", OFFLINE_WITHIN,
              "site-a offline after its link was cut")  # fmt: skip
        assert _site_status(demo, "site-b")["mode"] == "online"
        assert _app_view(demo)["site-b"]["mode"] == "online"

        # Offline, site-a keeps printing, and journals the job for charging later.
        uri = demo["queues"][queue]["ipp_uri"]
        with IppClient(uri, user_name=person["username"], timeout=30) as client:
            client.print_job(b"printed while site-a was offline\n", document_format="text/plain",
                             job_name="offline.txt",
                             requesting_user_name=person["username"])  # fmt: skip
        _wait(lambda: any(b"while site-a was offline" in p.read_bytes()
                          for p in received.iterdir()), 30, "the offline job on paper")  # fmt: skip
        _wait(lambda: _site_status(demo, "site-a")["journal_backlog"] >= 1, 30,
              "the offline job in site-a's journal")  # fmt: skip
        assert _site_status(demo, "site-a")["mode"] == "offline"

        # The cut cuts both ways: HQ cannot reach site-a, and says so instead of releasing.
        _wait(lambda: _app_view(demo)["site-a"]["mode"] == "offline", OFFLINE_WITHIN,
              "the App Server seeing site-a offline")  # fmt: skip
        with _admin(demo) as admin:
            refused = admin.post(f"/held-jobs/{held}/release", json={"printer": "colour-laser"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["title"] == "Site offline"
        assert "site site-a, which HQ cannot reach" in refused.json()["detail"]
    finally:
        _link(demo, "up", "site-a")
    _wait(lambda: _site_status(demo, "site-a")["mode"] == "online", ONLINE_WITHIN,
          "site-a online again after its link was restored")  # fmt: skip
    status = _site_status(demo, "site-a")
    assert status["journal_backlog"] == 0
    assert status["last_report"]["applied"] >= 1
    _wait(lambda: _app_view(demo)["site-a"]["mode"] == "online", 10,
          "the App Server hearing site-a online")  # fmt: skip
    assert _site_status(demo, "site-b")["mode"] == "online"
    time.sleep(2)  # refused, not queued: it does not print now that the link is back
    assert not any(b"held at site-a" in p.read_bytes() for p in received.iterdir())
    with _admin(demo) as admin:
        assert admin.get(f"/held-jobs/{held}").json()["status"] == "held"


def _admin(demo: dict[str, Any]) -> httpx.Client:
    token = (demo["_dir"] / "tokens" / "admin.token").read_text().strip()
    return httpx.Client(base_url=f"{demo['app_url']}/api/v1", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def _held_at_site_a(demo: dict[str, Any], user: str) -> str:
    """A job held in site-a's Find-Me queue; its id once HQ knows of it."""
    queue = next(name for name, q in demo["queues"].items()
                 if q["site"] == "site-a" and q["kind"] == "findme")  # fmt: skip
    with IppClient(demo["queues"][queue]["ipp_uri"], user_name=user, timeout=30) as client:
        client.print_job(b"held at site-a\n", document_format="text/plain",
                         job_name="held-at-site-a.txt", requesting_user_name=user)  # fmt: skip
    found: list[str] = []

    def listed() -> bool:
        with _admin(demo) as admin:
            jobs = admin.get("/held-jobs", params={"user": user}).json()["jobs"]
        found[:] = [j["id"] for j in jobs if j["document_name"] == "held-at-site-a.txt"]
        return bool(found)

    _wait(listed, 30, "the Find-Me job at HQ")
    return found[0]


def test_link_commands_show_the_state_and_refuse_an_unknown_site(demo: dict[str, Any]) -> None:
    shown = _printwarden("demo", "link", "status", "--data-dir", str(demo["_dir"]))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.split("\n")[:2] == ["site-a: up", "site-b: up"]
    refused = _printwarden("demo", "link", "down", "nowhere", "--data-dir", str(demo["_dir"]))
    assert refused.returncode == 1
    assert "site-a" in refused.stdout  # it names the sites there are


def test_mail_to_a_queue_address_of_an_offline_site_is_held_there_and_replied_to(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    """demo.json's mail interface: a user's address mails a PDF to the Find-Me queue's
    address at its site's listener while the site is cut off; the reply reaches the demo's
    Maildir sink, and the job is held at the site (HQ lists it once the link is back)."""
    person = demo["users"][0]
    queue = next(q for q in demo["queues"].values() if q["kind"] == "findme")
    smtp = demo["sites"][queue["site"]]["smtp"]
    assert queue["email"].endswith("@" + smtp["domain"])
    assert demo["smtp"]["domain"]
    assert demo["smtp"]["port"]
    document = tmp_path / "mailed.pdf"
    ghostscript = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite"]
    subprocess.run([*ghostscript, f"-sOutputFile={document}", "-c", "showpage"], check=True,
                   timeout=60)  # fmt: skip
    sink = Path(demo["mail_sink"]) / "new"
    before = len(list(sink.iterdir())) if sink.exists() else 0
    _link(demo, "down", queue["site"])
    try:
        _wait(lambda: _site_status(demo, queue["site"])["mode"] == "offline", OFFLINE_WITHIN,
              "the site offline")  # fmt: skip
        trusted = "Authentication-Results: mx.print.test; dmarc=pass header.from=example.org"
        sent = subprocess.run(
            ["swaks", "--server", f"{smtp['host']}:{smtp['port']}", "--to", queue["email"],
             "--from", person["email"], "--attach", f"@{document}", "--add-header", trusted],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        _wait(lambda: sink.exists() and len(list(sink.iterdir())) > before, 30, "the reply")
        newest = max(sink.iterdir(), key=lambda p: p.stat().st_mtime).read_text()
        assert "mailed.pdf" in newest
        assert "held for release at findme" in newest
    finally:
        _link(demo, "up", queue["site"])

    def at_hq() -> bool:
        with _admin(demo) as admin:
            jobs = admin.get("/held-jobs", params={"user": person["username"]}).json()["jobs"]
        return any(j["document_name"] == "mailed.pdf" for j in jobs)

    _wait(at_hq, ONLINE_WITHIN + 15, "the mailed job at HQ")
