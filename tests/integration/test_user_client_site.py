"""The User Client at a site: its event stream and answers through the Site Server, online
(passed on from HQ as they come) and with the link cut (answered from the replica, the
choice journaled, and charged once at HQ after reconciliation)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.provider.ipp.client import IppClient
from support.client_process import TerminalClient
from support.seeding import PRICES
from support.site import PRINTER, World, site_world
from support.sse import listening

PIN = "9753"
PROJECT = "Site-Project"
PAGE = PRICES["grey_simplex"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("client-site")) as made:
        rules = {"account_selection": True, "allow_personal": False}
        changed = made.admin.patch(f"/printers/{PRINTER}", json={"client_rules": rules})
        assert changed.status_code == 200, changed.text
        yield made


def person(world: World) -> tuple[str, str]:
    """A user granted the shared account, logged in at the site as a User Client."""
    name, password = f"walker-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    made = world.admin.post("/users", json={"username": name, "password": password})
    assert made.status_code == 201, made.text
    grant(world, name)
    body = {"username": name, "password": password, "client": "desk-3"}
    login = httpx.post(f"{world.site.api}/auth/login", json=body, timeout=30)
    assert login.status_code == 200, login.text
    wait(world.caught_up, "the client token at the site")
    return name, str(login.json()["token"])


def grant(world: World, name: str) -> None:
    """Let ``name`` (alone) charge the shared account."""
    account = {"name": PROJECT, "pin": PIN, "users": [name], "restricted": False}
    if world.admin.post("/accounts", json=account).status_code == 409:
        changed = world.admin.patch(f"/accounts/{PROJECT}", json={"users": [name]})
        assert changed.status_code == 200, changed.text


def wait(condition: object, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def send(world: World, user: str) -> tuple[str, int]:
    document = f"site-{uuid.uuid4().hex[:8]}.txt"
    with IppClient(world.provider.uri("direct"), user_name=user, timeout=30) as client:
        job = client.print_job(f"{document}\n".encode(), document_format="text/plain",
                         job_name=document, requesting_user_name=user)  # fmt: skip
    return document, job


def choose_project(world: World, token: str, user: str) -> str:
    """Print, hear the question at the site, answer it with the shared account; the job."""
    before = len(world.printed())
    with listening(world.site.api, token) as heard:
        document, _job = send(world, user)
        asked = heard.wait("question", lambda q: q["document_name"] == document)
        assert [a["name"] for a in asked["accounts"]] == [PROJECT]
        assert asked["allow_personal"] is False
        headers = {"Authorization": f"Bearer {token}"}
        personal = httpx.post(f"{world.site.api}/me/questions/{asked['job']}", headers=headers,
                              json={"action": "print"}, timeout=30)  # fmt: skip
        assert personal.status_code == 422, personal.text
        answered = httpx.post(
            f"{world.site.api}/me/questions/{asked['job']}", headers=headers, timeout=30,
            json={"action": "print", "account": PROJECT, "pin": PIN, "comment": "field trip"},
        )  # fmt: skip
        assert answered.status_code == 200, answered.text
        assert answered.json()["outcome"] == "printing"
        heard.wait("question.closed", lambda e: e["job"] == asked["job"])
    wait(lambda: len(world.printed()) == before + 1, "the answered job printed")
    return str(asked["job"])


def project_balance(world: World) -> int:
    value: int = world.admin.get(f"/accounts/{PROJECT}").json()["balance"]
    return value


def test_online_the_site_passes_the_stream_on_from_hq(world: World) -> None:
    user, token = person(world)
    before = project_balance(world)
    choose_project(world, token, user)
    wait(lambda: project_balance(world) == before - PAGE, "the charge at HQ")


def test_offline_the_site_asks_and_applies_the_choice_then_hq_charges_it_once(
    world: World,
) -> None:
    user, token = person(world)
    before = project_balance(world)
    with world.outage():
        choose_project(world, token, user)
    wait(lambda: project_balance(world) == before - PAGE, "the reconciled charge at HQ")
    time.sleep(1.0)
    assert project_balance(world) == before - PAGE  # once
    assert world.balance(user) == 0
    account_id = world.admin.get(f"/accounts/{PROJECT}").json()["id"]
    charged = world.admin.get("/transactions", params={"account_id": account_id}).json()
    assert charged[0]["comment"] == f"1 page on {PRINTER}: field trip"  # the site's journal


def test_a_stream_opened_online_ends_when_the_site_goes_offline(world: World) -> None:
    _user, token = person(world)
    ended = threading.Event()
    headers = {"Authorization": f"Bearer {token}"}

    def read() -> None:
        with httpx.stream("GET", f"{world.site.api}/me/events", headers=headers,
                          timeout=httpx.Timeout(90, connect=10)) as response:  # fmt: skip
            for _line in response.iter_lines():
                pass
        ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)
    assert not ended.is_set()
    with world.outage():
        assert ended.wait(10), "the relayed stream outlived the link"
        with listening(world.site.api, token) as heard:  # the site answers it now
            assert heard.events[0][2]["questions"] == []
    reader.join(timeout=5)


def test_the_terminal_client_keeps_working_through_the_outage(world: World, tmp_path: Path) -> None:
    name, password = f"typist-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    assert world.admin.post("/users", json={"username": name, "password": password}).is_success
    grant(world, name)
    before = project_balance(world)
    client = TerminalClient(world.site.url, name, password, tmp_path / "config")
    try:
        client.expect(f"Logged in as {name}")
        wait(world.caught_up, "the client token at the site")
        with world.outage():
            # The relayed stream ended with the link; the client's next one is the site's.
            document, _job = send(world, name)
            asked = client.expect("Account number: ")
            assert document in asked
            client.type("1")
            client.expect("PIN: ")
            client.type(PIN)
            client.expect(f"{document}: printing")
    finally:
        client.stop()
    wait(lambda: project_balance(world) == before - PAGE, "the reconciled charge at HQ")
    time.sleep(1.0)
    assert project_balance(world) == before - PAGE
