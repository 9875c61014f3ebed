"""Balances, the ledger and shared accounts over real HTTP, on each backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

Unique = Callable[[str], str]
NO_ACCOUNT = 2**62  # an id no account has, within both backends' 64-bit integers


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def txn() -> str:
    return str(uuid.uuid4())


def ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def new_user(admin: httpx.Client, username: str, **fields: Any) -> dict[str, Any]:
    return ok(admin.post("/users", json={"username": username, **fields}), 201)


def new_account(admin: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    return ok(admin.post("/accounts", json={"name": name, **fields}), 201)


def change(admin: httpx.Client, account_id: int, how: str, amount: int, txn_id: str) -> Any:
    return admin.post(
        f"/accounts/by-id/{account_id}/{how}", json={"txn_id": txn_id, "amount": amount}
    )


def ledger(admin: httpx.Client, account_id: int) -> list[dict[str, Any]]:
    return ok_list(admin.get("/transactions", params={"account_id": account_id}))


def balance(admin: httpx.Client, username: str) -> int:
    value: int = ok(admin.get(f"/users/{username}"))["balance"]
    return value


# --- balances and the ledger ------------------------------------------------------------------


def test_top_up_and_adjust_move_the_balance(admin: httpx.Client, unique: Unique) -> None:
    name = unique("saver")
    account = new_user(admin, name)["account_id"]
    steps = [("top-up", 1000), ("adjust", -250), ("adjust", 40), ("top-up", 1)]
    expected = 0
    txn_ids = []
    for how, amount in steps:
        txn_ids.append(txn())
        body = ok(change(admin, account, how, amount, txn_ids[-1]))
        expected += amount
        assert body["balance"] == expected
        assert body["duplicate"] is False
        recorded = body["transaction"]
        assert (recorded["txn_id"], recorded["amount"], recorded["account_id"]) == (
            txn_ids[-1],
            amount,
            account,
        )
        assert recorded["kind"] == ("top-up" if how == "top-up" else "adjustment")
        assert recorded["origin"] == "app"
        assert recorded["reference"].startswith("admin:")

    assert balance(admin, name) == expected == 791
    entries = ledger(admin, account)
    assert [e["txn_id"] for e in entries] == list(reversed(txn_ids))  # newest first
    assert sum(e["amount"] for e in entries) == expected
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True)

    older = admin.get("/transactions", params={"account_id": account, "before": seqs[1]})
    assert [e["txn_id"] for e in older.json()] == list(reversed(txn_ids[:2]))
    adjustments = admin.get("/transactions", params={"account_id": account, "kind": "adjustment"})
    assert [e["amount"] for e in adjustments.json()] == [40, -250]
    assert len(admin.get("/transactions", params={"account_id": account, "limit": 1}).json()) == 1


def test_replayed_txn_id_changes_nothing(admin: httpx.Client, unique: Unique) -> None:
    name = unique("replay")
    account = new_user(admin, name)["account_id"]
    txn_id = txn()
    first = ok(change(admin, account, "top-up", 500, txn_id))
    replay = ok(change(admin, account, "top-up", 500, txn_id))
    assert replay["duplicate"] is True
    assert replay["transaction"] == first["transaction"]
    assert replay["balance"] == first["balance"] == 500

    # the same id spelt differently (upper case, braces, URN) is the same transaction
    for spelling in (txn_id.upper(), "{" + txn_id + "}", "urn:uuid:" + txn_id):
        again = ok(change(admin, account, "top-up", 500, spelling))
        assert again["duplicate"] is True
        assert again["transaction"]["seq"] == first["transaction"]["seq"]

    # the same id for a different effect is a conflict, and writes nothing
    problem(change(admin, account, "top-up", 501, txn_id), 409)
    problem(change(admin, account, "adjust", 500, txn_id), 409)
    other = new_user(admin, unique("other"))["account_id"]
    problem(change(admin, other, "top-up", 500, txn_id), 409)
    assert balance(admin, name) == 500
    assert [e["txn_id"] for e in ledger(admin, account)] == [txn_id]
    assert ledger(admin, other) == []


def test_ulid_txn_ids_are_accepted(admin: httpx.Client, unique: Unique) -> None:
    account = new_user(admin, unique("ulid"))["account_id"]
    ulid = "01J" + uuid.uuid4().hex[:23].upper()  # hex digits are Crockford base32 too
    first = ok(change(admin, account, "top-up", 7, ulid.lower()))
    assert first["transaction"]["txn_id"] == ulid
    assert ok(change(admin, account, "top-up", 7, ulid))["duplicate"] is True


def test_balance_change_of_unknown_account_is_not_found(admin: httpx.Client) -> None:
    txn_id = txn()
    problem(change(admin, NO_ACCOUNT, "top-up", 5, txn_id), 404)
    problem(change(admin, NO_ACCOUNT, "adjust", -5, txn_id), 404)
    assert ledger(admin, NO_ACCOUNT) == []


def test_deleted_users_account_takes_no_balance_changes(
    admin: httpx.Client, unique: Unique
) -> None:
    name = unique("gone")
    account = new_user(admin, name)["account_id"]
    ok(change(admin, account, "top-up", 100, txn()))
    assert admin.delete(f"/users/{name}").status_code == 204
    problem(change(admin, account, "top-up", 100, txn()), 404)
    assert [e["amount"] for e in ledger(admin, account)] == [100]  # the ledger stays


def test_balance_changes_need_an_admin(
    admin: httpx.Client, provider: httpx.Client, anonymous: httpx.Client, unique: Unique
) -> None:
    name = unique("guarded")
    account = new_user(admin, name)["account_id"]
    problem(change(provider, account, "top-up", 100, txn()), 403)
    problem(change(anonymous, account, "adjust", 100, txn()), 401)
    problem(provider.get("/transactions"), 403)
    assert balance(admin, name) == 0


# --- shared accounts --------------------------------------------------------------------------


def test_shared_account_with_sub_account_and_grants(admin: httpx.Client, unique: Unique) -> None:
    group = ok(admin.post("/groups", json={"name": unique("physics")}), 201)["name"]
    alice, bob = unique("alice"), unique("bob")
    new_user(admin, alice)
    new_user(admin, bob, groups=[group])
    parent, sub = unique("research"), unique("research-lab")
    code = unique("R")

    created = new_account(
        admin,
        parent,
        code=code,
        pin="4321",
        users=[alice],
        groups=[group],
        restricted=False,
        credit_limit=1000,
        comment="grant 42",
    )
    assert created["kind"] == "shared"
    assert (created["name"], created["parent"], created["code"]) == (parent, None, code)
    assert (created["has_pin"], created["restricted"], created["credit_limit"]) == (
        True,
        False,
        1000,
    )
    assert (created["users"], created["groups"], created["balance"]) == ([alice], [group], 0)

    child = new_account(admin, sub, parent=parent)
    assert child["parent"] == parent
    assert (child["users"], child["groups"]) == ([alice], [group])  # inherited
    assert (child["has_pin"], child["code"], child["restricted"]) == (False, None, True)
    assert ok(admin.get(f"/accounts/{sub}")) == child
    listed = {a["name"]: a for a in ok_list(admin.get("/accounts"))}
    assert listed[parent]["id"] == created["id"]
    assert listed[sub]["parent"] == parent
    assert all(a["kind"] == "shared" for a in listed.values())

    # grants of the sub-account add to the parent's; the parent's changes reach the sub-account
    patched = ok(admin.patch(f"/accounts/{sub}", json={"users": [bob]}))
    assert patched["users"] == sorted([alice, bob])
    assert ok(admin.get(f"/accounts/{parent}"))["users"] == [alice]
    ok(admin.patch(f"/accounts/{parent}", json={"users": [], "groups": []}))
    after = ok(admin.get(f"/accounts/{sub}"))
    assert (after["users"], after["groups"]) == ([bob], [])

    # a shared account's balance moves like any other
    assert ok(change(admin, created["id"], "top-up", 900, txn()))["balance"] == 900
    assert ok(admin.get(f"/accounts/{parent}"))["balance"] == 900

    # detaching the sub-account
    detached = ok(admin.patch(f"/accounts/{sub}", json={"parent": ""}))
    assert detached["parent"] is None


def test_sub_account_inherits_grants_for_jobs(
    admin: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    group = ok(admin.post("/groups", json={"name": unique("team")}), 201)["name"]
    member, outsider = unique("member"), unique("outsider")
    new_user(admin, member, groups=[group])
    new_user(admin, outsider)
    printer = unique("printer")
    ok(admin.post("/printers", json={"name": printer}), 201)
    parent, sub = unique("dept"), unique("dept-sub")
    new_account(admin, parent, groups=[group], restricted=False)
    new_account(admin, sub, parent=parent, restricted=False)

    def decide(username: str) -> dict[str, Any]:
        body = {"username": username, "printer": printer, "pages": 1, "account": sub}
        return ok(provider.post("/jobs/decision", json=body))

    allowed = decide(member)
    assert (allowed["verdict"], allowed["account"]) == ("allow", sub)
    denied = decide(outsider)
    assert denied["verdict"] == "deny"
    assert "may not charge" in denied["reason"]


def test_shared_account_conflicts_and_bad_references(admin: httpx.Client, unique: Unique) -> None:
    name, code = unique("acct"), unique("CODE")
    original = new_account(admin, name, code=code)
    problem(admin.post("/accounts", json={"name": name}), 409)
    problem(admin.post("/accounts", json={"name": unique("other"), "code": code}), 409)
    problem(admin.post("/accounts", json={"name": unique("orphan"), "parent": unique("no")}), 404)
    problem(admin.patch(f"/accounts/{name}", json={"users": [unique("ghost")]}), 422)
    problem(admin.patch(f"/accounts/{name}", json={"groups": [unique("ghosts")]}), 422)
    problem(admin.get(f"/accounts/{unique('missing')}"), 404)
    assert ok(admin.get(f"/accounts/{name}")) == original


def test_account_cycles_are_refused(admin: httpx.Client, unique: Unique) -> None:
    top, middle, bottom = unique("top"), unique("middle"), unique("bottom")
    created = new_account(admin, top)
    new_account(admin, middle, parent=top)
    new_account(admin, bottom, parent=middle)
    problem(admin.patch(f"/accounts/{top}", json={"parent": bottom}), 422)
    problem(admin.patch(f"/accounts/{top}", json={"parent": middle}), 422)
    problem(admin.patch(f"/accounts/{top}", json={"parent": top}), 422)
    assert ok(admin.get(f"/accounts/{top}")) == created  # untouched
    assert ok(admin.get(f"/accounts/{bottom}"))["parent"] == middle
    # moving a leaf elsewhere is fine
    assert ok(admin.patch(f"/accounts/{bottom}", json={"parent": top}))["parent"] == top


def test_delete_shared_account(admin: httpx.Client, unique: Unique) -> None:
    name = unique("closing")
    created = new_account(admin, name)
    assert admin.delete(f"/accounts/{name}").status_code == 204
    problem(admin.get(f"/accounts/{name}"), 404)
    problem(admin.delete(f"/accounts/{name}"), 404)
    assert name not in {a["name"] for a in ok_list(admin.get("/accounts"))}
    problem(change(admin, created["id"], "top-up", 5, txn()), 404)
    # the name can be used again
    assert new_account(admin, name)["name"] == name
