"""The portal's Questions page in Chromium, on a real App Server, Print Provider and
ippeveprinters whose printers ask before printing: a question appears live on the open page
with its cost in the server's currency (euros here); Print releases the job to the printer
and charges once; an account question is answered with a shared account and its PIN (a
wrong PIN is shown, the question stays); the page is an installable web app whose service
worker registers, keeps only the app shell, and shows the page's notifications."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from printwarden.domain.money import Currency
from printwarden.provider.ipp.client import IppClient
from support.browser import log_in, screenshot, tab
from support.devices import DeviceRig, device_rig, unique
from support.questions import PIN, PRINTERS, QUEUES, ask_before_printing
from support.seeding import PRICES, wait_for

EURO = Currency("EUR")
PAGE_COST = PRICES["grey_simplex"]
PASSWORD = "questions-pass-73"
BALANCE = 1000
PAGE = "/web/portal/questions"
SHELL = {"/web/static/printwarden.css", "/web/portal/app/questions.js",
         "/web/portal/app/manifest.webmanifest", "/web/portal/app/icon-192.png",
         "/web/portal/app/icon-512.png"}  # fmt: skip
WORKER_READY = "navigator.serviceWorker.ready.then((registration) => registration.scope)"
CACHED_PATHS = """async () => {
  const names = await caches.keys();
  const found = [];
  for (const name of names) {
    const keys = await (await caches.open(name)).keys();
    found.push(...keys.map((request) => new URL(request.url).pathname));
  }
  return found;
}"""
NOTIFIED = """async () => {
  const registration = await navigator.serviceWorker.ready;
  for (let tries = 0; tries < 100; tries++) {
    const shown = await registration.getNotifications();
    if (shown.length) return shown.map((n) => n.body);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return [];
}"""
# A page the person has switched away from (an installed app in the background).
HIDDEN = "Object.defineProperty(document, 'hidden', { get: () => true });"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    root = tmp_path_factory.mktemp("portal-questions")
    euros = {"PRINTWARDEN_CURRENCY": EURO.code}
    with device_rig(root, PRINTERS, QUEUES, env=lambda _app: euros) as world:
        ask_before_printing(world.admin)
        yield world


def shared_account(rig: DeviceRig, user: str) -> str:
    name = unique("project")
    body = {"name": name, "pin": PIN, "users": [user], "restricted": False}
    created = rig.admin.post("/accounts", json=body)
    assert created.status_code == 201, created.text
    return name


def send(rig: DeviceRig, user: str, queue: str) -> str:
    document = unique("report") + ".txt"
    with IppClient(rig.provider.uri(queue), user_name=user, timeout=30) as client:
        client.print_job(b"hello\n", document_format="text/plain", job_name=document,
                         requesting_user_name=user)  # fmt: skip
    return document


def charges(rig: DeviceRig, user: str) -> list[dict[str, Any]]:
    account_id = rig.admin.get(f"/users/{user}").json()["account_id"]
    found = rig.admin.get("/transactions", params={"account_id": account_id, "kind": "print"})
    assert found.status_code == 200, found.text
    rows: list[dict[str, Any]] = found.json()
    return rows


def account_balance(rig: DeviceRig, name: str) -> int:
    value: int = rig.admin.get(f"/accounts/{name}").json()["balance"]
    return value


def open_questions(page: Page, rig: DeviceRig, user: str) -> None:
    log_in(page, rig.app.url, user, PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.get_by_role("link", name="Questions").click()
    expect(page.get_by_role("heading", name="Questions before printing")).to_be_visible()


def question(page: Page, document: str) -> Locator:
    return page.locator("#questions li").filter(has_text=document)


def test_a_confirm_question_appears_live_and_print_charges_once(
    rig: DeviceRig, browser: Browser
) -> None:
    user = rig.add_user(BALANCE, password=PASSWORD)
    before = len(rig.received("confirm-laser"))
    with tab(browser) as page:
        open_questions(page, rig, user)
        expect(page.locator("#no-questions")).to_be_visible()
        page.evaluate("window.notReloaded = true")
        document = send(rig, user, "confirm")

        asked = question(page, document)  # pushed by the event stream, no reload
        expect(asked).to_be_visible()
        assert page.evaluate("window.notReloaded") is True
        expect(asked.get_by_role("heading")).to_have_text(f"Confirm: {document}")
        expect(asked.locator(".cost")).to_have_text(EURO.show(PAGE_COST))  # €0.10
        expect(asked).to_contain_text("Printer confirm-laser")
        expect(asked).to_contain_text("1 page")
        expect(asked).to_contain_text("answer by")
        expect(page.locator("#question-count")).to_have_text("1")
        assert len(rig.received("confirm-laser")) == before  # held until answered

        form = asked.locator("form")
        action = str(form.get_attribute("action"))
        csrf = str(form.locator("input[name=csrf_token]").get_attribute("value"))
        asked.get_by_role("button", name="Print").click()
        expect(page.get_by_role("status")).to_have_text("Printing: the job went to its printer.")
        expect(question(page, document)).to_have_count(0)

        again = page.request.post(f"{rig.app.url}{action}",
                                  form={"csrf_token": csrf, "action": "print"})  # fmt: skip
        assert again.status == 409, again.text()
        assert "nothing is waiting for an answer" in again.text()
    wait_for(lambda: len(rig.received("confirm-laser")) == before + 1, "the printed job")
    wait_for(lambda: charges(rig, user), "the charge")
    assert [c["amount"] for c in charges(rig, user)] == [-PAGE_COST]
    assert rig.balance(user) == BALANCE - PAGE_COST


def test_an_account_question_is_answered_with_a_shared_account_and_its_pin(
    rig: DeviceRig, browser: Browser, screens: Path
) -> None:
    user = rig.add_user(BALANCE, password=PASSWORD)
    project = shared_account(rig, user)
    before = len(rig.received("project-laser"))
    with tab(browser) as page:  # no User Client: only this page answers
        open_questions(page, rig, user)
        document = send(rig, user, "project")
        asked = question(page, document)
        expect(asked.get_by_role("heading")).to_have_text(f"Choose an account: {document}")
        expect(asked.locator(".cost")).to_have_text(EURO.show(PAGE_COST))
        expect(asked.get_by_label("Personal account")).to_be_visible()
        screenshot(page, "portal-questions", screens)

        asked.get_by_label(project).check()
        asked.get_by_label("Account PIN").fill("0000")
        asked.get_by_role("button", name="Print").click()
        wrong = f"wrong or missing PIN for account '{project}'"
        expect(page.get_by_role("alert")).to_contain_text(wrong)
        expect(question(page, document)).to_be_visible()  # the question stays open
        assert len(rig.received("project-laser")) == before

        asked = question(page, document)
        asked.get_by_label(project).check()
        asked.get_by_label("Account PIN").fill(PIN)
        asked.get_by_label("Comment").fill("grant 7")
        asked.get_by_role("button", name="Print").click()
        expect(page.get_by_role("status")).to_have_text("Printing: the job went to its printer.")
        expect(question(page, document)).to_have_count(0)
    wait_for(lambda: len(rig.received("project-laser")) == before + 1, "the released job")
    wait_for(lambda: account_balance(rig, project) == -PAGE_COST, "the shared account charged")
    assert rig.balance(user) == BALANCE
    assert charges(rig, user) == []


def test_the_portal_is_an_installable_web_app(rig: DeviceRig, browser: Browser) -> None:
    manifest = httpx.get(f"{rig.app.url}/web/portal/app/manifest.webmanifest", timeout=10)
    assert manifest.status_code == 200
    assert manifest.headers["content-type"] == "application/manifest+json"
    app = manifest.json()
    assert (app["name"], app["start_url"], app["display"]) == ("printwarden", PAGE, "standalone")
    for icon in app["icons"]:
        image = httpx.get(f"{rig.app.url}{icon['src']}", timeout=10)
        assert image.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(image.content)).size
        assert icon["sizes"] == f"{width}x{height}"
    worker = httpx.get(f"{rig.app.url}/web/portal/app/sw.js", timeout=10)
    assert worker.headers["service-worker-allowed"] == "/web/portal/"

    user = rig.add_user(BALANCE, password=PASSWORD)
    with tab(browser) as page:
        open_questions(page, rig, user)
        link = page.locator("link[rel=manifest]")
        assert link.get_attribute("href") == "/web/portal/app/manifest.webmanifest"
        assert page.evaluate(WORKER_READY) == f"{rig.app.url}/web/portal/"
        expect(page.get_by_role("button", name="Enable notifications")).to_be_visible()
        assert page.evaluate("Notification.permission") == "default"  # never asked on load
        page.reload()  # now controlled by the worker: the shell comes through it
        wait_for(lambda: set(page.evaluate(CACHED_PATHS)) == SHELL, "the app shell cached")
        page.get_by_role("link", name="Summary").click()
        page.get_by_role("link", name="Questions").click()
        assert set(page.evaluate(CACHED_PATHS)) == SHELL  # never pages or questions


def test_a_question_while_the_page_is_hidden_is_a_notification(
    rig: DeviceRig, browser: Browser
) -> None:
    user = rig.add_user(BALANCE, password=PASSWORD)
    with tab(browser) as page:
        page.context.grant_permissions(["notifications"], origin=rig.app.url)
        page.add_init_script(HIDDEN)
        open_questions(page, rig, user)
        expect(page.get_by_role("button", name="Enable notifications")).to_be_hidden()
        page.evaluate(WORKER_READY)
        document = send(rig, user, "confirm")
        expect(question(page, document)).to_be_visible()
        assert page.evaluate(NOTIFIED) == [f"Confirm: {document}, 0.10 EUR"]
        question(page, document).get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("status")).to_have_text("Job canceled.")


def test_a_lost_computer_is_logged_out_from_the_portal(rig: DeviceRig, browser: Browser) -> None:
    user = rig.add_user(BALANCE, password=PASSWORD)
    login = {"username": user, "password": PASSWORD, "client": "lost-laptop"}
    token = httpx.post(f"{rig.app.api}/auth/login", json=login, timeout=30).json()["token"]
    laptop = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{rig.app.api}/me/questions", headers=laptop).status_code == 200
    with tab(browser) as page:
        open_questions(page, rig, user)
        computers = page.locator("#clients li")
        expect(computers).to_have_count(1)
        expect(computers.first).to_contain_text("lost-laptop")
        computers.first.get_by_role("button", name="Log it out").click()
        expect(page.locator("#clients li")).to_have_count(0)
    assert httpx.get(f"{rig.app.api}/me/questions", headers=laptop).status_code == 401
    listed = rig.admin.get(f"/users/{user}/client-tokens")
    assert listed.status_code == 200
    assert listed.json() == []
