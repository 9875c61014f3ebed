"""``printwarden demo``: the whole system on SQLite with sample data, in the foreground."""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from printwarden.config import Settings
from printwarden.demo_provider import PROVIDER_PORT_OFFSET, DemoPrintSide
from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.service.app import create_app
from printwarden.store import accounts, groups, ledger, printers, tokens, users
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade

A4_PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
LETTER_PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
DEMO_DEVICES = {"library-mfd": "colour-laser", "library-mono-mfd": "mono-laser"}
SAMPLE_USERS: list[dict[str, Any]] = [
    {"username": "alice", "full_name": "Alice Archer", "groups": ["students"], "card": "1001",
     "pin": "1234", "restricted": True, "balance": 500},
    {"username": "bob", "full_name": "Bob Baker", "groups": ["staff"], "card": "1002",
     "pin": "2345", "restricted": False, "balance": 0},
    {"username": "carol", "full_name": "Carol Chen", "groups": ["students", "research"],
     "card": "1003", "pin": "3456", "restricted": True, "balance": 200},
]  # fmt: skip


def run_demo(data_dir: Path, port_base: int) -> None:
    """Seed a fresh demo database, serve the App Server, write ``demo.json`` once it answers."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = data_dir / "demo.json"
    manifest_path.unlink(missing_ok=True)
    database_file = data_dir / "printwarden.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_file}{suffix}").unlink(missing_ok=True)
    settings = Settings(
        data_dir=data_dir, database_url=f"sqlite:///{database_file}", port=port_base
    )
    upgrade(settings.resolved_database_url())
    database = Database(settings.resolved_database_url())
    manifest = seed(database, settings.resolved_secret())
    manifest["app_url"] = f"http://127.0.0.1:{port_base}"
    manifest["database_url"] = settings.resolved_database_url()
    print_side = DemoPrintSide(
        data_dir, manifest["app_url"], manifest["provider_token"], port_base + PROVIDER_PORT_OFFSET
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database), host="127.0.0.1", port=port_base, log_level="warning"
        )
    )
    threading.Thread(
        target=_announce_when_ready, args=(manifest, manifest_path, print_side), daemon=True
    ).start()
    # uvicorn re-raises the signal that stopped it; SIGTERM's default action would end the
    # process before the printers and the provider are stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run()
    finally:
        print_side.stop()


def _exit_on_sigterm(_signal: int, _frame: object) -> None:
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
        _seed_accounts(session)
        _seed_printers(session)
        admin_token, _ = tokens.issue_token(
            session, Role.ADMIN, name="demo", user_id=admin.id, lifetime=timedelta(days=30)
        )
        provider_token, _ = tokens.issue_token(session, Role.PROVIDER, name="demo provider")
        device_token, _ = tokens.issue_token(session, Role.DEVICE, name="demo device")
        devices = {
            name: {
                "token": tokens.issue_token(
                    session, Role.DEVICE, name=name, scope=f"device:{name}"
                )[0],
                "printer": printer,
            }
            for name, printer in DEMO_DEVICES.items()
        }
    return {
        "admin": {"username": "admin", "password": admin_password},
        "admin_token": admin_token,
        "provider_token": provider_token,
        "device_token": device_token,
        "devices": devices,
        "users": [
            {k: p[k] for k in ("username", "password", "card", "pin", "full_name")} for p in people
        ],
    }


def _seed_user(session: Any, secret: bytes, person: dict[str, Any]) -> None:
    row = users.create_user(
        session,
        secret,
        person["username"],
        users.UserChanges(
            full_name=person["full_name"],
            email=f"{person['username']}@example.org",
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
    printers.save_printer(
        session, "colour-laser", {"location": "Library", "colour": True,
                                  "cost_model": colour_model}, create=True)  # fmt: skip
    printers.save_printer(
        session, "mono-laser", {"location": "Library", "colour": False,
                                "cost_model": mono_model}, create=True)  # fmt: skip
    for name, printer in DEMO_DEVICES.items():
        model = colour_model if printer == "colour-laser" else mono_model
        printers.save_device(
            session, name, {"kind": "mfd", "printer": printer, "location": "Library",
                            "cost_model": model}, create=True)  # fmt: skip


def _announce_when_ready(manifest: dict[str, Any], path: Path, print_side: DemoPrintSide) -> None:
    url = f"{manifest['app_url']}/api/v1/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    for attempt in (1, 2):
        try:
            print_side.start()
        except Exception as exc:  # the App Server keeps running; say what went wrong
            print(f"demo: the print side did not start (attempt {attempt}): {exc}", flush=True)
            print_side.stop()
            time.sleep(1.0)
        else:
            manifest.update(print_side.manifest())
            break
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(manifest, indent=2))
    os.chmod(temporary, 0o600)
    temporary.replace(path)
    _print_welcome(manifest, path)


def _print_lines(manifest: dict[str, Any]) -> list[str]:
    queues = manifest.get("queues")
    if not queues:
        return []
    port = manifest["provider"]["port"]
    person = manifest["users"][0]["username"]
    lines = [f"  Queue {name + ':':14} {queue['ipp_uri']} ({queue['kind']})"
             for name, queue in queues.items()]  # fmt: skip
    lines.append(f"  Print:         lp -h 127.0.0.1:{port} -d direct-colour -U {person} FILE")
    lines.append(f"  Jobs:          lpstat -h 127.0.0.1:{port} -W all -o")
    lines += _release_lines(manifest, port)
    for name, printer in manifest["printers"].items():
        lines.append(f"  Printer {name + ':':12} received documents in {printer['received_dir']}")
    return lines


def _release_lines(manifest: dict[str, Any], port: int) -> list[str]:
    """Find-Me: print to the virtual queue, then release at a device with a card swipe."""
    devices = manifest.get("devices") or {}
    if "findme" not in manifest["queues"] or not devices:
        return []
    person = manifest["users"][0]
    name, device = next(iter(devices.items()))
    return [
        f"  Find-Me:       lp -h 127.0.0.1:{port} -d findme -U {person['username']} FILE",
        f"  Release it:    printwarden device simulate --server {manifest['app_url']} "
        f"--token {device['token']} --card {person['card']} release-all",
        f"                 (at {name}, which prints on {device['printer']})",
    ]


def _print_welcome(manifest: dict[str, Any], path: Path) -> None:
    app_url = manifest["app_url"]
    admin = manifest["admin"]
    lines = [
        "",
        "printwarden demo is running (Ctrl-C stops it)",
        f"  App Server:    {app_url}/api/v1/health",
        f"  API docs:      {app_url}/docs   (OpenAPI: {app_url}/openapi.json)",
        f"  Admin login:   {admin['username']} / {admin['password']}",
        f"  Admin token:   {manifest['admin_token']}",
        f"  Try:           curl -H 'Authorization: Bearer {manifest['admin_token']}' "
        f"{app_url}/api/v1/users",
        *_print_lines(manifest),
        f"  Manifest:      {path}",
        "",
    ]
    print("\n".join(lines), flush=True)
