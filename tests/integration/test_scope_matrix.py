"""Each component credential reaches only its own scope, on a real App Server (both backends).

``test_authz_matrix.py`` checks every route against every role. This is its other half: a
site, provider or device token used against another site's, provider's or device's things —
including a site's journal with forged entries — is refused, and nothing changes. Two sites
(north and south) each have a printer, a provider and a device; the cases below are written
by hand from what each component may do, and every route a component role may call has a
case or a stated reason why it has no scope to cross.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.testing.inprocess import InProcessAppServer
from support.seeding import PRICES

PROBLEM_JSON = "application/problem+json"
CARD = "SCOPE-CARD-1"
START_BALANCE = 1_000
SCAN_ACTION = "Scan to my email"

# Routes a component role may call that have no other site, provider or device to reach:
# reading the registry (every component sees printers and devices, as a driver would) and the
# open routes. Every other component route needs a case in CASES.
NO_SCOPE = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/printers"),
    ("GET", "/api/v1/printers/{name}"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/devices/{name}"),
    ("GET", "/api/v1/device"),  # the token's own device, by construction
    ("POST", "/api/v1/device/sessions"),  # logs in at the token's own device
    ("POST", "/api/v1/device/register"),  # a report: test_a_device_cannot_re_point_itself
    ("POST", "/api/v1/auth/device"),  # test_a_provider_learns_no_owner_of_a_card_seen_elsewhere
    # Whether a user name prints, or whose a print URL is: people are everyone's, not a site's
    # (a token is 256 random bits: nothing to guess).
    ("POST", "/api/v1/jobs/submitter"),
    # A kiosk's own state and cash: the token's own device, by construction; an insertion
    # names a session, which must be one of this kiosk's (tests/integration/test_topup_cards).
    ("GET", "/api/v1/device/kiosk"),
    ("POST", "/api/v1/device/kiosk/insertions"),
    # A gateway's notification carries no token: its signature is the proof.
    ("POST", "/api/v1/payments/{gateway}/notify"),
}


@dataclass
class World:
    """Two sites' components on one App Server, and a person with a card."""

    app: InProcessAppServer
    admin: httpx.Client
    north: str
    south: str
    tokens: dict[str, str]  # site-north, site-south, provider-north, …, device-south
    names: dict[str, str]  # printer-north, provider-south, device-north, …
    person: str
    account_id: int
    held_job: str  # at the south provider
    south_session: str  # the person logged in at the south device
    south_scan: dict[str, str]  # a scan the person started there: its id and upload token

    def client(self, who: str) -> httpx.Client:
        return self.app.client(self.tokens[who])

    def balance(self) -> int:
        found: int = self.admin.get(f"/users/{self.person}").json()["balance"]
        return found


@pytest.fixture(scope="module")
def world(app_server: InProcessAppServer) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:6]
    admin_token = app_server.token(Role.ADMIN, f"scope-admin-{suffix}")
    admin = app_server.client(admin_token)
    tokens: dict[str, str] = {}
    names: dict[str, str] = {}
    for side in ("north", "south"):
        site = f"{side}-{suffix}"
        assert admin.post("/sites", json={"name": site}).status_code == 201
        tokens[f"site-{side}"] = app_server.token(Role.SITE, scope=site)
        printer, provider, device = (f"{kind}-{side}-{suffix}" for kind in ("p", "prov", "dev"))
        names |= {f"printer-{side}": printer, f"provider-{side}": provider,
                  f"device-{side}": device, f"site-{side}": site}  # fmt: skip
        model = {"sizes": {"default": PRICES}}
        made = admin.post("/printers", json={"name": printer, "site": site, "cost_model": model})
        assert made.status_code == 201, made.text
        made = admin.post("/devices", json={"name": device, "kind": "mfd", "printer": printer,
                                             "site": site, "cost_model": model})  # fmt: skip
        assert made.status_code == 201, made.text
        tokens[f"provider-{side}"] = _token(admin, {"role": "provider", "name": provider,
                                                    "site": site})  # fmt: skip
        tokens[f"device-{side}"] = _token(admin, {"role": "device", "scope": f"device:{device}"})
        with app_server.client(tokens[f"provider-{side}"]) as as_provider:
            registered = as_provider.post("/providers/register",
                                          json=_registration(provider, printer))  # fmt: skip
        assert registered.status_code == 200, registered.text
    person = f"scope-person-{suffix}"
    made = admin.post("/users", json={"username": person, "cards": [CARD]})
    assert made.status_code == 201, made.text
    account_id = made.json()["account_id"]
    topped = admin.post(f"/accounts/by-id/{account_id}/top-up",
                        json={"amount": START_BALANCE, "txn_id": new_id()})  # fmt: skip
    assert topped.status_code in (200, 201), topped.text
    held_job = str(uuid.uuid4())
    with app_server.client(tokens["provider-south"]) as as_provider:
        reported = as_provider.post(
            "/held-jobs/reports",
            json={"provider": names["provider-south"], "jobs": [_held(held_job, person, names)]},
        )
    assert reported.status_code == 200, reported.text
    assert reported.json()["accepted"] == 1, reported.text
    with app_server.client(tokens["device-south"]) as as_device:
        login = as_device.post("/device/sessions", json={"method": "card", "card_number": CARD})
    assert login.status_code == 201, login.text
    south_scan = _south_scan(app_server, admin, tokens, login.json()["session_id"])
    made_world = World(app_server, admin, names["site-north"], names["site-south"], tokens,
                       names, person, account_id, held_job, login.json()["session_id"],
                       south_scan)  # fmt: skip
    try:
        yield made_world
    finally:
        admin.close()


