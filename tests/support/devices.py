"""A print world for the device tools' tests: a real App Server, two real ``ippeveprinter``
printers behind a real Print Provider with hold and Find-Me queues, devices with tokens made
by the CLI, users with cards — and the ``printwarden`` command line in subprocesses."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from printwarden.store.models import DeviceSessionRow, UserRow
from printwarden.testing.appserver import AppServer
from printwarden.testing.provider import PrinterSpec, ProviderProcess, QueueSpec
from printwarden.testing.seeding import PRICES, add_printer, top_up, wait_for
from support.ippeveprinter import IppEvePrinter

# Both colour: releasing to a mono printer makes the provider convert to grey, which is not
# what these tests are about.
PRINTERS = {"colour-laser": True, "lobby-laser": True}
QUEUES = [QueueSpec("secure", "hold", "lobby-laser"), QueueSpec("findme", "findme")]
CLI_SECONDS = 90


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"


@dataclass
class DeviceRig:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    printers: dict[str, IppEvePrinter]

    def cli(
        self,
        *args: str,
        stdin: str | None = None,
        timeout: float = CLI_SECONDS,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``printwarden ARGS`` with this world's database and data directory."""
        command = [sys.executable, "-m", "printwarden", *args]
        return subprocess.run(
            command,
            input=stdin,
            env={**self.app.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def simulate(
        self, token: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``PRINTWARDEN_DEVICE_TOKEN=TOKEN printwarden device simulate --server URL ARGS``."""
        prefix = ("device", "simulate", "--server", self.app.url)
        return self.cli(*prefix, *args, stdin=stdin, env={"PRINTWARDEN_DEVICE_TOKEN": token})

    def add_device(self, printer: str, kind: str = "mfd", **fields: Any) -> tuple[str, str]:
        """A new device at ``printer`` (its prices: PRICES); its name and a token from the CLI."""
        name = unique("device")
        body = {"name": name, "kind": kind, "printer": printer, **fields}
        body.setdefault("cost_model", {"sizes": {"default": PRICES}})
        created = self.admin.post("/devices", json=body)
        assert created.status_code == 201, created.text
        made = self.cli("admin", "token", "create", "--role", "device", "--device", name)
        assert made.returncode == 0, made.stdout + made.stderr
        return name, made.stdout.strip()

    def add_user(self, balance: int = 0, *, restricted: bool = True, **fields: Any) -> str:
        """A new user (fields: cards, identity_number, pin, password …); their name."""
        name = unique("user")
        created = self.admin.post(
            "/users", json={"username": name, "restricted": restricted, **fields}
        )
        assert created.status_code == 201, created.text
        if balance:
            top_up(self.admin, created.json()["account_id"], balance)
        return name

    def hold(self, user: str, data: bytes, queue: str = "secure") -> tuple[str, str]:
        """Print ``data`` as ``user`` to a hold or Find-Me queue; wait until the server lists
        it as held. Returns the job's id and document name."""
        document = unique("doc") + ".txt"
        with IppClient(self.provider.uri(queue), user_name=user, timeout=30) as client:
            client.print_job(
                data, document_format="text/plain", job_name=document, requesting_user_name=user
            )
        job: dict[str, Any] = wait_for(
            lambda: self.held_job(user, document), f"{document} held at the server"
        )
        return str(job["id"]), document

    def held_jobs(self, user: str) -> list[dict[str, Any]]:
        response = self.admin.get("/held-jobs", params={"user": user})
        assert response.status_code == 200, response.text
        body = response.json()
        jobs: list[dict[str, Any]] = body["jobs"] if isinstance(body, dict) else body
        return jobs

    def held_job(self, user: str, document: str, status: str = "held") -> dict[str, Any] | None:
        return next(
            (
                job
                for job in self.held_jobs(user)
                if job["document_name"] == document and job["status"] == status
            ),
            None,
        )

    def job_status(self, user: str, job_id: str) -> str | None:
        """The job's status while it waits (held, releasing); None once it is gone."""
        return next(
            (str(job["status"]) for job in self.held_jobs(user) if job["id"] == job_id), None
        )

    def received(self, printer: str) -> list[bytes]:
        """Every document ``printer`` received so far."""
        return [path.read_bytes() for path in self.printers[printer].documents().values()]

    def wait_printed(self, printer: str, data: bytes) -> None:
        wait_for(lambda: data in self.received(printer), f"the document at {printer}")

    def open_sessions(self, user: str) -> int:
        """How many device sessions of ``user`` the server holds open (not logged out)."""
        database = self.app.database()
        try:
            with database.read() as session:
                query = (
                    select(func.count())
                    .select_from(DeviceSessionRow)
                    .join(UserRow, UserRow.id == DeviceSessionRow.user_id)
                    .where(UserRow.username == user, DeviceSessionRow.ended_at.is_(None))
                )
                return int(session.scalar(query) or 0)
        finally:
            database.dispose()

    def balance(self, user: str) -> int:
        value: int = self.admin.get(f"/users/{user}").json()["balance"]
        return value


@contextmanager
def device_rig(
    root: Path,
    printer_colours: dict[str, bool] | None = None,
    queues: list[QueueSpec] | None = None,
    env: Callable[[AppServer], dict[str, str]] | None = None,
) -> Iterator[DeviceRig]:
    """Start the world under ``root`` (by default PRINTERS and QUEUES); stop all of it after.
    ``env``: more environment for the App Server (its settings), given the server."""
    printer_colours = printer_colours or PRINTERS
    queues = queues or QUEUES
    with ExitStack() as stack:
        app = AppServer(f"sqlite:///{root / 'app.db'}", root)
        if env is not None:
            app.extra_env.update(env(app))
        app.start()
        stack.callback(app.stop)
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, unique('boss'))}"},
            timeout=30,
        )
        stack.callback(admin.close)
        printers: dict[str, IppEvePrinter] = {}
        for name, colour in printer_colours.items():
            printers[name] = stack.enter_context(IppEvePrinter(f"pw-{name}", color=colour))
            add_printer(admin, name, colour=colour)
        specs = [
            PrinterSpec(name, printers[name].uri, colour)
            for name, colour in printer_colours.items()
        ]
        provider = ProviderProcess(app.url, app.token(Role.PROVIDER), root, specs, queues)
        provider.start()
        stack.callback(provider.stop)
        yield DeviceRig(app, admin, provider, printers)
