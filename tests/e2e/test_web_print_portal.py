"""Web Print in the user portal, in Chromium: a person logs in at HQ, and at a site whose link
to HQ is cut, uploads a Word document (made by LibreOffice), a PDF (Ghostscript's, one colour
page and one grey) and a JPEG (Pillow's), sees each one's preview, pages and cost, prints
it, and releases it with their card at an MFD of the queue's printer: each document arrives
at that printer (a real ippeveprinter) and the balance goes down by exactly the costs shown.
At the site that all happens while the site is offline; HQ's balance shows the charges once
the link is back and the site has reconciled. One upload is made with JavaScript off.

The same feature through the API (and what cannot be printed) is in
``integration/test_web_print``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from printwarden.analysis import analyze
from printwarden.domain.accounts import Role
from printwarden.domain.money import Currency
from printwarden.sim.link import Link
from printwarden.sim.ports import free_port
from printwarden.store.tokens import PROVIDER_PREFIX
from printwarden.testing import office_corpus
from support.appserver import AppServer
from support.browser import TIMEOUT_MS, log_in, log_in_online, screenshot, tab
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import PRICES, add_printer, add_user, wait_for
from support.site import SITE, SiteProcess, site_link, site_online

HQ_PRINTER, SITE_PRINTER = "hq-webprint-laser", f"{SITE}-webprint-laser"
QUEUE = "secure"
PASSWORD = "web-print-pass-31"
BALANCE = 10_000
PORTAL = "/web/portal/web-print"
READY = "Ready: check the preview and print"
HELD = "Held in a queue"
SLOW_SECONDS = 45.0  # a site noticing its link is cut, and reconciling, take a few seconds
PREVIEW_PAGES = 3  # the job page shows the first pages, at most this many
PREVIEWS_LOADED = """() => {
  const images = [...document.querySelectorAll("img.preview")];
  return images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
}"""
COLOUR_PAGE = "1 0 0 setrgbcolor 72 72 200 200 rectfill showpage"
GREY_PAGE = "0.2 setgray 72 72 200 200 rectfill showpage"


# --- the world: HQ with its provider and printer; a site behind a link with its own -------------


@dataclass
class Person:
    name: str
    card: str


@dataclass
class Place:
    """Where a person prints: the server they reach, its Web Print queue and printer, and the
    token of an MFD at that printer."""

    url: str
    queue_key: str  # the portal's "provider/queue"
    printer: IppEvePrinter
    device_token: str

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    link: Link
    site: SiteProcess
    hq: Place
    at_site: Place

    def person(self) -> Person:
        person = Person(f"webprint-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:12])
        add_user(self.admin, person.name, BALANCE, password=PASSWORD)
        changed = self.admin.patch(f"/users/{person.name}", json={"cards": [person.card]})
        assert changed.status_code == 200, changed.text
        return person

    def balance(self, user: str) -> int:
        value: int = self.admin.get(f"/users/{user}").json()["balance"]
        return value

    def caught_up(self) -> bool:
        """The site online, its journal uploaded and its replica at HQ's head."""
        head = int(httpx.get(f"{self.app.api}/health", timeout=5).json()["change_seq"])
        status = self.site.status()
        return bool(
            status["mode"] == "online"
            and int(status["journal_backlog"]) == 0
            and int(status["replica_seq"]) >= head
        )


def _provider(root: Path, server: str, token: str, name: str, printer: str,
              ippeve: IppEvePrinter) -> ProviderProcess:  # fmt: skip
    (root / name).mkdir()
    return ProviderProcess(
        server, token, root / name, [PrinterSpec(printer, ippeve.uri, colour=True)],
        [QueueSpec(QUEUE, "hold", printer)], server_timeout=6.0, name=name,
    )  # fmt: skip


