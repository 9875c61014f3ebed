"""The Print Provider end to end: real App Server, real provider, real IPP clients (lp, ipptool)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, JobState, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.ports import free_port
from support.appserver import AppServer
from support.provider import (
    PrinterSpec,
    ProviderProcess,
    QueueSpec,
    colour_and_mono,
    file_printer_documents,
)
from support.seeding import add_printer, add_user, wait_for

TEXT = b"printwarden provider test page\n"


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    out: Path

    def printed(self, printer: str) -> list[bytes]:
        folder = self.out / printer
        return file_printer_documents(folder)

    def balance(self, username: str) -> int:
        value: int = self.admin.get(f"/users/{username}").json()["balance"]
        return value

    def client(self, queue: str, user: str) -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=user, timeout=10)

    def submit(self, queue: str, user: str, data: bytes = TEXT, **attributes: Any) -> int:
        with self.client(queue, user) as client:
            return client.print_job(
                data,
                document_format="text/plain",
                job_name="test",
                requesting_user_name=user,
                attributes=attributes,
            )

    def job(self, queue: str, user: str, job_id: int) -> dict[str, Any]:
        with self.client(queue, user) as client:
            group = client.get_job_attributes(job_id)
        return {name: group.value(name) for name in group}

    def state(self, queue: str, user: str, job_id: int) -> int:
        return int(str(self.job(queue, user, job_id)["job-state"]))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("provider")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    admin = httpx.Client(
        base_url=app.api, headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"}
    )
    for printer, colour in (("colour", True), ("mono", False)):
        add_printer(admin, printer, colour=colour)
    for name, balance in (("alice", 1000), ("bob", 1000), ("poor", 5), ("dora", 1000)):
        add_user(admin, name, balance)
    out = root / "out"
    provider = ProviderProcess(
        server_url=app.url,
        token=app.token(Role.PROVIDER),
        directory=root,
        printers=colour_and_mono(out),
        queues=[
            QueueSpec("direct", "direct", "colour"),
            QueueSpec("secure", "hold", "mono", ipp_release=True),
            QueueSpec("findme", "findme"),
            QueueSpec("careful", "direct", "mono", failure_mode="hold"),
            QueueSpec("untracked", "direct", "mono", failure_mode="print-untracked"),
        ],
    )
    provider.start()
    try:
        yield World(app, admin, provider, out)
    finally:
        provider.stop()
        admin.close()
        app.stop()


def test_lp_prints_through_a_direct_queue_and_charges_once(world: World, tmp_path: Path) -> None:
    document = tmp_path / "page.txt"
    document.write_bytes(TEXT)
    before = world.balance("alice")
    result = subprocess.run(
        ["lp", "-h", world.provider.host, "-d", "direct", "-U", "alice", str(document)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "request id is direct-" in result.stdout
    wait_for(lambda: TEXT in world.printed("colour"), "the page at the colour printer")
    wait_for(lambda: world.balance("alice") == before - 10, "the charge")
    time.sleep(0.5)
    assert world.balance("alice") == before - 10


def test_held_job_prints_only_when_released(world: World) -> None:
    job_id = world.submit("secure", "bob", b"held page\n")
    assert world.state("secure", "bob", job_id) == JobState.PENDING_HELD
    time.sleep(0.5)
    assert b"held page\n" not in world.printed("mono")
    with world.client("secure", "bob") as client:
        client.request(Operation.RELEASE_JOB, [Attribute.of("job-id", ValueTag.INTEGER, job_id)])
    wait_for(lambda: b"held page\n" in world.printed("mono"), "the released page")
    wait_for(lambda: world.state("secure", "bob", job_id) == JobState.COMPLETED, "completed")


def test_another_user_cannot_release_or_cancel(world: World) -> None:
    from printwarden.provider.ipp.client import IppError

    job_id = world.submit("secure", "bob", b"private\n")
    with world.client("secure", "mallory") as client:
        job_id_attribute = [Attribute.of("job-id", ValueTag.INTEGER, job_id)]
        with pytest.raises(IppError) as release:
            client.request(Operation.RELEASE_JOB, job_id_attribute)
        with pytest.raises(IppError) as cancel:
            client.cancel_job(job_id, requesting_user_name="mallory")
    assert release.value.status == 0x0403
    assert cancel.value.status == 0x0403
    assert world.state("secure", "bob", job_id) == JobState.PENDING_HELD


def test_findme_job_is_released_to_a_named_printer_through_the_doorbell(world: World) -> None:
    job_id = world.submit("findme", "dora", b"find me\n")
    assert world.state("findme", "dora", job_id) == JobState.PENDING_HELD
    # The provider takes no orders pushed at it, with or without a token: it fetches them.
    pushed = httpx.post(
        f"http://{world.provider.host}/control/jobs/{job_id}/release",
        json={"printer": "colour"},
        headers={"Authorization": "Bearer anything"},
    )
    assert pushed.status_code == 404
    held = wait_for(lambda: _held(world, "dora"), "the Find-Me job listed by the server")

    released = world.admin.post(f"/held-jobs/{held['id']}/release", json={"printer": "colour"})

    assert released.status_code == 200, released.text
    assert released.json()["status"] == "releasing"
    wait_for(lambda: b"find me\n" in world.printed("colour"), "the Find-Me page")


def _held(world: World, user: str) -> dict[str, Any] | None:
    listed = world.admin.get("/held-jobs", params={"user": user}).json()["jobs"]
    found: dict[str, Any] | None = next((j for j in listed if j["status"] == "held"), None)
    return found


def test_denied_job_is_canceled_with_the_reason(world: World) -> None:
    job_id = world.submit("direct", "poor", b"too expensive\n" * 200)
    wait_for(lambda: world.state("direct", "poor", job_id) == JobState.CANCELED, "cancel")
    message = str(world.job("direct", "poor", job_id)["job-state-message"])
    assert "insufficient credit" in message
    assert b"too expensive\n" * 200 not in world.printed("colour")
    assert world.balance("poor") == 5


def test_unknown_queue_and_bad_format_get_ipp_errors(world: World) -> None:
    from printwarden.provider.ipp.client import IppError

    with (
        IppClient(f"ipp://{world.provider.host}/ipp/print/nope") as client,
        pytest.raises(IppError) as missing,
    ):
        client.get_printer_attributes()
    assert missing.value.status == 0x0406
    with world.client("direct", "alice") as client, pytest.raises(IppError) as bad:
        client.print_job(b"x", document_format="application/x-nonsense", requesting_user_name="a")
    assert bad.value.status == 0x040A


def test_failure_mode_prints_journals_and_holds_until_the_server_returns(world: World) -> None:
    before = world.balance("alice")
    world.app.stop()
    try:
        journaled = world.submit("direct", "alice", b"offline journaled\n")
        careful = world.submit("careful", "alice", b"offline careful\n")
        held = world.submit("secure", "alice", b"offline held\n")
        untracked = world.submit("untracked", "alice", b"offline untracked\n")
        wait_for(lambda: b"offline journaled\n" in world.printed("colour"), "failure-mode print")
        wait_for(lambda: b"offline untracked\n" in world.printed("mono"), "untracked print")
        time.sleep(1.0)
        assert b"offline careful\n" not in world.printed("mono")
        assert world.state("careful", "alice", careful) == JobState.PENDING_HELD
        assert world.state("secure", "alice", held) == JobState.PENDING_HELD
        assert world.state("direct", "alice", journaled) == JobState.COMPLETED
        assert world.state("untracked", "alice", untracked) == JobState.COMPLETED
    finally:
        world.app.start()
    wait_for(lambda: b"offline careful\n" in world.printed("mono"), "the held-for-server job")
    wait_for(lambda: world.balance("alice") == before - 20, "journal upload", seconds=30)
    time.sleep(2.5)
    assert world.balance("alice") == before - 20  # journaled + careful; untracked is free
    assert world.state("secure", "alice", held) == JobState.PENDING_HELD


class Catcher:
    """A raw port-9100 printer that records each connection's bytes."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.jobs: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while data := connection.recv(65536):
                    chunks.append(data)
                self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        self.server.close()


