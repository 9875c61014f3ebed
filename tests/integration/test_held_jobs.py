"""Secure Print and Find-Me end to end: real App Server, Print Provider, ippeveprinters, lp.

Jobs are printed with CUPS' ``lp`` or over IPP, held at the provider, listed by the server,
and released through the device API (as an MFD would) or the user API; what arrives at the
printer and what the ledger charged are checked against each other.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.analysis import analyze
from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from support.devices import DeviceRig, device_rig, unique
from support.provider import PrinterSpec, ProviderProcess, QueueSpec, spool_documents
from support.seeding import PRICES, wait_for

COLOUR_PAGE = "1 0 0 setrgbcolor 72 72 200 200 rectfill showpage"
GREY_PAGE = "0.2 setgray 72 72 200 200 rectfill showpage"


OPEN_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def client(base_url: str, token: str) -> httpx.Client:
    """An API client with ``token``, closed after the test."""
    opened = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    OPEN_CLIENTS.append(opened)
    return opened


PRINTER_COLOURS = {"colour-laser": True, "mono-laser": False}
QUEUES = [
    QueueSpec("secure", "hold", "mono-laser"),
    QueueSpec("secure-colour", "hold", "colour-laser"),
    QueueSpec("findme", "findme"),
]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    with device_rig(tmp_path_factory.mktemp("held"), PRINTER_COLOURS, QUEUES) as world:
        yield world


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


def pdf(folder: Path, pages: list[str], paper: str = "a4") -> bytes:
    """A PDF made by Ghostscript from one PostScript program per page."""
    path = folder / f"{uuid.uuid4().hex}.pdf"
    command = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
               f"-sPAPERSIZE={paper}", f"-sOutputFile={path}", "-c", " ".join(pages)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path.read_bytes()


class Device:
    """A device's side of the device API, as an MFD app would speak it."""

    def __init__(self, rig: DeviceRig, printer: str, **fields: Any) -> None:
        self.name, token = rig.add_device(printer, **fields)
        self.http = client(rig.app.api, token)

    def login(self, **body: str) -> dict[str, Any]:
        response = self.http.post("/device/sessions", json=body)
        assert response.status_code == 201, response.text
        session: dict[str, Any] = response.json()
        return session

    def card(self, number: str) -> str:
        return str(self.login(method="card", card_number=number)["session_id"])

    def jobs(self, session: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/device/sessions/{session}/jobs")
        assert response.status_code == 200, response.text
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs

    def release(self, session: str, job: str) -> httpx.Response:
        return self.http.post(f"/device/sessions/{session}/jobs/{job}/release")


def print_held(rig: DeviceRig, user: str, data: bytes, queue: str, mime: str) -> str:
    """Print over IPP to a hold or Find-Me queue; the job's id once the server lists it."""
    name = unique("doc")
    with IppClient(rig.provider.uri(queue), user_name=user, timeout=30) as client:
        client.print_job(data, document_format=mime, job_name=name, requesting_user_name=user)
    job = wait_for(lambda: rig.held_job(user, name), f"{name} held at the server")
    return str(job["id"])


def wait_received(rig: DeviceRig, printer: str, before: int) -> bytes:
    """The next document ``printer`` receives after it had ``before`` documents."""

    def arrived() -> bytes | None:
        found = rig.printers[printer].documents()
        if len(found) <= before:
            return None
        return found[max(found)].read_bytes()

    received: bytes = wait_for(arrived, f"a new document at {printer}")
    return received


def status(rig: DeviceRig, job: str) -> str:
    response = rig.admin.get(f"/held-jobs/{job}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def charges(rig: DeviceRig, user: str) -> list[dict[str, Any]]:
    response = rig.admin.get("/transactions", params={"limit": 500})
    assert response.status_code == 200, response.text
    account = rig.admin.get(f"/users/{user}").json()["account_id"]
    rows = response.json()
    items = rows["items"] if isinstance(rows, dict) else rows
    return [t for t in items if t["account_id"] == account and t["kind"] == "print"]


def test_lp_to_a_hold_queue_then_card_release_prints_there_and_charges_once(
    rig: DeviceRig, documents: Path
) -> None:
    card = uuid.uuid4().hex[:12]
    user = rig.add_user(10_000, cards=[card])
    data = pdf(documents, [GREY_PAGE, GREY_PAGE])
    path = documents / "lp.pdf"
    path.write_bytes(data)
    done = subprocess.run(
        ["lp", "-h", rig.provider.host, "-d", "secure-colour", "-U", user, "-t", "lp-doc",
         str(path)], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    held = wait_for(lambda: rig.held_job(user, "lp-doc"), "the lp job held at the server")
    assert held["pages"] == 2
    assert held["colour_pages"] == 0
    device = Device(rig, "colour-laser")
    session = device.card(card)
    listed = device.jobs(session)
    assert [j["id"] for j in listed] == [held["id"]]
    assert listed[0]["cost"] == 2 * PRICES["grey_simplex"]
    before = len(rig.printers["colour-laser"].documents())

    released = device.release(session, held["id"])

    assert released.status_code == 200, released.text
    assert wait_received(rig, "colour-laser", before) == data
    wait_for(lambda: rig.balance(user) == 10_000 - 2 * PRICES["grey_simplex"], "the charge")
    wait_for(lambda: status(rig, held["id"]) == "printed", "printed status")
    assert len(charges(rig, user)) == 1
    again = device.release(session, held["id"])
    assert again.status_code in (404, 409)
    time.sleep(0.5)
    assert len(charges(rig, user)) == 1


def test_find_me_colour_job_released_at_the_mono_printer_prints_and_costs_grey(
    rig: DeviceRig, documents: Path
) -> None:
    card = uuid.uuid4().hex[:12]
    user = rig.add_user(10_000, cards=[card])
    data = pdf(documents, [COLOUR_PAGE, GREY_PAGE])
    job = print_held(rig, user, data, "findme", "application/pdf")
    device = Device(rig, "mono-laser")
    session = device.card(card)
    listed = {j["id"]: j for j in device.jobs(session)}
    assert listed[job]["colour_pages"] == 1
    assert listed[job]["compatible"] is True
    assert listed[job]["cost"] == 2 * PRICES["grey_simplex"]
    before = len(rig.printers["mono-laser"].documents())

    released = device.release(session, job)

    assert released.status_code == 200, released.text
    assert "greyscale" in released.json()["status_reason"]
    received = wait_received(rig, "mono-laser", before)
    sent = documents / "received.pdf"
    sent.write_bytes(received)
    result = analyze(sent, "application/pdf")
    assert result.pages == 2
    assert result.colour_page_count == 0
    wait_for(lambda: rig.balance(user) == 10_000 - 2 * PRICES["grey_simplex"], "a grey charge")


def test_find_me_job_on_paper_the_printer_lacks_is_refused_with_a_reason(
    rig: DeviceRig, documents: Path
) -> None:
    card = uuid.uuid4().hex[:12]
    user = rig.add_user(10_000, cards=[card])
    job = print_held(rig, user, pdf(documents, [GREY_PAGE], "a3"), "findme", "application/pdf")
    device = Device(rig, "mono-laser")
    session = device.card(card)
    listed = {j["id"]: j for j in device.jobs(session)}
    assert listed[job]["compatible"] is False
    assert "A3" in listed[job]["incompatible_reason"]

    refused = device.release(session, job)

    assert refused.status_code == 409
    assert "no A3 paper" in refused.json()["detail"]
    assert status(rig, job) == "held"
    assert rig.balance(user) == 10_000


def test_changed_copies_and_duplex_reach_the_printer_and_the_charge(
    rig: DeviceRig, documents: Path
) -> None:
    card = uuid.uuid4().hex[:12]
    user = rig.add_user(10_000, cards=[card])
    job = print_held(rig, user, pdf(documents, [GREY_PAGE] * 2), "secure", "application/pdf")
    device = Device(rig, "mono-laser")
    session = device.card(card)
    changed = device.http.patch(
        f"/device/sessions/{session}/jobs/{job}", json={"copies": 3, "duplex": True}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["copies"], changed.json()["duplex"]) == (3, True)
    assert {j["id"]: j for j in device.jobs(session)}[job]["cost"] == 3 * 2 * PRICES["grey_duplex"]
    before = len(rig.printers["mono-laser"].documents())

    assert device.release(session, job).status_code == 200

    wait_received(rig, "mono-laser", before)
    printer_job = max(rig.printers["mono-laser"].documents())
    with IppClient(rig.printers["mono-laser"].uri, user_name=user, timeout=30) as client:
        attributes = client.get_job_attributes(printer_job, ["copies", "sides"])
    assert attributes.value("copies") == 3
    assert attributes.value("sides") == "two-sided-long-edge"
    wait_for(lambda: rig.balance(user) == 10_000 - 6 * PRICES["grey_duplex"], "the charge")


def test_restricted_user_without_credit_cannot_release_and_copies_stop_at_the_allowance(
    rig: DeviceRig, documents: Path
) -> None:
    card = uuid.uuid4().hex[:12]
    user = rig.add_user(35, cards=[card])  # 3 grey pages at 10
    job = print_held(rig, user, pdf(documents, [GREY_PAGE] * 5), "secure", "application/pdf")
    device = Device(rig, "mono-laser")
    session = device.card(card)

    refused = device.release(session, job)

    assert refused.status_code == 409
    assert "insufficient credit" in refused.json()["detail"]
    allowance = device.http.get(f"/device/sessions/{session}/allowance", params={"kind": "copy"})
    assert allowance.json() == {"price_per_page": PRICES["grey_simplex"], "allowed_pages": 3}
    usage_id = str(uuid.uuid4())
    body = {"usage_id": usage_id, "kind": "copy", "pages": 3}
    first = device.http.post(f"/device/sessions/{session}/usage", json=body)
    replay = device.http.post(f"/device/sessions/{session}/usage", json=body)
    assert first.status_code == replay.status_code == 200, first.text
    assert first.json() == replay.json() == {"usage_id": usage_id, "cost": 30, "balance": 5}
    after = device.http.get(f"/device/sessions/{session}/allowance", params={"kind": "copy"})
    assert after.json()["allowed_pages"] == 0
    assert rig.balance(user) == 5


def test_people_see_and_release_only_their_own_jobs_and_devices_only_their_sessions(
    rig: DeviceRig, documents: Path
) -> None:
    owner_card, other_card = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    owner = rig.add_user(10_000, cards=[owner_card], password="owner-password-1")
    other = rig.add_user(10_000, cards=[other_card], password="other-password-1")
    job = print_held(rig, owner, pdf(documents, [GREY_PAGE]), "secure", "application/pdf")
    as_other = person(rig, other, "other-password-1")
    assert as_other.get("/me/held-jobs").json()["jobs"] == []
    for method, path, body in (
        ("POST", f"/held-jobs/{job}/release", {"printer": "mono-laser"}),
        ("POST", f"/held-jobs/{job}/cancel", None),
        ("PATCH", f"/held-jobs/{job}", {"copies": 2}),
    ):
        assert as_other.request(method, path, json=body).status_code == 404
    device, elsewhere = Device(rig, "mono-laser"), Device(rig, "colour-laser")
    other_session = device.card(other_card)
    assert device.release(other_session, job).status_code == 404
    owner_session = device.card(owner_card)
    assert elsewhere.release(owner_session, job).status_code == 404
    assert elsewhere.http.get(f"/device/sessions/{owner_session}/jobs").status_code == 404
    assert status(rig, job) == "held"
    # A delegate named by the owner may release it.
    as_owner = person(rig, owner, "owner-password-1")
    assert as_owner.put("/me/delegates", json={"usernames": [other]}).status_code == 200
    assert [j["id"] for j in as_other.get("/me/held-jobs").json()["jobs"]] == [job]
    released = as_other.post(f"/held-jobs/{job}/release", json={"printer": "mono-laser"})
    assert released.status_code == 200, released.text
    wait_for(lambda: rig.balance(owner) == 10_000 - PRICES["grey_simplex"], "owner charged")
    assert rig.balance(other) == 10_000


def person(rig: DeviceRig, username: str, password: str) -> httpx.Client:
    login = httpx.post(
        f"{rig.app.api}/auth/login", json={"username": username, "password": password}, timeout=30
    )
    assert login.status_code == 200, login.text
    return client(rig.app.api, login.json()["token"])


def test_a_shared_account_chosen_with_its_pin_at_the_device_is_charged(
    rig: DeviceRig, documents: Path
) -> None:
    card = uuid.uuid4().hex[:12]
    user = rig.add_user(0, cards=[card])
    account = unique("Project")
    created = rig.admin.post(
        "/accounts",
        json={"name": account, "users": [user], "pin": "4321", "restricted": False},
    )
    assert created.status_code == 201, created.text
    job = print_held(rig, user, pdf(documents, [GREY_PAGE]), "secure", "application/pdf")
    device = Device(rig, "mono-laser")
    session = device.card(card)
    wrong = device.http.put(
        f"/device/sessions/{session}/account", json={"account": account, "pin": "0000"}
    )
    assert wrong.status_code == 403
    chosen = device.http.put(
        f"/device/sessions/{session}/account", json={"account": account, "pin": "4321"}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["account"] == account

    assert device.release(session, job).status_code == 200

    shared = rig.admin.get(f"/accounts/{account}")
    wait_for(
        lambda: rig.admin.get(f"/accounts/{account}").json()["balance"] == -PRICES["grey_simplex"],
        "the shared account charged",
    )
    assert shared.status_code == 200
    assert rig.balance(user) == 0


def test_held_jobs_expire_with_their_spool_files_and_the_reason(
    rig: DeviceRig, tmp_path: Path
) -> None:
    user = rig.add_user(10_000)
    mono = rig.printers["mono-laser"]
    provider = ProviderProcess(
        rig.app.url,
        rig.app.token(Role.PROVIDER),
        tmp_path,
        [PrinterSpec("mono-laser", mono.uri, colour=False)],
        [QueueSpec("brief", "hold", "mono-laser", hold_hours=0.001)],  # 3.6 s
    )
    provider.start()
    try:
        name = unique("brief")
        with IppClient(provider.uri("brief"), user_name=user, timeout=30) as client:
            client.print_job(b"expiring\n", document_format="text/plain", job_name=name)
        job = wait_for(lambda: rig.held_job(user, name), "the job held at the server")
        assert spool_documents(tmp_path / "data")
        expired = wait_for(lambda: _expired(rig, job["id"]), "the expiry at the server")
        assert "held longer than" in expired["status_reason"]
        assert not spool_documents(tmp_path / "data")
        assert "expired: held longer than" in provider.log_tail()
    finally:
        provider.stop()


def _expired(rig: DeviceRig, job: str) -> dict[str, Any] | None:
    response = rig.admin.get(f"/held-jobs/{job}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found if found["status"] == "expired" else None


def test_a_user_releases_all_their_jobs_at_a_chosen_printer(
    rig: DeviceRig, documents: Path
) -> None:
    user = rig.add_user(10_000, password="all-at-once-1")
    jobs = {print_held(rig, user, pdf(documents, [GREY_PAGE]), queue, "application/pdf")
            for queue in ("secure", "findme")}  # fmt: skip
    me = person(rig, user, "all-at-once-1")
    assert me.get("/me/summary").json()["held_jobs"] == 2

    answer = me.post("/me/held-jobs/release-all", json={"printer": "colour-laser"})

    assert answer.status_code == 200, answer.text
    assert {job["id"] for job in answer.json()["released"]} == jobs
    assert answer.json()["refused"] == []
    wait_for(lambda: rig.balance(user) == 10_000 - 2 * PRICES["grey_simplex"], "both charged")
    recent = wait_for(lambda: len(me.get("/me/jobs").json()) == 2 and me.get("/me/jobs").json(),
                      "the recent jobs")  # fmt: skip
    assert {job["printer"] for job in recent} == {"colour-laser"}
    assert me.get("/me/summary").json()["held_jobs"] == 0
