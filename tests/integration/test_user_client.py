"""The User Client's server side end to end: a real App Server, Print Provider and
ippeveprinters; jobs printed over IPP to queues whose printers ask before printing; the
event stream read over real HTTP; answers applied once and charged once."""

from __future__ import annotations

import gc
import getpass
import subprocess
import threading
import tkinter as tk
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import ImageGrab

from printwarden.client import gui
from printwarden.provider.ipp.client import IppClient
from printwarden.testing.provider import QueueSpec
from support.client_process import TerminalClient
from support.devices import DeviceRig, device_rig, unique
from support.questions import PIN, ask_before_printing
from support.questions import PRINTERS as ASKING_PRINTERS
from support.questions import QUEUES as ASKING_QUEUES
from support.seeding import PRICES, wait_for
from support.sse import listening

PRINTERS = {**ASKING_PRINTERS, "plain-laser": True}
QUEUES = [*ASKING_QUEUES, QueueSpec("plain", "direct", "plain-laser"),
          QueueSpec("secure", "hold", "project-laser")]  # fmt: skip
PAGE_COST = PRICES["grey_simplex"]
IPPTOOL_TESTS = Path(__file__).parent.parent / "ipptool"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    with device_rig(tmp_path_factory.mktemp("client"), PRINTERS, QUEUES) as world:
        ask_before_printing(world.admin)
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
    account_id = rig.admin.get(f"/accounts/{project}").json()["id"]
    charged = rig.admin.get("/transactions", params={"account_id": account_id}).json()
    assert [t["comment"] for t in charged] == ["1 page on project-laser: grant 7"]


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


def test_the_terminal_client_asks_and_charges_the_chosen_account_once(
    rig: DeviceRig, tmp_path: Path
) -> None:
    password = uuid.uuid4().hex
    user = rig.add_user(1000, password=password)
    project = shared_account(rig, user)
    before = len(rig.received("project-laser"))
    client = TerminalClient(rig.app.url, user, password, tmp_path / "config")
    try:
        client.expect(f"Logged in as {user}")
        document = send(rig, user, "project")
        asked = client.expect("Account number: ")
        assert document in asked
        assert "0.10" in asked  # the cost
        assert f"1) {project}" in asked
        client.type("1")
        client.expect("PIN: ")
        client.type("1111")
        client.expect("Comment: ")
        client.type("wrong pin first")
        client.expect("wrong or missing PIN")
        client.expect("Account number: ")
        client.type("1")
        client.expect("PIN: ")
        client.type(PIN)
        client.expect("Comment: ")
        client.type("grant 7")
        client.expect(f"{document}: printing")
        client.expect("Printed")
    finally:
        client.stop()
    wait_for(lambda: len(rig.received("project-laser")) == before + 1, "the released job")
    assert account_balance(rig, project) == -PAGE_COST
    assert rig.balance(user) == 1000
    token_file = next((tmp_path / "config").iterdir())
    assert token_file.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A virtual X display (Xvfb) for this test's windows."""
    number = 90 + uuid.uuid4().int % 500
    command = ["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    wait_for(socket.exists, "Xvfb's socket")
    monkeypatch.setenv("DISPLAY", f":{number}")
    try:
        yield f":{number}"
    finally:
        # A closed window's Tk objects are freed here, on Tk's thread: freed by a collection
        # another thread of a later test starts, Tcl aborts the process ("async handler
        # deleted by the wrong thread") or a Tk variable fails that test.
        gc.collect()
        server.terminate()
        server.wait(timeout=10)


def screenshot_text(display: str, widget: tk.Misc, folder: Path) -> str:
    """What Tesseract reads in a screenshot of ``widget``'s window on ``display``."""
    widget.update()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    box = (x, y, x + widget.winfo_width(), y + widget.winfo_height())
    image = ImageGrab.grab(bbox=box, xdisplay=display)
    path = folder / "dialog.png"
    image.resize((image.width * 2, image.height * 2)).save(path)
    read = subprocess.run(["tesseract", str(path), "stdout"], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return read.stdout


def test_the_window_shows_the_cost_and_print_prints_it(
    rig: DeviceRig, tmp_path: Path, display: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = uuid.uuid4().hex
    user = rig.add_user(1000, password=password)
    monkeypatch.setenv("PRINTWARDEN_CLIENT_PASSWORD", password)
    before = len(rig.received("confirm-laser"))
    window = gui.open_window(tmp_path / "config", server=rig.app.url, username=user)
    seen: dict[str, str] = {}
    sent: list[str] = []

    def step() -> None:
        if window.state.username and not sent:
            sent.append("")
            threading.Thread(target=lambda: sent.append(send(rig, user, "confirm"))).start()
        if window.dialog is not None and "cost" not in seen:
            dialog = window.root.nametowidget(".question")
            seen["cost"] = str(dialog.nametowidget("cost").cget("text"))
            seen["screen"] = screenshot_text(display, dialog, tmp_path)
            dialog.nametowidget("print").invoke()
        if "cost" in seen and len(rig.received("confirm-laser")) > before:
            window.quit()
            return
        window.root.after(100, step)

    window.root.after(100, step)
    window.root.after(60_000, window.quit)  # never hangs the suite
    gui.run_window(window, None)
    assert seen["cost"] == "0.10 USD"
    assert "0.10" in seen["screen"], seen["screen"]
    assert len(rig.received("confirm-laser")) == before + 1
    wait_for(lambda: rig.balance(user) == 1000 - PAGE_COST, "the charge")


def test_a_cups_client_sees_the_held_job_and_why_in_its_ipp_notifications(
    rig: DeviceRig, tmp_path: Path
) -> None:
    user = getpass.getuser()  # a local client: the provider knows who it is
    made = rig.admin.post("/users", json={"username": user, "restricted": False})
    assert made.status_code in (201, 409), made.text
    document = tmp_path / "letter.txt"
    document.write_text("a letter\n")
    suite = str(IPPTOOL_TESTS / "question-events.test")
    command = ["ipptool", "-t", "-T", "30", "-d", f"user={user}", "-f", str(document),
               rig.provider.uri("confirm"), suite]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job-hold-until-specified" in done.stdout


def test_released_at_a_device_with_an_account_the_question_closes_and_that_account_pays(
    rig: DeviceRig,
) -> None:
    user, token = person(rig)
    card = uuid.uuid4().hex[:10]
    assert rig.admin.patch(f"/users/{user}", json={"cards": [card]}).status_code == 200
    project = shared_account(rig, user)
    _device, device_token = rig.add_device("project-laser")
    with listening(rig.app.api, token) as heard, api(rig, device_token) as device:
        document = send(rig, user, "project")
        asked = heard.wait("question", lambda q: q["document_name"] == document)
        session = device.post("/device/sessions", json={"method": "card", "card_number": card})
        assert session.status_code == 201, session.text
        sid = session.json()["session_id"]
        listed = device.get(f"/device/sessions/{sid}/jobs").json()["jobs"]
        assert [(j["id"], j["question"]) for j in listed] == [(asked["job"], "account")]
        chosen = device.put(f"/device/sessions/{sid}/account",
                            json={"account": project, "pin": PIN})  # fmt: skip
        assert chosen.status_code == 200, chosen.text
        released = device.post(f"/device/sessions/{sid}/jobs/{asked['job']}/release")
        assert released.status_code == 200, released.text
        closed = heard.wait("question.closed", lambda e: e["job"] == asked["job"])
        assert closed["by"] == "device"
        heard.wait("job.printed", lambda e: e["job"] == asked["job"])
    assert account_balance(rig, project) == -PAGE_COST
