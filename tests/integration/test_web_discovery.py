"""The Mobility Print set-up pages (issue 19 §4), on the App Server's app in this process:
the console's Discovery page (every registered queue, how clients find it, the unicast zone's
records and delegation, the zone file) and the portal's "Set up printing on this device"
(each announced queue's address and QR code, and a person's own print URL for Windows,
shown once, listed and revoked). One check runs in Chromium against a served App Server.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from playwright.sync_api import Browser, expect

from printwarden.config import DnsSdConfig, Settings
from printwarden.domain.accounts import Role
from printwarden.store import users
from printwarden.testing.appserver import AppServer, Seeding
from printwarden.testing.inprocess import InProcessAppServer
from support.browser import log_in, tab
from support.web import add_person, login

PASSWORD = "correct horse battery"
DOMAIN = "print.test"
NS_ADDRESS = "192.0.2.53"
HOST = "127.0.0.1"
IPP_PORT, IPPS_PORT = 8631, 8632
OFFICE_URI = f"ipps://{HOST}:{IPPS_PORT}/ipp/print/office"
PRINT_URL = re.compile(rf"https://{re.escape(HOST)}:{IPPS_PORT}/ipp/print/byod/u/(pw_print_[\w-]+)")


@dataclass
class ZoneApp(InProcessAppServer):
    """The app with ``[dns_sd] domain`` set (the zone built, not served: ``serve = false``)."""

    dns_sd: DnsSdConfig = field(default_factory=DnsSdConfig)

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url,
                        dns_sd=self.dns_sd)  # fmt: skip


def advert(name: str, queue: str, *, tls: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "uuid": str(uuid.uuid4()),
        "host": HOST,
        "ipp_port": IPP_PORT,
        "ipps_port": IPPS_PORT if tls else None,
        "txt": [["txtvers", "1"], ["rp", f"ipp/print/{queue}"], ["ty", "Laser"]],
    }


def register(
    app: InProcessAppServer, name: str, queues: list[dict[str, Any]], host: str = HOST
) -> None:
    """``name`` registers with ``queues`` (a provider token bound to it), as a provider does;
    ``host`` is where it says it answers (its queues' adverts must name the same)."""
    token = app.token(Role.PROVIDER, scope=f"provider:{name}")
    body = {"name": name, "ipp_url": f"ipp://{host}:{IPP_PORT}/ipp/print",
            "control_url": f"http://{HOST}:{IPP_PORT}/control", "queues": queues,
            "printers": [{"name": "laser"}]}  # fmt: skip
    with app.client(token) as client:
        answer = client.post("/providers/register", json=body)
    assert answer.status_code == 200, answer.text


def person(app: Seeding, base: str, *, admin: bool = False) -> str:
    name = f"{base}-{uuid.uuid4().hex[:8]}"
    database = app.database()
    try:
        with database.session() as session:
            changes = users.UserChanges(password=PASSWORD, is_admin=admin, full_name=name)
            users.create_user(session, app.settings().resolved_secret(), name, changes)
    finally:
        database.dispose()
    return name


@dataclass
class Visitor:
    client: httpx.Client
    csrf: str


@contextmanager
def visitor(app: InProcessAppServer, *, admin: bool = False) -> Iterator[Visitor]:
    """A new person (or administrator) logged in to ``app``'s web pages."""
    with app.client(under="") as client:
        csrf = login(client, person(app, "boss" if admin else "ursula", admin=admin), PASSWORD)
        yield Visitor(client, csrf)


@contextmanager
def served(app: InProcessAppServer) -> Iterator[InProcessAppServer]:
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessAppServer]:
    """No unicast zone; one provider with an announced queue (with TLS) and a token-url one."""
    root = tmp_path_factory.mktemp("discovery")
    app = InProcessAppServer(f"sqlite:///{root / 'app.db'}", root)
    with served(app) as started:
        queues: list[dict[str, Any]] = [
            {"name": "office", "kind": "direct", "printer": "laser",
             "dns_sd": advert("Office Laser", "office")},
            {"name": "byod", "kind": "hold", "printer": "laser", "dns_sd": None},
        ]  # fmt: skip
        register(started, "north-provider", queues)
        yield started


