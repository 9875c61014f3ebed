"""Top-up cards, cash at a kiosk and refund requests through the App Server's API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from printwarden.domain import vouchers
from printwarden.testing.inprocess import InProcessAppServer

Unique = Callable[[str], str]
PASSWORD = "correct horse battery staple"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def person(app: InProcessAppServer, admin: httpx.Client, name: str) -> httpx.Client:
    ok(admin.post("/users", json={"username": name, "password": PASSWORD, "cards": [name]}), 201)
    token = ok(app.client().post("/auth/login", json={"username": name, "password": PASSWORD}))
    return app.client(token["token"])


def balance(admin: httpx.Client, name: str) -> int:
    found: int = ok(admin.get(f"/users/{name}"))["balance"]
    return found


def batch(admin: httpx.Client, unique: Unique, count: int = 3, **fields: Any) -> list[str]:
    body = {"batch_id": unique("b"), "value": 500, "count": count, **fields}
    made = ok(admin.post("/topup-cards/batches", json=body), 201)
    assert made["batch"]["count"] == count
    codes: list[str] = made["codes"]
    return codes


def test_a_card_redeems_once_and_a_typo_says_so(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    name = unique("ann")
    ann = person(app_server, admin, name)
    codes = batch(admin, unique)
    assert all(vouchers.parse(code) for code in codes)
    done = ok(ann.post("/me/topup-cards/redeem", json={"code": codes[0].lower()}))
    assert (done["amount"], done["balance"]) == (500, 500)
    again = ann.post("/me/topup-cards/redeem", json={"code": codes[0]})
    assert again.status_code == 409
    assert "redeemed" in again.json()["detail"]
    typo = codes[1][:-1] + ("0" if codes[1][-1] != "0" else "1")
    mistyped = ann.post("/me/topup-cards/redeem", json={"code": typo})
    assert mistyped.status_code == 422
    assert mistyped.json()["title"] == "Mistyped code"
    unknown = ann.post("/me/topup-cards/redeem", json={"code": vouchers.new_code()})
    assert unknown.status_code == 404
    assert balance(admin, name) == 500
    listed = ok(admin.get("/topup-cards/batches"))
    assert any(b["redeemed"] == 1 and b["count"] == 3 for b in listed)


def test_concurrent_redemptions_of_one_card_credit_once(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    names = [unique(f"rush{n}") for n in range(4)]
    people = [person(app_server, admin, name) for name in names]
    code = batch(admin, unique, count=1)[0]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda c: c.post("/me/topup-cards/redeem", json={"code": code}), people * 2
        ))  # fmt: skip
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    assert sum(balance(admin, name) for name in names) == 500


def test_guessing_is_throttled(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    guesser = person(app_server, admin, unique("guess"))
    statuses = [
        guesser.post("/me/topup-cards/redeem", json={"code": vouchers.new_code()}).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 404
    assert 429 in statuses, statuses
    real = batch(admin, unique, count=1)[0]
    assert guesser.post("/me/topup-cards/redeem", json={"code": real}).status_code == 429


def test_a_withdrawn_or_expired_batch_does_not_redeem(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    ann = person(app_server, admin, unique("late"))
    old = batch(admin, unique, count=1, valid_until="2020-01-01")[0]
    refused = ann.post("/me/topup-cards/redeem", json={"code": old})
    assert refused.status_code == 409
    assert "expired" in refused.json()["detail"]
    body = {"batch_id": unique("w"), "value": 100, "count": 2}
    made = ok(admin.post("/topup-cards/batches", json=body), 201)
    gone = ok(admin.post(f"/topup-cards/batches/{body['batch_id']}/expire"))
    assert gone == {"expired": 2}
    refused = ann.post("/me/topup-cards/redeem", json={"code": made["codes"][0]})
    assert refused.status_code == 409
    assert "withdrawn" in refused.json()["detail"]


def test_batches_export_csv_and_pdf_and_only_admins_make_them(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    body = {"batch_id": unique("x"), "value": 1000, "count": 12}
    pdf = admin.post("/topup-cards/batches", params={"format": "pdf"}, json=body)
    assert pdf.status_code == 201
    assert pdf.content.startswith(b"%PDF")
    body["batch_id"] = unique("y")
    csv = admin.post("/topup-cards/batches", params={"format": "csv"}, json=body)
    assert csv.status_code == 201
    assert csv.text.count("\n") == 13
    user = person(app_server, admin, unique("nosy"))
    assert user.post("/topup-cards/batches", json=body).status_code == 403
    too_many = {**body, "batch_id": unique("z"), "count": 10_001}
    assert admin.post("/topup-cards/batches", json=too_many).status_code == 422


def kiosk(app: InProcessAppServer, unique: Unique) -> tuple[str, httpx.Client]:
    name = unique("kiosk")
    token = app.device_token(name, kind="kiosk", login_methods=["card", "password"])
    return name, app.client(token)


def test_cash_at_a_kiosk_is_credited_once_per_insertion(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    name = unique("cashy")
    person(app_server, admin, name)
    kiosk_name, device = kiosk(app_server, unique)
    assert ok(device.get("/device/kiosk"))["accepting"] is False
    login = ok(device.post("/device/sessions", json={"method": "card", "card_number": name}), 201)
    state = ok(device.get("/device/kiosk"))
    assert state["accepting"]
    assert state["session"]["username"] == name
    note = {
        "insertion_id": "A1:0:1",
        "amount": 1000,
        "currency": "USD",
        "session_id": login["session_id"],
    }
    first = device.post("/device/kiosk/insertions", json=note)
    assert first.status_code == 201
    assert first.json()["balance"] == 1000
    assert device.post("/device/kiosk/insertions", json=note).status_code == 200
    odd = {**note, "insertion_id": "A1:0:2", "amount": 700}
    assert device.post("/device/kiosk/insertions", json=odd).status_code == 422
    assert balance(admin, name) == 1000
    box = ok(admin.get(f"/kiosks/{kiosk_name}/cash-box"))
    assert (box["insertions"], box["recorded"]) == (1, 1000)
    counted = ok(admin.post(f"/kiosks/{kiosk_name}/collections", json={"counted": 500}), 201)
    assert counted["difference"] == -500
    assert ok(admin.get(f"/kiosks/{kiosk_name}/cash-box"))["insertions"] == 0


def test_a_device_that_is_no_kiosk_takes_no_cash(
    app_server: InProcessAppServer, unique: Unique
) -> None:
    device = app_server.client(app_server.device_token(unique("mfd")))
    assert device.get("/device/kiosk").status_code == 409


def test_a_refund_request_is_approved_once(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    name = unique("refundee")
    user = person(app_server, admin, name)
    device_name = unique("copier")
    device = app_server.client(app_server.device_token(device_name))
    login = ok(device.post("/device/sessions", json={"method": "card", "card_number": name}), 201)
    usage = {"usage_id": str(uuid.uuid4()), "kind": "copy", "pages": 3}
    ok(device.post(f"/device/sessions/{login['session_id']}/usage", json=usage))
    charged = balance(admin, name)
    assert charged == -30
    asked = ok(user.post("/me/refund-requests", json={"txn_id": usage["usage_id"],
                                                      "reason": "jammed"}), 201)  # fmt: skip
    again = user.post("/me/refund-requests", json={"txn_id": usage["usage_id"]})
    assert again.status_code == 409
    other = person(app_server, admin, unique("other"))
    assert other.post("/me/refund-requests", json={"txn_id": usage["usage_id"]}).status_code == 404
    pending = ok(admin.get("/refund-requests"))
    assert any(r["id"] == asked["id"] for r in pending)
    ok(admin.post(f"/refund-requests/{asked['id']}/approve", json={"answer": "sorry"}))
    assert admin.post(f"/refund-requests/{asked['id']}/approve", json={}).status_code == 409
    assert balance(admin, name) == 0
    mine = ok(user.get("/me/refund-requests"))
    assert mine[0]["status"] == "approved"
    assert mine[0]["answer"] == "sorry"


def test_a_kiosk_credits_only_a_session_of_its_own(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Unique
) -> None:
    name = unique("victim")
    person(app_server, admin, name)
    mfd = app_server.client(app_server.device_token(unique("mfd-next-door")))
    elsewhere = ok(mfd.post("/device/sessions", json={"method": "card", "card_number": name}), 201)
    _, device = kiosk(app_server, unique)
    note = {"insertion_id": "B-0-1", "amount": 500, "currency": "USD",
            "session_id": elsewhere["session_id"]}  # fmt: skip
    refused = device.post("/device/kiosk/insertions", json=note)
    assert refused.status_code == 409
    assert balance(admin, name) == 0
