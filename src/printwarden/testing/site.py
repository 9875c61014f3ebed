"""A Site Server subprocess, reached by its site's components; its App Server behind a Link."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.link import Link
from printwarden.sim.ports import free_port
from printwarden.sim.processes import ChildProcess
from printwarden.store.tokens import PROVIDER_PREFIX
from printwarden.testing import forkserver, processes
from printwarden.testing.appserver import TEST_ENV, AppServer, OnLoopback
from printwarden.testing.provider import (
    PrinterSpec,
    ProviderProcess,
    QueueSpec,
    file_printer_documents,
)
from printwarden.testing.seeding import add_printer

STARTUP_SECONDS = 30.0
BEACON_PORT_ENV = "PRINTWARDEN_BEACON_PORT"  # the App Server setting `beacon_port`


@dataclass
class SiteProcess(OnLoopback):
    """A Site Server subprocess (``printwarden site serve``) on a free loopback port."""

    upstream: str  # the App Server as the site reaches it (through a Link in tests)
    token: str
    site: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: ChildProcess | None = None
    advertised_url: str = ""  # how HQ reaches the site (a route of its link in tests)
    hq_beacon: str = ""  # HOST:PORT of HQ's beacon as the site reaches it (a link's route)
    options: list[str] = field(default_factory=list)  # more `site serve` options
    extra_env: dict[str, str] = field(default_factory=dict)  # more environment (settings)

    @property
    def log(self) -> Path:
        return self.data_dir / "site.log"

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process and return at once (:meth:`wait_ready` waits until it answers)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "printwarden", "site", "serve",
                   "--upstream", self.upstream, "--site", self.site,
                   "--data-dir", str(self.data_dir), "--port", str(self.port)]  # fmt: skip
        if self.advertised_url:
            command += ["--advertised-url", self.advertised_url]
        if self.hq_beacon:
            command += ["--hq-beacon", self.hq_beacon]
        command += self.options
        env = {**os.environ, **TEST_ENV, **self.extra_env, "PRINTWARDEN_TOKEN": self.token}
        with self.log.open("ab") as log:
            self.process = forkserver.popen(command, env=env, stdout=log, stderr=log)

    def wait_ready(self, seconds: float = STARTUP_SECONDS) -> None:
        """Wait until ``/site/status`` answers; raise with the log if the process ends."""
        assert self.process is not None
        processes.wait_ready(self.process, self._answers, "Site Server", self.log, seconds)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/site/status", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/site/status", timeout=5).json()
        return found

    def log_tail(self) -> str:
        return processes.log_tail(self.log)

    def stop(self) -> None:
        processes.stop(self.process)

    def kill9(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


SITE = "north"
PRINTER = "north-laser"


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    link: Link
    site: SiteProcess
    provider: ProviderProcess
    device_token: str
    out: Path

    def balance(self, user: str) -> int:
        value: int = self.admin.get(f"/users/{user}").json()["balance"]
        return value

    def print_text(self, user: str, text: str) -> int:
        """Print ``text`` as ``user`` to the site's direct queue; the job's id."""
        with IppClient(self.provider.uri("direct"), user_name=user, timeout=30) as client:
            return client.print_job(text.encode(), document_format="text/plain",
                                    job_name="site-doc", requesting_user_name=user)  # fmt: skip

    def job_state(self, job_id: int) -> tuple[int, str]:
        """The provider's state of a job and its message."""
        with IppClient(self.provider.uri("direct"), user_name="admin", timeout=30) as client:
            group = client.get_job_attributes(job_id)
        return int(str(group.value("job-state"))), str(group.value("job-state-message") or "")

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The link down, the site offline; afterwards up again, reconciled and caught up."""
        self.link.down()
        try:
            _wait(lambda: self.site.status()["mode"] == "offline", "the site offline")
            yield
        finally:
            self.link.up()
        _wait(lambda: self.site.status()["mode"] == "online", "the site back online")
        _wait(self.caught_up, "the site caught up")

    def printed(self) -> list[bytes]:
        return file_printer_documents(self.out)

    def caught_up(self) -> bool:
        """The site's replica has every change the App Server has made."""
        head = int(httpx.get(f"{self.app.api}/health", timeout=5).json()["change_seq"])
        status = self.site.status()
        return bool(status["mode"] == "online" and int(status["replica_seq"]) >= head)


