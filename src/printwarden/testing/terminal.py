"""Running a command on a pseudo-terminal, typing a password at its prompts: CUPS' tools
read a password from the terminal, never from their arguments or environment."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROMPT = b"Password for"


def run_with_terminal(
    command: Sequence[str],
    env: dict[str, str],
    answer: str,
    *,
    cwd: Path | None = None,
    timeout: float = 60.0,
    every_prompt: bool = False,
    silence: float = float("inf"),
    on_silence: Callable[[int], str] = lambda pid: "",
) -> tuple[int, str]:
    """Run ``command`` on a pty, typing ``answer`` at its first password prompt (at each,
    with ``every_prompt``); its exit code and everything it wrote. A command silent for
    ``silence`` seconds is killed, after ``on_silence(its pid)`` had its say (appended to
    the output: what it waited on)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty
        if cwd is not None:
            os.chdir(cwd)
        os.execvpe(command[0], list(command), env)  # noqa: S606
    output, answered, deadline = b"", 0, time.monotonic() + timeout
    heard = time.monotonic()
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                if time.monotonic() - heard > silence:
                    output += f"\n[silent {silence:.0f} s]\n{on_silence(pid)}".encode()
                    os.kill(pid, signal.SIGKILL)
                    break
                continue
            heard = time.monotonic()
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
            if output.count(PROMPT) > answered and (every_prompt or answered == 0):
                os.write(fd, answer.encode() + b"\n")
                answered = output.count(PROMPT)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")
