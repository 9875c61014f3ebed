"""A real App Server process (``printwarden app serve``) for integration tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.sim.ports import free_port
from printwarden.sim.processes import ChildProcess
from printwarden.store import printers, tokens, users
from printwarden.store.db import Database
from printwarden.store.errors import NotFound
from printwarden.store.migrate import upgrade
from printwarden.testing import forkserver, processes

STARTUP_SECONDS = 30.0
TEST_ENV = {"PRINTWARDEN_WEB_PRINT__WORKERS": "1"}


DEVICE_PRICES: dict[str, Any] = {
    "sizes": {
        "default": {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 40}
    },
    "base_cost": 0,
    "group_modifiers": {},
}


@dataclass
class Seeding:
    """An App Server's database and settings: what tests seed directly, whatever serves it."""

    database_url: str
    data_dir: Path
    # Settings beyond the data directory and database ({"payments": …} for a test's gateways).
    overrides: dict[str, Any] = field(default_factory=dict, kw_only=True)

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url, **self.overrides)

    def database(self) -> Database:
        return Database(self.database_url)

    def env(self) -> dict[str, str]:
        """The environment of a ``printwarden`` command over this App Server's data."""
        return {
            **os.environ,
            "PRINTWARDEN_DATA_DIR": str(self.data_dir),
            "PRINTWARDEN_DATABASE_URL": self.database_url,
        }

    def token(
        self, role: Role, username: str = "", scope: str = "", site: str | None = None
    ) -> str:
        """A token for ``role``; admins and users get a session of a user made for it. A
        provider token may be bound to a ``site`` (and to a provider by ``scope``)."""
        database = self.database()
        try:
            with database.session() as session:
                user_id = None
                if role in (Role.ADMIN, Role.USER, Role.CLIENT):
                    changes = users.UserChanges(is_admin=role is Role.ADMIN)
                    row = users.create_user(
                        session, self.settings().resolved_secret(), username, changes
                    )
                    user_id = row.id
                token, _ = tokens.issue_token(
                    session, role, name="test", scope=scope, site=site, user_id=user_id
                )
            return token
        finally:
            database.dispose()

    def device_token(
        self,
        device: str,
        printer: str | None = None,
        cost_model: dict[str, Any] | None = None,
        login_methods: list[str] | None = None,
        kind: str = "mfd",
    ) -> str:
        """A device token bound to ``device`` (created, serving ``printer``, if missing)."""
        database = self.database()
        try:
            with database.session() as session:
                fields: dict[str, Any] = {
                    "kind": kind,
                    "printer": printer,
                    "cost_model": cost_model or DEVICE_PRICES,
                }
                if login_methods is not None:
                    fields["login_methods"] = login_methods
                try:
                    printers.find_device(session, device)
                except NotFound:
                    printers.save_device(session, device, fields, create=True)
                token, _ = tokens.issue_token(
                    session, Role.DEVICE, name=device, scope=f"device:{device}"
                )
            return token
        finally:
            database.dispose()


class OnLoopback:
    """A server on a loopback ``port``: its URLs, and clients of its API."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def client(self, token: str | None = None, *, under: str = "/api/v1") -> httpx.Client:
        """A client of the paths ``under`` a prefix, with ``token`` as its bearer token."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}{under}", headers=headers, timeout=30)


@dataclass
class AppServer(OnLoopback, Seeding):
    """An App Server subprocess on a free loopback port, over a given database."""

    port: int = field(default_factory=free_port)
    # One LibreOffice worker per test server (the product's default: one per core): a test
    # world renders a few documents, and several worlds run at once on the same cores.
    extra_env: dict[str, str] = field(default_factory=lambda: dict(TEST_ENV))
    process: ChildProcess | None = None
    log_name: str = "server.log"  # in the data directory

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}

    def start(self) -> None:
        upgrade(self.database_url)
        command = [sys.executable, "-m", "printwarden", "app", "serve", "--port", str(self.port)]
        log = (self.data_dir / self.log_name).open("ab")
        self.process = forkserver.popen(command, env=self.env(), stdout=log, stderr=log)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        log = self.data_dir / self.log_name
        processes.wait_ready(self.process, self._answers, "App Server", log, STARTUP_SECONDS)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.api}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self) -> str:
        return processes.log_tail(self.data_dir / self.log_name)

    def stop(self) -> None:
        processes.stop(self.process)


@contextmanager
def served_app(
    root: Path, admin: str = "root", timeout: float = 30.0
) -> Iterator[tuple[AppServer, httpx.Client]]:
    """An App Server process over a fresh SQLite database under ``root``, and a client of its
    API with the token of administrator ``admin``; both stopped afterwards, even when what
    the caller sets up in between fails."""
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    try:
        with app.client(app.token(Role.ADMIN, admin)) as client:
            client.timeout = httpx.Timeout(timeout)
            yield app, client
    finally:
        app.stop()