@contextmanager
def web_print_world(root: Path) -> Iterator[World]:
    with ExitStack() as stack:
        (root / "app").mkdir()
        app = AppServer(f"sqlite:///{root / 'app.db'}", root / "app")
        app.start()
        stack.callback(app.stop)
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'webprint-admin')}"},
            timeout=30,
        )
        stack.callback(admin.close)
        printers = {}
        for name in (HQ_PRINTER, SITE_PRINTER):
            printers[name] = stack.enter_context(IppEvePrinter(f"pw-{name}", color=True))
            add_printer(admin, name, colour=True)
        assert admin.post("/sites", json={"name": SITE}).status_code == 201
        prices = {"sizes": {"default": PRICES}}  # the printers' (which a release charges)
        tokens = {
            name: app.device_token(f"{name}-mfd", name, cost_model=prices)
            for name in (HQ_PRINTER, SITE_PRINTER)
        }
        site_port = free_port()
        link, advertised = site_link(app, site_port)
        stack.callback(link.stop)
        site = SiteProcess(
            f"http://127.0.0.1:{link.port}", app.token(Role.SITE, scope=SITE), SITE,
            root / "site", port=site_port, advertised_url=advertised,
        )  # fmt: skip
        site.start()
        stack.callback(site.stop)

        hq_name, site_name = (f"webprint-{where}-{uuid.uuid4().hex[:6]}" for where in ("hq", SITE))
        hq_token = app.token(Role.PROVIDER, scope=f"{PROVIDER_PREFIX}{hq_name}")
        site_token = app.token(Role.PROVIDER, scope=f"{PROVIDER_PREFIX}{site_name}", site=SITE)
        hq_provider = _provider(root, app.url, hq_token, hq_name, HQ_PRINTER,
                                printers[HQ_PRINTER])  # fmt: skip
        site_provider = _provider(root, site.url, site_token, site_name, SITE_PRINTER,
                                  printers[SITE_PRINTER])  # fmt: skip
        for provider in (hq_provider, site_provider):
            provider.start()
            stack.callback(provider.stop)
        for provider in (hq_provider, site_provider):
            wait_for(provider.registered, f"{provider.name} registered")
        world = World(
            app, admin, link, site,
            Place(app.url, f"{hq_name}/{QUEUE}", printers[HQ_PRINTER], tokens[HQ_PRINTER]),
            Place(site.url, f"{site_name}/{QUEUE}", printers[SITE_PRINTER],
                  tokens[SITE_PRINTER]),
        )  # fmt: skip
        wait_for(world.caught_up, "the site's replica", SLOW_SECONDS)
        yield world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with web_print_world(tmp_path_factory.mktemp("web-print-portal")) as made:
        yield made


# --- the documents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    path: Path
    pages: int
    colour_pages: int

    @property
    def name(self) -> str:
        return self.path.name


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    folder = tmp_path_factory.mktemp("documents")
    docx = folder / "minutes.docx"
    corpus = office_corpus.build()
    shutil.copyfile(corpus.path("docx-4"), docx)
    report = folder / "report.pdf"
    command = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4",
               f"-sOutputFile={report}", "-c", COLOUR_PAGE, GREY_PAGE]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    photo = folder / "photo.jpg"
    Image.new("RGB", (600, 400), (200, 30, 30)).save(photo, "JPEG", dpi=(150, 150))
    return {
        "docx": Document(docx, corpus.pages("docx-4"), 0),
        "pdf": Document(report, 2, 1),
        "jpg": Document(photo, 1, 1),
    }


def expected_cost(document: Document) -> int:
    grey = document.pages - document.colour_pages
    return document.colour_pages * PRICES["colour_simplex"] + grey * PRICES["grey_simplex"]


# --- the person's side: the portal, then the MFD ---------------------------------------------


@dataclass(frozen=True)
class Shown:
    """What a job page showed before printing."""

    job_id: str
    name: str
    pages: int
    cost: int


def upload(page: Page, place: Place, documents: list[Document]) -> None:
    """Choose the documents and the queue in the portal's Web Print form and upload them."""
    page.goto(f"{place.url}{PORTAL}")
    form = page.locator("#web-print-form")
    form.locator("#queue").select_option(place.queue_key)
    form.locator("#file").set_input_files([str(d.path) for d in documents])
    form.get_by_role("button", name="Upload").click()


