"""The functions-table matrix: every row × the three modes, each driven through its real
client, observed available or not, and compared with the declaration in domain/functions.py.

Modes: *online* (through the Site Server, link up); *offline with a site server* (the link
between the Site Server and the App Server cut — packets dropped, clients of the link see
timeouts); *offline with no site server* (a second provider and the devices talk to the App
Server directly, through a second link, which is cut). Rows whose feature does not exist yet
are listed in ``PENDING`` with what brings them: the list only shrinks.
"""

from __future__ import annotations

import io
import mailbox
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
import pikepdf
import pytest

from printwarden.devices.client import (
    DeviceApiError,
    DeviceApiUnavailable,
    DeviceClient,
    Session,
)
from printwarden.devices.scan_client import DeviceScans, ScanState
from printwarden.domain.accounts import Role
from printwarden.domain.functions import TABLE, Function, Mode, row
from printwarden.provider.ipp.client import IppClient, IppClientError
from printwarden.scanning.sample_pages import generate_page
from printwarden.service.app import API_PREFIX, ROUTERS
from printwarden.service.offline_functions import declarations
from printwarden.service.routes import release_page
from printwarden.sim.link import Link
from printwarden.sim.ports import free_port
from printwarden.store.tokens import PROVIDER_PREFIX
from printwarden.testing import processes
from printwarden.testing.mail import SinkThread
from support.appserver import AppServer
from support.provider import PrinterSpec, ProviderProcess, QueueSpec, file_printer_documents
from support.seeding import PRICES, add_user, wait_for
from support.site import SiteProcess
from support.site import site_link as both_ways
from support.sse import listening

SITE = "matrix"
PRINTER, HQ_PRINTER = "matrix-laser", "hq-laser"
# Printers that ask which account to charge (User Client): one per provider, same output.
ASKING = {PRINTER: "matrix-asking", HQ_PRINTER: "hq-asking"}
READER = "127.0.0.5"
CLIENT_TIMEOUT = 1.5
SERVER_TIMEOUT = 2.0  # the providers give up on a silent server after this (was 6 s)
PRINT_SECONDS = 20.0
REFUSED_SECONDS = 4.0  # how long a job that must not print is watched
DNS_DOMAIN = "matrix.print.test"  # the site's unicast DNS-SD zone
PASSWORD = "matrix-password-7"  # the user's, for the queue phones and laptops use
MAIL_DOMAIN, MAIL_RELAY = "matrix.mail.test", "mx.matrix.mail.test"  # Email to Print
USER_MAIL = "matrix-user@example.org"
SCAN_ACTION = "Scan to my email"

PENDING: dict[Function, str] = {}


@dataclass
class Place:
    """Where a mode's clients go: the server URL, the provider, its printer's output."""

    mode: Mode
    server: str
    provider: ProviderProcess
    out: Path
    listener_port: int


@dataclass
class World:
    app: AppServer
    site: SiteProcess
    site_link: Link
    hq_link: Link
    places: dict[Mode, Place]
    tokens: dict[str, str]  # device kind → token
    card: str
    user: str
    root: Path
    dns_port: int  # the Site Server's DNS-SD responder
    mail_port: int  # the Site Server's Email to Print listener
    client_token: str = ""  # the user's User Client, logged in at HQ before any outage
    topup_codes: list[str] = field(default_factory=list)  # top-up cards made at HQ, unused
    maildir: Path | None = None  # the smarthost's (HQ's and the site's) Maildir

    def scan_mails(self) -> list[bytes]:
        """The scans mailed to the user so far (through either server's smarthost)."""
        assert self.maildir is not None
        box = mailbox.Maildir(self.maildir, create=False)
        found = [box.get_bytes(key) for key in box.iterkeys()]
        return [m for m in found if b"Subject: Scan from" in m]

    def device(self, place: Place, kind: str = "mfd") -> DeviceClient:
        return DeviceClient(place.server, self.tokens[kind], timeout=CLIENT_TIMEOUT, retries=0)


def unique(text: str) -> bytes:
    return f"{text} {uuid.uuid4().hex}\n".encode()


