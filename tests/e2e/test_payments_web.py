"""The money pages in Chromium, on a real App Server whose Stripe gateway is the local
simulator (printwarden.sim.payment_gateway), its webhooks sent to the server's notify route.

A person redeems a top-up card from its QR code's link (logging in on the way) and is told
of a typo; an administrator makes a batch and downloads its ZIP (a CSV of the codes and the
printable PDF), then withdraws it; a person asks for a printed job's charge back and an
administrator approves it in one click; a kiosk's cash box shows recorded against counted;
a person adds 10.00 online (portal, the simulated checkout, Pay, and back to the credit),
which the payments log and its CSV show; and guessing codes in the portal is throttled by
the API's own throttle.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from printwarden.domain import vouchers
from printwarden.domain.accounts import Role
from printwarden.payments.csv_cells import safe_cell
from printwarden.payments.voucher_export import redeem_link
from printwarden.sim.payment_gateway import (
    STRIPE_SECRET_KEY_FILE,
    STRIPE_WEBHOOK_SECRET_FILE,
    PaymentGatewaySimulator,
    simulator_secrets,
)
from printwarden.testing.appserver import TEST_ENV
from support.appserver import AppServer
from support.browser import admin_tab, log_in, screenshot, tab
from support.seeding import add_printer
from support.web import browser as web_client
from support.web import login

PASSWORD = "money-pass-51x"
GATEWAY = "card"
GATEWAY_LABEL = "Card (simulated Stripe)"


@dataclass
class World:
    app: AppServer
    admin: httpx.Client  # the API, as an administrator
    provider: httpx.Client  # the API, as a provider reporting printed jobs
    sim: PaymentGatewaySimulator

    def person(self, base: str) -> str:
        """A new person with a password, whose card number is their name."""
        name = f"{base}-{uuid.uuid4().hex[:6]}"
        body = {"username": name, "password": PASSWORD, "cards": [name]}
        assert self.admin.post("/users", json=body).status_code == 201
        return name

    def balance(self, name: str) -> int:
        found: int = self.admin.get(f"/users/{name}").json()["balance"]
        return found

    def cards(self, count: int, value: int) -> list[str]:
        body = {"batch_id": f"b-{uuid.uuid4().hex[:8]}", "value": value, "count": count}
        made = self.admin.post("/topup-cards/batches", json=body)
        assert made.status_code == 201, made.text
        found: list[str] = made.json()["codes"]
        return found


def payments_config(secrets: Path, api_base: str) -> dict[str, Any]:
    """``[payments]``: one Stripe gateway against the simulator, no fee."""
    gateway = {
        "kind": "stripe",
        "label": GATEWAY_LABEL,
        "secret_key_file": str(secrets / STRIPE_SECRET_KEY_FILE),
        "webhook_secret_file": str(secrets / STRIPE_WEBHOOK_SECRET_FILE),
        "api_base": api_base,
    }
    return {"min_amount": 100, "max_amount": 50_000, "gateways": {GATEWAY: gateway}}


def toml_of(payments: dict[str, Any]) -> str:
    """``payments`` as the App Server's config file (JSON strings are TOML strings)."""
    lines = ["[payments]"]
    lines += [
        f"{key} = {json.dumps(value)}" for key, value in payments.items() if key != "gateways"
    ]
    for name, gateway in payments["gateways"].items():
        lines.append(f"[payments.gateways.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in gateway.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("payments-web")
    secrets = simulator_secrets(root / "gateway-secrets")  # 0600 files, made here
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    sim = PaymentGatewaySimulator(
        stripe_webhook_url=f"{app.api}/payments/{GATEWAY}/notify",
        stripe_webhook_secret=secrets.stripe_webhook_secret,
        stripe_secret_key=secrets.stripe_secret_key,
    )
    with sim:
        app.overrides = {"payments": payments_config(root / "gateway-secrets", sim.url)}
        config = root / "printwarden.toml"
        config.write_text(toml_of(app.overrides["payments"]))
        app.extra_env = {**TEST_ENV, "PRINTWARDEN_CONFIG": str(config)}
        app.start()
        try:
            with (
                app.client(app.token(Role.ADMIN, "money-api")) as admin,
                app.client(app.token(Role.PROVIDER)) as provider,
            ):
                yield World(app, admin, provider, sim)
        finally:
            app.stop()


@contextmanager
def person_tab(browser: Browser, world: World, name: str) -> Iterator[Page]:
    """A tab logged in as ``name``, at the portal's summary."""
    with tab(browser) as page:
        log_in(page, world.app.url, name, PASSWORD)
        expect(page.locator("#balance")).to_be_visible()
        yield page


def nav(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


def mistyped(code: str) -> str:
    """``code`` with its last symbol changed: the check symbol no longer matches."""
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def test_a_card_redeems_from_its_qr_link_and_a_typo_is_named(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    name = world.person("carded")
    first, second = world.cards(2, 500)
    link = redeem_link(f"{world.app.url}/web/portal/credit", first)  # what the QR code opens
    with tab(browser, phone=True) as page:
        page.goto(link)  # not logged in yet: the login page comes back here
        page.get_by_label("Username").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_label("Card code")).to_have_value(vouchers.display(first))
        expect(page.locator("#balance")).to_have_text("$0.00")
        page.get_by_role("button", name="Redeem card").click()
        expect(page.locator("#credit-result")).to_have_text("Added $5.00 — your balance is $5.00.")
        expect(page.locator("#balance")).to_have_text("$5.00")
        screenshot(page, "portal-credit-redeemed", tmp_path)

        page.get_by_label("Card code").fill(mistyped(second))
        page.get_by_role("button", name="Redeem card").click()
        expect(page.locator("#credit-error")).to_contain_text("This code has a typo")
        page.get_by_label("Card code").fill(first)
        page.get_by_role("button", name="Redeem card").click()
        expect(page.locator("#credit-error")).to_contain_text("redeemed on")
        page.get_by_label("Card code").fill(vouchers.new_code())
        page.get_by_role("button", name="Redeem card").click()
        expect(page.locator("#credit-error")).to_have_text("No top-up card has this code.")
    assert world.balance(name) == 500


def test_an_admin_makes_a_batch_downloads_its_zip_and_withdraws_it(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    batch_id = f"autumn-{uuid.uuid4().hex[:6]}"
    with admin_tab(browser, world.app, "cards-admin") as page:
        nav(page, "Top-up cards")
        page.get_by_label("Batch id").fill(batch_id)
        page.get_by_label("Value (USD)").fill("2.50")
        page.get_by_label("Cards", exact=True).fill("12")
        page.get_by_label("Valid until").fill("2099-12-31")
        with page.expect_download() as download:
            page.get_by_role("button", name="Make and download").click()
        assert download.value.suggested_filename == f"topup-cards-{batch_id}.zip"
        with zipfile.ZipFile(download.value.path()) as archive:
            assert sorted(archive.namelist()) == [f"topup-cards-{batch_id}.csv",
                                                  f"topup-cards-{batch_id}.pdf"]  # fmt: skip
            rows = list(csv.DictReader(io.StringIO(archive.read(archive.namelist()[0]).decode())))
            pdf = archive.read(f"topup-cards-{batch_id}.pdf")
        assert len(rows) == 12
        assert len({vouchers.parse(row["code"]) for row in rows}) == 12
        assert {(r["batch_id"], r["value"], r["currency"], r["valid_until"]) for r in rows} == {
            (batch_id, "2.50", "USD", "2099-12-31")
        }
        assert pdf.startswith(b"%PDF")

        page.goto(f"{world.app.url}/web/admin/topup-cards")
        row = page.locator(f'#batches tr[data-batch="{batch_id}"]')
        expect(row).to_contain_text("$2.50")
        expect(row.locator(".redeemed")).to_have_text("0")
        assert rows[0]["code"] not in page.content()  # the codes are in the download only
        screenshot(page, "admin-topup-cards", tmp_path)
        row.get_by_role("button", name=f"Expire {batch_id}").click()
        expect(page.get_by_role("status")).to_contain_text("Batch withdrawn")
        expect(row.locator(".expired")).to_contain_text("withdrawn")


def print_job(world: World, name: str, document: str) -> None:
    """``name`` printed ``document`` (3 pages, one in colour, 2 copies: $1.40)."""
    printer = f"printer-{uuid.uuid4().hex[:6]}"
    add_printer(world.admin, printer, colour=True)
    body = {"txn_id": str(uuid.uuid4()), "job_ref": f"job-{uuid.uuid4().hex}", "username": name,
            "printer": printer, "pages": 3, "colour_pages": 1, "copies": 2,
            "document_name": document}  # fmt: skip
    printed = world.provider.post("/jobs/printed", json=body)
    assert printed.status_code == 200, printed.text


def test_a_refund_asked_from_the_jobs_page_is_approved_in_one_click(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    name = world.person("jammed")
    print_job(world, name, "jammed.pdf")
    assert world.balance(name) == -140
    with person_tab(browser, world, name) as page:
        nav(page, "Jobs")
        row = page.locator("#job-log tr").filter(has_text="jammed.pdf")
        row.get_by_placeholder("What went wrong?").fill("paper jam on page 2")
        row.get_by_role("button", name="Ask for a refund").click()
        expect(page.get_by_role("status")).to_contain_text("Refund asked for")
        expect(row).to_contain_text("refund pending")

    with admin_tab(browser, world.app, "refunds-admin") as page:
        nav(page, "Refunds")
        pending = page.locator("#pending-refunds tr").filter(has_text=name)
        expect(pending).to_contain_text("paper jam on page 2")
        expect(pending).to_contain_text("$1.40")
        screenshot(page, "admin-refunds", tmp_path)
        pending.get_by_label(f"Answer to {name}").fill("sorry about that")
        pending.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status")).to_have_text(
            "Refund approved: the charge went back to its account."
        )
        decided = page.locator("#decided-refunds tr").filter(has_text=name)
        expect(decided.locator(".decision")).to_have_text("approved")
    assert world.balance(name) == 0

    with person_tab(browser, world, name) as page:
        nav(page, "Add credit")
        expect(page.locator("#refund-requests")).to_contain_text("sorry about that")


def test_a_kiosks_cash_box_shows_recorded_against_counted(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    name, kiosk = world.person("cashy"), f"kiosk-{uuid.uuid4().hex[:6]}"
    token = world.app.device_token(kiosk, kind="kiosk", login_methods=["card"])
    with world.app.client(token) as device:
        login = device.post("/device/sessions", json={"method": "card", "card_number": name})
        assert login.status_code == 201, login.text
        for number, amount in enumerate((500, 200)):
            note = {"insertion_id": f"A1:0:{number}", "amount": amount, "currency": "USD",
                    "session_id": login.json()["session_id"]}  # fmt: skip
            assert device.post("/device/kiosk/insertions", json=note).status_code == 201
    with admin_tab(browser, world.app, "cash-admin") as page:
        nav(page, "Kiosks")
        section = page.locator(f'section[data-kiosk="{kiosk}"]')
        expect(section.locator(".insertions")).to_have_text("2")
        expect(section.locator(".recorded")).to_have_text("$7.00")
        section.get_by_label("Counted (USD)").fill("6.50")
        section.get_by_label("Note").fill("one coin short")
        section.get_by_role("button", name="Record collection").click()
        expect(page.get_by_role("status")).to_have_text("Cash collection recorded.")
        last = section.locator(".collections tbody tr").first
        expect(last).to_contain_text("$7.00")
        expect(last).to_contain_text("$6.50")
        expect(last.locator(".difference mark")).to_have_text("-$0.50")
        expect(section.locator(".recorded")).to_have_text("$0.00")
        screenshot(page, "admin-kiosks", tmp_path)


def test_a_person_adds_credit_online_through_the_simulated_checkout(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    name = world.person("payer")
    with person_tab(browser, world, name) as page:
        nav(page, "Add credit")
        expect(page.locator("#pay-terms")).to_have_text("From $1.00 to $500.00. No fee is added.")
        page.get_by_label("Pay with").select_option(label=GATEWAY_LABEL)
        page.get_by_label("Amount (USD)").fill("10.00")
        screenshot(page, "portal-add-credit", tmp_path)
        page.get_by_role("button", name="Pay online").click()
        expect(page.get_by_role("heading", name="Pay 10.00 USD")).to_be_visible()
        assert page.url.startswith(f"{world.sim.url}/pay/cs_test_")
        page.locator("#pay").click()
        expect(page.locator("#credit-result")).to_have_text(
            "Added $10.00 — your balance is $10.00."
        )
        expect(page.locator("#balance")).to_have_text("$10.00")
        assert re.search(r"/web/portal/credit\?payment=pay_", page.url)
        paid = page.url

        page.get_by_label("Amount (USD)").fill("3.00")
        page.get_by_role("button", name="Pay online").click()
        page.locator("#cancel").click()
        expect(page.locator("#credit-result")).to_have_text(
            "Payment canceled: nothing was charged or added."
        )
    assert world.balance(name) == 1000
    assert [d.status for d in world.sim.deliveries if d.event_type.startswith("checkout")] == [200]

    with person_tab(browser, world, world.person("nosy")) as page:
        page.goto(paid)  # another person's payment
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    admin_sees_the_payment(world, browser, name, tmp_path)


def admin_sees_the_payment(world: World, browser: Browser, name: str, folder: Path) -> None:
    """The payments log, filtered to ``name``: the paid and the pending payment, the
    gateway's event, and the same in the CSV export."""
    with admin_tab(browser, world.app, "payments-admin") as page:
        nav(page, "Payments")
        page.get_by_label("User").fill(name)
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("#payments tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.locator(".status")).to_have_text(["pending", "paid"])
        expect(page.locator("#payment-events")).to_contain_text("checkout.session.completed")
        screenshot(page, "admin-payments", folder)
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(row["username"], row["amount"], row["status"]) for row in exported] == [
        (name, "3.00", "pending"),
        (name, "10.00", "paid"),
    ]


def test_csv_cells_a_spreadsheet_would_run_are_quoted() -> None:
    assert [safe_cell(text) for text in ("=1+2", "+x", "-y", "@z", "a=b", "")] == [
        "'=1+2", "'+x", "'-y", "'@z", "a=b", "",
    ]  # fmt: skip


def test_guessing_codes_in_the_portal_is_throttled_as_in_the_api(world: World) -> None:
    """Last in the module: it leaves this client's address with failures counted. Three
    guesses in the portal and two through the API are the person's five free ones: the
    next, in the portal, must wait (the wait is 2 s then; a request takes far less)."""
    name = world.person("guesser")
    token = httpx.post(f"{world.app.api}/auth/login", json={"username": name, "password": PASSWORD})
    with web_client(world.app) as client, world.app.client(token.json()["token"]) as api:
        guess = {"csrf_token": login(client, name, PASSWORD)}

        def in_portal() -> httpx.Response:
            code = vouchers.new_code()
            return client.post("/web/portal/credit/redeem", data={**guess, "code": code})

        def in_api() -> httpx.Response:
            return api.post("/me/topup-cards/redeem", json={"code": vouchers.new_code()})

        free = [in_portal() for _ in range(3)] + [in_api() for _ in range(2)]
        assert [answer.status_code for answer in free] == [404] * 5
        assert "No top-up card has this code." in free[0].text
        throttled = in_portal()
    assert throttled.status_code == 429
    assert re.search(r"Too many failed attempts: wait \d+ s before trying again", throttled.text)
