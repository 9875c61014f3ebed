"""The release station page in a real browser, against a real App Server, provider and printer.

Debian's Chromium (headless, driven by Playwright) opens ``/release/<station>#token=…`` as
the kiosk would; a keyboard-wedge card reader is keystrokes typed into the page, ending in
Enter. Held jobs are real IPP jobs printed to the provider's *hold* queue, and a released
job must arrive, byte for byte, at a real ``ippeveprinter``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.escl_scanner import EsclScanner
from support.appserver import AppServer
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import PRICES, top_up, wait_for

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
STATION = "lobby-station"
# A colour printer: releasing to a mono one asks the provider for a greyscale conversion, and
# the test compares what arrives with what was printed, byte for byte.
PRINTER = "lobby-laser"
QUEUE = "secure"
TIMEOUT_MS = 10_000
WAIT_SECONDS = 15.0


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    device: httpx.Client
    token: str
    provider: ProviderProcess
    printer: IppEvePrinter

    def page_url(self, query: str = "") -> str:
        return f"{self.app.url}/release/{STATION}{query}#token={self.token}"

    def add_user(self, base: str, balance: int = 0, **fields: Any) -> tuple[str, str]:
        """A new user with a card of their own; returns (username, card number)."""
        username = f"{base}-{uuid.uuid4().hex[:8]}"
        card = str(uuid.uuid4().int)[:12]
        body = {"username": username, "cards": [card], "restricted": True, **fields}
        created = self.admin.post("/users", json=body)
        assert created.status_code == 201, created.text
        if balance:
            top_up(self.admin, created.json()["account_id"], balance)
        return username, card

    def held(self, username: str) -> list[dict[str, Any]]:
        """The user's jobs still waiting for release, as the server lists them."""
        response = self.admin.get("/held-jobs", params={"user": username})
        assert response.status_code == 200, response.text
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs

    def hold(self, username: str, document_name: str, data: bytes) -> str:
        """Print ``data`` to the hold queue; return its id once the server lists it held."""
        with IppClient(self.provider.uri(QUEUE), user_name=username, timeout=WAIT_SECONDS) as ipp:
            ipp.print_job(
                data,
                document_format="text/plain",
                job_name=document_name,
                requesting_user_name=username,
            )

        def listed() -> str:
            for job in self.held(username):
                if job["document_name"] == document_name and job["status"] == "held":
                    return str(job["id"])
            return ""

        found: str = wait_for(listed, f"{document_name} held at the server", WAIT_SECONDS)
        return found

    def received(self) -> list[bytes]:
        return [path.read_bytes() for path in self.printer.documents().values()]

    def home(self, username: str) -> Path:
        return self.app.data_dir / "homes" / username


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("release-station")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.extra_env["PRINTWARDEN_SCANNING__HOME"] = str(root / "homes" / "{username}")
    printer = IppEvePrinter("pw-lobby-laser", color=True)
    clients: list[httpx.Client] = []
    provider: ProviderProcess | None = None
    try:
        app.start()
        printer.start()
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"},
            timeout=WAIT_SECONDS,
        )
        clients.append(admin)
        body = {"name": PRINTER, "colour": True, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
        device_body = {"name": STATION, "kind": "release-station", "printer": PRINTER}
        created = admin.post("/devices", json=device_body)
        assert created.status_code == 201, created.text
        token = app.token(Role.DEVICE, scope=f"device:{STATION}")
        device = httpx.Client(
            base_url=app.api, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT_SECONDS
        )
        clients.append(device)
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=[PrinterSpec(PRINTER, printer.uri, colour=True)],
            queues=[QueueSpec(QUEUE, "hold", PRINTER)],
        )
        provider.start()
        yield World(app, admin, device, token, provider, printer)
    finally:
        if provider is not None:
            provider.stop()
        printer.stop()
        for client in clients:
            client.close()
        app.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage) that fails the test on script or CSP errors."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            errors.append(message.text)

    tab.on("console", console)
    try:
        yield tab
    finally:
        context.close()
    assert errors == []


def idle_prompt(page: Page) -> Locator:
    return page.get_by_role("heading", name="Swipe your card")


def swipe(page: Page, card: str) -> None:
    """What a keyboard-wedge reader does: type the number, then Enter."""
    page.keyboard.type(card)
    page.keyboard.press("Enter")


