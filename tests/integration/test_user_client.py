"""The User Client's server side end to end: a real App Server, Print Provider and
ippeveprinters; jobs printed over IPP to queues whose printers ask before printing; the
event stream read over real HTTP; answers applied once and charged once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from printwarden.provider.ipp.client import IppClient
from printwarden.testing.provider import QueueSpec
from support.devices import DeviceRig, device_rig, unique
from support.seeding import PRICES, wait_for
from support.sse import listening

PRINTERS = {"confirm-laser": True, "project-laser": True, "plain-laser": True}
QUEUES = [
    QueueSpec("confirm", "direct", "confirm-laser"),
    QueueSpec("project", "direct", "project-laser"),
    QueueSpec("plain", "direct", "plain-laser"),
    QueueSpec("secure", "hold", "project-laser"),
]
PAGE_COST = PRICES["grey_simplex"]
PIN = "4321"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    with device_rig(tmp_path_factory.mktemp("client"), PRINTERS, QUEUES) as world:
        rules = {"confirm-laser": {"confirm": "always"},
                 "project-laser": {"account_selection": True, "comment": True}}  # fmt: skip
        for printer, body in rules.items():
            changed = world.admin.patch(f"/printers/{printer}", json={"client_rules": body})
            assert changed.status_code == 200, changed.text
        yield world


def person(rig: DeviceRig, balance: int = 1000) -> tuple[str, str]:
    """A new user with a password; their name and a client token from the login route."""
    password = uuid.uuid4().hex
    name = rig.add_user(balance, password=password)
    login = {"username": name, "password": password, "client": "laptop-1"}
    answer = httpx.post(f"{rig.app.api}/auth/login", json=login, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "client"
    return name, str(answer.json()["token"])


def shared_account(rig: DeviceRig, user: str, pin: str = PIN) -> str:
    name = unique("project")
    body = {"name": name, "pin": pin, "users": [user], "restricted": False}
    created = rig.admin.post("/accounts", json=body)
    assert created.status_code == 201, created.text
    return name


def send(rig: DeviceRig, user: str, queue: str, text: str = "hello\n") -> str:
    document = unique("doc") + ".txt"
    with IppClient(rig.provider.uri(queue), user_name=user, timeout=30) as client:
        client.print_job(
            text.encode(), document_format="text/plain", job_name=document,
            requesting_user_name=user,
        )  # fmt: skip
    return document


def api(rig: DeviceRig, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=rig.app.api, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def account_balance(rig: DeviceRig, name: str) -> int:
    value: int = rig.admin.get(f"/accounts/{name}").json()["balance"]
    return value


def test_account_question_answered_with_a_shared_account_charges_it_once(
    rig: DeviceRig,
) -> None:
    user, token = person(rig)
    project = shared_account(rig, user)
    before = len(rig.received("project-laser"))
    with listening(rig.app.api, token) as heard, api(rig, token) as http:
        document = send(rig, user, "project")
        asked = heard.wait("question", lambda q: q["document_name"] == document)
        assert asked["kind"] == "account"
        assert asked["cost"] == PAGE_COST
        assert asked["printer"] == "project-laser"
        assert [a["name"] for a in asked["accounts"]] == [project]
        assert asked["accounts"][0]["needs_pin"] is True
        assert asked["comment"] is True
        job = asked["job"]
        assert len(rig.received("project-laser")) == before  # held until answered

        wrong = http.post(f"/me/questions/{job}", json={"action": "print", "account": project,
                                                        "pin": "0000"})  # fmt: skip
        assert wrong.status_code == 422, wrong.text  # refused; the question stays open
        assert "PIN" in wrong.json()["detail"]
        assert [q["job"] for q in http.get("/me/questions").json()] == [job]

        body = {"action": "print", "account": project, "pin": PIN, "comment": "grant 7"}
        answered = http.post(f"/me/questions/{job}", json=body)
        assert answered.status_code == 200, answered.text
        assert answered.json()["outcome"] == "printing"
        again = http.post(f"/me/questions/{job}", json=body)
        assert again.status_code == 409, again.text

        closed = heard.wait("question.closed", lambda e: e["job"] == job)
        assert closed == {"job": job, "outcome": "printing", "by": "client"}
        printed = heard.wait("job.printed", lambda e: e["job"] == job)
        assert printed["account"] == project
        assert printed["cost"] == PAGE_COST
        assert printed["currency"]
    wait_for(lambda: len(rig.received("project-laser")) == before + 1, "the released job")
    assert account_balance(rig, project) == -PAGE_COST
    assert rig.balance(user) == 1000


def test_confirmation_canceled_prints_nothing_and_charges_nothing(rig: DeviceRig) -> None:
    user, token = person(rig)
    before = len(rig.received("confirm-laser"))
    with listening(rig.app.api, token) as heard, api(rig, token) as http:
        document = send(rig, user, "confirm")
        asked = heard.wait("question", lambda q: q["document_name"] == document)
        assert asked["kind"] == "confirm"
        assert asked["accounts"] == []
        answered = http.post(f"/me/questions/{asked['job']}", json={"action": "cancel"})
        assert answered.status_code == 200, answered.text
        assert answered.json()["outcome"] == "canceled"
        heard.wait("question.closed", lambda e: e["outcome"] == "canceled")
        heard.wait("job.canceled", lambda e: e["job"] == asked["job"])
    assert len(rig.received("confirm-laser")) == before
    assert rig.balance(user) == 1000


def test_a_printer_that_asks_nothing_prints_at_once_and_the_client_hears_it(
    rig: DeviceRig,
) -> None:
    user, token = person(rig)
    with listening(rig.app.api, token) as heard:
        document = send(rig, user, "plain")
        printed = heard.wait("job.printed", lambda e: e["document_name"] == document)
        balance = heard.wait("balance", lambda e: e["balance"] == 1000 - PAGE_COST)
    assert printed["cost"] == PAGE_COST
    assert "question" not in heard.kinds()
    assert balance["currency"]


def test_unanswered_question_follows_the_timeout_policy(rig: DeviceRig) -> None:
    rules = {"confirm": "always", "timeout_seconds": 1, "on_timeout": "personal"}
    changed = rig.admin.patch("/printers/plain-laser", json={"client_rules": rules})
    assert changed.status_code == 200, changed.text
    try:
        user, token = person(rig)
        with listening(rig.app.api, token) as heard:
            document = send(rig, user, "plain")
            asked = heard.wait("question", lambda q: q["document_name"] == document)
            closed = heard.wait("question.closed", lambda e: e["job"] == asked["job"])
            assert closed["by"] == "timeout"
            assert closed["outcome"] == "printing"
            heard.wait("job.printed", lambda e: e["job"] == asked["job"])
        assert rig.balance(user) == 1000 - PAGE_COST
    finally:
        rig.admin.patch("/printers/plain-laser", json={"client_rules": {}})


def test_answered_on_a_hold_queue_the_job_waits_for_release_with_that_account(
    rig: DeviceRig,
) -> None:
    user, token = person(rig)
    project = shared_account(rig, user)
    with listening(rig.app.api, token) as heard, api(rig, token) as http:
        document = send(rig, user, "secure")
        asked = heard.wait("question", lambda q: q["document_name"] == document)
        body = {"action": "print", "account": project, "pin": PIN}
        answered = http.post(f"/me/questions/{asked['job']}", json=body)
        assert answered.json()["outcome"] == "held", answered.text
        held = rig.held_job(user, document)
        assert held is not None  # still waiting for release at a printer
        released = rig.admin.post(
            f"/held-jobs/{asked['job']}/release", json={"printer": "project-laser"}
        )
        assert released.status_code == 200, released.text
        heard.wait("job.printed", lambda e: e["job"] == asked["job"])
    assert account_balance(rig, project) == -PAGE_COST
    assert rig.balance(user) == 1000


def test_a_client_token_reaches_only_the_client_routes(rig: DeviceRig) -> None:
    _user, token = person(rig)
    with api(rig, token) as http:
        assert http.get("/me/questions").status_code == 200
        for path in ("/me/held-jobs", "/me/summary", "/users", "/me/web-print", "/printers"):
            assert http.get(path).status_code == 403, path
        revoked = http.delete("/me/client-tokens/current")
        assert revoked.status_code == 204, revoked.text
        assert http.get("/me/questions").status_code == 401


def test_long_poll_fallback_and_resume(rig: DeviceRig) -> None:
    user, token = person(rig)
    with api(rig, token) as http:
        first = http.get("/me/events/poll").json()
        assert [e["event"] for e in first["events"]] == ["hello"]
        assert first["events"][0]["data"]["balance"] == 1000
        document = send(rig, user, "plain")
        seen: list[dict[str, Any]] = []
        after = first["last_id"]
        while not any(e["event"] == "job.printed" for e in seen):
            polled = http.get("/me/events/poll", params={"after": after, "wait": 20}).json()
            assert polled["events"], "a long poll ended without an event"
            seen += polled["events"]
            after = polled["last_id"]
        printed = next(e for e in seen if e["event"] == "job.printed")
        assert printed["data"]["document_name"] == document
    with listening(rig.app.api, token, last_event_id=first["last_id"]) as heard:
        heard.wait("job.printed", lambda e: e["document_name"] == document)  # missed: replayed


def test_administrators_message_reaches_the_users_named(rig: DeviceRig) -> None:
    user, token = person(rig)
    with listening(rig.app.api, token) as heard:
        sent = rig.admin.post("/messages", json={"text": "Printers down at 5", "users": [user]})
        assert sent.json() == {"recipients": 1}
        message = heard.wait("message")
    assert message["text"] == "Printers down at 5"
