"""Integrated Scanning at an offline site, with real processes: an App Server, a Site Server
behind a link that is cut, the device simulator (``printwarden device simulate … scan``) and
a smarthost for each server. The site takes the scan, mails it through its own smarthost and
journals the charge; HQ applies it once. The Site Server killed with ``kill -9`` in the
middle of an upload and in the middle of a delivery loses nothing and sends nothing twice.
"""

from __future__ import annotations

import email
import io
import mailbox
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest

from printwarden.devices.client import DeviceClient
from printwarden.devices.scan_client import DeviceScans
from printwarden.scanning.sample_pages import generate_page
from printwarden.sim.escl_scanner import EsclScanner
from printwarden.testing.mail import SinkThread
from printwarden.testing.seeding import add_user, wait_for
from printwarden.testing.site import SITE, World, site_online, site_world

ACTION = "Scan to my email"
SEARCHABLE = "Searchable to my email"
PRICE = 10  # the device's grey simplex price per page (DEVICE_PRICES)
PASSWORD = "site-scan-pass-3"
ACTIONS = [
    {"name": ACTION, "destination": "email", "defaults": {"resolution": 75}},
    {"name": SEARCHABLE, "destination": "email", "defaults": {"resolution": 300, "ocr": True}},
]


@dataclass
class Scanning:
    world: World
    hq_mail: SinkThread
    site_mail: SinkThread
    root: Path

    def person(self) -> tuple[str, str]:
        name, card = f"scanner-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:12]
        add_user(self.world.admin, name, 10_000)
        fields = {"email": f"{name}@example.test", "cards": [card]}
        changed = self.world.admin.patch(f"/users/{name}", json=fields)
        assert changed.status_code == 200, changed.text
        wait_for(self.world.caught_up, "the site's replica")
        return name, card

    def scan_charges(self, name: str) -> list[dict[str, Any]]:
        account = self.world.admin.get(f"/users/{name}").json()["account_id"]
        found = self.world.admin.get("/transactions",
                                     params={"account_id": account, "kind": "scan"})  # fmt: skip
        assert found.status_code == 200, found.text
        charges: list[dict[str, Any]] = found.json()
        return charges

    def device(self) -> DeviceClient:
        return DeviceClient(self.world.site.url, self.world.device_token, timeout=10)

    def restart_site(self) -> None:
        self.world.site.kill9()
        self.world.site.start()


def _log_in_online(world: World, name: str) -> httpx.Response | None:
    """A login through the Site Server while it is online (HQ checks the password; the site
    keeps the session). A loaded machine can take the site offline for a moment, where it
    knows no password yet: then None, to try again."""
    if not site_online(world.site)():
        return None
    login = httpx.post(f"{world.site.api}/auth/login", timeout=30,
                       json={"username": name, "password": PASSWORD})  # fmt: skip
    return login if login.status_code == 200 else None


def _mails(sink: SinkThread, name: str) -> list[email.message.Message]:
    box = mailbox.Maildir(sink.sink.directory, create=False)
    found = [email.message_from_bytes(box.get_bytes(key)) for key in box.iterkeys()]
    return [m for m in found if m["To"] == f"{name}@example.test"]


def _documents(sink: SinkThread, name: str) -> list[bytes]:
    return [
        bytes(part.get_payload(decode=True))
        for mail in _mails(sink, name)
        for part in mail.walk()
        if part.get_filename()
    ]


def _pages(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return len(document.pages)


@pytest.fixture(scope="module")
def scanning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanning]:
    root = tmp_path_factory.mktemp("scan-site")
    hq_mail, site_mail = SinkThread(root / "hq-mail"), SinkThread(root / "site-mail")
    settings = root / "site.toml"
    settings.write_text(f'[scanning]\nsmarthost = "127.0.0.1:{site_mail.port}"\n')
    hq_env = {"PRINTWARDEN_MAIL__SMARTHOST": f"127.0.0.1:{hq_mail.port}"}
    try:
        with site_world(root, ["--mail-config", str(settings)], hq_env) as world:
            assert world.admin.put("/scan-actions", json={"actions": ACTIONS}).status_code == 200
            yield Scanning(world, hq_mail, site_mail, root)
    finally:
        hq_mail.close()
        site_mail.close()