@pytest.fixture(scope="module")
def zoned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessAppServer]:
    """``[dns_sd] domain = print.test``; one provider, its one queue announced (no TLS)."""
    root = tmp_path_factory.mktemp("discovery-zone")
    config = DnsSdConfig(domain=DOMAIN, serve=False, ns=f"ns.{DOMAIN}", ns_addresses=[NS_ADDRESS])
    app = ZoneApp(f"sqlite:///{root / 'app.db'}", root, dns_sd=config)
    with served(app) as started:
        queues = [{"name": "annex", "kind": "direct", "printer": "laser",
                   "dns_sd": advert("Annex Printer", "annex", tls=False)}]  # fmt: skip
        register(started, "zone-provider", queues)
        yield started


@pytest.fixture(scope="module")
def admin(plain: InProcessAppServer) -> Iterator[Visitor]:
    with visitor(plain, admin=True) as found:
        yield found


@pytest.fixture(scope="module")
def user(plain: InProcessAppServer) -> Iterator[Visitor]:
    with visitor(plain) as found:
        yield found


def row_of(page: str, queue: str) -> str:
    found = re.search(rf'<tr data-provider="[^"]*" data-queue="{queue}">(.*?)</tr>', page, re.S)
    assert found is not None, page
    return found.group(1)


# --- the console -----------------------------------------------------------------------


def test_the_console_lists_every_queue_and_how_clients_find_it(admin: Visitor) -> None:
    page = admin.client.get("/web/admin/discovery")
    assert page.status_code == 200, page.text
    assert 'href="/web/admin/discovery" aria-current="page"' in page.text  # in the nav
    office = row_of(page.text, "office")
    assert "Office Laser" in office
    assert "mDNS" in office
    assert "DNS zone" not in office
    assert f">{IPP_PORT}<" in office
    assert f">{IPPS_PORT}<" in office
    assert OFFICE_URI in office
    byod = row_of(page.text, "byod")
    assert "not announced" in byod
    assert "token-url" in byod
    assert "its address only" in byod
    assert f"ipp://{HOST}:{IPP_PORT}/ipp/print/byod" in byod
    assert "off: set <code>[dns_sd] domain</code>" in page.text
    off = admin.client.get("/web/admin/discovery/zone")
    assert off.status_code == 404
    assert "Unicast DNS-SD is off" in off.text


def test_with_a_dns_sd_domain_the_console_shows_the_zone_and_serves_its_file(
    zoned: InProcessAppServer,
) -> None:
    with visitor(zoned, admin=True) as boss:
        page = boss.client.get("/web/admin/discovery")
        assert page.status_code == 200, page.text
        assert "mDNS, DNS zone" in row_of(page.text, "annex")
        assert f"DNS zone {DOMAIN}." in page.text
        delegation = re.search(r'<pre id="delegation">(.*?)</pre>', page.text, re.S)
        assert delegation is not None
        assert delegation.group(1).splitlines() == [
            f"{DOMAIN}. IN NS ns.{DOMAIN}.",
            f"ns.{DOMAIN}. IN A {NS_ADDRESS}",
        ]
        records = re.search(r'<pre class="records">(.*?)</pre>', page.text, re.S)
        assert records is not None
        lines = html.unescape(records.group(1)).splitlines()
        assert f"annex 120 IN A {HOST}" in lines
        assert f"Annex\\ Printer._ipp._tcp 120 IN SRV 0 0 {IPP_PORT} annex.{DOMAIN}." in lines
        assert any('"rp=ipp/print/annex"' in line for line in lines if " TXT " in line)

        download = boss.client.get("/web/admin/discovery/zone")
        assert download.status_code == 200, download.text
        assert download.headers["content-type"] == "text/plain; charset=utf-8"
        assert download.headers["content-disposition"] == f'attachment; filename="{DOMAIN}.zone"'
        assert download.headers["cache-control"] == "no-store"
        with zoned.client(zoned.token(Role.ADMIN, f"api-{uuid.uuid4().hex[:8]}")) as api:
            assert download.text == api.get("/dns-sd/zone").text  # the API's very file
        assert f"$ORIGIN {DOMAIN}." in download.text
    with visitor(zoned) as someone:
        refused = someone.client.get("/web/admin/discovery/zone")
        assert refused.status_code == 403
        assert "$ORIGIN" not in refused.text
    with zoned.client(under="") as anonymous:
        assert anonymous.get("/web/admin/discovery/zone").status_code == 303  # to the login


