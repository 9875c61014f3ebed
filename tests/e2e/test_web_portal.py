"""The user portal in Chromium: a user logs in, releases a held job to a real ippeveprinter
(choosing the printer), changes and cancels another; the admin console's dashboard and job
log then show the printed job, and its CSV export lists it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.escl_scanner import EsclScanner
from support.appserver import AppServer
from support.browser import log_in, screenshot, tab
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import PRICES, add_user, wait_for
from support.web import add_person

PRINTER = "portal-laser"
QUEUE = "secure"
WAIT_SECONDS = 20.0


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    printer: IppEvePrinter

    def hold(self, username: str, document_name: str, data: bytes) -> str:
        with IppClient(self.provider.uri(QUEUE), user_name=username, timeout=WAIT_SECONDS) as ipp:
            ipp.print_job(data, document_format="text/plain", job_name=document_name,
                          requesting_user_name=username)  # fmt: skip

        def listed() -> str:
            jobs = self.admin.get("/held-jobs", params={"user": username}).json()["jobs"]
            return next((j["id"] for j in jobs if j["document_name"] == document_name), "")

        found: str = wait_for(listed, f"{document_name} held", WAIT_SECONDS)
        return found

    def received(self) -> list[bytes]:
        return [path.read_bytes() for path in self.printer.documents().values()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("web-portal")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.extra_env["PRINTWARDEN_SCANNING__HOME"] = str(root / "homes" / "{username}")
    printer = IppEvePrinter("pw-portal-laser", color=True)
    provider: ProviderProcess | None = None
    admin: httpx.Client | None = None
    try:
        app.start()
        printer.start()
        token = app.token(Role.ADMIN, "portal-boss")
        admin = httpx.Client(base_url=app.api, headers={"Authorization": f"Bearer {token}"},
                             timeout=WAIT_SECONDS)  # fmt: skip
        body = {"name": PRINTER, "colour": True, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=[PrinterSpec(PRINTER, printer.uri, colour=True)],
            queues=[QueueSpec(QUEUE, "hold", PRINTER)],
        )
        provider.start()
        yield World(app, admin, provider, printer)
    finally:
        if provider is not None:
            provider.stop()
        printer.stop()
        if admin is not None:
            admin.close()
        app.stop()


def test_user_releases_a_held_job_to_the_printer_and_cancels_another(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    username = f"petra-{uuid.uuid4().hex[:6]}"
    add_user(world.admin, username, 1000, password="petra-pass-1")
    report, memo = b"portal release report\n", b"portal memo to cancel\n"
    world.hold(username, "report.txt", report)
    memo_id = world.hold(username, "memo.txt", memo)

    with tab(browser, phone=True) as page:
        log_in(page, world.app.url, username, "petra-pass-1")
        expect(page.locator("#balance")).to_have_text("$10.00")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Held jobs").click()
        jobs = page.locator(".jobs-list > li")
        expect(jobs).to_have_count(2)
        screenshot(page, "portal-held-jobs-phone", tmp_path)

        memo_item = jobs.filter(has_text="memo.txt")
        memo_item.get_by_text("Change settings or cancel").click()
        memo_item.get_by_label("Copies").fill("2")
        memo_item.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status")).to_have_text("Job settings changed.")
        expect(jobs.filter(has_text="memo.txt")).to_contain_text("2 copies")

        report_item = jobs.filter(has_text="report.txt")
        report_item.get_by_label("Printer").select_option(PRINTER)
        report_item.get_by_role("button", name="Release report.txt").click()
        expect(page.get_by_role("status")).to_have_text("Job released.")
        wait_for(lambda: report in world.received(), "the released document at the printer")

        memo_item = page.locator(".jobs-list > li").filter(has_text="memo.txt")
        memo_item.get_by_text("Change settings or cancel").click()
        memo_item.get_by_role("button", name="Cancel memo.txt").click()
        expect(page.get_by_role("status")).to_have_text("Job canceled.")
        expect(page.get_by_text("No jobs are waiting for release.")).to_be_visible()
        assert memo not in world.received()
        held = world.admin.get("/held-jobs", params={"user": username}).json()["jobs"]
        assert memo_id not in {job["id"] for job in held}

        page.get_by_role("link", name="Jobs", exact=True).click()
        expect(page.locator("#job-log")).to_contain_text("report.txt", timeout=20_000)
        screenshot(page, "portal-jobs-phone", tmp_path)


def test_a_person_scans_at_a_network_scanner_from_the_portal(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    username = f"sven-{uuid.uuid4().hex[:6]}"
    add_user(world.admin, username, 1000, password="sven-pass-1")
    action = {"name": "Scan to my home folder", "destination": "home",
              "defaults": {"resolution": 75}}  # fmt: skip
    assert world.admin.put("/scan-actions", json={"actions": [action]}).status_code == 200
    device = f"portal-mfd-{uuid.uuid4().hex[:6]}"
    with EsclScanner(pages=3) as scanner:
        made = world.admin.post("/devices", json={"name": device, "kind": "mfd",
                                                  "escl_url": scanner.url})  # fmt: skip
        assert made.status_code == 201, made.text
        try:
            with tab(browser) as page:
                log_in(page, world.app.url, username, "sven-pass-1")
                page.get_by_role("navigation", name="Main").get_by_role("link", name="Scan").click()
                form = page.locator("form").filter(has_text=device)
                form.get_by_label("Scan action").select_option("Scan to my home folder")
                form.get_by_role("button", name="Scan").click()
                expect(page.get_by_role("status")).to_contain_text("Scanning")
                scans = page.locator("#my-scans tbody tr")
                expect(scans).to_have_count(1)

                def delivered() -> bool:
                    page.reload()
                    return "Delivered" in page.locator("#my-scans").inner_text()

                wait_for(delivered, "the scan delivered", WAIT_SECONDS)
                expect(scans.first).to_contain_text("3")
                screenshot(page, "portal-scan", tmp_path)
        finally:
            world.admin.delete(f"/devices/{device}")
    [pdf] = (world.app.data_dir / "homes" / username).glob("*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert scanner.documents_served == 3


def test_admin_sees_the_printed_job_on_the_dashboard_and_in_the_job_log(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    name = f"boss-{uuid.uuid4().hex[:6]}"
    add_person(world.app, name, "boss-pass-123", admin=True)
    with tab(browser) as page:
        log_in(page, world.app.url, name, "boss-pass-123")
        expect(page.locator("#jobs-today")).not_to_have_text("0")
        expect(page.locator("#top-printers")).to_contain_text(PRINTER)
        expect(page.locator("svg.chart rect.bar")).to_have_count(14)
        screenshot(page, "admin-dashboard-with-jobs", tmp_path)

        page.get_by_role("link", name="Job log").click()
        page.get_by_label("Printer").fill(PRINTER)
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#job-log")).to_contain_text("report.txt")
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Export these jobs")).click()
        text = Path(download.value.path()).read_text()
        assert text.startswith("printed_at,username,printer")
        assert "report.txt" in text

        page.get_by_role("link", name="Printers").click()
        expect(page.get_by_role("heading", name=PRINTER)).to_be_visible()
        expect(page.locator("section.card").first).to_contain_text(QUEUE)
