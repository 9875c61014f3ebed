"""Two PostgreSQL clusters of Debian's own binaries for a test: a primary and a streaming
standby that every commit waits for (``synchronous_commit = on`` with the standby named in
``synchronous_standby_names``), on loopback ports, in a directory of their own.

:attr:`PgPair.url` names both hosts with ``target_session_attrs=read-write``, as an App
Server in production is told (``docs/operations.md``): libpq tries them in turn and takes
the one that accepts writes, so once the standby is promoted every new connection finds it.
The clusters run as the ``postgres`` user (PostgreSQL refuses root), through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from printwarden.sim.ports import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"
DATABASE = "printwarden"
STANDBY_NAME = "standby1"
START_SECONDS = 60.0


def _as_postgres(*command: str | Path | int, timeout: float = START_SECONDS) -> None:
    subprocess.run(["runuser", "-u", USER, "--", *map(str, command)], check=True,
                   timeout=timeout, capture_output=True)  # fmt: skip


@dataclass
class PgPair:
    """A primary and its synchronous standby (:meth:`start`, :meth:`stop`)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-pair-")))
    primary_port: int = field(default_factory=free_port)
    standby_port: int = field(default_factory=free_port)

    @property
    def primary(self) -> Path:
        return self.root / "primary"

    @property
    def standby(self) -> Path:
        return self.root / "standby"

    @property
    def url(self) -> str:
        """Both hosts, the writable one chosen at each connection."""
        return (f"postgresql+psycopg://{USER}@/{DATABASE}?host=127.0.0.1:{self.primary_port}"
                f"&host=127.0.0.1:{self.standby_port}&target_session_attrs=read-write")  # fmt: skip

    def conninfo(self, port: int, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={port} user={USER} dbname={database}"

    def start(self) -> None:
        """Both clusters running, the standby streaming and counted in every commit."""
        shutil.chown(self.root, USER, USER)
        os.chmod(self.root, 0o700)
        _as_postgres(BIN / "initdb", "-D", self.primary, "-U", USER, "--auth=trust", "-E", "UTF8")
        self._configure(self.primary, self.primary_port)
        self._pg_ctl(self.primary, "start")
        with psycopg.connect(self.conninfo(self.primary_port, "postgres"), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{DATABASE}"')
        _as_postgres(BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.primary_port, "-U",
                     USER, "-D", self.standby, "-R", "-X", "stream", "-c", "fast")  # fmt: skip
        self._configure(self.standby, self.standby_port)
        with (self.standby / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} "
                       f"user={USER} application_name={STANDBY_NAME}'\n")  # fmt: skip
        self._pg_ctl(self.standby, "start")
        # Only now: with no standby to wait for, every commit would wait for ever.
        with psycopg.connect(self.conninfo(self.primary_port), autocommit=True) as db:
            db.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
            db.execute("SELECT pg_reload_conf()")
        self._wait_for_sync()

    def _configure(self, data: Path, port: int) -> None:
        settings = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "synchronous_commit": "on",
            "fsync": "on",
            "shared_buffers": "32MB",
            "max_connections": "200",
        }
        with (data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host replication {USER} 127.0.0.1/32 trust\n")

    def _pg_ctl(self, data: Path, action: str) -> None:
        log = self.root / f"{data.name}.log"
        _as_postgres(BIN / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", action)

    def _wait_for_sync(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        query = "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
        while time.monotonic() < deadline:
            with psycopg.connect(self.conninfo(self.primary_port), autocommit=True) as db:
                row = db.execute(query).fetchone()
            if row is not None and row[0] == 1:
                return
            time.sleep(0.1)
        raise RuntimeError("the standby did not become synchronous")

    def kill_primary(self) -> None:
        """``kill -9`` of the primary's postmaster (its backends exit as they notice)."""
        pid = int((self.primary / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def promote(self) -> None:
        """The standby takes writes from now on."""
        self._pg_ctl(self.standby, "promote")

    def stop(self) -> None:
        for data in (self.standby, self.primary):
            if (data / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):  # the killed primary
                    self._pg_ctl(data, "stop")
        shutil.rmtree(self.root, ignore_errors=True)
