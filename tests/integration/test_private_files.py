"""Secrets stay private: servers tighten data an older version left readable to others, and
commands take tokens from a file or the environment, never from the command line (where
``ps`` shows them to every local user)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.domain.accounts import Role
from support.appserver import AppServer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _printwarden(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "printwarden", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                          cwd=cwd, env={**os.environ, "COLUMNS": "200", **(env or {})})  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """An App Server started over a data directory an older version left open to all."""
    data = tmp_path_factory.mktemp("loose")
    (data / "secret.key").write_text("ab" * 32)
    database = data / "printwarden.db"
    database.touch()
    for path, mode in ((data, 0o755), (data / "secret.key", 0o644), (database, 0o644)):
        path.chmod(mode)
    server = AppServer(f"sqlite:///{database}", data)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_tightens_its_data_at_start(app: AppServer) -> None:
    data = app.data_dir
    assert _mode(data) == 0o700
    for name in ("secret.key", "printwarden.db", "printwarden.db-wal", "printwarden.db-shm"):
        assert _mode(data / name) == 0o600, name


@pytest.mark.parametrize(
    "command",
    [
        ("site", "serve", "--upstream", "http://127.0.0.1:9", "--site", "north"),
        ("provider", "serve", "--server", "http://127.0.0.1:9", "--config", "{config}"),
        ("device", "simulate", "--server", "http://127.0.0.1:9", "--card", "1", "list"),
        ("release-station", "--server", "http://127.0.0.1:9"),
        ("admin", "site", "status", "--server", "http://127.0.0.1:9"),
        ("admin", "lockouts", "list", "--server", "http://127.0.0.1:9"),
    ],
    ids=["site", "provider", "device", "release-station", "admin", "lockouts"],
)
def test_a_token_on_the_command_line_is_refused_with_a_clear_message(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    config = tmp_path / "provider.toml"
    config.write_text('name = "p"\n')
    args = [part.format(config=config) for part in command]
    where = args.index("--server") if "--server" in args else args.index("--upstream")
    args[where:where] = ["--token", "a-secret-token-value"]
    empty = {"PRINTWARDEN_TOKEN": "", "PRINTWARDEN_DEVICE_TOKEN": "", "PRINTWARDEN_ADMIN_TOKEN": ""}
    refused = _printwarden(*args, env=empty, cwd=tmp_path)  # (a server would start in tmp_path)
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "--token is not accepted" in said, said
    assert "--token-file" in said
    missing = _printwarden(*[a for a in args if a not in ("--token", "a-secret-token-value")],
                           env=empty, cwd=tmp_path)  # fmt: skip
    assert missing.returncode != 0
    said = missing.stdout + missing.stderr
    assert "a token is needed: --token-file FILE or $PRINTWARDEN_" in said, missing


def test_a_token_comes_from_a_file_or_the_environment(app: AppServer, tmp_path: Path) -> None:
    token = app.token(Role.ADMIN, "file-admin")
    token_file = tmp_path / "admin.token"
    token_file.write_text(token + "\n")
    from_file = _printwarden("admin", "site", "status", "--json", "--server", app.url,
                             "--token-file", str(token_file))  # fmt: skip
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr
    from_env = _printwarden("admin", "site", "status", "--json", "--server", app.url,
                            env={"PRINTWARDEN_ADMIN_TOKEN": token})  # fmt: skip
    assert from_env.returncode == 0, from_env.stdout + from_env.stderr
    wrong = _printwarden("admin", "site", "status", "--server", app.url,
                         env={"PRINTWARDEN_ADMIN_TOKEN": "not-a-token"})  # fmt: skip
    assert wrong.returncode == 1
    assert "401" in wrong.stdout
    assert httpx.get(f"{app.api}/health").status_code == 200
