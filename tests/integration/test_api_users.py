"""Users, groups, CSV import and login over real HTTP, on each backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from printwarden.testing.inprocess import InProcessAppServer

Unique = Callable[[str], str]
CSV = {"Content-Type": "text/csv"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def create_user(admin: httpx.Client, username: str, **fields: Any) -> dict[str, Any]:
    response = admin.post("/users", json={"username": username, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def create_group(admin: httpx.Client, name: str) -> dict[str, Any]:
    response = admin.post("/groups", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def search_total(admin: httpx.Client, text: str) -> int:
    response = admin.get("/users", params={"search": text})
    assert response.status_code == 200
    total: int = response.json()["total"]
    return total


def group_names(admin: httpx.Client) -> set[str]:
    return {g["name"] for g in admin.get("/groups").json()}


def card_login(device: httpx.Client, card: str) -> dict[str, Any]:
    response = device.post("/auth/device", json={"method": "card", "card_number": card})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- users ------------------------------------------------------------------------------------


def test_user_lifecycle(admin: httpx.Client, device: httpx.Client, unique: Unique) -> None:
    first, second = create_group(admin, unique("staff")), create_group(admin, unique("lab"))
    name = unique("ada")
    card_a, card_b, card_c = unique("CARD-A"), unique("CARD-B"), unique("CARD-C")
    created = create_user(
        admin,
        name,
        full_name="Ada Lovelace",
        email="ada@example.org",
        groups=[first["name"]],
        cards=[card_a],
        credit_limit=500,
    )
    assert created["username"] == name
    assert created["full_name"] == "Ada Lovelace"
    assert created["email"] == "ada@example.org"
    assert created["groups"] == [first["name"]]
    assert created["card_count"] == 1
    assert (created["has_pin"], created["has_password"], created["is_admin"]) == (
        False,
        False,
        False,
    )
    assert created["enabled"] is True
    assert created["source"] == "internal"
    assert created["restricted"] is True  # personal accounts start restricted
    assert created["credit_limit"] == 500
    assert created["balance"] == 0

    fetched = admin.get(f"/users/{name}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    patched = admin.patch(
        f"/users/{name}",
        json={
            "groups": [second["name"]],
            "cards": [card_b, card_c],
            "restricted": False,
            "credit_limit": 0,
            "full_name": "Ada King",
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["groups"] == [second["name"]]  # replaced, not added
    assert body["card_count"] == 2
    assert (body["restricted"], body["credit_limit"]) == (False, 0)
    assert body["full_name"] == "Ada King"
    assert body["email"] == "ada@example.org"  # untouched fields stay
    assert body["account_id"] == created["account_id"]
    assert body["change_seq"] > created["change_seq"]
    assert admin.get(f"/users/{name}").json() == body
    assert card_login(device, card_a)["authenticated"] is False  # the old card is gone
    assert card_login(device, card_c)["username"] == name

    assert admin.delete(f"/users/{name}").status_code == 204
    problem(admin.get(f"/users/{name}"), 404)
    problem(admin.delete(f"/users/{name}"), 404)
    problem(admin.patch(f"/users/{name}", json={"full_name": "x"}), 404)
    assert search_total(admin, name) == 0
    assert card_login(device, card_b)["authenticated"] is False


def test_patch_with_unknown_group_changes_nothing(admin: httpx.Client, unique: Unique) -> None:
    group = create_group(admin, unique("keep"))["name"]
    name = unique("grace")
    created = create_user(admin, name, groups=[group], full_name="Grace")
    response = admin.patch(
        f"/users/{name}", json={"groups": [unique("nope")], "full_name": "Changed"}
    )
    problem(response, 422)
    after = admin.get(f"/users/{name}").json()
    assert after["groups"] == [group]
    assert after["full_name"] == "Grace"
    assert after["change_seq"] == created["change_seq"]


def test_list_users_search_and_paging(admin: httpx.Client, unique: Unique) -> None:
    prefix = unique("pager")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in reversed(names):  # created out of order: the list sorts by username
        create_user(admin, name)
    create_user(admin, unique("other"), full_name=f"Alias {prefix.upper()}")

    pages = []
    for offset in (0, 2, 4):
        response = admin.get("/users", params={"search": prefix, "offset": offset, "limit": 2})
        assert response.status_code == 200
        page = response.json()
        assert (page["total"], page["offset"], page["limit"]) == (6, offset, 2)
        pages.append([u["username"] for u in page["items"]])
    listed = [n for page in pages for n in page]
    assert [len(page) for page in pages] == [2, 2, 2]
    assert set(listed) >= set(names)  # the full-name match (case-insensitive) is included
    assert listed == sorted(listed)

    by_name = admin.get("/users", params={"search": names[3]}).json()
    assert by_name["total"] == 1
    assert by_name["items"][0]["username"] == names[3]
    assert admin.get("/users", params={"search": unique("nobody")}).json()["total"] == 0


def test_duplicate_username_is_a_conflict_and_writes_nothing(
    admin: httpx.Client, unique: Unique
) -> None:
    name = unique("dup")
    original = create_user(admin, name, full_name="First")
    before = search_total(admin, name)
    body = problem(admin.post("/users", json={"username": name, "full_name": "Second"}), 409)
    assert name in body["detail"]
    assert search_total(admin, name) == before == 1
    assert admin.get(f"/users/{name}").json() == original


# --- groups -----------------------------------------------------------------------------------


def test_groups_create_list_delete(admin: httpx.Client, unique: Unique) -> None:
    name = unique("group")
    assert create_group(admin, name) == {"name": name, "members": 0, "source": "internal"}
    problem(admin.post("/groups", json={"name": name}), 409)
    member = unique("member")
    create_user(admin, member, groups=[name])
    listed = {g["name"]: g for g in admin.get("/groups").json()}
    assert listed[name]["members"] == 1

    assert admin.delete(f"/groups/{name}").status_code == 204
    assert name not in group_names(admin)
    assert admin.get(f"/users/{member}").json()["groups"] == []
    problem(admin.delete(f"/groups/{name}"), 404)
    # a deleted group's name can be used again
    assert create_group(admin, name)["members"] == 0


# --- CSV import -------------------------------------------------------------------------------


def test_csv_import_creates_and_updates(
    admin: httpx.Client, device: httpx.Client, unique: Unique
) -> None:
    existing = unique("old")
    create_user(admin, existing, full_name="Old Name", email="old@example.org")
    new_a, new_b = unique("csv-a"), unique("csv-b")
    group_x, group_y = unique("csvx"), unique("csvy")
    card_a, card_b = unique("77001"), unique("77002")
    text = (
        "username,full_name,email,groups,cards,restricted,credit_limit\n"
        f"{new_a},Alan Turing,alan@example.org,{group_x};{group_y},{card_a},true,5.00\n"
        f"{new_b},Barbara Liskov,,{group_y},{card_b},false,\n"
        f"{existing},New Name,,{group_x},,,0.25\n"
    )
    response = admin.post("/users/import", content=text.encode(), headers=CSV)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 1}

    groups = {g["name"]: g for g in admin.get("/groups").json()}
    assert groups[group_x]["source"] == "csv"
    assert (groups[group_x]["members"], groups[group_y]["members"]) == (2, 2)

    alan = admin.get(f"/users/{new_a}").json()
    assert alan["full_name"] == "Alan Turing"
    assert alan["email"] == "alan@example.org"
    assert alan["groups"] == sorted([group_x, group_y])
    assert (alan["card_count"], alan["restricted"], alan["credit_limit"]) == (1, True, 500)
    assert admin.get(f"/users/{new_b}").json()["restricted"] is False
    updated = admin.get(f"/users/{existing}").json()
    assert updated["full_name"] == "New Name"
    assert updated["email"] == "old@example.org"  # an empty cell leaves the field alone
    assert updated["credit_limit"] == 25
    assert updated["groups"] == [group_x]

    login = card_login(device, card_b)
    assert login["authenticated"] is True
    assert login["username"] == new_b
    assert login["full_name"] == "Barbara Liskov"

    # importing the same file again updates and creates nothing
    again = admin.post("/users/import", content=text.encode(), headers=CSV)
    assert again.json() == {"created": 0, "updated": 3}


BAD_FILES = {
    "bad credit limit": (
        "username,credit_limit\n{a},1.00\n{b},1.234\n{c},2\n",
        "row 3",
    ),
    "duplicate username": ("username,groups\n{a},{g}\n{b},{g}\n{a},{g}\n", "row 4"),
    "bad restricted flag": ("username,restricted\n{a},yes\n{b},maybe\n", "row 3"),
    "space in username": ("username\n{a}\nbad name\n", "row 3"),
    "unknown column": ("username,shoe_size\n{a},42\n", "shoe_size"),
    "missing username column": ("full_name\nAda\n", "username"),
    "extra cells": ("username,email\n{a},a@example.org\n{b},b@example.org,extra\n", "row 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_csv_with_a_bad_row_imports_nothing(admin: httpx.Client, unique: Unique, case: str) -> None:
    template, named = BAD_FILES[case]
    a, b, c, g = unique("bad-a"), unique("bad-b"), unique("bad-c"), unique("bad-g")
    text = template.format(a=a, b=b, c=c, g=g)
    body = problem(admin.post("/users/import", content=text.encode(), headers=CSV), 400)
    assert named in body["detail"]
    for name in (a, b, c):
        problem(admin.get(f"/users/{name}"), 404)
    assert g not in group_names(admin)


def test_csv_import_needs_text_csv(admin: httpx.Client, unique: Unique) -> None:
    name = unique("json")
    text = f"username\n{name}\n".encode()
    for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=x"):
        response = admin.post("/users/import", content=text, headers={"Content-Type": content_type})
        problem(response, 415)
    problem(admin.get(f"/users/{name}"), 404)
    # a charset parameter is fine
    ok = admin.post(
        "/users/import", content=text, headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert ok.json() == {"created": 1, "updated": 0}


def test_csv_that_is_not_utf8_is_refused(admin: httpx.Client, unique: Unique) -> None:
    name = unique("latin")
    text = f"username,full_name\n{name},Jos\xe9\n".encode("latin-1")
    problem(admin.post("/users/import", content=text, headers=CSV), 400)
    problem(admin.get(f"/users/{name}"), 404)


def test_user_administration_needs_an_admin(
    anonymous: httpx.Client, provider: httpx.Client, unique: Unique
) -> None:
    problem(anonymous.get("/users"), 401)
    problem(provider.get("/users"), 403)
    problem(provider.post("/users", json={"username": unique("sneaky")}), 403)
    problem(provider.post("/users/import", content=b"username\nx\n", headers=CSV), 403)


# --- login ------------------------------------------------------------------------------------


def login(anonymous: httpx.Client, username: str, password: str) -> httpx.Response:
    return anonymous.post("/auth/login", json={"username": username, "password": password})


def bearer(app_server: InProcessAppServer, token: str) -> httpx.Client:
    return app_server.client(token)


def test_login_me_and_logout(
    admin: httpx.Client, anonymous: httpx.Client, app_server: InProcessAppServer, unique: Unique
) -> None:
    name = unique("person")
    user = create_user(admin, name, password="correct horse", full_name="Pat")
    assert user["has_password"] is True
    top_up = admin.post(
        f"/accounts/by-id/{user['account_id']}/top-up",
        json={"txn_id": str(uuid.uuid4()), "amount": 325, "comment": "cash"},
    )
    assert top_up.status_code == 200, top_up.text

    response = login(anonymous, name, "correct horse")
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["role"] == "user"
    assert session["token"]
    assert session["expires_at"]

    with bearer(app_server, session["token"]) as person:
        me = person.get("/me")
        assert me.status_code == 200
        assert (me.json()["username"], me.json()["balance"]) == (name, 325)
        history = person.get("/me/transactions").json()
        assert [(t["amount"], t["kind"], t["comment"]) for t in history] == [
            (325, "top-up", "cash")
        ]
        assert history[0]["txn_id"] == top_up.json()["transaction"]["txn_id"]
        problem(person.get("/users"), 403)  # a user is not an admin

        assert person.post("/auth/logout").status_code == 204
        problem(person.get("/me"), 401)


def test_admin_user_logs_in_as_admin(
    admin: httpx.Client, anonymous: httpx.Client, app_server: InProcessAppServer, unique: Unique
) -> None:
    name = unique("boss")
    create_user(admin, name, password="s3cret", is_admin=True)
    response = login(anonymous, name, "s3cret")
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    with bearer(app_server, response.json()["token"]) as boss:
        assert boss.get(f"/users/{name}").json()["is_admin"] is True
        assert boss.get("/me").json()["username"] == name


def test_login_refusals(admin: httpx.Client, anonymous: httpx.Client, unique: Unique) -> None:
    name = unique("locked")
    create_user(admin, name, password="right")
    no_password = unique("nopass")
    create_user(admin, no_password)
    problem(login(anonymous, name, "wrong"), 401)
    problem(login(anonymous, unique("ghost"), "right"), 401)
    problem(login(anonymous, no_password, "anything"), 401)
    assert admin.patch(f"/users/{name}", json={"enabled": False}).status_code == 200
    problem(login(anonymous, name, "right"), 401)
    problem(anonymous.get("/me"), 401)
    problem(anonymous.get("/me", headers={"Authorization": "Bearer pw_user_forged"}), 401)


def test_disabling_a_user_ends_their_session(
    admin: httpx.Client, anonymous: httpx.Client, app_server: InProcessAppServer, unique: Unique
) -> None:
    name = unique("leaver")
    create_user(admin, name, password="pw")
    token = login(anonymous, name, "pw").json()["token"]
    with bearer(app_server, token) as person:
        assert person.get("/me").status_code == 200
        assert admin.patch(f"/users/{name}", json={"enabled": False}).status_code == 200
        problem(person.get("/me"), 401)


@pytest.mark.parametrize("bad", ["Nul\x00Name", "Tab\tName", "Bell\x07"])
def test_control_characters_are_refused_alike_on_every_backend(
    admin: httpx.Client, unique: Unique, bad: str
) -> None:
    username = unique("ctl")
    problem(admin.post("/users", json={"username": username, "full_name": bad}), 422)
    problem(admin.post("/users", json={"username": f"{username}\x00x"}), 422)
    problem(admin.post("/groups", json={"name": bad}), 422)
    assert search_total(admin, username) == 0


def test_search_wildcards_match_themselves(admin: httpx.Client, unique: Unique) -> None:
    stem = unique("wild")
    create_user(admin, f"{stem}_a", full_name="Percent 100% Sure")
    create_user(admin, f"{stem}xa", full_name="Plain")
    assert search_total(admin, f"{stem}_") == 1
    assert search_total(admin, "100%") >= 1
    assert search_total(admin, f"{stem}%") == 0