def printed(place: Place, data: bytes, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if data in file_printer_documents(place.out):
            return True
        time.sleep(0.1)
    return False


def submit(world: World, place: Place, queue: str, data: bytes) -> None:
    with IppClient(place.provider.uri(queue), user_name=world.user, timeout=30) as client:
        client.print_job(data, document_format="text/plain", job_name=data.decode()[:30],
                         requesting_user_name=world.user)  # fmt: skip


def held_for_release(world: World, place: Place, queue: str) -> tuple[bytes, str] | None:
    """Print a job to a hold or Find-Me queue; its data and id once the device lists it (None
    when the device cannot reach its server)."""
    data = unique(f"{queue} job")
    submit(world, place, queue, data)
    name = data.decode()[:30]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with world.device(place) as device:
                session = device.login_card(world.card)
                try:
                    jobs = device.jobs(session)
                finally:
                    device.logout(session)
        except (DeviceApiUnavailable, DeviceApiError):
            return None
        found = [job for job in jobs if job.document_name == name]
        if found:
            return data, found[0].id
        time.sleep(0.3)
    return None


Action = Callable[[DeviceClient, Session], object]


def works(action: Action, world: World, place: Place, kind: str = "mfd") -> bool:
    """Log in at a device of ``kind`` and run ``action``; False when the server refuses or
    cannot be reached."""
    try:
        with world.device(place, kind) as device:
            session = device.login_card(world.card)
            try:
                action(device, session)
            finally:
                with suppress(DeviceApiUnavailable, DeviceApiError):
                    device.logout(session)
    except (DeviceApiUnavailable, DeviceApiError):
        return False
    return True


# --- one driver per row ----------------------------------------------------------------------


def basic_printing(world: World, place: Place) -> bool:
    data = unique("direct job")
    submit(world, place, "direct", data)
    return printed(place, data, PRINT_SECONDS)


def release_at_mfd(queue: str, *, one: bool) -> Callable[[World, Place], bool]:
    def drive(world: World, place: Place) -> bool:
        held = held_for_release(world, place, queue)
        if held is None:
            return False
        data, job_id = held

        def release(device: DeviceClient, session: Session) -> None:
            if one:
                device.release(session, job_id)
            else:
                device.release_all(session)

        return works(release, world, place) and printed(place, data, PRINT_SECONDS)

    return drive


def release_station(world: World, place: Place) -> bool:
    held = held_for_release(world, place, "secure")
    if held is None:
        return False
    data, _ = held
    command = [sys.executable, "-m", "printwarden", "release-station", "--server", place.server,
               "--idle-seconds", "5"]  # fmt: skip
    env = {**os.environ, "PRINTWARDEN_DEVICE_TOKEN": world.tokens["release-station"]}
    done = subprocess.run(command, input=f"{world.card}\na\nq\n", capture_output=True,
                          text=True, timeout=60, check=False, env=env)  # fmt: skip
    return done.returncode == 0 and printed(place, data, PRINT_SECONDS)


def fast_release(world: World, place: Place) -> bool:
    held = held_for_release(world, place, "secure")
    if held is None:
        return False
    data, _ = held
    command = [sys.executable, "-m", "printwarden", "cardreader", "simulate", "--port",
               str(place.listener_port), "--source", READER, world.card]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=60, check=False)
    return printed(place, data, REFUSED_SECONDS * 2)


def change_settings(world: World, place: Place) -> bool:
    held = held_for_release(world, place, "secure")
    if held is None:
        return False
    _, job_id = held
    return works(lambda d, s: d.change(s, job_id, copies=2), world, place)


FILTERED, SCRIPTED = "blocked-by-filter", "blocked-by-script"


def refused_by(marker: str) -> Callable[[World, Place], bool]:
    """A job named ``marker…`` is denied by a global filter (or print script) set at HQ:
    available when that job never prints while the job after it does."""

    def drive(world: World, place: Place) -> bool:
        blocked, allowed = unique(f"{marker} job"), unique("allowed job")
        submit(world, place, "direct", blocked)
        submit(world, place, "direct", allowed)  # the direct queue takes them in order
        if not printed(place, allowed, PRINT_SECONDS):
            return False
        return blocked not in file_printer_documents(place.out)

    return drive


