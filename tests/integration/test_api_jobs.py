"""Printers, devices, device logins, job decisions and charging printed jobs over real HTTP."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.testing.inprocess import InProcessAppServer
from support.seeding import NO_POLICY

Unique = Callable[[str], str]

# A4: grey 10, colour 50 a page (duplex 8 and 40); any other size: 3 a page
PRICES = {
    "sizes": {
        "A4": {"grey_simplex": 10, "colour_simplex": 50, "grey_duplex": 8, "colour_duplex": 40},
        "default": {"grey_simplex": 3, "colour_simplex": 3},
    }
}
# 3 pages of which 1 in colour, 2 copies: 2 * (50 + 2 * 10) = 140
JOB = {"pages": 3, "colour_pages": 1, "copies": 2}
JOB_COST = 140


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def txn() -> str:
    return str(uuid.uuid4())


def new_user(admin: httpx.Client, username: str, balance: int = 0, **fields: Any) -> int:
    """Create a user with ``balance`` on their personal account; return that account's id."""
    account: int = ok(admin.post("/users", json={"username": username, **fields}), 201)[
        "account_id"
    ]
    if balance:
        top_up = {"txn_id": txn(), "amount": balance}
        ok(admin.post(f"/accounts/by-id/{account}/top-up", json=top_up))
    return account