def rendered(page: Page, document: Document, *, scripts: bool = True) -> Shown:
    """On a job page: wait until it is rendered (the page refreshes itself meanwhile) and its
    previews have loaded; what it shows."""
    expect(page.get_by_role("heading", level=1)).to_have_text(document.name)
    # BUG (reported to the lead, not fixed here): an office document (the .docx) stays
    # "Rendering" in a real server: `printwarden` sets umask 077 (cli.py main()), so
    # rendering/sandbox.py install_runtime() makes runtime-*/unoserver/ 0700 root-owned and
    # the sandboxed worker (uid nobody) cannot import unoserver.converter: every LibreOffice
    # worker "did not start (exit status 1)" (see the server's log).
    expect(page.locator("#state")).to_have_text(READY, timeout=SLOW_SECONDS * 1000)
    previews = page.locator("img.preview")
    expect(previews).to_have_count(min(PREVIEW_PAGES, document.pages))
    if scripts:
        page.wait_for_function(PREVIEWS_LOADED)
    else:  # the page's own scripts are off: ask for each image as the browser did
        for image in previews.all():
            source = image.get_attribute("src")
            assert source is not None
            answer = page.request.get(urljoin(page.url, source))
            assert answer.status == 200, answer.text()
            assert answer.headers["content-type"] == "image/png"
            assert answer.body().startswith(b"\x89PNG")
    job_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    cost = Currency().parse(page.locator("#cost").inner_text().strip().removeprefix("$"))
    pages = int(page.locator("#pages").inner_text())
    return Shown(job_id, document.name, pages, cost)


def print_it(page: Page) -> None:
    """Press Print; wait until the job is held for release (the page follows it by itself)."""
    page.locator("#print").click()
    # BUG (reported to the lead, not fixed here): the job page stops refreshing itself once
    # the provider has reported the document accepted (src/printwarden/web/routes/web_print.py,
    # _job_page: refresh only while "rendering" or "submitted"), which is before HQ (or the
    # site's replica) has the held-job record; it then says "Sent to the printer"
    # (domain/web_print.py, wording()) until the person reloads it by hand.
    expect(page.locator("#state")).to_have_text(HELD, timeout=SLOW_SECONDS * 1000)


def release(place: Place, person: Person, shown: Shown) -> bytes:
    """Log in at the place's MFD with the card, check the job's listed cost, release it;
    the document the printer received."""
    headers = {"Authorization": f"Bearer {place.device_token}"}
    with httpx.Client(base_url=place.api, headers=headers, timeout=30) as device:
        login = device.post("/device/sessions", json={"method": "card",
                                                      "card_number": person.card})  # fmt: skip
        assert login.status_code == 201, login.text
        session = login.json()["session_id"]

        def listed() -> dict[str, Any] | None:
            jobs = device.get(f"/device/sessions/{session}/jobs")
            assert jobs.status_code == 200, jobs.text
            return next((j for j in jobs.json()["jobs"] if j["id"] == shown.job_id), None)

        job = wait_for(listed, f"{shown.name} listed at the MFD")
        assert job["cost"] == shown.cost, job
        before = set(place.printer.documents())
        released = device.post(f"/device/sessions/{session}/jobs/{shown.job_id}/release")
        assert released.status_code == 200, released.text
        device.delete(f"/device/sessions/{session}")

    def arrived() -> bytes | None:
        new = set(place.printer.documents()) - before
        return place.printer.documents()[max(new)].read_bytes() if new else None

    data: bytes = wait_for(arrived, f"{shown.name} at {place.printer.name}")
    return data


def check_arrived(data: bytes, shown: Shown, folder: Path) -> None:
    received = folder / f"{shown.job_id}.pdf"
    received.write_bytes(data)
    assert analyze(received, "application/pdf").pages == shown.pages, shown


# --- the tests -------------------------------------------------------------------------------