def mobility_print(world: World, place: Place) -> bool:
    """A laptop or phone on the site's network: it finds the password queue in the site's
    DNS-SD zone (a site's places), prints over ipps:// with its user's password, and the job
    prints. With no server the password cannot be checked: not available."""
    if place.mode is not Mode.OFFLINE_NO_SITE:
        found = _dig(world.dns_port, "PTR", f"_ipps._tcp.{DNS_DOMAIN}")
        if f"byod._ipps._tcp.{DNS_DOMAIN}." not in found:
            return False
    data = unique("mobility job")
    try:
        authenticated_print(world, place, data)
    except IppClientError:
        return False
    return printed(place, data, PRINT_SECONDS)


def authenticated_print(world: World, place: Place, data: bytes) -> None:
    """Print ``data`` to the password queue over ipps://, trusting its certificate."""
    trust = ssl.create_default_context(cafile=str(place.provider.tls_ca))
    transport = httpx.HTTPTransport(verify=trust)
    uri = place.provider.ipps_uri("byod")
    with IppClient(uri, user_name=world.user, timeout=30, transport=transport,
                   auth=(world.user, PASSWORD)) as client:  # fmt: skip
        client.print_job(data, document_format="text/plain", job_name="mobility")


def integrated_scanning(world: World, place: Place) -> bool:
    """Scan to my email at the MFD: a page uploaded, the scan finished (charged) and mailed
    through the smarthost of the server that took it; available when it is delivered."""

    def scan(device: DeviceClient, session: Session) -> None:
        scans = DeviceScans(device, patience=0)
        scans.scan(session, SCAN_ACTION, [generate_page(1, dpi=75)], {})
        started = scans.latest
        assert started is not None
        seen: list[ScanState] = []

        def delivered() -> bool:
            seen.append(scans.status(started))
            return seen[-1].stage == "delivered"

        try:
            wait_for(delivered, "the scan delivered")
        except AssertionError as exc:  # what the scan was doing when time ran out
            raise AssertionError(f"{exc}; its last state: {seen[-1:]}") from None

    before = len(world.scan_mails())
    return works(scan, world, place) and len(world.scan_mails()) > before


def mobile_print(world: World, place: Place) -> bool:
    """Web Print and Email to Print: both must print (each released at the MFD)."""
    return web_print(world, place) and email_print(world, place)


def email_print(world: World, place: Place) -> bool:
    """The person mails a PDF to the hold queue's address at the site's listener (the only
    one: with no Site Server there is none at the site); released at the MFD, it prints."""
    if place.mode is Mode.OFFLINE_NO_SITE:
        return False
    data = unique("mailed job")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = USER_MAIL, f"secure@{MAIL_DOMAIN}", "print"
    mail["Authentication-Results"] = f"{MAIL_RELAY}; dmarc=pass header.from=example.org"
    mail.set_content("attached")
    name = f"mailed-{uuid.uuid4().hex[:8]}.pdf"
    mail.add_attachment(marked_pdf(data), maintype="application", subtype="pdf", filename=name)
    try:
        with smtplib.SMTP("127.0.0.1", world.mail_port, timeout=10) as smtp:
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException):
        return False

    def release(device: DeviceClient, session: Session) -> None:
        found = wait_for(
            lambda: [j.id for j in device.jobs(session) if j.document_name == name], "mailed job"
        )
        device.release(session, found[0])

    return works(release, world, place) and within(place, data, PRINT_SECONDS)


def web_print(world: World, place: Place) -> bool:
    """Web Print: the person logs in at the place's server, uploads a document to the hold
    queue, and releases it at the MFD; available when it prints."""
    try:
        login = httpx.post(f"{place.server}/api/v1/auth/login", timeout=CLIENT_TIMEOUT * 2,
                           json={"username": world.user, "password": PASSWORD})  # fmt: skip
        if login.status_code != 200:
            return False
        data = unique("web print job")
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        with httpx.Client(base_url=f"{place.server}/api/v1", headers=headers, timeout=10) as api:
            upload = api.post("/me/web-print", files={"file": ("web.pdf", marked_pdf(data))},
                              data={"queue": "secure"})  # fmt: skip
            if upload.status_code != 202:
                return False
            job_id = upload.json()["id"]
            wait_for(lambda: api.get(f"/me/web-print/{job_id}").json()["stage"] != "rendering"
                     and api.get(f"/me/web-print/{job_id}").json(), "rendered")  # fmt: skip
    except httpx.HTTPError:
        return False
    if not works(release_at_mfd_of(job_id), world, place):
        return False
    return within(place, data, PRINT_SECONDS)