def _south_scan(
    app: InProcessAppServer, admin: httpx.Client, tokens: dict[str, str], session: str
) -> dict[str, str]:
    action = {"name": SCAN_ACTION, "destination": "email"}
    assert admin.put("/scan-actions", json={"actions": [action]}).status_code == 200
    with app.client(tokens["device-south"]) as as_device:
        started = as_device.post(f"/device/sessions/{session}/scans", json={"action": SCAN_ACTION})
    assert started.status_code == 201, started.text
    return {"id": started.json()["scan_id"], "token": started.json()["upload_token"]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(admin: httpx.Client, body: dict[str, Any]) -> str:
    made = admin.post("/tokens", json=body)
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


def _registration(provider: str, printer: str) -> dict[str, Any]:
    return {
        "name": provider,
        "ipp_url": f"ipp://{provider}:631/ipp/print",
        "control_url": f"http://{provider}:631/control",
        "queues": [{"name": "secure", "kind": "hold", "printer": printer}],
        "printers": [{"name": printer}],
    }


def _held(job_ref: str, person: str, names: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"job_ref": job_ref, "provider_job_id": 1, "queue": "secure", "queue_kind": "hold",
            "username": person, "printer": names["printer-south"], "document_name": "s.pdf",
            "pages": 2, "submitted_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=4)).isoformat()}  # fmt: skip


def _job(world: World, printer: str, **extra: Any) -> dict[str, Any]:
    txn = new_id()
    return {"txn_id": txn, "job_ref": txn, "username": world.person, "printer": printer,
            "pages": 3, **extra}  # fmt: skip


def _printed_entry(world: World, printer: str) -> dict[str, Any]:
    body = _job(world, printer, colour_pages=0, copies=1, cost=30)
    return {"id": new_id(), "kind": "printed", "body": body}


@dataclass(frozen=True)
class Case:
    """``who`` calls ``method path`` (names filled from the world) with ``body``."""

    who: str
    method: str
    path: str
    body: Any = None
    scan_token: bool = False  # with the south scan's upload token (stolen from its device)

    def url(self, world: World) -> str:
        values = {**world.names, "session": world.south_session, "job": world.held_job,
                  "submission": world.held_job, "scan": world.south_scan["id"],
                  "page": 1}  # fmt: skip
        return self.path.format(**values).removeprefix("/api/v1")


def _cases() -> list[Case]:
    site, prov, dev = "site-north", "provider-north", "device-north"
    session = "/api/v1/device/sessions/{session}"
    scan = "/api/v1/device/scans/{scan}"
    return [
        # A site token and another site's things.
        Case(site, "GET", "/api/v1/sites/{site-south}/keys"),
        Case(site, "POST", "/api/v1/sites/{site-south}/status", {"mode": "online"}),
        Case(site, "GET", "/api/v1/sites/{site-south}/changes"),
        Case(site, "POST", "/api/v1/sites/{site-south}/journal", "journal-south"),
        Case(site, "POST", "/api/v1/jobs/printed", "job-south"),
        Case(site, "POST", "/api/v1/jobs/decision", "decision-south"),
        Case(site, "POST", "/api/v1/held-jobs/reports", "held-south"),
        # A provider token and another provider's things.
        Case(prov, "POST", "/api/v1/providers/register", "register-south"),
        Case(prov, "GET", "/api/v1/providers/{provider-south}/orders"),
        Case(prov, "POST", "/api/v1/providers/{provider-south}/orders/results", {"results": []}),
        Case(prov, "GET", "/api/v1/providers/{provider-south}/submissions"),
        Case(prov, "GET", "/api/v1/providers/{provider-south}/submissions/{submission}/document"),
        Case(
            prov, "POST", "/api/v1/providers/{provider-south}/submissions/results", {"results": []}
        ),
        Case(prov, "POST", "/api/v1/held-jobs/reports", "held-south"),
        Case(prov, "POST", "/api/v1/jobs/printed", "job-south"),
        Case(prov, "POST", "/api/v1/jobs/decision", "decision-south"),
        # A device token and another device's session.
        Case(dev, "GET", session),
        Case(dev, "DELETE", session),
        Case(dev, "PUT", session + "/account", {"account": ""}),
        Case(dev, "GET", session + "/jobs"),
        Case(dev, "PATCH", session + "/jobs/{job}", {"copies": 2}),
        Case(dev, "POST", session + "/jobs/{job}/release", {}),
        Case(dev, "POST", session + "/jobs/{job}/cancel", {}),
        Case(dev, "POST", session + "/release-all", {}),
        Case(dev, "GET", session + "/allowance"),
        Case(dev, "POST", session + "/usage", "usage"),
        Case(dev, "POST", session + "/topup-cards/redeem", {"code": "0000-0000-0000-0000"}),
        # A device token and another device's scans, even with their upload token.
        Case(dev, "GET", session + "/scan-actions"),
        Case(dev, "POST", session + "/scans", {"action": SCAN_ACTION}),
        Case(dev, "GET", scan, scan_token=True),
        Case(dev, "PUT", scan + "/pages/{page}", {}, scan_token=True),
        Case(dev, "POST", scan + "/finish", {"pages": 0}, scan_token=True),
        Case(dev, "DELETE", scan, scan_token=True),
    ]


CASES = _cases()


def _body(world: World, body: Any) -> Any:
    names = world.names
    if body == "journal-south":
        return {"entries": [_printed_entry(world, names["printer-south"])]}
    if body == "job-south":
        return _job(world, names["printer-south"])
    if body == "decision-south":
        return {"username": world.person, "printer": names["printer-south"], "pages": 3}
    if body == "held-south":
        return {"provider": names["provider-south"],
                "jobs": [_held(str(uuid.uuid4()), world.person, names)]}  # fmt: skip
    if body == "register-south":
        return _registration(names["provider-south"], names["printer-south"])
    if body == "usage":
        return {"usage_id": new_id(), "kind": "copy", "pages": 5}
    return body


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.who} {c.method} {c.path.removeprefix('/api/v1')}" for c in CASES]
)
def test_a_component_reaches_only_its_own_scope(world: World, case: Case) -> None:
    before = world.balance()
    headers = {"X-Scan-Token": world.south_scan["token"]} if case.scan_token else {}
    with world.client(case.who) as client:
        response = client.request(case.method, case.url(world), json=_body(world, case.body),
                                  headers=headers)  # fmt: skip
    assert response.status_code in (403, 404), response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert world.balance() == before
    held = world.admin.get(f"/held-jobs/{world.held_job}")
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held"
    assert held.json()["copies"] == 1
    with world.client("device-south") as south:
        assert south.get(f"/device/sessions/{world.south_session}").status_code == 200
        scan = south.get(f"/device/scans/{world.south_scan['id']}",
                         headers={"X-Scan-Token": world.south_scan["token"]})  # fmt: skip
        assert scan.status_code == 200, scan.text
        assert scan.json()["stage"] == "scanning"