def test_card_login_lists_held_jobs_and_releases_one_to_the_printer(
    world: World, page: Page
) -> None:
    username, card = world.add_user("rita", 1234, full_name="Rita Release")
    report, memo = b"release station report\n", b"memo to cancel\n"
    world.hold(username, "report.txt", report)
    memo_id = world.hold(username, "memo.txt", memo)

    page.goto(world.page_url())
    expect(idle_prompt(page)).to_be_visible()
    assert "token" not in page.url
    assert page.evaluate("Object.values(sessionStorage)") == [world.token]
    swipe(page, card)

    expect(page.get_by_role("heading", name="Rita Release")).to_be_visible()
    expect(page.locator("#user-balance")).to_have_text("$12.34")
    jobs = page.locator("#jobs > li")
    expect(jobs).to_have_count(2)
    report_item = jobs.filter(has_text="report.txt")
    expect(report_item).to_contain_text("1 page")
    expect(report_item).to_contain_text("black & white")
    expect(report_item).to_contain_text("Cost: $0.10")
    expect(report_item.locator(".job-problem")).to_have_text("")

    report_item.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("Released “report.txt”")
    wait_for(lambda: report in world.received(), "the released document at the printer")
    expect(jobs.filter(has_text="report.txt").locator(".job-release:enabled")).to_have_count(0)

    jobs.filter(has_text="memo.txt").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status")).to_contain_text("Canceled “memo.txt”")
    expect(jobs.filter(has_text="memo.txt").locator(".job-release:enabled")).to_have_count(0)
    assert memo_id not in {job["id"] for job in world.held(username)}
    assert memo not in world.received()

    page.get_by_role("button", name="Log out").click()
    expect(idle_prompt(page)).to_be_visible()
    expect(page.locator("#screen-session")).to_be_hidden()


def test_a_station_beside_a_network_scanner_scans_to_the_home_folder(
    world: World, page: Page
) -> None:
    username, card = world.add_user("sam", 1000, full_name="Sam Scanner")
    action = {"name": "Scan to my home folder", "destination": "home",
              "defaults": {"resolution": 75}}  # fmt: skip
    assert world.admin.put("/scan-actions", json={"actions": [action]}).status_code == 200
    with EsclScanner(pages=2) as scanner:
        patched = world.admin.patch(f"/devices/{STATION}", json={"escl_url": scanner.url})
        assert patched.status_code == 200, patched.text
        try:
            page.goto(world.page_url())
            expect(idle_prompt(page)).to_be_visible()
            swipe(page, card)
            expect(page.get_by_role("heading", name="Sam Scanner")).to_be_visible()
            page.get_by_role("button", name="Scan to my home folder").click()
            expect(page.locator("#scan-state")).to_contain_text("Delivered: 2 pages",
                                                                timeout=60_000)  # fmt: skip
            assert scanner.documents_served == 2
        finally:
            world.admin.patch(f"/devices/{STATION}", json={"escl_url": ""})
    [pdf] = world.home(username).glob("*.pdf")
    with pikepdf.open(pdf) as document:
        assert len(document.pages) == 2


def test_a_station_without_a_scanner_offers_no_scanning(world: World, page: Page) -> None:
    _, card = world.add_user("nina", full_name="Nina Noscan")
    page.goto(world.page_url())
    expect(idle_prompt(page)).to_be_visible()
    swipe(page, card)
    expect(page.get_by_role("heading", name="Nina Noscan")).to_be_visible()
    expect(page.locator("#scan-section")).to_be_hidden()


def test_a_top_up_card_redeemed_at_the_station_raises_the_balance_shown(
    world: World, page: Page
) -> None:
    _, card = world.add_user("tess", full_name="Tess Topup")
    batch = {"batch_id": f"station-{card}", "value": 700, "count": 1}
    made = world.admin.post("/topup-cards/batches", json=batch)
    assert made.status_code == 201, made.text
    code = made.json()["codes"][0]
    page.goto(world.page_url())
    expect(idle_prompt(page)).to_be_visible()
    swipe(page, card)
    expect(page.get_by_role("heading", name="Tess Topup")).to_be_visible()
    expect(page.locator("#user-balance")).to_have_text("$0.00")
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    page.get_by_label("Top-up card code").fill(typo)
    page.get_by_role("button", name="Redeem top-up card").click()
    expect(page.get_by_role("alert")).to_contain_text("typo")
    page.get_by_label("Top-up card code").fill(code.lower())
    page.get_by_role("button", name="Redeem top-up card").click()
    expect(page.locator("#user-balance")).to_have_text("$7.00")
    expect(page.get_by_role("status")).to_have_text("Added $7.00 to your balance.")


def test_unknown_card_shows_the_servers_reason_and_stays_idle(world: World, page: Page) -> None:
    _, card = world.add_user("uma", full_name="Uma Known")
    wrong = "9" + card[1:] if card[0] != "9" else "8" + card[1:]
    refused = world.device.post("/device/sessions", json={"method": "card", "card_number": wrong})
    assert refused.status_code == 401, refused.text
    detail = refused.json()["detail"]
    assert detail

    page.goto(world.page_url())
    expect(idle_prompt(page)).to_be_visible()
    swipe(page, wrong)
    expect(page.get_by_role("alert")).to_have_text(detail)
    expect(idle_prompt(page)).to_be_visible()
    expect(page.locator("#screen-session")).to_be_hidden()

    swipe(page, card)  # the reader is still listening, with nothing left of the bad read
    expect(page.get_by_role("heading", name="Uma Known")).to_be_visible()


