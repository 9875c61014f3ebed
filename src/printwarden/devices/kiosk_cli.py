"""``printwarden kiosk``: a cash pay station — its page in a browser in kiosk mode, and the
bridge between its cash acceptor and the print server, a process of its own.

The bridge (``printwarden.devices.kiosk_bridge``) runs as a child process, restarted when it
dies (each restart logged and counted): a crash there, or an acceptor driver's, never takes
the page down, and a driver under another licence stays out of this process. The page's URL
carries the device token in its fragment; it is handed to the browser in a private file,
never on a command line.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

kiosk_cmd = typer.Typer(help="A cash pay station: its page and its acceptor's bridge.")
log = logging.getLogger("printwarden.kiosk")
RESTART_PAUSE = 2.0


def fail(message: str) -> typer.Exit:
    """Say what is wrong; the exit to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def page_url(server: str, device: str) -> str:
    """The pay station page of ``device`` (without its token)."""
    return f"{server.rstrip('/')}/kiosk/{device}"


def launcher(directory: Path, url: str, token: str) -> Path:
    """A private HTML file that opens ``url`` with the token in its fragment."""
    path = directory / "kiosk-start.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    target = f"{url}#token={token}"
    with os.fdopen(fd, "w") as handle:
        handle.write(f"<!doctype html><script>location.replace({target!r});</script>\n")
    return path


def bridge_command(
    server: str, token_file: Path, port: str, state: Path, currency: str
) -> list[str]:
    return [sys.executable, "-m", "printwarden.devices.kiosk_bridge", "--server", server,
            "--token-file", str(token_file), "--port", port, "--state-file", str(state),
            "--currency", currency]  # fmt: skip


@kiosk_cmd.command("run")
def run(
    server: Annotated[str, typer.Option(help="The print server (App or Site Server) URL")],
    device: Annotated[str, typer.Option(help="The kiosk's device name")],
    token_file: Annotated[Path, typer.Option(help="The kiosk's device token (mode 0600)")],
    acceptor: Annotated[str, typer.Option(help="The acceptor's serial port or pyserial URL")],
    state_dir: Annotated[Path, typer.Option(help="Where the bridge keeps its progress")],
    currency: Annotated[str, typer.Option(help="The acceptor's currency")] = "EUR",
    browser: Annotated[bool, typer.Option(help="Open the page in Chromium's kiosk mode")] = False,
) -> None:
    """Run the bridge (restarted if it dies) and, with ``--browser``, the page full screen."""
    from printwarden.devices.kiosk_bridge import TokenFileError, read_token_file

    try:
        token = read_token_file(token_file)
    except TokenFileError as exc:
        raise fail(str(exc)) from None
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = page_url(server, device)
    start = launcher(state_dir, url, token)
    print(f"pay station page: {url} (open {start} to log the page in)", flush=True)
    shown = _browser(start) if browser else None
    command = bridge_command(server, token_file, acceptor, state_dir / "acceptor.json", currency)
    try:
        _supervise(command)
    finally:
        if shown is not None:
            shown.terminate()


def _end(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)


def _browser(start: Path) -> subprocess.Popen[bytes]:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise fail("no chromium on PATH: open the page in a browser yourself")
    return subprocess.Popen([found, "--kiosk", "--noerrdialogs", start.as_uri()])


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def _supervise(command: list[str]) -> None:
    """Run the bridge until interrupted (SIGINT or SIGTERM: the bridge is stopped too, never
    left running alone), starting it again whenever it exits."""
    signal.signal(signal.SIGTERM, _stop)
    restarts = 0
    while True:
        child = subprocess.Popen(command)
        try:
            code = child.wait()
        except (KeyboardInterrupt, SystemExit):
            _end(child)
            return
        restarts += 1
        print(f"kiosk bridge exited ({code}); restart {restarts}", file=sys.stderr, flush=True)
        if code == 2:  # its own refusal (a bad token file, say): running it again won't help
            raise fail("the bridge refused to start; see above")
        time.sleep(RESTART_PAUSE)
