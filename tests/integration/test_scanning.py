"""Integrated Scanning through the device API, in process: actions per person and device, a
scan started, its pages uploaded, finished and charged once, then processed and delivered
— to a real SMTP sink's Maildir, a home folder and a shared folder — with retries when the
smarthost refuses, a download link when a mail would be too large or delivery fails, and
hostile uploads refused with the right status."""

from __future__ import annotations

import email
import io
import mailbox
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest

from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.scanning.sample_pages import generate_page, page_text
from printwarden.sim.escl_scanner import EsclScanner
from printwarden.store.db import Database
from printwarden.store.models import ScanRow
from printwarden.testing.inprocess import InProcessAppServer
from printwarden.testing.mail import SinkThread
from printwarden.testing.samba import SambaServer
from printwarden.testing.seeding import top_up, wait_for

PRICE = 10  # DEVICE_PRICES: grey simplex, per page
PASSWORD = "scan-password-4"
ACTIONS = [
    {"name": "Scan to my email", "destination": "email",
     "defaults": {"resolution": 150}, "editable": ["file_name", "format", "ocr", "resolution"]},
    {"name": "Scan to my home folder", "destination": "home", "defaults": {"resolution": 150}},
    {"name": "Scan to team", "destination": "folder", "folder": "team",
     "defaults": {"resolution": 150, "format": "tiff"}},
    {"name": "Scan to nowhere", "destination": "folder", "folder": "missing"},
    {"name": "Staff only", "destination": "email", "groups": ["staff"]},
    {"name": "Scan to the office share", "destination": "folder", "folder": "office",
     "defaults": {"resolution": 300, "ocr": True}},
    {"name": "Searchable to my email", "destination": "email",
     "defaults": {"resolution": 300, "ocr": True}},
]  # fmt: skip


@dataclass
class ScanningApp(InProcessAppServer):
    """The App Server in process, with a smarthost and folders to deliver scans to."""

    smarthost_port: int = 0
    samba: SambaServer | None = None

    def settings(self) -> Settings:
        base = super().settings()
        folders: dict[str, Any] = {"team": {"target": str(self.data_dir / "team")}}
        if self.samba is not None:
            secret = self.data_dir / "smb-credentials"
            secret.write_text(f"{self.samba.username}:{self.samba.password}\n")
            secret.chmod(0o600)
            target = f"smb://127.0.0.1:{self.samba.port}/scans/Office"
            folders["office"] = {"target": target, "credentials_file": str(secret)}
        scanning = {
            "public_url": "http://scans.test",
            "home": str(self.data_dir / "homes" / "{username}" / "Scans"),
            "folders": folders,
            "sweep_seconds": 0.1,
        }
        mail = base.mail.model_copy(update={"smarthost": f"127.0.0.1:{self.smarthost_port}"})
        return base.model_copy(
            update={"mail": mail, "scanning": base.scanning.model_validate(scanning)}
        )


