"""Credits two sites journaled while offline, applied at HQ: a top-up card redeemed at both
is credited once (the first journal HQ applies wins; the other's credit is taken back,
visibly, and its report says so); cash from a site's kiosk is credited once, under HQ's
cash rules; a site cannot credit a card it was not shown, nor cash from a kiosk not its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import site_origin
from printwarden.keys import voucher_key
from printwarden.security import voucher_hash
from printwarden.testing.inprocess import InProcessAppServer
from printwarden.usecases import cash, vouchers

Unique = Callable[[str], str]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def site(app: InProcessAppServer, admin: httpx.Client, name: str) -> httpx.Client:
    ok(admin.post("/sites", json={"name": name}), 201)
    return app.client(app.token(Role.SITE, scope=name))


def redeemed(app: InProcessAppServer, code: str, where: str, username: str) -> dict[str, Any]:
    canonical = code.replace("-", "")
    key = voucher_key(app.settings().resolved_secret())
    body = {"code": canonical, "username": username, "amount": 500, "currency": "USD",
            "txn_id": vouchers.txn_id(voucher_hash(key, canonical), site_origin(where)),
            "redeemed_at": datetime.now(UTC).isoformat()}  # fmt: skip
    return {"id": new_id(), "kind": "voucher", "body": body}


def upload(client: httpx.Client, name: str, *entries: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = ok(client.post(f"/sites/{name}/journal", json={"entries": entries}))
    return report


def ledger_of(admin: httpx.Client, username: str) -> list[dict[str, Any]]:
    account = ok(admin.get(f"/users/{username}"))["account_id"]
    found: list[dict[str, Any]] = ok(admin.get("/transactions", params={"account_id": account}))
    return found


def test_a_card_redeemed_at_two_offline_sites_is_credited_once(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    north, south = unique("north"), unique("south")
    north_site, south_site = site(app_server, admin, north), site(app_server, admin, south)
    ann, bob = unique("ann"), unique("bob")
    for name in (ann, bob):
        ok(admin.post("/users", json={"username": name}), 201)
    body = {"batch_id": unique("cards"), "value": 500, "count": 1}
    code = ok(admin.post("/topup-cards/batches", json=body), 201)["codes"][0]
    first = upload(north_site, north, redeemed(app_server, code, north, ann))
    assert first["results"][0]["status"] == "applied"
    second_entry = redeemed(app_server, code, south, bob)
    second = upload(south_site, south, second_entry)
    assert second["results"][0]["status"] == "applied"
    assert "taken back" in second["results"][0]["detail"]
    assert any("not theirs to redeem" in note for note in second["notes"])
    assert ok(admin.get(f"/users/{ann}"))["balance"] == 500
    assert ok(admin.get(f"/users/{bob}"))["balance"] == 0
    kinds = sorted((t["kind"], t["amount"]) for t in ledger_of(admin, bob))
    assert kinds == [("adjustment", -500), ("top-up", 500)]  # visible, both
    again = upload(south_site, south, second_entry)  # the same journal sent again
    assert again["results"][0]["status"] == "already-applied"
    assert ok(admin.get(f"/users/{bob}"))["balance"] == 0


def test_a_site_cannot_credit_a_card_it_was_not_shown(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    name = unique("liar")
    client = site(app_server, admin, name)
    person = unique("mallory")
    ok(admin.post("/users", json={"username": person}), 201)
    entry = redeemed(app_server, "0000-0000-0000-0000", name, person)
    report = upload(client, name, entry)
    assert report["results"][0]["status"] == "rejected"
    forged = {**entry, "id": new_id(), "body": {**entry["body"], "amount": 50_000}}
    assert upload(client, name, forged)["results"][0]["status"] == "rejected"
    assert ok(admin.get(f"/users/{person}"))["balance"] == 0


def test_cash_journaled_by_a_site_is_credited_once_and_only_from_its_kiosks(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    name, other = unique("lobby-site"), unique("far-site")
    client = site(app_server, admin, name)
    site(app_server, admin, other)
    person = unique("payer")
    ok(admin.post("/users", json={"username": person}), 201)
    kiosks = {}
    for where in (name, other):
        device = f"kiosk-{where}"
        ok(admin.post("/devices", json={"name": device, "kind": "kiosk", "site": where,
                                         "cost_model": {}}), 201)  # fmt: skip
        kiosks[where] = device

    def note(device: str, amount: int = 1000) -> dict[str, Any]:
        insertion = str(uuid.uuid4())
        txn = cash.txn_id(device, insertion)
        body = {"insertion_id": insertion, "device": device, "username": person,
                "amount": amount, "currency": "USD", "txn_id": txn}  # fmt: skip
        return {"id": new_id(), "kind": "cash", "body": body}

    mine = note(kiosks[name])
    report = upload(client, name, mine, mine, note(kiosks[other]), note(kiosks[name], 777))
    statuses = [r["status"] for r in report["results"]]
    assert statuses == ["applied", "already-applied", "rejected", "rejected"]
    assert ok(admin.get(f"/users/{person}"))["balance"] == 1000
    box = ok(admin.get(f"/kiosks/{kiosks[name]}/cash-box"))
    assert (box["insertions"], box["recorded"]) == (1, 1000)