def test_at_hq_three_documents_are_previewed_printed_released_and_charged_their_shown_cost(
    world: World, browser: Browser, documents: dict[str, Document], tmp_path: Path,
    screens: Path,
) -> None:  # fmt: skip
    person = world.person()
    chosen = [documents["docx"], documents["pdf"], documents["jpg"]]
    shown: list[Shown] = []
    with tab(browser) as page:
        log_in(page, world.hq.url, person.name, PASSWORD)
        expect(page.locator("#balance")).to_have_text("$100.00")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Web Print").click()
        expect(page.get_by_role("heading", name="Web Print", level=1)).to_be_visible()

        upload(page, world.hq, chosen)  # all three at once: back to the list

        expect(page).to_have_url(f"{world.hq.url}{PORTAL}?done=web-print-uploaded")
        rows = page.locator("#web-print-jobs tbody tr")
        expect(rows).to_have_count(3)
        for document in chosen:
            page.goto(f"{world.hq.url}{PORTAL}")
            page.locator("#web-print-jobs").get_by_role("link", name=document.name).click()
            found = rendered(page, document)
            assert found.pages == document.pages
            assert found.cost == expected_cost(document), found
            if document is chosen[0]:
                screenshot(page, "portal-web-print-preview", screens)
            print_it(page)
            shown.append(found)

        page.goto(f"{world.hq.url}{PORTAL}")
        for found in shown:
            row = page.locator(f'#web-print-jobs tr[data-job="{found.job_id}"]')
            expect(row.locator(".state")).to_have_text(HELD)
        screenshot(page, "portal-web-print-list", screens)

    for found in shown:
        check_arrived(release(world.hq, person, found), found, tmp_path)
    total = sum(found.cost for found in shown)
    wait_for(lambda: world.balance(person.name) == BALANCE - total, "the charges at HQ")


def test_at_an_offline_site_documents_print_and_hq_charges_their_shown_cost_after(
    world: World, browser: Browser, documents: dict[str, Document], tmp_path: Path
) -> None:
    person = world.person()
    wait_for(world.caught_up, "the new person at the site", SLOW_SECONDS)
    with tab(browser) as page:  # online: HQ checks the password, and the site caches it
        log_in_online(page, world.site.url, person.name, PASSWORD, site_online(world.site))
        expect(page.locator("#balance")).to_have_text("$100.00")
        expect(page.locator("#offline-mode")).to_have_count(0)

    chosen = [documents["docx"], documents["pdf"], documents["jpg"]]
    shown: list[Shown] = []
    world.link.down()
    try:
        wait_for(lambda: world.site.status()["mode"] == "offline", "the site offline",
                 SLOW_SECONDS)  # fmt: skip
        with tab(browser) as page:  # offline: the site checks the password itself
            log_in(page, world.site.url, person.name, PASSWORD)
            expect(page.locator("#offline-mode")).to_contain_text("Offline mode")
            for document in chosen:  # one at a time: each to its own job page
                upload(page, world.at_site, [document])
                found = rendered(page, document)
                assert found.pages == document.pages
                assert found.cost == expected_cost(document), found
                print_it(page)
                shown.append(found)
        for found in shown:
            check_arrived(release(world.at_site, person, found), found, tmp_path)
        assert world.site.status()["mode"] == "offline"
        assert world.balance(person.name) == BALANCE  # HQ has heard nothing yet
    finally:
        world.link.up()

    total = sum(found.cost for found in shown)
    wait_for(world.caught_up, "the site reconciled", SLOW_SECONDS)
    wait_for(lambda: world.balance(person.name) == BALANCE - total, "the charges at HQ")


@contextmanager
def scriptless_tab(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_without_javascript_the_plain_file_input_uploads_and_prints(
    world: World, browser: Browser, documents: dict[str, Document], tmp_path: Path
) -> None:
    person = world.person()
    document = documents["pdf"]
    with scriptless_tab(browser) as page:
        log_in(page, world.hq.url, person.name, PASSWORD)
        expect(page.locator("#balance")).to_have_text("$100.00")
        upload(page, world.hq, [document])
        expect(page).to_have_url(re.compile(re.escape(f"{world.hq.url}{PORTAL}/") + "[^/]+$"))
        found = rendered(page, document, scripts=False)  # the meta refresh, not a script
        print_it(page)
    check_arrived(release(world.hq, person, found), found, tmp_path)
    wait_for(lambda: world.balance(person.name) == BALANCE - found.cost, "the charge")