def user_client(world: World, place: Place) -> bool:
    """Account Selection via User Client: the client hears the question on its event stream
    at the place's server and answers it with the shared account; available when it prints."""
    data = unique("user client job")
    headers = {"Authorization": f"Bearer {world.client_token}"}
    try:  # the hello within 15 s: a loaded run once missed 5 s where the stream works
        with listening(f"{place.server}/api/v1", world.client_token, seconds=15) as heard:
            submit(world, place, "asking", data)
            name = data.decode()[:30]
            asked = heard.wait("question", lambda q: q["document_name"] == name, seconds=15)
            body = {"action": "print", "account": "Matrix-Project", "pin": "2468"}
            answer = httpx.post(f"{place.server}/api/v1/me/questions/{asked['job']}",
                                json=body, headers=headers, timeout=10)  # fmt: skip
    except (AssertionError, httpx.HTTPError) as exc:
        print(f"user client at {place.server}: {type(exc).__name__}: {exc}")  # shown if it fails
        return False
    if answer.status_code != 200:
        print(f"user client at {place.server}: the answer got {answer.status_code}: {answer.text}")
        return False
    if not printed(place, data, PRINT_SECONDS):
        print(f"user client at {place.server}: answered, not printed in {PRINT_SECONDS} s")
        return False
    return True


def topup_card(world: World, place: Place) -> bool:
    """Payment Gateways, Kiosks: a top-up card redeemed at an MFD (cards and cash work at an
    offline site; online payments, which need the gateway, are tested on their own)."""
    code = world.topup_codes.pop()
    return works(lambda device, session: device.redeem(session, code), world, place)


def within(place: Place, marker: bytes, seconds: float) -> bool:
    """Whether a document holding ``marker`` reaches the place's printer within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(marker in document for document in file_printer_documents(place.out)):
            return True
        time.sleep(0.1)
    return False


def marked_pdf(marker: bytes) -> bytes:
    """A one-page PDF whose (uncompressed) page content carries ``marker``: the document a
    Web Print upload of it sends the printer still does, byte for byte."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].Contents = pdf.make_stream(b"% " + marker.strip() + b"\n0 0 m 10 10 l S\n")
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def release_at_mfd_of(job_id: str) -> Action:
    def release(device: DeviceClient, session: Session) -> None:
        wait_for(lambda: job_id in {job.id for job in device.jobs(session)}, "listed at the MFD")
        device.release(session, job_id)

    return release