# --- the portal ------------------------------------------------------------------------


def qr_modules(svg: str) -> list[list[bool]]:
    """The dark modules the page's QR code path draws (one rectangle per run in a row)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    grid = [[False] * size for _ in range(size)]
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        for column in range(int(x), int(x) + int(width)):
            grid[int(y)][column] = True
    return grid


def test_the_portal_shows_each_announced_queue_with_its_address_and_qr_code(
    user: Visitor,
) -> None:
    page = user.client.get("/web/portal/setup")
    assert page.status_code == 200, page.text
    assert 'href="/web/portal/setup" aria-current="page"' in page.text  # in the nav
    assert "Set up printing on this device" in page.text
    uri = re.search(r'<code class="uri">(.*?)</code>', page.text)
    assert uri is not None
    assert uri.group(1).replace("<wbr>", "") == OFFICE_URI  # may break after a slash
    assert "“Office Laser”" in page.text  # macOS and iOS: pick it by its advertised name
    assert f"lpadmin -p office -E -v {OFFICE_URI} -m everywhere" in page.text
    printers = re.findall(r'<section class="card printer"[^>]*data-queue="([^"]+)"', page.text)
    assert "office" in printers
    assert "byod" not in printers
    svg = re.search(r'<svg class="qr".*?</svg>', page.text, re.S)
    assert svg is not None
    assert f'aria-label="QR code of {OFFICE_URI}"' in svg.group(0)
    code = segno.make_qr(OFFICE_URI, error="m")
    wanted = [[bool(cell) for cell in row] for row in code.matrix_iter(scale=1, border=4)]
    assert qr_modules(svg.group(0)) == wanted  # the code is of the queue's address
    assert "Make my print URL" in page.text  # byod is reached by print URL


def test_what_a_provider_registered_is_escaped_on_both_pages(
    plain: InProcessAppServer, admin: Visitor, user: Visitor
) -> None:
    hostile = "<b>Bold</b> 'n' \"quoted\""
    queues = [{"name": "odd", "kind": "direct", "printer": "laser",
               "dns_sd": {**advert(hostile, "odd"), "host": "h;touch x"}}]  # fmt: skip
    register(plain, "odd-provider", queues, host="h;touch x")
    for client, path in (
        (admin.client, "/web/admin/discovery"),
        (user.client, "/web/portal/setup"),
    ):
        page = client.get(path)
        assert page.status_code == 200, page.text
        assert "<b>Bold</b>" not in page.text
        assert "&lt;b&gt;Bold&lt;/b&gt;" in page.text
    portal = html.unescape(user.client.get("/web/portal/setup").text)
    # the command a person pastes into a shell has its arguments quoted
    assert f"-v 'ipps://h;touch x:{IPPS_PORT}/ipp/print/odd' -m everywhere" in portal


def test_a_print_url_is_shown_once_listed_and_revoked(
    plain: InProcessAppServer, user: Visitor
) -> None:
    setup = user.client.get("/web/portal/setup")
    key = re.search(r'<option value="([^"]+)">byod \(north-provider\)</option>', setup.text)
    assert key is not None, setup.text
    for data in ({"queue": key.group(1)}, {"queue": key.group(1), "csrf_token": "forged"}):
        refused = user.client.post("/web/portal/setup/print-urls", data=data)
        assert refused.status_code == 403
        assert "CSRF" in refused.text
    nowhere = user.client.post(
        "/web/portal/setup/print-urls",
        data={"queue": "north-provider/office", "csrf_token": user.csrf},
    )
    assert nowhere.status_code == 422  # an announced queue takes no print URL

    made = user.client.post("/web/portal/setup/print-urls",
                            data={"queue": key.group(1), "csrf_token": user.csrf})  # fmt: skip
    assert made.status_code == 201, made.text
    found = PRINT_URL.search(made.text)
    assert found is not None, made.text
    token = found.group(1)
    assert "shown only this once" in made.text
    assert f"ipps://{HOST}:{IPPS_PORT}/ipp/print/byod/u/{token}" in made.text
    provider = plain.token(Role.PROVIDER, scope="provider:north-provider")
    with plain.client(provider) as client:
        whose = client.post("/jobs/submitter", json={"print_token": token}).json()
    assert whose["accepted"] is True
    assert whose["username"].startswith("ursula-")

    again = user.client.get("/web/portal/setup")
    assert token not in again.text  # never shown again
    assert PRINT_URL.search(again.text) is None
    listed = re.search(r'<tr data-id="(\d+)"><td class="num">\d+</td><td>byod</td>', again.text)
    assert listed is not None, again.text
    token_id = listed.group(1)

    unforged = user.client.post("/web/portal/setup/print-urls/revoke",
                                data={"token_id": token_id})  # fmt: skip
    assert unforged.status_code == 403
    revoked = user.client.post("/web/portal/setup/print-urls/revoke",
                               data={"token_id": token_id, "csrf_token": user.csrf})  # fmt: skip
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/web/portal/setup?done=print-url-revoked"
    after = user.client.get(revoked.headers["location"])
    assert "Print URL revoked" in after.text
    assert f'data-id="{token_id}"' not in after.text
    assert "You have no print URLs." in after.text
    with plain.client(provider) as client:
        whose = client.post("/jobs/submitter", json={"print_token": token}).json()
    assert whose["accepted"] is False
    again_revoked = user.client.post(
        "/web/portal/setup/print-urls/revoke", data={"token_id": token_id, "csrf_token": user.csrf}
    )
    assert again_revoked.status_code == 404


def test_another_persons_print_url_cannot_be_revoked(plain: InProcessAppServer) -> None:
    with visitor(plain) as mine, visitor(plain) as theirs:
        owners = [mine, theirs]
        setup = owners[0].client.get("/web/portal/setup").text
        key = re.search(r'<option value="([^"]+)">byod', setup)
        assert key is not None
        made = owners[0].client.post(
            "/web/portal/setup/print-urls",
            data={"queue": key.group(1), "csrf_token": owners[0].csrf},
        )
        assert made.status_code == 201
        listed = re.search(r'<tr data-id="(\d+)">', made.text)
        assert listed is not None
        other = owners[1].client.post("/web/portal/setup/print-urls/revoke",
                                      data={"token_id": listed.group(1),
                                            "csrf_token": owners[1].csrf})  # fmt: skip
        assert other.status_code == 404
        assert f'data-id="{listed.group(1)}"' in owners[0].client.get("/web/portal/setup").text


def test_without_a_token_url_queue_the_portal_says_so(zoned: InProcessAppServer) -> None:
    with visitor(zoned) as someone:
        page = someone.client.get("/web/portal/setup")
        assert page.status_code == 200, page.text
        assert "None of the print servers has a queue reached by a personal print URL" in page.text
        assert "Make my print URL" not in page.text
        assert f"ipp://{HOST}:{IPP_PORT}/ipp/print/annex" in page.text  # no TLS: ipp://
        refused = someone.client.post("/web/portal/setup/print-urls",
                                      data={"queue": "zone-provider/annex",
                                            "csrf_token": someone.csrf})  # fmt: skip
        assert refused.status_code == 422


def test_a_provider_that_names_each_queues_identity_gets_print_urls_only_for_token_url(
    tmp_path: Path,
) -> None:
    app = InProcessAppServer(f"sqlite:///{tmp_path / 'app.db'}", tmp_path)
    secure = f"ipps://{HOST}:{IPPS_PORT + 1}/ipp/print"
    with served(app) as started:
        queues: list[dict[str, Any]] = [
            {"name": "quiet", "kind": "direct", "printer": "laser", "dns_sd": None,
             "identity": "trust-client-username", "ipps_uri": f"{secure}/quiet"},
            {"name": "byod", "kind": "hold", "printer": "laser", "dns_sd": None,
             "identity": "token-url", "ipps_uri": f"{secure}/byod"},
        ]  # fmt: skip
        register(started, "says-provider", queues)
        with visitor(started, admin=True) as boss:
            console = boss.client.get("/web/admin/discovery").text
        assert "advertise = false" in row_of(console, "quiet")
        assert "each user&#39;s own print URL" in row_of(console, "byod")
        with visitor(started) as ursula:
            page = ursula.client.get("/web/portal/setup").text
            made, quiet = (
                ursula.client.post("/web/portal/setup/print-urls",
                                   data={"csrf_token": ursula.csrf, "queue": f"says-provider/{q}"})
                for q in ("byod", "quiet")
            )  # fmt: skip
        assert "says-provider/quiet" not in page  # not offered: it takes no print URL
        assert made.status_code == 201, made.text
        assert f"https://{HOST}:{IPPS_PORT + 1}/ipp/print/byod/u/" in made.text  # its own TLS port
        assert quiet.status_code != 201


def test_the_admin_and_the_portal_page_are_each_for_their_own_role(
    admin: Visitor, user: Visitor
) -> None:
    assert user.client.get("/web/admin/discovery").status_code == 403
    assert admin.client.get("/web/portal/setup").status_code == 403
    made = admin.client.post("/web/portal/setup/print-urls", data={"csrf_token": admin.csrf})
    assert made.status_code == 403


# --- in a browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp("discovery-browser")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    try:
        token = app.token(Role.PROVIDER, scope="provider:browser-provider")
        body = {"name": "browser-provider", "ipp_url": f"ipp://{HOST}:{IPP_PORT}/ipp/print",
                "queues": [{"name": "office", "kind": "direct",
                            "dns_sd": advert("Office Laser", "office")},
                           {"name": "byod", "kind": "hold", "dns_sd": None}]}  # fmt: skip
        with app.client(token) as client:
            assert client.post("/providers/register", json=body).status_code == 200
        yield app
    finally:
        app.stop()


def test_in_chromium_the_qr_code_shows_and_a_print_url_is_made_once(
    browser: Browser, process: AppServer
) -> None:
    name = f"pat-{uuid.uuid4().hex[:6]}"
    add_person(process, name, PASSWORD)
    with tab(browser, phone=True) as page:  # fails on any CSP or script error
        log_in(page, process.url, name, PASSWORD)
        page.get_by_role("link", name="Set up printing").click()
        expect(page.get_by_role("heading", name="Set up printing on this device")).to_be_visible()
        qr = page.get_by_role("img", name=f"QR code of {OFFICE_URI}")
        expect(qr).to_be_visible()
        box = qr.bounding_box()
        assert box is not None
        assert box["width"] > 100
        page.get_by_role("button", name="Make my print URL").click()
        expect(page.locator("#print-url")).to_have_value(PRINT_URL)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing overflows
        page.goto(f"{process.url}/web/portal/setup")
        expect(page.locator("#print-url")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile(r"Revoke #\d+"))).to_be_visible()


def test_a_provider_cannot_announce_a_queue_at_another_host(plain: InProcessAppServer) -> None:
    token = plain.token(Role.PROVIDER, scope="provider:liar-provider")
    elsewhere = {**advert("Office Laser", "office"), "host": "evil.example.net"}
    queue = {"name": "office", "kind": "direct", "printer": "laser", "dns_sd": elsewhere}
    body = {"name": "liar-provider", "ipp_url": f"ipp://{HOST}:{IPP_PORT}/ipp/print",
            "queues": [queue]}  # fmt: skip
    with plain.client(token) as client:
        answer = client.post("/providers/register", json=body)
    assert answer.status_code == 422
    assert "evil.example.net" in answer.text
