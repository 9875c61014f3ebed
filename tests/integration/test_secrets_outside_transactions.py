"""No password, PIN or identity check runs while a database connection is held.

In process, on both backends: every argon2 verification of every login surface records how
many of the pool's connections were checked out at that moment; with one request at a time
and no background threads (the app's lifespan is not started), that must be none. Before the
fix, ``/auth/login`` ran argon2 inside its write transaction (SQLite's write lock held for
0.1 s per attempt: "database is locked" under a flood), the device routes and PIN checks
inside theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from printwarden import security
from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.service.app import create_app
from printwarden.service.secret_checks import SecretChecks
from printwarden.store import printers, tokens, users
from printwarden.store.db import Database
from support.web import csrf_of

PASSWORD = "correct horse battery"
PRICES = {"sizes": {"default": {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50,
                                "colour_duplex": 40}}}  # fmt: skip


@pytest.fixture
def world(hq: Database, tmp_path: Path) -> Iterator[tuple[FastAPI, dict[str, str], list[int]]]:
    settings = Settings(data_dir=tmp_path, database_url=hq.url)
    app = create_app(settings, database=hq)
    held: list[int] = []
    original = security.verify_secret

    def verify(stored_hash: str | None, secret: str) -> bool:
        if stored_hash and secret:  # an argon2 verification really runs
            held.append(hq.engine.pool.checkedout())  # type: ignore[attr-defined]
        return original(stored_hash, secret)

    tokens_by_role = seed(hq, settings.resolved_secret())
    patch = pytest.MonkeyPatch()
    patch.setattr(security, "verify_secret", verify)
    try:
        yield app, tokens_by_role, held
    finally:
        patch.undo()
        app.state.printwarden.checks.close()


def seed(database: Database, secret: bytes) -> dict[str, str]:
    with database.session() as session:
        admin = users.create_user(session, secret, "boss", users.UserChanges(is_admin=True))
        changes = users.UserChanges(password=PASSWORD, pin="2468", identity_number="ID-7",
                                    cards=["CARD-7"])  # fmt: skip
        users.create_user(session, secret, "alice", changes)
        users.create_user(session, secret, "card-only", users.UserChanges(cards=["CARD-8"]))
        printers.save_printer(session, "laser", {"cost_model": PRICES}, create=True)
        printers.save_device(session, "mfd", {"kind": "mfd", "printer": "laser",
                                              "cost_model": PRICES}, create=True)  # fmt: skip
        admin_token, _ = tokens.issue_token(session, Role.ADMIN, name="t", user_id=admin.id)
        device, _ = tokens.issue_token(session, Role.DEVICE, name="mfd", scope="device:mfd")
        provider, _ = tokens.issue_token(session, Role.PROVIDER, name="p")
    return {"admin": admin_token, "device": device, "provider": provider}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_secret_is_checked_while_a_connection_is_held(
    world: tuple[FastAPI, dict[str, str], list[int]],
) -> None:
    app, token, held = world
    asyncio.run(every_surface(app, token, held))
    assert set(held) == {0}, held  # no connection checked out during any check


async def every_surface(app: FastAPI, token: dict[str, str], held: list[int]) -> None:
    """One login (or PIN) on each surface, in turn; each must have checked a secret."""
    transport = httpx.ASGITransport(app=app)  # no lifespan: no background threads
    admin, device, provider = (bearer(token[r]) for r in ("admin", "device", "provider"))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        shared = {"name": "Research", "pin": "9753", "users": ["alice"]}
        assert (
            await client.post("/api/v1/accounts", json=shared, headers=admin)
        ).status_code == 201
        for method, path, body, headers, status in CALLS(device, provider):
            before = len(held)
            answer = await client.request(method, path, json=body, headers=headers)
            assert answer.status_code == status, (path, answer.text)
            assert len(held) > before, f"{path}: no secret checked"
        swipe = {"method": "card", "card_number": "CARD-7"}
        session = (await client.post("/api/v1/device/sessions", json=swipe, headers=device)).json()
        before = len(held)
        path = f"/api/v1/device/sessions/{session['session_id']}/account"
        pin = {"account": "Research", "pin": "9753"}
        chosen = await client.put(path, json=pin, headers=device)
        assert chosen.status_code == 200, chosen.text
        assert len(held) > before
        form = await client.get("/web/login")
        sent = {"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(form)}
        before = len(held)
        assert (await client.post("/web/login", data=sent)).status_code == 303
        assert len(held) > before


def CALLS(  # noqa: N802 - a table
    device: dict[str, str], provider: dict[str, str]
) -> list[tuple[str, str, dict[str, Any], dict[str, str], int]]:
    return [
        ("POST", "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}, {}, 200),
        ("POST", "/api/v1/auth/login", {"username": "alice", "password": "wrong"}, {}, 401),
        ("POST", "/api/v1/auth/login", {"username": "nobody", "password": "x"}, {}, 401),
        # A user without a password costs a check too: answered at once, they stood out.
        ("POST", "/api/v1/auth/login", {"username": "card-only", "password": "x"}, {}, 401),
        ("POST", "/api/v1/auth/device",
         {"method": "identity", "identity_number": "ID-7", "pin": "2468"}, device, 200),
        ("POST", "/api/v1/auth/device",
         {"method": "password", "username": "alice", "password": PASSWORD}, provider, 200),
        ("POST", "/api/v1/device/sessions",
         {"method": "identity", "identity_number": "ID-7", "pin": "0000"}, device, 401),
        ("POST", "/api/v1/device/sessions",
         {"method": "password", "username": "alice", "password": PASSWORD}, device, 201),
        ("POST", "/api/v1/jobs/decision",
         {"username": "alice", "printer": "laser", "pages": 1, "account": "Research",
          "account_pin": "9753"}, provider, 200),
        ("POST", "/api/v1/jobs/printed",
         {"username": "alice", "printer": "laser", "pages": 1, "account": "Research",
          "account_pin": "9753", "txn_id": "0190f5f0-0000-7000-8000-000000000001",
          "job_ref": "job-1"},
         provider, 200),
    ]  # fmt: skip


def test_a_printed_jobs_pin_is_checked_even_when_the_checks_are_full(
    world: tuple[FastAPI, dict[str, str], list[int]],
) -> None:
    """Logins beyond the bound of waiting checks are refused with 429; a printed job's
    shared-account PIN is not (the paper exists: a provider gives up on a refused charge)."""
    app, token, _held = world
    state = app.state.printwarden
    state.checks.close()
    state.checks = SecretChecks(workers=1, max_waiting=0)  # as if a flood filled it
    asyncio.run(_printed_while_full(app, token))


async def _printed_while_full(app: FastAPI, token: dict[str, str]) -> None:
    transport = httpx.ASGITransport(app=app)
    admin, provider = bearer(token["admin"]), bearer(token["provider"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        shared = {"name": "Research", "pin": "9753", "users": ["alice"]}
        made = await client.post("/api/v1/accounts", json=shared, headers=admin)
        assert made.status_code == 201, made.text
        login = {"username": "alice", "password": PASSWORD}
        assert (await client.post("/api/v1/auth/login", json=login)).status_code == 429
        job = {"username": "alice", "printer": "laser", "pages": 1, "account": "Research",
               "account_pin": "9753"}  # fmt: skip
        decided = await client.post("/api/v1/jobs/decision", json=job, headers=provider)
        assert decided.status_code == 429
        printed = {**job, "txn_id": "0190f5f0-0000-7000-8000-000000000002", "job_ref": "job-2"}
        charged = await client.post("/api/v1/jobs/printed", json=printed, headers=provider)
        assert charged.status_code == 200, charged.text
        assert charged.json()["account_id"] == made.json()["id"]  # the PIN was right