def _dig(port: int, kind: str, name: str) -> list[str]:
    command = ["dig", "+short", "+time=1", "+tries=2", "-p", str(port), "@127.0.0.1", kind, name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


DRIVERS: dict[Function, Callable[[World, Place], bool]] = {
    Function.BASIC_PRINTING: basic_printing,
    Function.HARDWARE_TERMINALS: lambda w, p: works(lambda d, s: d.jobs(s), w, p, "terminal"),
    Function.SECURE_PRINT: release_at_mfd("secure", one=False),
    Function.FIND_ME_PRINT: release_at_mfd("findme", one=False),
    Function.USER_BALANCES: lambda w, p: works(lambda d, s: s.balance, w, p),
    Function.RELEASE_STATIONS: release_station,
    Function.FAST_RELEASE: fast_release,
    Function.MFD_LOGIN: lambda w, p: works(lambda d, s: None, w, p),
    Function.MFD_DEVICE_FUNCTIONS: lambda w, p: works(
        lambda d, s: d.usage(s, "copy", 1, 0, False, "A4"), w, p
    ),
    Function.SERVER_SIDE_PRINTING_AT_MFD: release_at_mfd("secure", one=True),
    Function.CHANGE_HELD_JOB_SETTINGS_AT_MFD: change_settings,
    Function.ACCOUNT_SELECTION_AT_MFD: lambda w, p: works(
        lambda d, s: d.select_account(s, "Matrix-Project", "2468"), w, p
    ),
    Function.FILTERS_AND_CONVERSIONS: refused_by(FILTERED),
    Function.SCRIPTING: refused_by(SCRIPTED),
    Function.MOBILITY_PRINT: mobility_print,
    Function.MOBILE_PRINT: mobile_print,
    Function.ACCOUNT_SELECTION_USER_CLIENT: user_client,
    Function.INTEGRATED_SCANNING: integrated_scanning,
    Function.PAYMENT_GATEWAYS_KIOSKS: topup_card,
}


def test_every_row_has_a_driver_or_names_what_brings_it() -> None:
    assert set(DRIVERS) | set(PENDING) == {r.function for r in TABLE}
    assert not set(DRIVERS) & set(PENDING)


# The rows whose routes declare them (``serves``): offline, each such route refuses itself
# when the table says the row is unavailable there. The drivers reach them through those
# routes; the other rows are the provider's, the filters' and scripts', or not built yet.
ROUTE_ROWS = {
    Function.MFD_LOGIN,
    Function.ACCOUNT_SELECTION_AT_MFD,
    Function.SERVER_SIDE_PRINTING_AT_MFD,
    Function.MFD_DEVICE_FUNCTIONS,
    Function.SECURE_PRINT,
    Function.USER_BALANCES,
    Function.RELEASE_STATIONS,
    Function.MOBILE_PRINT,
    Function.ACCOUNT_SELECTION_USER_CLIENT,
    Function.INTEGRATED_SCANNING,
    Function.PAYMENT_GATEWAYS_KIOSKS,
}


def test_the_routes_declare_the_rows_the_drivers_reach_through_them() -> None:
    found: set[Function] = set()
    for prefix, router in [*((API_PREFIX, r) for r in ROUTERS), ("", release_page.router)]:
        found |= set(declarations(prefix, router).values())
    assert found == ROUTE_ROWS
    assert found <= set(DRIVERS)


# --- the world -------------------------------------------------------------------------------


@contextmanager
def matrix_world(root: Path) -> Iterator[World]:
    with ExitStack() as stack:
        sink = SinkThread(root / "maildir")
        stack.callback(sink.close)
        app = AppServer(f"sqlite:///{root / 'app.db'}", root / "app")
        app.extra_env["PRINTWARDEN_MAIL__SMARTHOST"] = f"127.0.0.1:{sink.port}"
        (root / "app").mkdir()
        app.start()
        stack.callback(app.stop)
        site_port = free_port()
        site_link, advertised = both_ways(app, site_port)  # HQ reaches the site through it too
        stack.callback(site_link.stop)
        hq_link = Link("127.0.0.1", 0, "127.0.0.1", app.port)
        hq_link.start()
        stack.callback(hq_link.stop)
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'matrix-admin')}"},
            timeout=30,
        )
        stack.callback(admin.close)
        user, card = _seed(admin)
        cards = {"batch_id": "matrix", "value": 100, "count": 6}
        codes = admin.post("/topup-cards/batches", json=cards).json()["codes"]
        tokens = {kind: app.device_token(f"matrix-{kind}", PRINTER) for kind in
                  ("mfd", "terminal", "release-station", "card-reader")}  # fmt: skip
        _kind_devices(admin)
        dns_port, mail_port = free_port(), free_port()
        mail_config = root / "site-mail.toml"
        mail_config.write_text(
            f'[mail]\ndomain = "{MAIL_DOMAIN}"\nport = {mail_port}\n'
            f'trusted_relays = ["{MAIL_RELAY}"]\ntrusted_relay_networks = ["127.0.0.0/8"]\n'
            f'[scanning]\nsmarthost = "127.0.0.1:{sink.port}"\n'
        )
        site = SiteProcess(
            f"http://127.0.0.1:{site_link.port}",
            app.token(Role.SITE, scope=SITE),
            SITE,
            root / "site",
            port=site_port,
            advertised_url=advertised,
            options=["--dns-sd-domain", DNS_DOMAIN, "--dns-sd-listen", "127.0.0.1",
                     "--dns-sd-port", str(dns_port), "--mail-config", str(mail_config)],
        )  # fmt: skip
        site.start()
        stack.callback(site.stop)
        hq_url = f"http://127.0.0.1:{hq_link.port}"
        places = {}
        for mode, server, printer in (
            (Mode.ONLINE, site.url, PRINTER),
            (Mode.OFFLINE_NO_SITE, hq_url, HQ_PRINTER),
        ):
            out = root / f"out-{printer}"
            name = f"matrix-provider-{uuid.uuid4().hex[:8]}"
            at = SITE if mode is Mode.ONLINE else None  # the site's provider is bound to it
            token = app.token(Role.PROVIDER, scope=f"{PROVIDER_PREFIX}{name}", site=at)
            provider = ProviderProcess(
                server, token, root / f"provider-{printer}",
                [PrinterSpec(printer, f"file://{out}", colour=False),
                 PrinterSpec(ASKING[printer], f"file://{out}", colour=False)],
                [QueueSpec("direct", "direct", printer), QueueSpec("secure", "hold", printer),
                 QueueSpec("findme", "findme"),
                 QueueSpec("byod", "direct", printer, identity="authenticate"),
                 QueueSpec("asking", "direct", ASKING[printer])],
                server_timeout=SERVER_TIMEOUT, name=name, tls=True,
            )  # fmt: skip
            (root / f"provider-{printer}").mkdir()
            provider.start()
            stack.callback(provider.stop)
            port = _listener(stack, root / f"readers-{printer}", server, tokens["card-reader"])
            places[mode] = Place(mode, server, provider, out, port)
        online = places[Mode.ONLINE]
        places[Mode.OFFLINE_WITH_SITE] = Place(
            Mode.OFFLINE_WITH_SITE, online.server, online.provider, online.out,
            online.listener_port,
        )  # fmt: skip
        world = World(
            app, site, site_link, hq_link, places, tokens, card, user, root, dns_port, mail_port
        )
        world.client_token = _client_token(app, user)
        world.topup_codes = codes
        world.maildir = root / "maildir"
        wait_for(lambda: _caught_up(world), "the site's replica")
        # A password login through the site while online: what the site checks it against
        # offline (the Offline Policy's password cache).
        authenticated_print(world, online, unique("password login online"))
        yield world


