"""Every timestamp in an answer carries its UTC offset, on SQLite (which hands timestamps back
without a zone) as on PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.testing.inprocess import InProcessAppServer
from support.seeding import PRICES, add_user

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def _timestamps(value: Any) -> Iterator[str]:
    """Every string in a JSON document that looks like a date and time."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _timestamps(item)
    elif isinstance(value, list):
        for item in value:
            yield from _timestamps(item)
    elif isinstance(value, str) and TIMESTAMP.match(value):
        yield value


def _client(app: InProcessAppServer, token: str) -> httpx.Client:
    return app.client(token)


@pytest.fixture
def seeded(app_server: InProcessAppServer, role_tokens: dict[Role, str]) -> str:
    """A printer with a failing script, a registered provider, a decision (so a script
    error), a top-up, a heartbeat, a held job; returns the user's name."""
    suffix = uuid.uuid4().hex[:8]
    printer = f"stamp-{suffix}"
    with _client(app_server, role_tokens[Role.ADMIN]) as admin:
        body = {"name": printer, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
        source = 'function printJobHook(inputs, actions) { throw new Error("boom"); }'
        put = admin.put("/scripts", params={"printer": printer}, json={"source": source})
        assert put.status_code == 200, put.text
        add_user(admin, f"stamped-{suffix}", 500)
        assert admin.post("/sites", json={"name": "north"}).status_code in (201, 409)
        made = admin.post("/tokens", json={"role": "provider", "name": f"stamp-provider-{suffix}"})
        assert made.status_code == 201, made.text
        provider_token = made.json()["token"]
    with _client(app_server, provider_token) as provider:
        register = {"name": f"stamp-provider-{suffix}", "ipp_url": "ipp://127.0.0.1/ipp/print",
                    "printers": [{"name": printer}]}  # fmt: skip
        assert provider.post("/providers/register", json=register).status_code == 200
        job = {"username": f"stamped-{suffix}", "printer": printer, "pages": 1}
        decided = provider.post("/jobs/decision", json=job)
        assert decided.status_code == 200, decided.text
        report = {"provider": register["name"], "jobs": [{
            "job_ref": f"stamp-{suffix}", "provider_job_id": 1, "queue": "secure",
            "queue_kind": "hold", "username": f"stamped-{suffix}", "printer": printer,
            "submitted_at": "2026-01-01T10:00:00+01:00", "expires_at": "2099-01-01T00:00:00Z",
        }]}  # fmt: skip
        reported = provider.post("/held-jobs/reports", json=report)
        assert reported.status_code == 200, reported.text
    with _client(app_server, role_tokens[Role.SITE]) as site:
        beat = site.post("/sites/north/status", json={"site": "north", "mode": "online"})
        assert beat.status_code == 200, beat.text
    return f"stamped-{suffix}"


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.ADMIN, "/providers"),
        (Role.ADMIN, "/tokens"),
        (Role.ADMIN, "/transactions"),
        (Role.ADMIN, "/scripts/errors"),
        (Role.ADMIN, "/sites"),
        (Role.ADMIN, "/held-jobs?user={user}"),
        (Role.ADMIN, "/me/transactions"),
        (Role.USER, "/me/transactions"),
    ],
)
def test_every_timestamp_has_an_offset(
    app_server: InProcessAppServer, role_tokens: dict[Role, str], seeded: str, role: Role, path: str
) -> None:
    if role is Role.USER:
        with _client(app_server, role_tokens[Role.USER]) as person:
            me = person.get("/me")
        with _client(app_server, role_tokens[Role.ADMIN]) as admin:
            body = {"txn_id": str(uuid.uuid4()), "amount": 100}
            topped = admin.post(f"/accounts/by-id/{me.json()['account_id']}/top-up", json=body)
            assert topped.status_code == 200, topped.text
    if path == "/me/transactions" and role is Role.ADMIN:
        with _client(app_server, role_tokens[Role.ADMIN]) as admin:
            body = {"txn_id": str(uuid.uuid4()), "amount": 100}
            account = admin.get("/me").json()["account_id"]
            assert admin.post(f"/accounts/by-id/{account}/top-up", json=body).status_code == 200
    with _client(app_server, role_tokens[role]) as client:
        answer = client.get(path.format(user=seeded))
    assert answer.status_code == 200, answer.text
    found = list(_timestamps(answer.json()))
    assert found, f"{path} gave no timestamp to check: {answer.text[:300]}"
    for text in found:
        moment = datetime.fromisoformat(text)
        assert moment.utcoffset() is not None, f"{path}: {text} has no UTC offset"
        assert text.endswith(("Z", "+00:00")), f"{path}: {text} is not in UTC"
