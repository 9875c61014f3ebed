"""``printwarden demo``: the whole system on SQLite with sample data, in the foreground."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from printwarden import serving
from printwarden.config import DnsSdConfig, MailConfig, Settings
from printwarden.demo import payments as demo_payments
from printwarden.demo import scanning as demo_scanning
from printwarden.demo.providers import ASKING_PRINTERS, DemoStopping, provider_name
from printwarden.demo.sites import (
    BEACON_PORT_OFFSET,
    DEMO_RELAY,
    DNS_SD_PORT_OFFSET,
    MAIL_DOMAIN,
    MAIL_SINK_PORT_OFFSET,
    SITES,
    SMTP_PORT_OFFSET,
    DemoSites,
    mail_config,
)
from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.domain.offline_policies import OfflinePolicies
from printwarden.files import private_dir, write_private
from printwarden.mail.sink import MailSink
from printwarden.service.app import create_app
from printwarden.store import accounts, groups, ledger, printers, sites, tokens, users
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade

A4_PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
LETTER_PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
DEMO_DEVICES = {name: printer for site in SITES for name, printer in site.devices.items()}
DEVICE_SITES = {name: site.name for site in SITES for name in site.devices}
TOKENS_DIR = "tokens"  # DATA_DIR/tokens/: admin.token, admin.header, <device>.token
DNS_SD_DOMAIN = "print.test"  # the unicast DNS-SD zone the demo's App Server answers for
SAMPLE_USERS: list[dict[str, Any]] = [
    {"username": "alice", "full_name": "Alice Archer", "groups": ["students"], "card": "1001",
     "pin": "1234", "restricted": True, "balance": 500},
    {"username": "bob", "full_name": "Bob Baker", "groups": ["staff"], "card": "1002",
     "pin": "2345", "restricted": False, "balance": 0},
    {"username": "carol", "full_name": "Carol Chen", "groups": ["students", "research"],
     "card": "1003", "pin": "3456", "restricted": True, "balance": 200},
]  # fmt: skip


def run_demo(data_dir: Path, port_base: int) -> None:
    """Seed a fresh demo database, serve the App Server, start the sites (a link, a Site
    Server, printers and a provider each) and write ``demo.json`` once everything answers."""
    data_dir = private_dir(data_dir.resolve())  # passwords, tokens, databases: owner only
    manifest_path = data_dir / "demo.json"
    manifest_path.unlink(missing_ok=True)
    database_file = data_dir / "printwarden.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_file}{suffix}").unlink(missing_ok=True)
    # The sites' replicas, journals and spools belong to the previous database.
    shutil.rmtree(data_dir / "sites", ignore_errors=True)
    shutil.rmtree(data_dir / TOKENS_DIR, ignore_errors=True)
    private_dir(data_dir / "sites")
    dns_sd = DnsSdConfig(  # unicast DNS-SD for the demo's queues, on loopback
        domain=DNS_SD_DOMAIN, listen="127.0.0.1", port=port_base + DNS_SD_PORT_OFFSET,
        ns=f"ns.{DNS_SD_DOMAIN}", ns_addresses=["127.0.0.1"],
    )  # fmt: skip
    app_url = f"http://127.0.0.1:{port_base}"
    mail = MailConfig.model_validate(
        mail_config(port_base + SMTP_PORT_OFFSET, MAIL_DOMAIN,
                    port_base + MAIL_SINK_PORT_OFFSET, app_url)
    )  # fmt: skip
    settings = Settings(
        data_dir=data_dir, database_url=f"sqlite:///{database_file}", port=port_base,
        dns_sd=dns_sd, mail=mail, scanning=demo_scanning.config(data_dir, app_url),
        payments=demo_payments.config(data_dir, app_url, port_base),
        cash=demo_payments.cash_config(), beacon_port=port_base + BEACON_PORT_OFFSET,
    )  # fmt: skip
    upgrade(settings.resolved_database_url())
    database = Database(settings.resolved_database_url())
    secret = settings.resolved_secret()
    manifest = seed(database, secret)
    with database.session() as session:
        paying = demo_payments.seed(session, secret, settings.currency)
    manifest["topup_cards"] = paying["topup_cards"]
    payments = demo_payments.DemoPayments(data_dir, app_url, port_base, settings.currency)
    manifest.update(payments.start(paying["kiosk_token"]))
    scanners = demo_scanning.DemoScanners(list(DEMO_DEVICES), port_base)
    with database.session() as session:
        for name, url in scanners.start(session).items():
            manifest["devices"][name]["escl_url"] = url
    manifest["scan_share"] = str(demo_scanning.share(data_dir))
    manifest["scan_homes"] = str(demo_scanning.homes(data_dir))
    manifest["app_url"] = app_url
    manifest["database_url"] = settings.resolved_database_url()
    manifest["dns_sd"] = {"server": f"127.0.0.1:{dns_sd.port}", "domain": DNS_SD_DOMAIN}
    manifest["smtp"] = {"host": "127.0.0.1", "port": mail.port, "domain": MAIL_DOMAIN}
    sink = DemoMailSink(data_dir / "mail-sink", port_base + MAIL_SINK_PORT_OFFSET)
    manifest["mail_sink"] = str(sink.directory)
    demo_sites = DemoSites.create(
        data_dir, port_base, manifest.pop("site_tokens"), manifest.pop("provider_tokens")
    )
    application = create_app(settings, database)
    server = serving.server(
        application,
        application.state.printwarden.stopping,
        host="127.0.0.1",
        port=port_base,
        log_level="warning",
        proxy_headers=False,
    )
    logging.getLogger("uvicorn.error").addFilter(_QuietLongPolls())
    starter = threading.Thread(
        target=_announce_when_ready, args=(manifest, manifest_path, demo_sites), daemon=True
    )
    demo_sites.starter = starter
    starter.start()
    # uvicorn re-raises the signal that stopped it; SIGTERM's default action would end the
    # process before the sites, printers and providers are stopped.
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        server.run()
    finally:
        for each in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not orphan them
            signal.signal(each, signal.SIG_IGN)
        demo_sites.stop()
        scanners.stop()
        payments.stop()
        sink.stop()


class DemoMailSink:
    """The demo's smarthost: every reply and confirmation mail lands in a Maildir."""

    def __init__(self, directory: Path, port: int) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        self.directory = directory  # a Maildir (0700), made by the sink
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sink = MailSink(self.directory, "127.0.0.1", port)
        asyncio.run_coroutine_threadsafe(self.sink.start(), self.loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sink.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class _QuietLongPolls(logging.Filter):
    """Stopping cancels the sites' long polls after ``serving.STOP_GRACE_SECONDS``: expected, so not
    logged as errors with a traceback each."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        return "timeout graceful shutdown exceeded" not in record.getMessage()


def exit_on_sigterm(_signal: int, _frame: object) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def seed(database: Database, secret: bytes) -> dict[str, Any]:
    """Sample groups, users, accounts, printers, devices and tokens; returns the manifest."""
    admin_password = secrets.token_urlsafe(12)
    people = [{**u, "password": secrets.token_urlsafe(9)} for u in SAMPLE_USERS]
    with database.session() as session:
        groups.ensure_groups(session, {"staff", "students", "research"}, "internal")
        admin = users.create_user(
            session,
            secret,
            "admin",
            users.UserChanges(full_name="Administrator", password=admin_password, is_admin=True),
        )
        for person in people:
            _seed_user(session, secret, person)
        # Who the default Offline Policy charges for users a site does not know.
        users.create_user(
            session,
            secret,
            OfflinePolicies().unauthenticated_user,
            users.UserChanges(full_name="Unknown users (offline)", restricted=False),
        )
        _seed_accounts(session)
        _seed_printers(session)
        scan_actions = demo_scanning.seed(session)
        site_tokens = {site.name: _seed_site(session, site.name, site.location) for site in SITES}
        admin_token, _ = tokens.issue_token(
            session, Role.ADMIN, name="demo", user_id=admin.id, lifetime=timedelta(days=30)
        )
        provider_tokens = {site.name: _seed_provider_token(session, site.name) for site in SITES}
        device_token, _ = tokens.issue_token(session, Role.DEVICE, name="demo device")
        devices = {
            name: {
                "token": tokens.issue_token(
                    session, Role.DEVICE, name=name, scope=f"device:{name}"
                )[0],
                "printer": printer,
                "site": DEVICE_SITES[name],
            }
            for name, printer in DEMO_DEVICES.items()
        }
    return {
        "admin": {"username": "admin", "password": admin_password},
        "admin_token": admin_token,
        "provider_token": provider_tokens[SITES[0].name],  # the first site's provider
        "provider_tokens": provider_tokens,  # not in demo.json: each site's provider has its own
        "device_token": device_token,
        "devices": devices,
        "site_tokens": site_tokens,  # not in demo.json as such: each site's entry has its own
        "users": [_person(p) for p in people],
        "scan_actions": scan_actions,
    }


def _seed_provider_token(session: Any, site: str) -> str:
    """A token bound to the site's provider, which serves only that site's printers."""
    name = provider_name(site)
    token, _ = tokens.issue_token(
        session, Role.PROVIDER, name=name, scope=f"{tokens.PROVIDER_PREFIX}{name}", site=site
    )
    return token


def _person(person: dict[str, Any]) -> dict[str, Any]:
    """A sample user as ``demo.json`` lists them."""
    fields = ("username", "password", "card", "pin", "full_name")
    return {**{k: person[k] for k in fields}, "email": _email(person["username"])}


def _email(username: str) -> str:
    return f"{username}@example.org"


def _seed_user(session: Any, secret: bytes, person: dict[str, Any]) -> None:
    row = users.create_user(
        session,
        secret,
        person["username"],
        users.UserChanges(
            full_name=person["full_name"],
            email=_email(person["username"]),
            password=person["password"],
            pin=person["pin"],
            cards=[person["card"]],
            groups=person["groups"],
            restricted=person["restricted"],
        ),
    )
    if person["balance"]:
        account = users.personal_account(session, row.id)
        txn = Transaction(new_id(), account.id, person["balance"], TransactionKind.TOP_UP,
                          reference="demo", comment="initial credit")  # fmt: skip
        ledger.apply_transaction(session, txn)


def _seed_accounts(session: Any) -> None:
    accounts.create_shared(
        session,
        "Research",
        accounts.SharedAccountChanges(groups=["research"], code="100", restricted=False),
    )
    accounts.create_shared(
        session,
        "Research-Lab",
        accounts.SharedAccountChanges(parent="Research", code="101", restricted=False),
    )


def _seed_printers(session: Any) -> None:
    colour_model = {"sizes": {"A4": A4_PRICES, "letter": LETTER_PRICES}, "base_cost": 0,
                    "group_modifiers": {"staff": -5000}}  # fmt: skip
    mono_prices = {"grey_simplex": 8, "grey_duplex": 6, "colour_simplex": 8, "colour_duplex": 6}
    mono_model = {"sizes": {"default": mono_prices}, "base_cost": 0, "group_modifiers": {}}
    for site in SITES:
        where = {"location": site.location, "site": site.name}
        for name, colour in site.printers.items():
            model = colour_model if colour else mono_model
            rules = ASKING_PRINTERS.get(name, {})
            fields = {**where, "colour": colour, "cost_model": model, "client_rules": rules}
            printers.save_printer(session, name, fields, create=True)
        for name, printer in site.devices.items():
            model = colour_model if site.printers[printer] else mono_model
            printers.save_device(
                session, name, {**where, "kind": "mfd", "printer": printer,
                                "cost_model": model}, create=True)  # fmt: skip


def _seed_site(session: Any, name: str, description: str) -> str:
    """A site on the App Server; returns the token its Site Server uses."""
    sites.create_site(session, name, description)
    token, _ = tokens.issue_token(session, Role.SITE, name=f"site {name}", scope=name)
    return token


def _announce_when_ready(manifest: dict[str, Any], path: Path, demo_sites: DemoSites) -> None:
    try:
        _start_sites(manifest, demo_sites)
    except DemoStopping:
        return  # stopped while starting: no manifest, no welcome
    write_token_files(manifest, path.parent / TOKENS_DIR)
    temporary = write_private(path.with_suffix(".tmp"), json.dumps(manifest, indent=2))
    temporary.replace(path)
    _print_welcome(manifest, path)


def write_token_files(manifest: dict[str, Any], folder: Path) -> None:
    """The admin's and each device's token as 0600 files, for the commands the welcome
    shows (``--token-file``, ``curl -H @FILE``): a token on a command line is seen by
    ``ps``."""
    private_dir(folder)
    write_private(folder / "admin.token", manifest["admin_token"] + "\n")
    write_private(folder / "admin.header", f"Authorization: Bearer {manifest['admin_token']}\n")
    for name, device in (manifest.get("devices") or {}).items():
        write_private(folder / f"{name}.token", device["token"] + "\n")


def _start_sites(manifest: dict[str, Any], demo_sites: DemoSites) -> None:
    """Once the App Server answers, start the sites and add them to the manifest."""
    url = f"{manifest['app_url']}/api/v1/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not demo_sites.stopping.is_set():
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    for attempt in (1, 2):
        try:
            demo_sites.start()
        except DemoStopping:
            raise
        except Exception as exc:  # the App Server keeps running; say what went wrong
            print(f"demo: the sites did not start (attempt {attempt}): {exc}", flush=True)
            demo_sites.stop_processes()
            time.sleep(1.0)
        else:
            late = demo_sites.wait_ready(manifest["app_url"], manifest["admin_token"])
            if demo_sites.stopping.is_set():
                raise DemoStopping("the demo is stopping")
            if late:
                print(f"demo: not yet online at the App Server: {', '.join(late)}", flush=True)
            manifest.update(demo_sites.manifest())
            return


def _print_lines(manifest: dict[str, Any], tokens_dir: Path) -> list[str]:
    queues = manifest.get("queues")
    if not queues:
        return []
    ports = {name: site["provider"]["port"] for name, site in manifest["sites"].items()}
    person = manifest["users"][0]["username"]
    lines = [f"  Queue {name + ':':14} {queue['ipp_uri']} ({queue['kind']}, {queue['site']})"
             for name, queue in queues.items()]  # fmt: skip
    port = ports[queues["direct-colour"]["site"]]
    lines.append(f"  Print:         lp -h 127.0.0.1:{port} -d direct-colour -U {person} FILE")
    lines.append(f"  Jobs:          lpstat -h 127.0.0.1:{port} -W all -o")
    if manifest.get("tls_ca"):
        lines.append(
            f"  TLS:           each queue's ipps_uri in demo.json; trust {manifest['tls_ca']}"
        )
    bus = manifest.get("mdns", {}).get("dbus_address")
    if bus:
        lines.append(f"  Discovery:     DBUS_SYSTEM_BUS_ADDRESS={bus} avahi-browse -t _ipp._tcp")
    unicast = manifest.get("dns_sd")
    if unicast:
        host, port = unicast["server"].rsplit(":", 1)
        lines.append(f"  DNS-SD zone:   dig @{host} -p {port} PTR _ipp._tcp.{unicast['domain']}")
    lines += _release_lines(manifest, ports, tokens_dir)
    lines += _mobile_print_lines(manifest)
    lines += _user_client_lines(manifest, ports)
    lines += _scan_lines(manifest, tokens_dir)
    for name, printer in manifest["printers"].items():
        lines.append(f"  Printer {name + ':':12} received documents in {printer['received_dir']}")
    return lines


def _user_client_lines(manifest: dict[str, Any], ports: dict[str, int]) -> list[str]:
    """The queues whose printers ask before printing, and where the questions are answered."""
    asking = {name: queue for name, queue in manifest["queues"].items()
              if queue.get("confirm") or queue.get("account_selection")}  # fmt: skip
    if not asking:
        return []
    person = manifest["users"][0]["username"]
    lines = []
    for name, queue in asking.items():
        what = "confirm the cost" if queue.get("confirm") else "choose an account"
        port = ports[queue["site"]]
        lines.append(f"  Asks first:    lp -h 127.0.0.1:{port} -d {name} -U {person} FILE "
                     f"({what})")  # fmt: skip
    client = f"printwarden client --server {manifest['app_url']} --user {person}"
    lines.append(f"  User Client:   {client}   (--tui in a terminal; or the portal's Questions)")
    return lines


def _mobile_print_lines(manifest: dict[str, Any]) -> list[str]:
    """Web Print at a site's portal, and Email to Print to a queue's address there."""
    queue = manifest["queues"].get("findme")
    if queue is None or "email" not in queue:
        return []
    person = manifest["users"][0]
    site = manifest["sites"][queue["site"]]
    trusted = f"Authentication-Results: {DEMO_RELAY}; dmarc=pass header.from=example.org"
    return [
        f"  Web Print:     {site['url']}/web/portal/web-print (or {manifest['app_url']}"
        "/web/portal/web-print)",
        f"  Email:         swaks --server 127.0.0.1:{site['smtp']['port']} --to {queue['email']}"
        f" --from {person['email']} --attach @FILE --add-header '{trusted}'",
        f"  Mail replies:  {manifest['mail_sink']}/new (the demo's smarthost)",
    ]


def _scan_lines(manifest: dict[str, Any], tokens_dir: Path) -> list[str]:
    """Integrated Scanning: at a device (the simulator) and at a network scanner (portal)."""
    devices = manifest.get("devices") or {}
    if not devices or not manifest.get("scan_actions"):
        return []
    name, device = next(iter(devices.items()))
    person = manifest["users"][0]
    site = manifest["sites"][device["site"]]
    return [
        f"  Scan:          printwarden device simulate --server {site['url']} --token-file "
        f"{tokens_dir / (name + '.token')} --card {person['card']} scan --action "
        f"'{demo_scanning.EMAIL_ACTION}' --pages 3 --wait 30",
        f"  Scan (eSCL):   {site['url']}/web/portal/scan   (each device has a simulated "
        "network scanner: escl_url in demo.json)",
        f"  Scans go to:   {manifest['mail_sink']}/new, {manifest['scan_homes']}/<user>, "
        f"{manifest['scan_share']}",
    ]


def _release_lines(manifest: dict[str, Any], ports: dict[str, int], tokens_dir: Path) -> list[str]:
    """Find-Me: print to the virtual queue, then release at a device of its site with a card
    swipe (the device talks to its Site Server)."""
    queue = manifest["queues"].get("findme")
    devices = {name: device for name, device in (manifest.get("devices") or {}).items()
               if queue is not None and device.get("site") == queue["site"]}  # fmt: skip
    if queue is None or not devices:
        return []
    person = manifest["users"][0]
    name, device = next(iter(devices.items()))
    site_url = manifest["sites"][queue["site"]]["url"]
    token_file = tokens_dir / f"{name}.token"
    return [
        f"  Find-Me:       lp -h 127.0.0.1:{ports[queue['site']]} -d findme "
        f"-U {person['username']} FILE",
        f"  Release it:    printwarden device simulate --server {site_url} "
        f"--token-file {token_file} --card {person['card']} release-all",
        f"                 (at {name}, which prints on {device['printer']})",
    ]


def _site_lines(manifest: dict[str, Any], path: Path) -> list[str]:
    """Each site, and how to cut its link to the App Server and watch it work offline."""
    found = manifest.get("sites")
    if not found:
        return []
    data_dir = path.parent
    lines = [
        f"  Site {name + ':':9} {site['url']}  (status: {site['status_url']}, "
        f"link to the App Server: 127.0.0.1:{site['link']['port']})"
        for name, site in found.items()
    ]
    first = next(iter(found))
    lines += [
        f"  Cut a link:    printwarden demo link down {first} --data-dir {data_dir}"
        f"   ({first} goes offline and keeps printing)",
        f"  Restore it:    printwarden demo link up {first} --data-dir {data_dir}"
        "   (it reconciles, then is online again)",
        f"  Site portal:   {found[first]['url']}/web/   (the user portal, served by the site "
        "even while its link is down)",
        f"  Site status:   printwarden admin site status --server {manifest['app_url']} "
        f"--token-file {data_dir / TOKENS_DIR / 'admin.token'}",
        f"                 curl {found[first]['status_url']}   (the site's own view)",
    ]
    return lines


def _first_user(manifest: dict[str, Any]) -> str:
    users = manifest.get("users") or []
    if not users:
        return "none"
    return f"{users[0]['username']} / {users[0]['password']}"


def _host_port(manifest: dict[str, Any]) -> str:
    """The pay station's acceptor control socket as ``nc`` takes it (``host port``)."""
    return str(manifest["kiosk"]["acceptor_control"]).replace(":", " ")


def _print_welcome(manifest: dict[str, Any], path: Path) -> None:
    app_url = manifest["app_url"]
    tokens_dir = path.parent / TOKENS_DIR
    admin = manifest["admin"]
    lines = [
        "",
        "printwarden demo is running (Ctrl-C stops it)",
        f"  App Server:    {app_url}/api/v1/health",
        f"  API docs:      {app_url}/docs   (OpenAPI: {app_url}/openapi.json)",
        f"  Admin login:   {admin['username']} / {admin['password']}",
        f"  Web console:   {app_url}/web/   (log in as the admin above, or as a user: "
        f"{_first_user(manifest)})",
        f"  Admin token:   {manifest['admin_token']}   (also in {tokens_dir / 'admin.token'})",
        f"  Try:           curl -H @{tokens_dir / 'admin.header'} {app_url}/api/v1/users",
        *_print_lines(manifest, tokens_dir),
        *_site_lines(manifest, path),
        f"  Pay station:   {manifest['kiosk_url'].split('#')[0]}   (kiosk_url in the manifest "
        "has its token; swipe card 1001 there)",
        f"  Insert a note: echo 'insert 500' | nc {_host_port(manifest)}   (the simulated "
        "acceptor; a real bridge process credits it)",
        f"  Add credit:    {app_url}/web/portal/credit   (top-up cards: topup_cards in the "
        "manifest; online payments through the simulated gateways)",
        f"  Manifest:      {path}",
        "",
    ]
    print("\n".join(lines), flush=True)