@dataclass
class World:
    app: ScanningApp
    sink: SinkThread
    maildir: Path
    admin: httpx.Client
    device: httpx.Client
    device_name: str
    samba: SambaServer

    def person(self, balance: int = 1000, **fields: Any) -> tuple[str, str]:
        """A new person with a card; their name and card number."""
        name, card = f"scan-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:12]
        body = {"username": name, "email": f"{name}@example.test", "cards": [card], **fields}
        made = self.admin.post("/users", json=body)
        assert made.status_code == 201, made.text
        top_up(self.admin, made.json()["account_id"], balance)
        return name, card

    def login(self, card: str) -> str:
        answer = self.device.post("/device/sessions", json={"method": "card", "card_number": card})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["session_id"])

    def balance(self, name: str) -> int:
        return int(self.admin.get(f"/users/{name}").json()["balance"])

    def start(self, session: str, action: str, **options: Any) -> dict[str, Any]:
        body = {"action": action, "options": options}
        answer = self.device.post(f"/device/sessions/{session}/scans", json=body)
        assert answer.status_code == 201, answer.text
        started: dict[str, Any] = answer.json()
        return started

    def put(self, scan: dict[str, Any], number: int, data: bytes) -> httpx.Response:
        return self.device.put(f"/device/scans/{scan['scan_id']}/pages/{number}", content=data,
                               headers={"X-Scan-Token": scan["upload_token"]})  # fmt: skip

    def finish(self, scan: dict[str, Any], pages: int) -> httpx.Response:
        return self.device.post(f"/device/scans/{scan['scan_id']}/finish", json={"pages": pages},
                                headers={"X-Scan-Token": scan["upload_token"]})  # fmt: skip

    def scan(self, card: str, action: str, pages: int, **options: Any) -> dict[str, Any]:
        scan = self.start(self.login(card), action, **options)
        for number in range(1, pages + 1):
            answer = self.put(scan, number, generate_page(number, dpi=150))
            assert answer.status_code == 201, answer.text
        finished = self.finish(scan, pages)
        assert finished.status_code == 200, finished.text
        return scan

    def status(self, scan: dict[str, Any]) -> dict[str, Any]:
        answer = self.device.get(f"/device/scans/{scan['scan_id']}",
                                 headers={"X-Scan-Token": scan["upload_token"]})  # fmt: skip
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def ended(self, scan: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        found = wait_for(lambda: (s := self.status(scan))["stage"] != "received" and s,
                         "the scan delivered or failed", seconds=timeout)  # fmt: skip
        result: dict[str, Any] = found
        return result

    def mails_to(self, name: str) -> list[email.message.Message]:
        box = mailbox.Maildir(self.maildir, create=False)
        found = [email.message_from_bytes(box.get_bytes(key)) for key in box.iterkeys()]
        return [m for m in found if m["To"] == f"{name}@example.test"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("scanning")
    maildir = root / "maildir"
    sink = SinkThread(maildir)
    samba = SambaServer()
    samba.start()
    app = ScanningApp(f"sqlite:///{root / 'app.db'}", root, smarthost_port=sink.port,
                      samba=samba)  # fmt: skip
    app.start()
    device_name = f"mfd-{uuid.uuid4().hex[:6]}"
    device_token = app.device_token(device_name)
    with (
        app.client(app.token(Role.ADMIN, "scan-admin")) as admin,
        app.client(device_token) as device,
    ):
        put = admin.put("/scan-actions", json={"actions": ACTIONS})
        assert put.status_code == 200, put.text
        yield World(app, sink, maildir, admin, device, device_name, samba)
    app.stop()
    sink.close()
    samba.close()


def _pdf_pages(data: bytes) -> int:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def _attachments(message: email.message.Message) -> dict[str, bytes]:
    return {
        str(part.get_filename()): bytes(part.get_payload(decode=True))
        for part in message.walk()
        if part.get_filename()
    }


def test_actions_are_the_persons_at_this_device(world: World) -> None:
    _, card = world.person()
    session = world.login(card)
    answer = world.device.get(f"/device/sessions/{session}/scan-actions")
    assert answer.status_code == 200, answer.text
    names = [a["name"] for a in answer.json()["actions"]]
    assert "Scan to my email" in names
    assert "Staff only" not in names  # not a member of staff
    email_action = next(a for a in answer.json()["actions"] if a["name"] == "Scan to my email")
    assert email_action["defaults"]["resolution"] == 150
    refused = world.device.post(f"/device/sessions/{session}/scans",
                                json={"action": "Staff only"})  # fmt: skip
    assert refused.status_code == 403, refused.text
    fixed = world.device.post(
        f"/device/sessions/{session}/scans",
        json={"action": "Scan to my home folder", "options": {"format": "jpeg"}},
    )
    assert fixed.status_code == 422
    assert "format" in fixed.json()["detail"]


def test_scan_to_my_email_is_charged_once_per_page_and_mailed(world: World) -> None:
    name, card = world.person()
    scan = world.scan(card, "Scan to my email", 3, file_name="Thesis")
    assert world.balance(name) == 1000 - 3 * PRICE
    again = world.finish(scan, 3)  # the device did not hear the answer: sent again
    assert again.status_code == 200
    assert again.json()["stage"] in ("received", "delivered")
    assert world.balance(name) == 1000 - 3 * PRICE  # charged once
    ended = world.ended(scan)
    assert ended["stage"] == "delivered", ended
    assert ended["pages"] == 3
    assert ended["cost"] == 3 * PRICE
    [mail] = world.mails_to(name)
    files = _attachments(mail)
    assert list(files) == ["Thesis.pdf"]
    assert _pdf_pages(files["Thesis.pdf"]) == 3
    account = world.admin.get(f"/users/{name}").json()["account_id"]
    ledger = world.admin.get("/transactions", params={"account_id": account, "kind": "scan"})
    assert ledger.status_code == 200, ledger.text
    [charge] = ledger.json()
    assert charge["amount"] == -3 * PRICE


def test_pages_resume_and_bad_uploads_are_refused(world: World) -> None:
    name, card = world.person()
    scan = world.start(world.login(card), "Scan to my email")
    assert world.put(scan, 1, b"not an image at all").status_code == 415
    assert world.put(scan, 1, generate_page(9, dpi=75)).status_code == 201
    assert world.put(scan, 1, generate_page(1, dpi=75)).status_code == 201  # replaced
    assert world.status(scan)["pages_received"] == [1]
    missing = world.finish(scan, 2)
    assert missing.status_code == 409
    assert "2" in missing.json()["detail"]
    wrong = dict(scan, upload_token="x" * 43)
    assert world.put(wrong, 2, generate_page(2, dpi=75)).status_code == 404
    other_token = world.app.device_token(f"other-{uuid.uuid4().hex[:6]}")
    with world.app.client(other_token) as other:
        stolen = other.put(f"/device/scans/{scan['scan_id']}/pages/2",
                           content=generate_page(2, dpi=75),
                           headers={"X-Scan-Token": scan["upload_token"]})  # fmt: skip
    assert stolen.status_code == 404  # the token is this device's only
    assert world.put(scan, 2, generate_page(2, dpi=75)).status_code == 201
    assert world.finish(scan, 2).status_code == 200
    late = world.put(scan, 3, generate_page(3, dpi=75))
    assert late.status_code == 409  # finished: no more pages
    assert world.balance(name) == 1000 - 2 * PRICE
    assert world.ended(scan)["stage"] == "delivered"


def test_home_and_shared_folders_get_the_file_and_the_person_a_notice(world: World) -> None:
    name, card = world.person()
    home = world.scan(card, "Scan to my home folder", 2)
    team = world.scan(card, "Scan to team", 2)
    assert world.ended(home)["stage"] == "delivered"
    assert world.ended(team)["stage"] == "delivered"
    [pdf] = (world.app.data_dir / "homes" / name / "Scans").iterdir()
    assert pdf.suffix == ".pdf"
    assert _pdf_pages(pdf.read_bytes()) == 2
    tiffs = list((world.app.data_dir / "team").glob("*.tif"))
    assert len(tiffs) >= 1
    spool = world.app.data_dir / "scans"
    assert not (spool / home["scan_id"]).exists()  # delivered, no link: its pages are gone
    notices = wait_for(lambda: len(world.mails_to(name)) >= 2 and world.mails_to(name),
                       "two delivery notices")  # fmt: skip
    assert all("Scan delivered" in str(m["Subject"]) for m in notices)


def test_a_failed_delivery_sends_a_download_link(world: World) -> None:
    name, card = world.person()
    scan = world.scan(card, "Scan to nowhere", 1)
    ended = world.ended(scan)
    assert ended["stage"] == "failed"
    assert "missing" in ended["detail"]
    [notice] = wait_for(lambda: world.mails_to(name), "the failure notice")
    body = bytes(notice.get_payload(decode=True)).decode()
    link = next(line for line in body.splitlines() if line.startswith("http://scans.test/"))
    path = link.removeprefix("http://scans.test")
    with world.app.client(under="") as browser:
        got = browser.get(path)
        assert got.status_code == 200, got.text
        assert _pdf_pages(got.content) == 1
        assert browser.get(path[:-4] + "AAAA").status_code == 404
        # Had the document not been made, the link gives the pages as they came, zipped.
        shutil.rmtree(world.app.data_dir / "scans" / scan["scan_id"] / "out")
        pages = browser.get(path)
        assert pages.status_code == 200, pages.text
        assert pages.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(pages.content)) as archive:
            assert archive.namelist() == ["page-0001.jpg"]


def test_a_refusing_smarthost_is_tried_again(world: World) -> None:
    name, card = world.person()
    world.sink.sink.refusing = "451 4.3.0 try again later"
    try:
        scan = world.scan(card, "Scan to my email", 1)
        wait_for(lambda: world.status(scan)["detail"], "a refused attempt")
        assert world.status(scan)["stage"] == "received"
    finally:
        world.sink.sink.refusing = ""
    database = Database(world.app.database_url)
    try:
        with database.session() as session:  # do not wait for the back-off
            row = session.get(ScanRow, scan["scan_id"])
            assert row is not None
            assert row.attempts >= 1
            row.next_attempt_at = None
    finally:
        database.dispose()
    assert world.ended(scan)["stage"] == "delivered"
    assert len(world.mails_to(name)) == 1


def test_ocr_makes_the_text_findable(world: World) -> None:
    name, card = world.person()
    scan = world.start(world.login(card), "Scan to my email", ocr=True, resolution=300)
    assert world.put(scan, 1, generate_page(1, dpi=300)).status_code == 201
    assert world.finish(scan, 1).status_code == 200
    assert world.ended(scan, timeout=120)["stage"] == "delivered"
    [mail] = world.mails_to(name)
    [pdf] = _attachments(mail).values()
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                          timeout=60, check=True).stdout.decode()  # fmt: skip
    assert page_text(1).lower() in " ".join(text.lower().split())