def _authz_table() -> dict[tuple[str, str], frozenset[str]]:
    """The authz matrix's hand-written table of who may call what."""
    path = Path(__file__).with_name("test_authz_matrix.py")
    spec = importlib.util.spec_from_file_location("authz_matrix_table", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table: dict[tuple[str, str], frozenset[str]] = module.EXPECTED
    return table


def test_every_component_route_has_a_scope_case() -> None:
    components = {"site", "provider", "device"}
    reachable = {route for route, roles in _authz_table().items() if roles & components}
    reachable.discard(("POST", "/api/v1/auth/logout"))  # people only (the matrix says so)
    covered = {(c.method, c.path.replace("{session}", "{session_id}").replace("{job}",
               "{job_ref}").replace("{submission}", "{submission_id}").replace("{scan}",
               "{scan_id}").replace("{page}", "{number}")) for c in CASES}  # fmt: skip
    normalized = {
        (method, path.replace("{site-south}", "{name}").replace("{provider-south}", "{name}"))
        for method, path in covered
    }
    assert reachable - NO_SCOPE <= normalized, sorted(reachable - NO_SCOPE - normalized)


def test_a_sites_forged_journal_entries_are_rejected_and_change_nothing(world: World) -> None:
    """With its own site's token and its own journal route: charges on another site's
    printer and device, a credit dressed as a charge, and a negative script cost."""
    names = world.names
    on_south = _printed_entry(world, names["printer-south"])
    negative_override = _printed_entry(world, names["printer-north"])
    negative_override["body"]["cost_override"] = -5_000
    south_usage = {"usage_id": new_id(), "device": names["device-south"],
                   "username": world.person, "account_id": world.account_id, "kind": "copy",
                   "pages": 1, "cost": 10}  # fmt: skip
    credit = {"usage_id": new_id(), "device": names["device-north"],
              "username": world.person, "account_id": world.account_id, "kind": "copy",
              "pages": 1, "cost": -100_000}  # fmt: skip
    entries = [
        on_south,
        negative_override,
        {"id": new_id(), "kind": "usage", "body": south_usage},
        {"id": new_id(), "kind": "usage", "body": credit},
    ]
    before = world.balance()
    with world.client("site-north") as site:
        answer = site.post(f"/sites/{world.north}/journal", json={"entries": entries})
    assert answer.status_code == 200, answer.text
    rejected = {r["id"]: r["reason"] for r in answer.json()["rejected"]}
    assert set(rejected) == {e["id"] for e in entries}, answer.text
    assert all(reason for reason in rejected.values())
    assert world.balance() == before
    recorded = world.admin.get(f"/sites/{world.north}/rejections").json()
    assert {r["id"]: r["reason"] for r in recorded} == rejected  # HQ's own record
    with world.client("site-north") as site:
        assert site.get(f"/sites/{world.north}/rejections").status_code == 403
    command = [sys.executable, "-m", "printwarden", "admin", "site", "rejections", world.north,
               "--json"]  # fmt: skip
    listed = subprocess.run(command, env=world.app.env(), capture_output=True, text=True,
                            timeout=60, check=True)  # fmt: skip
    assert {r["id"] for r in json.loads(listed.stdout)} == set(rejected)


def test_a_provider_learns_no_owner_of_a_card_seen_elsewhere(world: World) -> None:
    """The person logged in at the south device; the north provider asks whose the card is."""
    with world.client("provider-north") as provider:
        answer = provider.post("/auth/device", json={"method": "card", "card_number": CARD})
    assert answer.status_code in (200, 401, 403, 404), answer.text
    assert world.person not in answer.text
    if answer.status_code == 200:
        assert answer.json()["authenticated"] is False


def test_a_device_cannot_re_point_itself(world: World) -> None:
    device = world.names["device-north"]
    with world.client("device-north") as client:
        answer = client.post(
            "/device/register",
            json={"printer": world.names["printer-south"], "login_methods": ["password"]},
        )
    assert answer.status_code == 200, answer.text
    stored = world.admin.get(f"/devices/{device}").json()
    assert stored["printer"] == world.names["printer-north"]
    with world.client("device-north") as client:
        assert client.get("/device").json()["login_methods"] != ["password"]
