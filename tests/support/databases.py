"""Throwaway databases for tests: a SQLite file, or a PostgreSQL database made for the run.

PostgreSQL comes from ``$PRINTWARDEN_TEST_PG`` (a server URL) or 127.0.0.1:5432; if no server
answers there, a private one is started with ``initdb``/``pg_ctl`` in a temporary directory.
Tests never skip for want of PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from printwarden.sim.ports import free_port

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(server_url: str) -> bool:
    try:
        with psycopg.connect(server_url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _pg_binary(name: str) -> str:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: apt-get install postgresql")
    return found


@contextmanager
def private_server() -> Iterator[str]:
    """Start a PostgreSQL server of our own on a free loopback port."""
    root = Path(tempfile.mkdtemp(prefix="pw-pg-"))
    data, port = root / "data", free_port()
    user = "postgres"
    initdb = [_pg_binary("initdb"), "-D", str(data), "-U", user, "--auth=trust"]
    subprocess.run(initdb, check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    pg_ctl = _pg_binary("pg_ctl")
    log = root / "log"
    subprocess.run(
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"], check=True
    )
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a reachable PostgreSQL server (the machine's, or a private one)."""
    url = os.environ.get("PRINTWARDEN_TEST_PG", DEFAULT_SERVER)
    if _answers(url):
        yield url
        return
    with private_server() as started:
        yield started


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A new empty database on ``server_url``, dropped afterwards; yields its URL."""
    name = f"printwarden_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