def _wait(condition: Any, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass(frozen=True)
class Fronted:
    """An App Server and a Site Server straight in front of it (no link between them)."""

    app: AppServer
    site: SiteProcess
    admin_token: str


@contextmanager
def app_and_site(root: Path, name: str = "north") -> Iterator[Fronted]:
    """A fresh App Server on SQLite under ``root/app``, site ``name`` defined there, and its
    Site Server under ``root/site``; both stopped afterwards."""
    (root / "app").mkdir()
    app = AppServer(f"sqlite:///{root / 'app' / 'app.db'}", root / "app")
    app.start()
    site = None
    try:
        admin_token = app.token(Role.ADMIN, f"{name}-admin")
        made = httpx.post(f"{app.api}/sites", json={"name": name},
                          headers={"Authorization": f"Bearer {admin_token}"})  # fmt: skip
        assert made.status_code == 201, made.text
        site = SiteProcess(app.url, app.token(Role.SITE, scope=name), name, root / "site")
        site.start()
        yield Fronted(app, site, admin_token)
    finally:
        if site is not None:
            site.stop()
        app.stop()


@contextmanager
def site_world(
    root: Path,
    site_options: list[str] | None = None,
    app_env: dict[str, str] | None = None,
    database_url: str = "",
    beacon: bool = False,
    **provider: Any,
) -> Iterator[World]:
    """An App Server (on ``database_url``, a SQLite file by default; with ``app_env`` in its
    environment: settings; with ``beacon``, a beacon port), a Link to it, a Site Server
    behind the link and a provider (a direct queue onto a file printer, and ``provider``
    fields such as more ``queues``) served by the site; all stopped afterwards."""
    app = AppServer(database_url or f"sqlite:///{root / 'app.db'}", root / "app")
    app.extra_env.update(app_env or {})
    if beacon:
        app.extra_env[BEACON_PORT_ENV] = str(free_port())
    (root / "app").mkdir()
    app.start()
    admin = httpx.Client(
        base_url=app.api,
        headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'hq-admin')}"},
        timeout=30,
    )
    try:
        with another_site(app, admin, root, SITE, site_options, **provider) as world:
            yield world
    finally:
        admin.close()
        app.stop()


def site_link(app: AppServer, site_port: int) -> tuple[Link, str]:
    """A link between a site and ``app`` carrying both directions: the site's connections to
    the App Server (its port, and its beacon port if it has one: :func:`beacon_route`), and
    the App Server's to the Site Server at ``site_port`` (the second item: the URL the site
    advertises to HQ). Started."""
    link = Link("127.0.0.1", 0, "127.0.0.1", app.port)
    back = link.add_route("127.0.0.1", 0, "127.0.0.1", site_port)
    beacon = app.extra_env.get(BEACON_PORT_ENV)
    if beacon:
        link.add_route("127.0.0.1", 0, "127.0.0.1", int(beacon))
    link.start()
    return link, f"http://127.0.0.1:{back.port}"


def beacon_route(link: Link) -> str:
    """``HOST:PORT`` of the App Server's beacon through a link :func:`site_link` made (its
    route after the one back to the site; '' if the App Server has no beacon)."""
    return link.routes[1].address if len(link.routes) > 1 else ""


@contextmanager
def another_site(
    app: AppServer,
    admin: httpx.Client,
    root: Path,
    name: str,
    site_options: list[str] | None = None,
    **provider_fields: Any,
) -> Iterator[World]:
    """A site ``name`` (its printer, device, link, Site Server and provider bound to the
    site) for ``app``; everything between the site and the App Server goes through the link."""
    root = root / name
    root.mkdir()
    printer = PRINTER if name == SITE else f"{name}-laser"
    site_port = free_port()
    link, advertised = site_link(app, site_port)
    site = provider = None
    try:
        add_printer(admin, printer, colour=False)
        assert admin.post("/sites", json={"name": name}).status_code == 201
        device_token = app.device_token(f"{name}-mfd", printer)
        site = SiteProcess(
            f"http://127.0.0.1:{link.port}",
            app.token(Role.SITE, scope=name),
            name,
            root / "site",
            port=site_port,
            advertised_url=advertised,
            hq_beacon=beacon_route(link),
            options=list(site_options or []),
        )
        site.start()
        # Ready once HQ has heard from it (its first heartbeat tells HQ where it is).
        _wait(lambda: admin.get(f"/sites/{name}").json()["url"] == advertised, "the site at HQ")
        out = root / "printed"
        provider_name = f"{name}-provider-{uuid.uuid4().hex[:8]}"
        provider = ProviderProcess(
            site.url,
            app.token(Role.PROVIDER, scope=f"{PROVIDER_PREFIX}{provider_name}", site=name),
            root / "provider",
            [PrinterSpec(printer, f"file://{out}", colour=False)],
            [QueueSpec("direct", "direct", printer), *provider_fields.pop("queues", [])],
            server_timeout=6.0,  # the default's order: longer than the site's forward timeout
            name=provider_name,
            **provider_fields,
        )
        (root / "provider").mkdir()
        provider.start()
        _wait(provider.registered, "the provider registered with the site")
        yield World(app, admin, link, site, provider, device_token, out)
    finally:
        for process in (provider, site):
            if process is not None:
                process.stop()
        link.stop()


def site_online(site: SiteProcess) -> Callable[[], bool]:
    """Whether ``site`` says it is online now (for waits)."""

    def online() -> bool:
        try:
            return bool(site.status()["mode"] == "online")
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    return online
