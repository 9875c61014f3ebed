"""Seeding a running App Server through its API, and waiting for what follows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
WAIT_SECONDS = 30.0


def wait_for(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """Poll ``condition()`` until it returns something true and return that; fail on time-out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def top_up(admin: httpx.Client, account_id: int, amount: int) -> None:
    body = {"txn_id": str(uuid.uuid4()), "amount": amount}
    response = admin.post(f"/accounts/by-id/{account_id}/top-up", json=body)
    assert response.status_code == 200, response.text


# What a job decision says of the policy pipeline when no filter or script applies.
NO_POLICY: dict[str, object] = {
    "conversion": {"grayscale": False, "duplex": False, "nup": 1, "fit_to": ""},
    "steps": [],
    "cost_override": None,
    "approval": False,
    "approver_group": "",
    "charge_account_id": None,
    "denied_by": "",
}


def add_printer(admin: httpx.Client, name: str, *, colour: bool) -> None:
    """Create printer ``name`` at HQ, every page priced at :data:`PRICES`."""
    body = {"name": name, "colour": colour, "cost_model": {"sizes": {"default": PRICES}}}
    created = admin.post("/printers", json=body)
    assert created.status_code == 201, created.text


def add_user(
    admin: httpx.Client, name: str, balance: int = 0, *, restricted: bool = True, password: str = ""
) -> int:
    """Create a user (with ``balance`` credited); return their personal account id."""
    body: dict[str, Any] = {"username": name, "restricted": restricted}
    if password:
        body["password"] = password
    created = admin.post("/users", json=body)
    assert created.status_code == 201, created.text
    account_id: int = created.json()["account_id"]
    if balance:
        top_up(admin, account_id, balance)
    return account_id