def new_printer(admin: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    return ok(admin.post("/printers", json={"name": name, "cost_model": PRICES, **fields}), 201)


def decide(client: httpx.Client, username: str, printer: str, **job: Any) -> httpx.Response:
    return client.post("/jobs/decision", json={"username": username, "printer": printer, **job})


def printed(client: httpx.Client, username: str, printer: str, **job: Any) -> httpx.Response:
    body = {"txn_id": txn(), "job_ref": f"job-{uuid.uuid4().hex}", **JOB, **job}
    return client.post("/jobs/printed", json={"username": username, "printer": printer, **body})


def balance(admin: httpx.Client, username: str) -> int:
    value: int = ok(admin.get(f"/users/{username}"))["balance"]
    return value


def ledger(admin: httpx.Client, account_id: int) -> list[dict[str, Any]]:
    return ok_list(admin.get("/transactions", params={"account_id": account_id}))


@pytest.fixture
def site(app_server: InProcessAppServer) -> Iterator[httpx.Client]:
    """A client with the token of site ``north``."""
    token = app_server.token(Role.SITE, scope="north")
    with app_server.client(token) as client:
        yield client


# --- printers and devices ---------------------------------------------------------------------


def test_printer_registry(
    admin: httpx.Client,
    provider: httpx.Client,
    device: httpx.Client,
    anonymous: httpx.Client,
    unique: Unique,
) -> None:
    name = unique("laser")
    created = new_printer(admin, name, location="Room 1", colour=False)
    assert (created["name"], created["location"], created["colour"]) == (name, "Room 1", False)
    assert (created["enabled"], created["hold_for_release"]) == (True, False)
    assert created["cost_model"]["sizes"]["A4"] == PRICES["sizes"]["A4"]
    assert created["cost_model"]["sizes"]["default"] == {
        "grey_simplex": 3,
        "grey_duplex": 0,
        "colour_simplex": 3,
        "colour_duplex": 0,
    }
    assert (created["cost_model"]["base_cost"], created["cost_model"]["group_modifiers"]) == (
        0,
        {},
    )
    assert ok(admin.get(f"/printers/{name}")) == created
    assert name in {p["name"] for p in ok_list(provider.get("/printers"))}
    assert ok(device.get(f"/printers/{name}"))["id"] == created["id"]
    problem(anonymous.get("/printers"), 401)
    problem(provider.post("/printers", json={"name": unique("rogue")}), 403)
    problem(admin.post("/printers", json={"name": name}), 409)

    patched = ok(
        admin.patch(
            f"/printers/{name}",
            json={"hold_for_release": True, "cost_model": {"base_cost": 5}},
        )
    )
    assert patched["hold_for_release"] is True
    assert patched["location"] == "Room 1"
    assert patched["cost_model"] == {"sizes": {}, "base_cost": 5, "group_modifiers": {}}
    assert patched["change_seq"] > created["change_seq"]
    problem(admin.patch(f"/printers/{unique('nope')}", json={"enabled": False}), 404)

    assert admin.delete(f"/printers/{name}").status_code == 204
    problem(admin.get(f"/printers/{name}"), 404)
    assert name not in {p["name"] for p in ok_list(provider.get("/printers"))}
    problem(admin.delete(f"/printers/{name}"), 404)
    assert new_printer(admin, name)["cost_model"]["sizes"]["A4"]["colour_simplex"] == 50


def test_device_registry(admin: httpx.Client, provider: httpx.Client, unique: Unique) -> None:
    printer, name = unique("mfd-printer"), unique("mfd")
    new_printer(admin, printer)
    created = ok(
        admin.post("/devices", json={"name": name, "kind": "mfd", "printer": printer}), 201
    )
    assert (created["kind"], created["printer"], created["enabled"]) == ("mfd", printer, True)
    assert created["cost_model"] == {}  # no prices of its own
    devices = {d["name"]: d for d in ok_list(provider.get("/devices"))}
    assert devices[name] == created

    problem(admin.post("/devices", json={"name": unique("t"), "kind": "toaster"}), 422)
    problem(admin.post("/devices", json={"name": unique("t")}), 422)
    orphan = {"name": unique("t"), "kind": "mfd", "printer": unique("none")}
    problem(admin.post("/devices", json=orphan), 404)
    problem(admin.post("/devices", json={"name": name, "kind": "terminal"}), 409)
    problem(admin.patch(f"/devices/{name}", json={"kind": "fax-machine"}), 422)

    patched = ok(admin.patch(f"/devices/{name}", json={"kind": "release-station", "printer": ""}))
    assert (patched["kind"], patched["printer"]) == ("release-station", None)
    assert ok(admin.get(f"/devices/{name}")) == patched

    assert admin.delete(f"/devices/{name}").status_code == 204
    problem(admin.get(f"/devices/{name}"), 404)
    assert name not in {d["name"] for d in ok_list(provider.get("/devices"))}


# --- job decisions ----------------------------------------------------------------------------


def test_decision_cost_and_credit_boundary(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    printer, name = unique("p"), unique("u")
    new_printer(admin, printer)
    account = new_user(admin, name, balance=100, credit_limit=JOB_COST - 100)

    allowed = ok(decide(provider, name, printer, **JOB))
    assert allowed == {
        "verdict": "allow",
        "cost": JOB_COST,  # exactly balance + credit limit: allowed
        "reason": "",
        "account_id": account,
        "account": name,
        "balance": 100,
        **NO_POLICY,  # no filter or script is set: nothing converted, no policy step
    }

    ok(admin.patch(f"/users/{name}", json={"credit_limit": JOB_COST - 101}))
    denied = ok(decide(provider, name, printer, **JOB))
    assert (denied["verdict"], denied["cost"], denied["balance"]) == ("deny", JOB_COST, 100)
    assert denied["reason"].startswith("insufficient credit")
    assert denied["denied_by"] == "credit"

    ok(admin.patch(f"/users/{name}", json={"restricted": False}))
    assert ok(decide(provider, name, printer, **JOB))["verdict"] == "allow"
    assert balance(admin, name) == 100  # deciding charges nothing
    assert len(ledger(admin, account)) == 1


@pytest.mark.parametrize(
    ("job", "cost"),
    [
        ({"pages": 3, "colour_pages": 1, "duplex": True}, 40 + 2 * 8),
        ({"pages": 2, "paper_size": "a4"}, 20),  # sizes match case-insensitively
        ({"pages": 4, "colour_pages": 4, "paper_size": "letter"}, 12),  # the default size
        ({"pages": None}, 0),  # unknown pages cost the base cost
        ({"pages": 0, "copies": 5}, 0),
    ],
)
def test_decision_prices(
    admin: httpx.Client, provider: httpx.Client, unique: Unique, job: dict[str, Any], cost: int
) -> None:
    printer, name = unique("p"), unique("u")
    new_printer(admin, printer)
    new_user(admin, name, restricted=False)
    decision = ok(decide(provider, name, printer, **job))
    assert (decision["verdict"], decision["cost"]) == ("allow", cost)


def test_decision_hold_disabled_and_discount(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    half, fifth = unique("half"), unique("fifth")
    for group in (half, fifth):
        ok(admin.post("/groups", json={"name": group}), 201)
    model = {**PRICES, "group_modifiers": {half: -5000, fifth: -2000}}
    printer = unique("p")
    ok(admin.post("/printers", json={"name": printer, "cost_model": model}), 201)
    both, one, none = unique("both"), unique("one"), unique("none")
    new_user(admin, both, balance=JOB_COST // 2, groups=[half, fifth])
    new_user(admin, one, balance=1000, groups=[fifth])
    new_user(admin, none, balance=1000)

    cheapest = ok(decide(provider, both, printer, **JOB))
    assert (cheapest["verdict"], cheapest["cost"]) == ("allow", JOB_COST // 2)
    assert ok(decide(provider, one, printer, **JOB))["cost"] == 112
    assert ok(decide(provider, none, printer, **JOB))["cost"] == JOB_COST

    ok(admin.patch(f"/printers/{printer}", json={"hold_for_release": True}))
    held = ok(decide(provider, none, printer, **JOB))
    assert (held["verdict"], held["cost"]) == ("hold", JOB_COST)
    ok(admin.patch(f"/users/{both}", json={"groups": []}))  # loses the discount, lacks credit
    assert ok(decide(provider, both, printer, **JOB))["verdict"] == "deny"

    ok(admin.patch(f"/printers/{printer}", json={"enabled": False}))
    off = ok(decide(provider, none, printer, **JOB))
    assert off["verdict"] == "deny"
    assert "disabled" in off["reason"]

    ok(admin.patch(f"/users/{one}", json={"enabled": False}))
    ok(admin.patch(f"/printers/{printer}", json={"enabled": True}))
    assert "disabled" in ok(decide(provider, one, printer, **JOB))["reason"]


def test_decision_with_shared_accounts(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    printer, name, stranger = unique("p"), unique("u"), unique("stranger")
    new_printer(admin, printer)
    new_user(admin, name)
    new_user(admin, stranger)
    project, code = unique("project"), unique("P-")
    grant = {"users": [name], "restricted": False}
    shared = ok(admin.post("/accounts", json={"name": project, "code": code, **grant}), 201)
    secret = unique("secret")
    locked = ok(admin.post("/accounts", json={"name": secret, "pin": "2468", **grant}), 201)

    by_name = ok(decide(provider, name, printer, account=project, **JOB))
    assert (by_name["verdict"], by_name["account"], by_name["account_id"]) == (
        "allow",
        project,
        shared["id"],
    )
    by_code = ok(decide(provider, name, printer, account_code=code, **JOB))
    assert (by_code["verdict"], by_code["account_id"]) == ("allow", shared["id"])
    # the user's own account is restricted with no credit
    assert ok(decide(provider, name, printer, **JOB))["verdict"] == "deny"

    not_granted = ok(decide(provider, stranger, printer, account=project, **JOB))
    assert not_granted["verdict"] == "deny"
    assert "may not charge" in not_granted["reason"]

    problem(decide(provider, name, printer, account=secret, **JOB), 422)
    problem(decide(provider, name, printer, account=secret, account_pin="1357", **JOB), 422)
    with_pin = ok(decide(provider, name, printer, account=secret, account_pin="2468", **JOB))
    assert (with_pin["verdict"], with_pin["account_id"]) == ("allow", locked["id"])

    problem(decide(provider, name, printer, account=unique("none"), **JOB), 404)
    problem(decide(provider, name, printer, account_code=unique("none"), **JOB), 404)


def test_decision_refusals(
    admin: httpx.Client,
    provider: httpx.Client,
    device: httpx.Client,
    anonymous: httpx.Client,
    app_server: InProcessAppServer,
    unique: Unique,
) -> None:
    printer, name = unique("p"), unique("u")
    new_printer(admin, printer)
    new_user(admin, name)
    assert "no user" in problem(decide(provider, unique("ghost"), printer, **JOB), 404)["detail"]
    assert "no printer" in problem(decide(provider, name, unique("ghost"), **JOB), 404)["detail"]
    assert admin.delete(f"/printers/{printer}").status_code == 204
    problem(decide(provider, name, printer, **JOB), 404)
    problem(decide(admin, name, printer, **JOB), 403)
    problem(decide(device, name, printer, **JOB), 403)
    problem(decide(anonymous, name, printer, **JOB), 401)


# --- printed jobs -----------------------------------------------------------------------------


def test_printed_job_is_charged_once(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    printer, name = unique("p"), unique("u")
    new_printer(admin, printer)
    account = new_user(admin, name, balance=200)
    body = {
        "username": name,
        "printer": printer,
        "txn_id": txn(),
        "job_ref": unique("job"),
        "document_name": "report.pdf",
        **JOB,
    }
    charged = ok(provider.post("/jobs/printed", json=body))
    assert (charged["job_ref"], charged["cost"], charged["account_id"]) == (
        body["job_ref"],
        JOB_COST,
        account,
    )
    assert (charged["balance"], charged["duplicate"]) == (200 - JOB_COST, False)
    transaction = charged["transaction"]
    assert (transaction["txn_id"], transaction["amount"], transaction["kind"]) == (
        body["txn_id"],
        -JOB_COST,
        "print",
    )
    assert transaction["reference"] == f"job:{body['job_ref']}"
    assert transaction["origin"] == "app"
    assert ledger(admin, account)[0] == transaction
    assert balance(admin, name) == 200 - JOB_COST

    replay = ok(provider.post("/jobs/printed", json=body))
    assert replay["duplicate"] is True
    assert replay["transaction"] == transaction
    assert (replay["cost"], replay["balance"]) == (JOB_COST, 200 - JOB_COST)
    assert balance(admin, name) == 200 - JOB_COST
    assert [t["kind"] for t in ledger(admin, account)] == ["print", "top-up"]

    # the same transaction id reported for a different job or page count is a conflict
    problem(provider.post("/jobs/printed", json={**body, "pages": JOB["pages"] + 1}), 409)
    problem(provider.post("/jobs/printed", json={**body, "job_ref": unique("other")}), 409)
    assert balance(admin, name) == 200 - JOB_COST

    # the same job reported again under a new transaction id is not charged twice
    problem(provider.post("/jobs/printed", json={**body, "txn_id": txn()}), 409)
    assert balance(admin, name) == 200 - JOB_COST
    assert len(ledger(admin, account)) == 2


def test_printed_job_may_overdraw_and_keeps_its_time(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    printer, name = unique("p"), unique("u")
    new_printer(admin, printer)
    account = new_user(admin, name, balance=10)
    assert ok(decide(provider, name, printer, **JOB))["verdict"] == "deny"
    charged = ok(printed(provider, name, printer, printed_at="2024-05-06T07:08:09Z"))
    assert charged["balance"] == 10 - JOB_COST  # it printed already: charged anyway
    assert balance(admin, name) == 10 - JOB_COST
    assert charged["transaction"]["created_at"].startswith("2024-05-06T07:08:09")
    assert ledger(admin, account)[0]["created_at"].startswith("2024-05-06T07:08:09")


def test_concurrent_replays_charge_once(
    app_on_each_backend: InProcessAppServer, unique: Unique
) -> None:
    app_server, printer, name = app_on_each_backend, unique("p"), unique("u")
    token = app_server.token(Role.PROVIDER, scope=f"provider:{unique('provider')}")
    admin = app_server.client(app_server.token(Role.ADMIN, unique("admin")))
    new_printer(admin, printer)
    account = new_user(admin, name, balance=1000)
    with app_server.client(token) as provider:
        registration = {"name": unique("provider"), "ipp_url": "ipp://127.0.0.1/ipp/print",
                        "printers": [{"name": printer}]}  # fmt: skip
        ok(provider.post("/providers/register", json=registration))
    body = {"username": name, "printer": printer, "txn_id": txn(), "job_ref": unique("job"), **JOB}
    barrier = threading.Barrier(8)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def post() -> None:
        with app_server.client(token) as client:
            barrier.wait()
            response = client.post("/jobs/printed", json=body)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
    bodies = [r.json() for r in results]
    assert sorted(b["duplicate"] for b in bodies) == [False] + [True] * 7
    assert {b["transaction"]["seq"] for b in bodies} == {bodies[0]["transaction"]["seq"]}
    assert balance(admin, name) == 1000 - JOB_COST
    assert [t["amount"] for t in ledger(admin, account)] == [-JOB_COST, 1000]


def test_printed_job_origins(
    admin: httpx.Client, provider: httpx.Client, site: httpx.Client, unique: Unique
) -> None:
    printer, name = unique("p"), unique("u")
    new_printer(admin, printer)
    account = new_user(admin, name, balance=1000)

    problem(printed(provider, name, printer, origin="site:north"), 403)
    problem(printed(site, name, printer, origin="site:south"), 403)
    problem(printed(site, name, printer, origin="north"), 422)
    assert balance(admin, name) == 1000

    offline = ok(printed(site, name, printer, origin="site:north"))
    assert offline["transaction"]["origin"] == "site:north"
    from_site = admin.get("/transactions", params={"origin": "site:north", "account_id": account})
    assert [t["txn_id"] for t in from_site.json()] == [offline["transaction"]["txn_id"]]
    online = ok(printed(site, name, printer))  # a site may also report jobs as the app would
    assert online["transaction"]["origin"] == "app"
    assert balance(admin, name) == 1000 - 2 * JOB_COST


def test_printed_job_on_shared_account(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    printer, name, stranger = unique("p"), unique("u"), unique("stranger")
    new_printer(admin, printer)
    new_user(admin, name, balance=50)
    new_user(admin, stranger, balance=500)
    project, code = unique("project"), unique("C-")
    shared = ok(admin.post("/accounts", json={"name": project, "code": code, "users": [name]}), 201)

    charged = ok(printed(provider, name, printer, account_code=code))
    assert (charged["account_id"], charged["balance"]) == (shared["id"], -JOB_COST)
    assert ok(admin.get(f"/accounts/{project}"))["balance"] == -JOB_COST
    assert balance(admin, name) == 50

    problem(printed(provider, stranger, printer, account=project), 422)
    problem(printed(provider, name, unique("nowhere")), 404)
    problem(printed(provider, unique("nobody"), printer), 404)
    assert ok(admin.get(f"/accounts/{project}"))["balance"] == -JOB_COST
    assert balance(admin, stranger) == 500


# --- device logins ----------------------------------------------------------------------------


def device_login(client: httpx.Client, **body: Any) -> dict[str, Any]:
    return ok(client.post("/auth/device", json=body))


REJECTED: dict[str, Any] = {
    "authenticated": False,
    "username": None,
    "full_name": None,
    "balance": None,
    "restricted": None,
    "shared_accounts": [],
    "admin": None,
}


def test_device_login_methods(
    admin: httpx.Client, device: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    name, card, identity = unique("card-user"), unique("00A1B2"), unique("ID")
    new_user(
        admin,
        name,
        balance=75,
        full_name="Card Holder",
        cards=[card],
        identity_number=identity,
        pin="1234",
        password="pass phrase",
    )
    by_card = device_login(device, method="card", card_number=card)
    assert by_card == {
        "authenticated": True,
        "username": name,
        "full_name": "Card Holder",
        "balance": 75,
        "restricted": True,
        "shared_accounts": [],
        "admin": False,
    }
    # card numbers match without leading zeros, case or surrounding spaces
    assert device_login(device, method="card", card_number=f" {card[2:].lower()} ") == by_card
    # a provider never saw this card swiped at a device of its printers: it learns nothing
    assert device_login(provider, method="card", card_number=card) == REJECTED
    assert device_login(device, method="card", card_number=unique("nocard")) == REJECTED
    assert device_login(device, method="card") == REJECTED

    right = device_login(device, method="identity", identity_number=identity, pin="1234")
    assert right["username"] == name
    assert device_login(device, method="identity", identity_number=identity, pin="4321") == (
        REJECTED
    )
    assert device_login(device, method="identity", identity_number=identity) == REJECTED
    assert device_login(device, method="identity", identity_number=unique("x"), pin="1234") == (
        REJECTED
    )

    by_password = device_login(device, method="password", username=name, password="pass phrase")
    assert by_password["username"] == name
    assert device_login(device, method="password", username=name, password="nope") == REJECTED
    assert device_login(device, method="password", username=unique("x"), password="x") == (REJECTED)

    ok(admin.patch(f"/users/{name}", json={"enabled": False}))
    assert device_login(device, method="card", card_number=card) == REJECTED
    assert device_login(device, method="password", username=name, password="pass phrase") == (
        REJECTED
    )


def test_device_login_lists_granted_shared_accounts(
    admin: httpx.Client, device: httpx.Client, unique: Unique
) -> None:
    group = ok(admin.post("/groups", json={"name": unique("club")}), 201)["name"]
    name, card = unique("member"), unique("CARD")
    new_user(admin, name, groups=[group], cards=[card])
    direct, via_group, sub = unique("a-direct"), unique("b-group"), unique("c-sub")
    ok(admin.post("/accounts", json={"name": direct, "users": [name]}), 201)
    ok(admin.post("/accounts", json={"name": via_group, "groups": [group]}), 201)
    ok(admin.post("/accounts", json={"name": sub, "parent": via_group}), 201)
    off = unique("d-disabled")
    ok(admin.post("/accounts", json={"name": off, "users": [name], "enabled": False}), 201)
    ok(admin.post("/accounts", json={"name": unique("e-other")}), 201)

    login = device_login(device, method="card", card_number=card)
    assert login["shared_accounts"] == [direct, via_group, sub]

    ok(admin.patch(f"/users/{name}", json={"groups": []}))
    assert device_login(device, method="card", card_number=card)["shared_accounts"] == [direct]


def test_device_login_refuses_admins_and_strangers(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    problem(admin.post("/auth/device", json={"method": "card", "card_number": "1"}), 403)
    problem(anonymous.post("/auth/device", json={"method": "card", "card_number": "1"}), 401)
    problem(admin.post("/auth/device", json={"method": "retina"}), 403)
