"""Job lifecycle races at a real Print Provider: cancels, releases and submissions at once.

An App Server, a Print Provider process with ``file://`` printers, and IPP clients on
threads (the project's own client, plus CUPS' ``ipptool``). What is checked is what a site
would see: every job ends in exactly one final state, ended jobs leave no spool file behind,
nothing is charged for a job that did not print, the provider keeps serving, and its log has
no tracebacks.

``PRINTWARDEN_RACE_JOBS`` sets how many interleavings the storm drives (1,000 by default;
``make chaos`` runs a longer one).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, JobState, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient, IppError
from support.appserver import AppServer
from support.provider import PrinterSpec, ProviderProcess, QueueSpec, spool_documents
from support.seeding import PRICES, add_user, wait_for

WAIT_SECONDS = 60.0
FINAL = (JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED)
USERS = ("ann", "ben", "cat", "dan")
NOT_POSSIBLE = 0x0404


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    out: Path

    @property
    def data(self) -> Path:
        return self.provider.directory / "data"

    def client(self, queue: str, user: str) -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=user, timeout=WAIT_SECONDS)

    def held(self, user: str, name: str) -> dict[str, Any] | None:
        listed = self.admin.get("/held-jobs", params={"user": user}).json()["jobs"]
        return next((j for j in listed if j["document_name"] == name), None)

    def rows(self) -> dict[int, dict[str, Any]]:
        """The provider's job rows, read without disturbing it."""
        database = f"file:{self.data / 'state.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(database, uri=True)) as db:
            db.row_factory = sqlite3.Row
            return {row["id"]: dict(row) for row in db.execute("SELECT * FROM jobs")}

    def charged_txns(self) -> Counter[str]:
        """The App Server's ledger transaction ids (unique there), counted."""
        database = self.app.database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT txn_id FROM transactions").fetchall()
        return Counter(str(row[0]) for row in rows)

    def tracebacks(self) -> list[str]:
        text = (self.provider.directory / "provider.log").read_text(errors="replace")
        return re.findall(r"Traceback[^\n]*\n(?:[ \t][^\n]*\n)*[^\n]*", text)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("races")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    admin = httpx.Client(
        base_url=app.api,
        headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"},
        timeout=WAIT_SECONDS,
    )
    for printer, colour in (("colour", True), ("mono", False)):
        body = {"name": printer, "colour": colour, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
    for name in USERS:
        add_user(admin, name, 10_000_000)
    out = root / "out"
    provider = ProviderProcess(
        server_url=app.url,
        token=app.token(Role.PROVIDER),
        directory=root,
        printers=[
            PrinterSpec("colour", f"file://{out / 'colour'}"),
            PrinterSpec("mono", f"file://{out / 'mono'}", colour=False),
        ],
        queues=[QueueSpec("direct", "direct", "colour"), QueueSpec("secure", "hold", "mono")],
    )
    provider.start()
    try:
        yield World(app, admin, provider, out)
    finally:
        provider.stop()
        admin.close()
        app.stop()


def big_pdf(path: Path, megabytes: int = 50) -> Path:
    """A one-page PDF carrying an uncompressed colour image of about ``megabytes`` MB."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, os.urandom(side * side * 3))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height = side, side
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 595, 842],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q"),
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def job_state(world: World, queue: str, user: str, job_id: int) -> int:
    with world.client(queue, user) as client:
        return int(str(client.get_job_attributes(job_id, ["job-state"]).value("job-state")))


def release(client: IppClient, job_id: int) -> None:
    client.request(Operation.RELEASE_JOB, [Attribute.of("job-id", ValueTag.INTEGER, job_id)])


def held_text_reaches_the_server(world: World, user: str) -> None:
    """The provider still lists a new Secure Print job at the server."""
    name = f"after-{uuid.uuid4().hex[:8]}"
    with world.client("secure", user) as client:
        client.print_job(b"next job\n", document_format="text/plain", job_name=name)
    wait_for(lambda: world.held(user, name), f"{name} held at the server", WAIT_SECONDS)


def direct_text_prints(world: World, user: str) -> None:
    """The provider still prints the next job of a direct queue."""
    text = f"next direct job {uuid.uuid4().hex}\n".encode()
    with world.client("direct", user) as client:
        job_id = client.print_job(text, document_format="text/plain", job_name="next")
    wait_for(
        lambda: job_state(world, "direct", user, job_id) == JobState.COMPLETED,
        "the next direct job printed",
        WAIT_SECONDS,
    )
    assert text in [p.read_bytes() for p in (world.out / "colour").glob("*")]


def ended_without_files(world: World) -> None:
    """Every job is in a final IPP state and the spool keeps no document of an ended job."""
    rows = world.rows()
    live = {r["document"] for r in rows.values() if r["state"] not in FINAL and r["document"]}
    assert spool_documents(world.data) <= live
    leftovers = [p.name for p in (world.data / "inline").iterdir()]
    assert all(any(name.startswith(doc) for doc in live) for name in leftovers), leftovers


def charges_settled(world: World) -> bool:
    return all(r["charge_state"] != "pending" for r in world.rows().values())


# --- the two reproductions of issue 16 --------------------------------------------------


def test_cancel_of_a_held_job_during_its_analysis_keeps_secure_print_alive(
    world: World, tmp_path: Path
) -> None:
    """Issue 16: a 50 MB PDF canceled while the provider analyses it killed the thread that
    reports held jobs, so no later Secure Print job reached the server."""
    document = big_pdf(tmp_path / "big.pdf")
    with world.client("secure", "ann") as client, document.open("rb") as data:
        job_id = client.print_job(data, document_format="application/pdf", job_name="big")
        client.cancel_job(job_id)
    assert job_state(world, "secure", "ann", job_id) == JobState.CANCELED
    held_text_reaches_the_server(world, "ann")
    wait_for(lambda: world.rows()[job_id]["report_state"] == "final", "the cancel reported")
    ended_without_files(world)
    assert world.tracebacks() == []


def test_print_then_cancel_pairs_on_a_direct_queue_all_end(world: World) -> None:
    """Issue 16: 20 Print-Job + Cancel-Job pairs left 14 jobs pending for ever."""
    ids: dict[int, bool] = {}
    with world.client("direct", "ben") as client:
        for number in range(20):
            text = f"pair {number} {uuid.uuid4().hex}\n".encode() * 200
            job_id = client.print_job(text, document_format="text/plain", job_name="pair")
            try:
                client.cancel_job(job_id)
                ids[job_id] = True
            except IppError as exc:  # it was already being sent, or printed
                assert exc.status == NOT_POSSIBLE, exc
                ids[job_id] = False

    def settled() -> bool:
        rows = world.rows()
        return all(rows[job_id]["state"] in FINAL for job_id in ids)

    wait_for(settled, "every pair to end", WAIT_SECONDS)
    wait_for(lambda: charges_settled(world), "the printed pairs charged", WAIT_SECONDS)
    rows = world.rows()
    for job_id, canceled in ids.items():
        expected = JobState.CANCELED if canceled else JobState.COMPLETED
        assert rows[job_id]["state"] == expected, rows[job_id]
    charged = world.charged_txns()
    for job_id, canceled in ids.items():
        assert charged[rows[job_id]["txn_id"]] == (0 if canceled else 1)
    ended_without_files(world)
    direct_text_prints(world, "ben")
    assert world.tracebacks() == []
