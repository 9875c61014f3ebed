"""Each component token acts as one component, bound when it is made; only an administrator
changes what a component is (a real App Server, on SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx

from printwarden.domain.accounts import Role
from printwarden.store import tokens
from printwarden.store.models import ApiTokenRow
from printwarden.testing.inprocess import InProcessAppServer
from support.seeding import PRICES

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def provider_token(admin: httpx.Client, name: str, site: str | None = None) -> str:
    body: dict[str, Any] = {"role": "provider", "name": name}
    if site is not None:
        body["site"] = site
    made = admin.post("/tokens", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["scope"] == f"provider:{name}"
    assert made.json()["site"] == site
    token: str = made.json()["token"]
    return token


def register(
    anonymous: httpx.Client, token: str, name: str, printers: tuple[str, ...] = (), **urls: str
) -> httpx.Response:
    body = {
        "name": name,
        "ipp_url": urls.get("ipp_url", f"ipp://{name}:631/ipp/print"),
        "control_url": urls.get("control_url", f"http://{name}:631/control"),
        "queues": [{"name": "q", "kind": "direct", "printer": p} for p in printers[:1]],
        "printers": [{"name": p} for p in printers],
    }
    return anonymous.post("/providers/register", json=body, headers=bearer(token))


def listed(admin: httpx.Client, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in admin.get("/providers").json() if p["name"] == name)
    return found


def test_a_provider_token_cannot_act_as_another_provider(
    admin: httpx.Client, anonymous: httpx.Client, unique: Callable[[str], str]
) -> None:
    mine, theirs = unique("mine"), unique("theirs")
    my_token = provider_token(admin, mine)
    their_token = provider_token(admin, theirs)
    assert register(anonymous, their_token, theirs).status_code == 200
    assert register(anonymous, my_token, mine).status_code == 200
    before = listed(admin, theirs)

    hijack = register(
        anonymous,
        my_token,
        theirs,
        ipp_url="ipp://evil:631/ipp/print",
        control_url="http://evil:631/control",
    )

    assert_problem(hijack, 403)
    assert listed(admin, theirs) == before
    mine_bearer = bearer(my_token)
    assert_problem(anonymous.get(f"/providers/{theirs}/orders", headers=mine_bearer), 403)
    results = {"results": [{"order_id": "x", "job_ref": "y", "outcome": "done"}]}
    answer = anonymous.post(f"/providers/{theirs}/orders/results", json=results,
                            headers=mine_bearer)  # fmt: skip
    assert_problem(answer, 403)
    reports = {"provider": theirs, "jobs": []}
    assert_problem(anonymous.post("/held-jobs/reports", json=reports, headers=mine_bearer), 403)
    own = anonymous.get(f"/providers/{mine}/orders", headers=mine_bearer)
    assert own.status_code == 200, own.text
    assert own.json() == {"orders": []}


def test_component_tokens_are_bound_when_made(
    admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    refused = [
        {"role": "provider"},  # a provider token for no provider
        {"role": "provider", "name": unique("p"), "scope": "provider:someone-else"},
        {"role": "provider", "name": unique("p"), "site": "no-such-site"},
        {"role": "device"},  # a device token for no device
        {"role": "device", "scope": f"device:{unique('missing')}"},
        {"role": "device", "scope": "device:x", "site": "north"},
    ]
    for body in refused:
        assert_problem(admin.post("/tokens", json=body), 422)
    site = unique("site")
    assert admin.post("/sites", json={"name": site}).status_code == 201
    provider_token(admin, unique("p"), site)


def test_the_command_line_binds_provider_tokens_too(
    app_server: InProcessAppServer, unique: Callable[[str], str]
) -> None:
    def create(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "printwarden", "admin", "token", "create", *args]
        return subprocess.run(command, env=app_server.env(), capture_output=True, text=True,
                               timeout=120, check=False)  # fmt: skip

    assert create("--role", "provider").returncode == 1
    assert create("--role", "provider", "--name", "p", "--site", "nowhere").returncode == 1
    name = unique("cli-provider")
    made = create("--role", "provider", "--name", name)
    assert made.returncode == 0, made.stdout + made.stderr
    database = app_server.database()
    try:
        with database.read() as session:
            caller = tokens.resolve_token(session, made.stdout.strip())
    finally:
        database.dispose()
    assert caller is not None
    assert (caller.role, caller.scope) == (Role.PROVIDER, f"provider:{name}")


def test_an_older_unbound_token_is_bound_at_its_first_registration(
    app_server: InProcessAppServer, anonymous: httpx.Client, unique: Callable[[str], str]
) -> None:
    older = app_server.token(Role.PROVIDER)  # as made before tokens were bound
    another_older = app_server.token(Role.PROVIDER)
    name = unique("legacy")

    assert register(anonymous, older, name).status_code == 200

    assert_problem(register(anonymous, older, unique("elsewhere")), 403)
    assert_problem(register(anonymous, another_older, name), 403)  # the name is taken
    assert register(anonymous, older, name).status_code == 200
    assert anonymous.get(f"/providers/{name}/orders", headers=bearer(older)).status_code == 200
    database = app_server.database()
    try:
        with database.read() as session:
            caller = tokens.resolve_token(session, older)
            assert caller is not None
            row = session.get(ApiTokenRow, caller.token_id)
            assert row is not None
            assert row.scope == f"provider:{name}"
            assert row.change_seq > 0  # so that sites learn the binding
    finally:
        database.dispose()


def test_a_provider_of_one_site_may_not_claim_another_sites_printers(
    admin: httpx.Client, anonymous: httpx.Client, unique: Callable[[str], str]
) -> None:
    here, there = unique("here"), unique("there")
    for site in (here, there):
        assert admin.post("/sites", json={"name": site}).status_code == 201
    ours, theirs, shared = unique("ours"), unique("theirs"), unique("shared")
    for printer, site in ((ours, here), (theirs, there), (shared, "")):
        body = {"name": printer, "site": site, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201, printer
    name = unique("provider")
    token = provider_token(admin, name, here)

    answer = register(anonymous, token, name, (ours, theirs, shared, "ghost"))

    assert answer.status_code == 200, answer.text
    assert [p["name"] for p in answer.json()["refused_printers"]] == [theirs]
    assert there in answer.json()["refused_printers"][0]["reason"]
    assert answer.json()["unknown_printers"] == ["ghost"]
    recorded = {p["name"] for p in listed(admin, name)["printers"]}
    assert recorded == {ours, shared, "ghost"}


def test_a_device_reports_what_it_is_and_changes_nothing(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    here, elsewhere = unique("dev-printer"), unique("other-site-printer")
    site = unique("other")
    assert admin.post("/sites", json={"name": site}).status_code == 201
    for printer, at in ((here, ""), (elsewhere, site)):
        body = {"name": printer, "site": at, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
    device = unique("mfd")
    token = app_server.device_token(device, here, login_methods=["card"])
    with app_server.client(token) as client:
        claimed = {"kind": "terminal", "printer": elsewhere, "login_methods": ["password"]}

        answer = client.post("/device/register", json=claimed)

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["kind"], body["printer"], body["login_methods"]) == ("mfd", here, ["card"])
        assert body["differs"] == ["kind", "login_methods", "printer"]
        assert client.get("/device").json()["printer"] == here
        login = {"method": "password", "username": "nobody", "password": "x"}
        assert_problem(client.post("/device/sessions", json=login), 403)  # not allowed here
        same = client.post("/device/register", json={"kind": "mfd", "printer": here})
        assert same.json()["differs"] == []
    configured = admin.get(f"/devices/{device}").json()
    assert (configured["printer"], configured["login_methods"]) == (here, ["card"])
    changed = admin.patch(f"/devices/{device}", json={"login_methods": ["password", "card"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["login_methods"] == ["card", "password"]