def test_accepted_job_survives_kill_9_and_prints_once(tmp_path: Path, world: World) -> None:
    port = free_port()
    provider = ProviderProcess(
        server_url=world.app.url,
        token=world.provider.token,
        directory=tmp_path,
        printers=[PrinterSpec("mono", f"socket://127.0.0.1:{port}", colour=False)],
        queues=[QueueSpec("raw", "direct", "mono")],
    )
    provider.start()
    document = b"survives a crash\n"
    try:
        job_id = world_submit(provider, "bob", document)
        provider.kill9()
        catcher = Catcher(port)
        try:
            provider.start()
            wait_for(lambda: document in catcher.jobs, "the job after the crash")
            time.sleep(1.0)
            assert catcher.jobs.count(document) == 1
            with IppClient(provider.uri("raw")) as client:
                state = client.get_job_attributes(job_id).value("job-state")
            assert state == JobState.COMPLETED
        finally:
            catcher.close()
    finally:
        provider.stop()


def world_submit(provider: ProviderProcess, user: str, data: bytes) -> int:
    with IppClient(provider.uri("raw"), user_name=user) as client:
        return client.print_job(data, document_format="text/plain", requesting_user_name=user)


def test_pyipp_reads_the_queue_as_a_printer(world: World) -> None:
    """pyipp (Home Assistant's IPP client) sees each queue as an IPP Everywhere printer."""
    import asyncio

    from pyipp import IPP

    async def read() -> tuple[str, str, list[str]]:
        async with IPP(
            "127.0.0.1", port=world.provider.port, base_path="/ipp/print/secure"
        ) as client:
            printer = await client.printer()
        info = printer.info
        return info.printer_name or "", printer.state.printer_state, info.printer_uri_supported

    name, state, uris = asyncio.run(read())
    assert name == "secure"
    assert state == "idle"
    assert any(uri.endswith("/ipp/print/secure") for uri in uris)


def test_the_provider_registers_its_queues_with_the_server(world: World) -> None:
    def registered() -> dict[str, Any] | None:
        providers = world.admin.get("/providers").json()
        found = [p for p in providers if p["name"] == world.provider.name]
        return found[0] if found else None

    provider = wait_for(registered, "the provider's registration")
    queues = {q["name"]: (q["kind"], q["printer"]) for q in provider["queues"]}
    assert queues["direct"] == ("direct", "colour")
    assert queues["secure"] == ("hold", "mono")
    assert queues["findme"] == ("findme", "")
    assert {p["name"] for p in provider["printers"]} == {"colour", "mono"}
    assert provider["ipp_url"] == f"ipp://127.0.0.1:{world.provider.port}/ipp/print"
    assert provider["control_url"] == f"http://127.0.0.1:{world.provider.port}/control"


def test_registration_names_printers_the_server_does_not_know(world: World) -> None:
    made = world.admin.post("/tokens", json={"role": "provider", "name": "stray"})
    assert made.status_code == 201, made.text
    body = {
        "name": "stray",
        "ipp_url": "ipp://stray:631/ipp/print",
        "printers": [{"name": "colour"}, {"name": "ghost"}],
    }
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    answer = httpx.post(f"{world.app.api}/providers/register", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["unknown_printers"] == ["ghost"]