def _seed(admin: httpx.Client) -> tuple[str, str]:
    for printer in (PRINTER, HQ_PRINTER, *ASKING.values()):
        body = {"name": printer, "colour": False, "cost_model": {"sizes": {"default": PRICES}}}
        if printer in ASKING.values():
            body["client_rules"] = {"account_selection": True}
        assert admin.post("/printers", json=body).status_code == 201
    assert admin.post("/sites", json={"name": SITE}).status_code == 201
    user, card = f"matrix-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:12]
    add_user(admin, user, 100_000, password=PASSWORD)
    assert admin.patch(f"/users/{user}", json={"email": USER_MAIL}).status_code == 200
    assert admin.patch(f"/users/{user}", json={"cards": [card]}).status_code == 200
    account = {"name": "Matrix-Project", "users": [user], "pin": "2468", "restricted": False}
    assert admin.post("/accounts", json=account).status_code == 201
    # "Account Selection at MFD" is Yes* offline: with the config key that lets users change
    # the applied account at the device (system.site.offline-change-print-job-settings).
    policies = {**admin.get("/offline-policies").json(), "allow_account_change": True}
    assert admin.put("/offline-policies", json=policies).status_code == 200
    rules = {"rules": {"deny_names": [f"{FILTERED}*"]}}
    assert admin.put("/filters", json=rules).status_code == 200
    script = f"""function printJobHook(inputs, actions) {{
      if (inputs.job.documentName.indexOf("{SCRIPTED}") === 0) {{ actions.job.cancel(); }}
    }}"""
    assert admin.put("/scripts", json={"source": script}).status_code == 200
    action = {"name": SCAN_ACTION, "destination": "email", "defaults": {"resolution": 75}}
    assert admin.put("/scan-actions", json={"actions": [action]}).status_code == 200
    return user, card


def _client_token(app: AppServer, user: str) -> str:
    """The user's User Client token, from a login at HQ (it reaches every site's replica)."""
    body = {"username": user, "password": PASSWORD, "client": "matrix-desk"}
    login = httpx.post(f"{app.api}/auth/login", json=body, timeout=30)
    assert login.status_code == 200, login.text
    return str(login.json()["token"])


def _kind_devices(admin: httpx.Client) -> None:
    for kind in ("terminal", "release-station", "card-reader"):
        changed = admin.patch(f"/devices/matrix-{kind}", json={"kind": kind})
        assert changed.status_code == 200, changed.text