def _text(pdf: bytes) -> str:
    """What ``pdftotext`` (poppler, no one here wrote it) reads, words joined by spaces."""
    found = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, timeout=60,
                           check=True)  # fmt: skip
    return " ".join(found.stdout.decode().lower().split())


def _retry_now(world: World, scan_id: str) -> None:
    """Skip the back-off: the scan is due again now."""
    database = Database(world.app.database_url)
    try:
        with database.session() as session:
            row = session.get(ScanRow, scan_id)
            assert row is not None
            row.next_attempt_at = None
    finally:
        database.dispose()


def test_an_smb_share_down_is_waited_for(world: World) -> None:
    _, card = world.person()
    world.samba.stop()
    try:
        scan = world.scan(card, "Scan to the office share", 1)
        wait_for(lambda: world.status(scan)["detail"], "a failed attempt")
        assert world.status(scan)["stage"] == "received"  # tried again later, not given up
    finally:
        world.samba.start()
    _retry_now(world, scan["scan_id"])
    ended = world.ended(scan, timeout=120)
    assert ended["stage"] == "delivered", ended
    [pdf] = (world.samba.share_path / "Office").glob("*.pdf")
    assert page_text(1).lower() in _text(pdf.read_bytes())


def test_printwarden_drives_an_escl_scanner_to_email_and_an_smb_share(world: World) -> None:
    name, _card = world.person(password=PASSWORD)
    login = world.admin.post("/auth/login", json={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text
    with EsclScanner(pages=2) as scanner, world.app.client(login.json()["token"]) as me:
        patched = world.admin.patch(f"/devices/{world.device_name}",
                                    json={"escl_url": scanner.url})  # fmt: skip
        assert patched.status_code == 200, patched.text
        try:
            offered = me.get("/me/scan-devices")
            assert offered.status_code == 200, offered.text
            assert world.device_name in [d["device"] for d in offered.json()["devices"]]
            started = []
            for action in ("Searchable to my email", "Scan to the office share"):
                answer = me.post("/me/scans", json={"device": world.device_name,
                                                    "action": action})  # fmt: skip
                assert answer.status_code == 202, answer.text
                started.append(answer.json()["scan_id"])

                def ended(scan_id: str = started[-1]) -> dict[str, Any] | None:
                    mine = me.get("/me/scans").json()["scans"]
                    found = next(s for s in mine if s["scan_id"] == scan_id)
                    return found if found["stage"] not in ("scanning", "received") else None

                done = wait_for(ended, f"{action} delivered", seconds=120)
                assert done["stage"] == "delivered", done
                assert done["pages"] == 2
            assert scanner.jobs_created == 2
            assert scanner.documents_served == 4
        finally:
            world.admin.patch(f"/devices/{world.device_name}", json={"escl_url": ""})
    [mail] = [m for m in world.mails_to(name) if str(m["Subject"]).startswith("Scan from")]
    [pdf] = _attachments(mail).values()
    assert page_text(2).lower() in _text(pdf)
    assert world.balance(name) == 1000 - 4 * PRICE
    office = [p for p in (world.samba.share_path / "Office").glob("*.pdf")
              if page_text(2).lower() in _text(p.read_bytes())]  # fmt: skip
    assert office, "the OCR'd PDF in the share"


def test_a_canceled_scan_is_not_charged_and_its_pages_are_dropped(world: World) -> None:
    name, card = world.person()
    scan = world.start(world.login(card), "Scan to my email")
    assert world.put(scan, 1, generate_page(1, dpi=75)).status_code == 201
    assert (world.app.data_dir / "scans" / scan["scan_id"] / "pages" / "0001").is_file()
    canceled = world.device.delete(f"/device/scans/{scan['scan_id']}",
                                   headers={"X-Scan-Token": scan["upload_token"]})  # fmt: skip
    assert canceled.status_code == 204
    assert world.status(scan)["stage"] == "abandoned"
    assert not (world.app.data_dir / "scans" / scan["scan_id"]).exists()
    assert world.finish(scan, 1).status_code == 200  # finishing it now charges nothing
    assert world.balance(name) == 1000


def test_the_app_servers_metrics_count_scans_and_loop_restarts(world: World) -> None:
    _, card = world.person()
    assert world.ended(world.scan(card, "Scan to my email", 1))["stage"] == "delivered"
    with world.app.client(under="") as scraper:
        answer = scraper.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = dict(
        line.rsplit(" ", 1) for line in answer.text.splitlines() if not line.startswith("#")
    )
    assert int(samples['printwarden_scanning{counter="delivered"}']) >= 1
    assert samples['printwarden_scanning{counter="loop_restarts"}'] == "0"
    assert 'printwarden_user_client{counter="loop_restarts"}' in samples
    assert 'printwarden_web_print{counter="loop_restarts"}' in samples
