"""The fork server the harness starts its server processes from: each child is a real process
that runs its ``-m`` module with its own argv, environment, directory and streams, exits with
that program's status, and can be signalled and killed like any other."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from printwarden.testing.forkserver import ForkedProcess, ForkServer

PROGRAMS = "forkserver_programs"


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    forked = ForkServer()
    try:
        yield forked
    finally:
        forked.close()


def spawn(server: ForkServer, tmp_path: Path, *arguments: str, **env: str) -> ForkedProcess:
    """Run ``python -m support.forkserver_programs ARGUMENTS`` forked, output to a file."""
    with (tmp_path / "out.log").open("ab") as out:
        return server.spawn(
            [sys.executable, "-m", f"support.{PROGRAMS}", *arguments],
            env={"PYTHONPATH": str(Path(__file__).parents[1]), **env},
            stdout=out,
            stderr=out,
            cwd=str(tmp_path),
        )


def output(tmp_path: Path) -> str:
    return (tmp_path / "out.log").read_text()


def test_a_child_runs_with_its_own_argv_environment_directory_and_streams(
    server: ForkServer, tmp_path: Path
) -> None:
    child = spawn(server, tmp_path, "report", "one", "two", GREETING="hello")
    assert child.wait(timeout=10) == 0
    lines = output(tmp_path).splitlines()
    assert lines == [
        "argv report one two",
        "env hello",
        f"cwd {tmp_path}",
        f"pid {child.pid}",
        "stdin b''",
    ]


def test_exit_statuses_are_the_programs(server: ForkServer, tmp_path: Path) -> None:
    assert spawn(server, tmp_path, "exit", "3").wait(timeout=10) == 3
    assert spawn(server, tmp_path, "exit", "0").wait(timeout=10) == 0
    assert spawn(server, tmp_path, "raise").wait(timeout=10) == 1
    assert "ValueError: raised on purpose" in output(tmp_path)


def test_an_exception_in_the_child_has_no_context_from_the_fork_server(
    server: ForkServer, tmp_path: Path
) -> None:
    """Libraries read ``__context__`` (httptools hands a callback's error on that way)."""
    assert spawn(server, tmp_path, "context").wait(timeout=10) == 0
    assert output(tmp_path).splitlines() == ["context None"]


def test_a_child_ends_as_the_interpreter_does(server: ForkServer, tmp_path: Path) -> None:
    """Its non-daemon threads finish and its atexit handlers run before it exits."""
    assert spawn(server, tmp_path, "atexit").wait(timeout=10) == 0
    assert output(tmp_path).splitlines() == ["thread done", "atexit ran"]


def test_signals_and_kill_reach_the_child(server: ForkServer, tmp_path: Path) -> None:
    sleeper = spawn(server, tmp_path, "sleep")
    assert sleeper.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=0.2)
    sleeper.terminate()
    assert sleeper.wait(timeout=10) == -signal.SIGTERM
    stubborn = spawn(server, tmp_path, "ignore-term")
    time.sleep(0.3)  # its handler is installed
    stubborn.terminate()
    with pytest.raises(subprocess.TimeoutExpired):
        stubborn.wait(timeout=0.3)
    stubborn.kill()
    assert stubborn.wait(timeout=10) == -signal.SIGKILL


def test_a_child_whose_owner_lets_go_is_killed(server: ForkServer, tmp_path: Path) -> None:
    sleeper = spawn(server, tmp_path, "sleep")
    pid = sleeper.pid
    sleeper.close()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists()


def test_only_python_dash_m_commands_are_forked(server: ForkServer) -> None:
    with pytest.raises(ValueError, match="python -m MODULE"):
        server.spawn(["/bin/true"], env={}, stdout=None, stderr=None)