def test_idle_session_and_abandoned_login_return_to_the_card_prompt(
    world: World, page: Page
) -> None:
    identity = str(uuid.uuid4().int)[:9]
    world.add_user("ivan", full_name="Ivan Idle", identity_number=identity, pin="2468")
    page.goto(world.page_url("?idle=2"))
    page.get_by_role("button", name="Log in with ID + PIN").click()
    page.get_by_label("ID number", exact=True).fill(identity)
    page.get_by_label("PIN", exact=True).fill("2468")
    with page.expect_response(
        lambda r: r.url.endswith("/device/sessions") and r.request.method == "POST"
    ) as login:
        page.get_by_role("button", name="Log in", exact=True).click()
    session_id = login.value.json()["session_id"]
    expect(page.get_by_role("heading", name="Ivan Idle")).to_be_visible()
    started = time.monotonic()

    expect(idle_prompt(page)).to_be_visible(timeout=6_000)
    assert time.monotonic() - started > 1.0
    expect(page.get_by_role("status")).to_contain_text("logged out")
    wait_for(
        lambda: world.device.get(f"/device/sessions/{session_id}").status_code == 404,
        "the session to end at the server",
        WAIT_SECONDS,
    )

    # Someone starts typing their ID and walks away: nothing of it stays on the screen.
    page.get_by_role("button", name="Log in with ID + PIN").click()
    page.get_by_label("ID number", exact=True).fill(identity)
    expect(idle_prompt(page)).to_be_visible(timeout=6_000)
    page.get_by_role("button", name="Log in with ID + PIN").click()
    expect(page.get_by_label("ID number", exact=True)).to_have_value("")


def test_password_login_release_all_prints_everything_and_logs_out(
    world: World, page: Page
) -> None:
    username, _ = world.add_user("paula", 1000, full_name="Paula Password", password="s3cret-pw")
    first, second = b"release all: first\n", b"release all: second\n"
    world.hold(username, "first.txt", first)
    world.hold(username, "second.txt", second)

    page.goto(world.page_url())
    page.get_by_role("button", name="Log in with username + password").click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("wrong")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).not_to_have_text("")
    expect(page.locator("#screen-password")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("s3cret-pw")
    page.get_by_role("button", name="Log in", exact=True).click()

    expect(page.get_by_role("heading", name="Paula Password")).to_be_visible()
    expect(page.locator("#jobs > li")).to_have_count(2)
    page.get_by_role("button", name="Release all").click()
    expect(idle_prompt(page)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Released 2 jobs")
    wait_for(
        lambda: first in world.received() and second in world.received(),
        "both documents at the printer",
    )


def test_shared_account_is_chosen_with_its_pin(world: World, page: Page) -> None:
    username, card = world.add_user("sam", 500, full_name="Sam Shared")
    account = f"Research-{uuid.uuid4().hex[:6]}"
    body = {"name": account, "users": [username], "pin": "4321"}
    created = world.admin.post("/accounts", json=body)
    assert created.status_code == 201, created.text
    top_up(world.admin, created.json()["id"], 9900)

    page.goto(world.page_url())
    expect(idle_prompt(page)).to_be_visible()
    with page.expect_response(
        lambda r: r.url.endswith("/device/sessions") and r.request.method == "POST"
    ) as login:
        swipe(page, card)
    session_id = login.value.json()["session_id"]
    expect(page.locator("#user-balance")).to_have_text("$5.00")
    choice = page.get_by_role("group", name="Charge printing to")
    expect(choice.get_by_role("radio", name="Personal")).to_be_checked()

    choice.get_by_role("radio", name=account).check()
    page.get_by_label("Account PIN").fill("0000")
    page.get_by_role("button", name="Use this account").click()
    expect(page.get_by_role("alert")).not_to_have_text("")
    expect(choice.get_by_role("radio", name="Personal")).to_be_checked()

    choice.get_by_role("radio", name=account).check()
    page.get_by_label("Account PIN").fill("4321")
    page.get_by_role("button", name="Use this account").click()
    expect(page.get_by_role("status")).to_contain_text(f"Printing is charged to {account}")
    expect(choice.get_by_role("radio", name=account)).to_be_checked()
    expect(page.locator("#user-balance")).to_have_text("$99.00")
    session = world.device.get(f"/device/sessions/{session_id}")
    assert session.status_code == 200, session.text
    assert session.json()["account"] == account


# --- the route itself ------------------------------------------------------------------------


def assert_locked_down(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


def test_page_and_assets_are_served_with_strict_headers(world: World) -> None:
    page = httpx.get(f"{world.app.url}/release/{STATION}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert_locked_down(page)
    assert 'src="assets/release_station.js"' in page.text
    assert "<script>" not in page.text  # nothing inline: the policy would block it
    assert world.token not in page.text

    for name, media_type in (
        ("release_station.js", "text/javascript"),
        ("release_station.css", "text/css"),
    ):
        asset = httpx.get(f"{world.app.url}/release/assets/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith(media_type)
        assert_locked_down(asset)
    missing = httpx.get(f"{world.app.url}/release/assets/secret.key")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("station", ["a%20b", "x%3Cscript%3E", "caf%C3%A9", "...", "a%2Fb", "a;b"])
def test_station_names_that_are_not_plain_are_not_found(world: World, station: str) -> None:
    assert httpx.get(f"{world.app.url}/release/Plain_name-1.2").status_code == 200
    response = httpx.get(f"{world.app.url}/release/{station}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