def test_thirty_pages_at_an_offline_site_are_mailed_there_and_charged_once_at_hq(
    scanning: Scanning,
) -> None:
    world = scanning.world
    name, card = scanning.person()
    before = world.balance(name)
    with world.outage():
        simulated = subprocess.run(
            [sys.executable, "-m", "printwarden", "device", "simulate",
             "--server", world.site.url, "--card", card,
             "scan", "--action", ACTION, "--pages", "30", "--wait", "60"],
            env={**world.app.env(), "PRINTWARDEN_DEVICE_TOKEN": world.device_token},
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert simulated.returncode == 0, simulated.stdout + simulated.stderr
        assert "30 pages" in simulated.stdout
        assert "delivered" in simulated.stdout
        [pdf] = _documents(scanning.site_mail, name)  # through the site's own smarthost
        assert _pages(pdf) == 30
        assert world.balance(name) == before  # HQ has not heard yet
    [charge] = wait_for(lambda: scanning.scan_charges(name), "the charge at HQ")
    assert charge["amount"] == -30 * PRICE
    assert "(offline)" in charge["comment"]
    assert world.balance(name) == before - 30 * PRICE
    assert _mails(scanning.hq_mail, name) == []


def test_a_site_killed_mid_upload_keeps_the_pages_it_had(scanning: Scanning) -> None:
    world = scanning.world
    name, card = scanning.person()
    with world.outage(), scanning.device() as device:
        scans = DeviceScans(device, patience=90)
        session = device.login_card(card)
        started = scans.start(session, ACTION, {})
        for number in range(1, 11):
            scans.upload(started, number, generate_page(number, dpi=75))
        scanning.restart_site()
        assert scans.status(started).pages_received == list(range(1, 11))
        for number in range(11, 21):
            scans.upload(started, number, generate_page(number, dpi=75))
        finished = scans.finish(started, 20)
        assert finished.pages == 20
        wait_for(lambda: scans.status(started).stage == "delivered", "delivered", 60)
        [pdf] = _documents(scanning.site_mail, name)
        assert _pages(pdf) == 20
    [charge] = wait_for(lambda: scanning.scan_charges(name), "the charge at HQ")
    assert charge["amount"] == -20 * PRICE


def test_a_site_killed_mid_delivery_delivers_once(scanning: Scanning) -> None:
    world = scanning.world
    name, card = scanning.person()
    with world.outage(), scanning.device() as device:
        scans = DeviceScans(device, patience=90)
        session = device.login_card(card)
        started = scans.start(session, SEARCHABLE, {})
        for number in range(1, 4):
            scans.upload(started, number, generate_page(number, dpi=300))
        assert scans.finish(started, 3).stage == "received"
        scanning.restart_site()  # while its OCR runs
        wait_for(lambda: scans.status(started).stage == "delivered", "delivered", 120)
        scans.finish(started, 3)  # the device sends finish again: nothing more happens
        wait_for(lambda: _documents(scanning.site_mail, name), "the mail")
        [pdf] = _documents(scanning.site_mail, name)
        assert _pages(pdf) == 3
    [charge] = wait_for(lambda: scanning.scan_charges(name), "the charge at HQ")
    assert charge["amount"] == -3 * PRICE
    assert len(_documents(scanning.site_mail, name)) == 1


def test_a_refusing_site_smarthost_is_retried_and_the_scan_delivered_once(
    scanning: Scanning,
) -> None:
    world = scanning.world
    name, card = scanning.person()
    scanning.site_mail.sink.refusing = "451 4.3.0 greylisted"
    try:
        with world.outage(), scanning.device() as device:
            scans = DeviceScans(device, patience=90)
            session = device.login_card(card)
            started = scans.start(session, ACTION, {})
            scans.upload(started, 1, generate_page(1, dpi=75))
            scans.finish(started, 1)
            wait_for(lambda: "451" in scans.status(started).detail, "a refused attempt", 30)
            scanning.site_mail.sink.refusing = ""
            wait_for(lambda: scans.status(started).stage == "delivered", "delivered", 60)
    finally:
        scanning.site_mail.sink.refusing = ""
    assert len(_documents(scanning.site_mail, name)) == 1


def test_an_online_site_drives_its_scanner_and_hq_charges_it_at_once(scanning: Scanning) -> None:
    """The site's own network scanner, started from the site's API while online: the site
    takes the scan (HQ could not reach the scanner) and its charge reaches HQ at once."""
    world = scanning.world
    name, _card = scanning.person()
    assert world.admin.patch(f"/users/{name}", json={"password": PASSWORD}).status_code == 200
    device = world.admin.get("/devices").json()
    mfd = next(d["name"] for d in device if d["name"].startswith(SITE))
    with EsclScanner(pages=2) as scanner:
        patched = world.admin.patch(f"/devices/{mfd}",
                                    json={"escl_url": scanner.url, "site": SITE})  # fmt: skip
        assert patched.status_code == 200, patched.text
        try:
            wait_for(world.caught_up, "the site's replica")
            login = wait_for(lambda: _log_in_online(world, name), "a login at the site", 60)
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            with httpx.Client(base_url=world.site.api, headers=headers, timeout=30) as me:
                started = me.post("/me/scans", json={"device": mfd, "action": ACTION})
                assert started.status_code == 202, started.text
                assert started.json()["scan_id"].startswith("site-")

                def delivered() -> bool:
                    found = me.get("/me/scans").json()["scans"]
                    return any(s["stage"] == "delivered" for s in found)

                wait_for(delivered, "the scan delivered", 60)
        finally:
            world.admin.patch(f"/devices/{mfd}", json={"escl_url": ""})
    [charge] = wait_for(lambda: scanning.scan_charges(name), "the charge at HQ", 30)
    assert charge["amount"] == -2 * PRICE
    assert "(at the site)" in charge["comment"]
    assert len(_documents(scanning.site_mail, name)) == 1