def _listener(stack: ExitStack, root: Path, server: str, token: str) -> int:
    root.mkdir()
    port = free_port()
    config = root / "readers.toml"
    config.write_text(f'[listener]\nhost = "127.0.0.1"\nport = {port}\n'
                      f'[[readers]]\naddress = "{READER}"\ntoken = "{token}"\n')  # fmt: skip
    log = root / "listener.log"
    command = [sys.executable, "-m", "printwarden", "fastrelease", "serve", "--server", server,
               "--config", str(config)]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out)
    stack.callback(processes.stop, process)

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    processes.wait_ready(process, listening, "Fast Release listener", log, 30)
    return port


def _caught_up(world: World) -> bool:
    head = int(httpx.get(f"{world.app.api}/health", timeout=5).json()["change_seq"])
    status = world.site.status()
    return bool(status["mode"] == "online" and int(status["replica_seq"]) >= head)


@contextmanager
def in_mode(world: World, mode: Mode) -> Iterator[Place]:
    if mode is Mode.ONLINE:
        yield world.places[mode]
        return
    link = world.site_link if mode is Mode.OFFLINE_WITH_SITE else world.hq_link
    link.down()
    try:
        if mode is Mode.OFFLINE_WITH_SITE:
            wait_for(lambda: world.site.status()["mode"] == "offline", "the site offline")
        yield world.places[mode]
    finally:
        link.up()
    if mode is Mode.OFFLINE_WITH_SITE:
        wait_for(lambda: world.site.status()["mode"] == "online", "the site online", 60)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with matrix_world(tmp_path_factory.mktemp("matrix")) as made:
        yield made


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_each_function_is_available_exactly_where_the_table_says(world: World, mode: Mode) -> None:
    observed: dict[Function, bool] = {}
    with in_mode(world, mode) as place:
        for function, drive in DRIVERS.items():
            observed[function] = drive(world, place)
    expected = {function: row(function).available(mode) for function in DRIVERS}
    wrong = {f.value: (expected[f], observed[f]) for f in DRIVERS if expected[f] != observed[f]}
    assert not wrong, f"{mode.value}: function → (declared, observed): {wrong}"


def test_fast_release_with_a_card_reader_at_an_offline_site(world: World) -> None:
    """Issue 17: a reader whose device is of kind ``card-reader`` releases at an offline site
    (the reference's table says no; nothing at the site needs HQ, so ours says yes)."""
    token = world.app.token(Role.ADMIN, "matrix-fast-release")
    admin = httpx.Client(
        base_url=world.app.api, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    with admin:
        assert admin.get("/devices/matrix-card-reader").json()["kind"] == "card-reader"
    with in_mode(world, Mode.OFFLINE_WITH_SITE) as place:
        assert world.site_link.state == "down"
        assert fast_release(world, place), "the card reader's held job did not print offline"


def test_web_print_at_hq_reaches_a_site_queue_online_and_is_refused_while_the_site_is_cut(
    world: World,
) -> None:
    """HQ's portal offers the sites' queues too: the site's provider fetches what HQ
    rendered through its Site Server. While HQ cannot reach the site, HQ refuses (503)
    rather than keep a document to print hours later."""
    place = world.places[Mode.ONLINE]
    login = httpx.post(f"{world.app.api}/auth/login", timeout=10,
                       json={"username": world.user, "password": PASSWORD})  # fmt: skip
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    data = unique("hq web print job")
    with httpx.Client(base_url=world.app.api, headers=headers, timeout=10) as api:
        key = f"{place.provider.name}/secure"
        upload = api.post("/me/web-print", files={"file": ("hq.pdf", marked_pdf(data))},
                          data={"queue": key})  # fmt: skip
        assert upload.status_code == 202, upload.text
        job_id = upload.json()["id"]
        wait_for(lambda: api.get(f"/me/web-print/{job_id}").json()["stage"] == "accepted",
                 "the site's provider took HQ's document")  # fmt: skip
        assert works(release_at_mfd_of(job_id), world, place)
        assert within(place, data, PRINT_SECONDS)
        world.site_link.down()
        try:
            wait_for(lambda: api.post("/me/web-print", files={"file": ("x.pdf", b"%PDF-1.4")},
                                      data={"queue": key}).status_code == 503,
                     "HQ refusing the cut site's queue")  # fmt: skip
        finally:
            world.site_link.up()
        wait_for(lambda: world.site.status()["mode"] == "online", "the site online", 60)
