"""Bad input answers 4xx with a problem document, and writes nothing, on each backend."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.testing.inprocess import InProcessAppServer

LONG = "x" * 129  # names hold 128 characters
HUGE = 2**64  # beyond both backends' 64-bit integers


@dataclass(frozen=True)
class World:
    """What each bad request aims at, with a prefix shared by every name a case could create."""

    prefix: str
    user: str
    account: int
    shared: str
    printer: str


@dataclass(frozen=True)
class Bad:
    """One bad request (``json`` or raw ``content``); its strings may hold ``{user}``, ``{p}``…

    Requests to ``/jobs/…`` are sent with the provider token, the others with the admin's.
    """

    status: int
    method: str
    path: str
    json: Any = None
    content: str | None = None
    content_type: str = "application/json"


def top_up(status: int, body: Any, how: str = "top-up") -> Bad:
    return Bad(status, "POST", f"/accounts/by-id/{{account}}/{how}", json=body)


def job(status: int, path: str, **fields: Any) -> Bad:
    body = {"username": "{user}", "printer": "{printer}", "pages": 3, **fields}
    if path == "printed":
        body = {"txn_id": "{txn}", "job_ref": "{p}-job", **body}
    return Bad(status, "POST", f"/jobs/{path}", json=body)


CASES: dict[str, Bad] = {
    # malformed bodies
    "malformed json": Bad(422, "POST", "/users", content='{"username": "{p}-a",'),
    "json not an object": Bad(422, "POST", "/users", content='["{p}-a"]'),
    "empty body": Bad(422, "POST", "/accounts/by-id/{account}/top-up", content=""),
    "json sent as text/plain": Bad(
        422, "POST", "/users", content='{"username": "{p}-a"}', content_type="text/plain"
    ),
    "unknown field on user": Bad(422, "POST", "/users", json={"username": "{p}-a", "role": 1}),
    "unknown field on top-up": top_up(422, {"txn_id": "{txn}", "amount": 100, "bonus": 5}),
    "unknown field in cost model": Bad(
        422,
        "POST",
        "/printers",
        json={"name": "{p}-pr", "cost_model": {"sizes": {"A4": {"grey": 1}}}},
    ),
    # money
    "negative top-up": top_up(422, {"txn_id": "{txn}", "amount": -100}),
    "zero top-up": top_up(422, {"txn_id": "{txn}", "amount": 0}),
    "fractional top-up": top_up(422, {"txn_id": "{txn}", "amount": 1.5}),
    "whole float top-up": top_up(422, {"txn_id": "{txn}", "amount": 150.0}),
    "top-up as a string": top_up(422, {"txn_id": "{txn}", "amount": "150"}),
    "top-up as a boolean": top_up(422, {"txn_id": "{txn}", "amount": True}),
    "huge top-up": top_up(422, {"txn_id": "{txn}", "amount": 10**13}),
    "missing amount": top_up(422, {"txn_id": "{txn}"}),
    "zero adjustment": top_up(422, {"txn_id": "{txn}", "amount": 0}, "adjust"),
    "fractional adjustment": top_up(422, {"txn_id": "{txn}", "amount": -1.5}, "adjust"),
    "adjustment as a string": top_up(422, {"txn_id": "{txn}", "amount": "-150"}, "adjust"),
    "over-long comment": top_up(422, {"txn_id": "{txn}", "amount": 1, "comment": "c" * 257}),
    "negative credit limit": Bad(422, "PATCH", "/users/{user}", json={"credit_limit": -1}),
    "fractional credit limit": Bad(422, "PATCH", "/users/{user}", json={"credit_limit": 0.5}),
    "credit limit as a string": Bad(
        422, "PATCH", "/accounts/{shared}", json={"credit_limit": "500"}
    ),
    # transaction ids
    "non-uuid txn_id": top_up(422, {"txn_id": "not-a-uuid", "amount": 100}),
    "numeric txn_id": top_up(422, {"txn_id": 12345, "amount": 100}),
    "truncated txn_id": top_up(422, {"txn_id": str(uuid.uuid4())[:-1], "amount": 100}),
    "missing txn_id": top_up(422, {"amount": 100}),
    "printed job with a bad txn_id": job(422, "printed", txn_id="job-1"),
    # job usage
    "decision: pages < colour_pages": job(422, "decision", pages=2, colour_pages=3),
    "decision: zero copies": job(422, "decision", copies=0),
    "decision: negative pages": job(422, "decision", pages=-1),
    "decision: fractional pages": job(422, "decision", pages=1.5),
    "decision: empty paper size": job(422, "decision", paper_size=""),
    "decision: empty username": job(422, "decision", username=" "),
    "printed: pages < colour_pages": job(422, "printed", pages=1, colour_pages=2),
    "printed: zero copies": job(422, "printed", copies=0),
    "printed: pages unknown": job(422, "printed", pages=None),
    "printed: no job_ref": job(422, "printed", job_ref=""),
    "printed: over-long job_ref": job(422, "printed", job_ref="j" * 81),
    "printed: bad origin": job(422, "printed", origin="north"),
    # names
    "username with a space": Bad(422, "POST", "/users", json={"username": "{p} a"}),
    "username with a slash": Bad(422, "POST", "/users", json={"username": "{p}/a"}),
    "empty username": Bad(422, "POST", "/users", json={"username": "   "}),
    "over-long username": Bad(422, "POST", "/users", json={"username": "{p}" + LONG}),
    "over-long full name": Bad(
        422, "POST", "/users", json={"username": "{p}-a", "full_name": "f" * 257}
    ),
    "over-long group": Bad(422, "POST", "/groups", json={"name": "{p}" + LONG}),
    "blank group": Bad(422, "POST", "/groups", json={"name": " \t "}),
    "over-long account": Bad(422, "POST", "/accounts", json={"name": "{p}" + LONG}),
    "over-long printer": Bad(422, "POST", "/printers", json={"name": "{p}" + LONG}),
    "over-long token name": Bad(
        422, "POST", "/tokens", json={"role": "device", "name": "{p}" + LONG}
    ),
    "groups not a list": Bad(422, "PATCH", "/users/{user}", json={"groups": "{p}-g"}),
    "PIN with letters": Bad(422, "PATCH", "/users/{user}", json={"pin": "12a4"}),
    "account PIN with letters": Bad(422, "PATCH", "/accounts/{shared}", json={"pin": "x"}),
    # registry
    "negative page price": Bad(
        422,
        "PATCH",
        "/printers/{printer}",
        json={"cost_model": {"sizes": {"A4": {"grey_simplex": -1}}}},
    ),
    "discount beyond 100 %": Bad(
        422,
        "PATCH",
        "/printers/{printer}",
        json={"cost_model": {"group_modifiers": {"{p}-g": -10001}}},
    ),
    "unknown device kind": Bad(
        422, "POST", "/devices", json={"name": "{p}-dev", "kind": "toaster"}
    ),
    "unknown token role": Bad(422, "POST", "/tokens", json={"role": "admin", "name": "{p}-t"}),
    # query and path parameters
    "account id zero in query": Bad(422, "GET", "/transactions?account_id=0"),
    "limit too large": Bad(422, "GET", "/users?limit=5000"),
    "limit not a number": Bad(422, "GET", "/transactions?limit=many"),
    "account id not a number": Bad(
        422, "POST", "/accounts/by-id/first/top-up", json={"txn_id": "{txn}", "amount": 1}
    ),
    "account id beyond 64 bits": Bad(
        422, "POST", f"/accounts/by-id/{HUGE}/top-up", json={"txn_id": "{txn}", "amount": 1}
    ),
    "account id beyond 64 bits in query": Bad(422, "GET", f"/transactions?account_id={HUGE}"),
    "offset beyond 64 bits": Bad(422, "GET", f"/users?offset={HUGE}"),
    "token id beyond 64 bits": Bad(422, "DELETE", f"/tokens/{HUGE}"),
    # routes and methods
    "unknown route": Bad(404, "GET", "/nothing-here"),
    "wrong method": Bad(405, "PUT", "/users/{user}", json={"full_name": "x"}),
    "csv import as json": Bad(415, "POST", "/users/import", json={"username": "{p}-a"}),
}


def fill(value: Any, names: dict[str, str]) -> Any:
    """``value`` with ``{user}``, ``{p}``… filled in (strings inside lists and dicts too)."""
    if isinstance(value, str):
        return _fill_text(value, names)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    return value


def _fill_text(text: str, names: dict[str, str]) -> str:
    for key, replacement in names.items():
        text = text.replace("{" + key + "}", replacement)
    return text


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def world(app_server: InProcessAppServer, role_tokens: dict[Role, str]) -> World:
    """A user with a balance, a shared account and a printer, for the bad requests to aim at."""
    prefix = f"bad-{uuid.uuid4().hex[:8]}"
    user, shared, printer = f"{prefix}-user", f"{prefix}-shared", f"{prefix}-printer"
    with app_server.client(role_tokens[Role.ADMIN]) as admin:
        account = ok(admin.post("/users", json={"username": user}), 201)["account_id"]
        top_up = {"txn_id": _txn(), "amount": 500}
        ok(admin.post(f"/accounts/by-id/{account}/top-up", json=top_up))
        ok(admin.post("/accounts", json={"name": shared, "users": [user]}), 201)
        ok(admin.post("/printers", json={"name": printer}), 201)
    return World(prefix, user, account, shared, printer)


def _txn() -> str:
    return str(uuid.uuid4())


def snapshot(admin: httpx.Client, world: World) -> dict[str, Any]:
    """Everything a bad request could have written."""

    def mine(path: str) -> list[Any]:
        return [row for row in ok(admin.get(path)) if world.prefix in row["name"]]

    return {
        "user": ok(admin.get(f"/users/{world.user}")),
        "ledger": ok(admin.get("/transactions", params={"account_id": world.account})),
        "users": ok(admin.get("/users", params={"search": world.prefix}))["items"],
        "groups": mine("/groups"),
        "accounts": mine("/accounts"),
        "printers": mine("/printers"),
        "devices": mine("/devices"),
        "tokens": mine("/tokens"),
    }


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_is_a_problem_and_writes_nothing(
    admin: httpx.Client, provider: httpx.Client, world: World, case: str
) -> None:
    bad = CASES[case]
    names = {
        "p": world.prefix,
        "user": world.user,
        "account": str(world.account),
        "shared": world.shared,
        "printer": world.printer,
        "txn": _txn(),
    }
    client = provider if bad.path.startswith("/jobs/") else admin
    before = snapshot(admin, world)
    if bad.content is not None:
        response = client.request(
            bad.method,
            _fill_text(bad.path, names),
            content=_fill_text(bad.content, names).encode(),
            headers={"Content-Type": bad.content_type},
        )
    else:
        response = client.request(
            bad.method, _fill_text(bad.path, names), json=fill(bad.json, names)
        )
    assert_problem(response, bad.status)
    assert snapshot(admin, world) == before


def test_validation_problems_name_the_field(admin: httpx.Client, world: World) -> None:
    response = admin.post(
        f"/accounts/by-id/{world.account}/top-up", json={"txn_id": "nope", "amount": -1}
    )
    assert_problem(response, 422)
    body = response.json()
    locations = {e["location"] for e in body["errors"]}
    assert locations == {"body.txn_id", "body.amount"}
    assert "body.amount" in body["detail"]


def test_nul_characters_in_lookups_are_refused_or_not_found(
    admin: httpx.Client, provider: httpx.Client, world: World
) -> None:
    # PostgreSQL cannot hold NUL characters (422); SQLite simply finds nothing (404)
    before = snapshot(admin, world)
    response = admin.get(f"/users/{world.prefix}%00")
    assert response.status_code in {404, 422}
    assert_problem(response, response.status_code)
    decision = provider.post(
        "/jobs/decision", json={"username": "a\x00b", "printer": world.printer, "pages": 1}
    )
    assert decision.status_code in {404, 422}
    assert_problem(decision, decision.status_code)
    login = admin.post("/auth/login", json={"username": "a\x00b", "password": "x"})
    assert login.status_code in {401, 422}
    assert_problem(login, login.status_code)
    assert snapshot(admin, world) == before


def test_refused_replay_with_a_bad_amount_leaves_the_original(
    admin: httpx.Client, world: World
) -> None:
    txn_id = _txn()
    path = f"/accounts/by-id/{world.account}/top-up"
    ok(admin.post(path, json={"txn_id": txn_id, "amount": 25}))
    before = snapshot(admin, world)
    for amount in (25.0, "25", -25, 0):
        assert_problem(admin.post(path, json={"txn_id": txn_id, "amount": amount}), 422)
    assert_problem(admin.post(path, json={"txn_id": txn_id, "amount": 26}), 409)
    assert snapshot(admin, world) == before
