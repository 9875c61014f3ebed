"""Many User Client event streams for tests and benchmarks: users with client tokens seeded
in the database, and a separate process holding one stream per token
(``printwarden.testing.sse_clients``) with what it reports."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.store import groups as group_store
from printwarden.store import sites, tokens, users
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade

CLIENTS_MODULE = "printwarden.testing.sse_clients"
SITE = "north"
GROUP = "everyone"  # every seeded user is in it
PASSWORD = "correct horse battery staple"  # the first seeded user's
CLIENT_NAME = "bench-desk"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class ClientsError(RuntimeError):
    """The client process did not do what was asked in time."""


@dataclass(frozen=True)
class Seeded:
    names: list[str]
    client_tokens: list[str]
    admin: str
    provider: str  # unbound: HQ's
    site_provider: str  # a provider token of the site (for the site parts)
    site_token: str


def seed(url: str, data_dir: Path, count: int) -> Seeded:
    """``count`` users with a client token each, an admin, provider and site tokens."""
    upgrade(url)
    secret = Settings(data_dir=data_dir, database_url=url).resolved_secret()
    database = Database(url)
    names = [f"reader{n:05d}" for n in range(count)]
    client_tokens = []
    try:
        with database.session() as session:
            group_store.ensure_groups(session, {GROUP}, "internal")
            admin_row = users.create_user(session, secret, "boss", users.UserChanges(is_admin=True))
            admin, _ = tokens.issue_token(session, Role.ADMIN, name="bench", user_id=admin_row.id)
            for n, name in enumerate(names):
                changes = users.UserChanges(groups=[GROUP], password=PASSWORD if n == 0 else None)
                row = users.create_user(session, secret, name, changes)
                token, _ = tokens.issue_token(
                    session, Role.CLIENT, name=f"client:{name}@{CLIENT_NAME}",
                    user_id=row.id, lifetime=timedelta(days=90),
                )  # fmt: skip
                client_tokens.append(token)
            provider, _ = tokens.issue_token(session, Role.PROVIDER, name="bench")
            sites.create_site(session, SITE, "bench")
            site_token, _ = tokens.issue_token(session, Role.SITE, name="bench", scope=SITE)
            site_provider, _ = tokens.issue_token(session, Role.PROVIDER, name="bench", site=SITE)
    finally:
        database.dispose()
    return Seeded(names, client_tokens, admin, provider, site_provider, site_token)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (its threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Clients:
    """The client process (``printwarden.testing.sse_clients``) and what it reports."""

    def __init__(
        self,
        port: int,
        client_tokens: list[str],
        directory: Path,
        lifetime: float,
        open_timeout: float = 30.0,
    ):
        directory.mkdir(parents=True, exist_ok=True)
        token_file = directory / f"tokens-{uuid.uuid4().hex[:8]}"
        token_file.touch(mode=0o600)
        token_file.write_text("\n".join(client_tokens) + "\n")
        self.log = directory / "clients.log"
        self.replies: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.arrivals: dict[str, list[tuple[float, int]]] = {}
        self.kinds: dict[str, int] = {}
        self.heard = threading.Condition()
        command = [sys.executable, "-m", CLIENTS_MODULE, "--port", str(port),
                   "--tokens", str(token_file), "--lifetime", str(lifetime),
                   "--open-timeout", str(open_timeout)]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            tag, _, body = line.partition(" ")
            found = json.loads(body)
            if tag != "EVENT":
                self.replies.put((tag, found))
                continue
            data, kind = found["d"], found["k"]
            key = str(data.get("text") if kind == "message" else data.get("job"))
            with self.heard:
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                self.arrivals.setdefault(key, []).append((float(found["t"]), int(found["c"])))
                self.heard.notify_all()
        self.replies.put(("EOF", {}))

    def reply(self, tag: str, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            try:
                got, body = self.replies.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                what = f"the client process did not answer {tag} in {seconds:.0f} s"
                raise ClientsError(what) from None
            if got == tag:
                return body
            if got == "EOF":
                raise ClientsError(f"the client process ended: {self.log.read_text()[-2000:]}")

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stats(self) -> dict[str, Any]:
        self.send("stats")
        return self.reply("STATS", 30)

    def wait_for(self, key: str, count: int, seconds: float) -> list[float]:
        """Arrival times of event ``key`` once ``count`` streams heard it (or time ran out)."""
        deadline = time.monotonic() + seconds
        with self.heard:
            while len(self.arrivals.get(key, ())) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.heard.wait(left)
            return [t for t, _ in self.arrivals.get(key, ())]

    def quit(self) -> dict[str, Any]:
        try:
            self.send("quit")
            return self.reply("FINAL", 60)
        finally:
            self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@contextmanager
def clients_of(
    port: int,
    client_tokens: list[str],
    directory: Path,
    lifetime: float,
    open_timeout: float = 30.0,
) -> Iterator[Clients]:
    clients = Clients(port, client_tokens, directory, lifetime, open_timeout)
    try:
        yield clients
    finally:
        if clients.process.poll() is None:
            clients.process.kill()
        clients.stop()
