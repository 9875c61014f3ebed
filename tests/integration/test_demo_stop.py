"""Stopping `printwarden demo` stops everything it started.

A module of its own: its demos must not run beside the module-scoped demo of test_demo.py
(two private avahi daemons on the loopback interface at once can upset each other).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printwarden.demo.sites import PORT_OFFSETS
from printwarden.testing.ports import free_port_base
from printwarden.testing.processes import stop

READY_SECONDS = 60


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("stop_signal", "statuses"), [(signal.SIGINT, (0, 130)), (signal.SIGTERM, (143,))]
)
def test_stopping_the_demo_stops_its_printers_providers_sites_and_links(
    tmp_path: Path, stop_signal: signal.Signals, statuses: tuple[int, ...]
) -> None:
    command = [
        sys.executable,
        "-m",
        "printwarden",
        "demo",
        "--data-dir",
        str(tmp_path),
        "--port-base",
        str(free_port_base(PORT_OFFSETS)),
    ]
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        _check_stop(process, tmp_path, stop_signal, statuses)
    finally:
        stop(process)


def _check_stop(
    process: subprocess.Popen[bytes],
    tmp_path: Path,
    stop_signal: signal.Signals,
    statuses: tuple[int, ...],
) -> None:
    log = tmp_path / "demo.log"
    manifest_path = tmp_path / "demo.json"
    deadline = time.monotonic() + READY_SECONDS
    while not manifest_path.exists():
        assert time.monotonic() < deadline, "demo.json did not appear"
        time.sleep(0.1)
    manifest = json.loads(manifest_path.read_text())
    assert "provider" in manifest, f"the print side did not start:\n{log.read_text()}"
    ports = [manifest["provider"]["port"]] + [
        int(printer["ipp_uri"].rsplit(":", 1)[1].split("/")[0])
        for printer in manifest["printers"].values()
    ]
    for site in manifest["sites"].values():  # its Site Server, link and provider
        ports += [int(site["url"].rsplit(":", 1)[1]), site["link"]["port"],
                  site["provider"]["port"]]  # fmt: skip
    assert all(_listening(port) for port in ports)
    process.send_signal(stop_signal)
    # 130 and 143 are the conventional statuses of a program stopped by SIGINT and SIGTERM.
    assert process.wait(timeout=20) in statuses
    left = [port for port in ports if _listening(port)]
    assert not left, f"a printer, provider, Site Server or link outlived it (ports {left})"
    # Nor any process of its own that listens on no port (the pay station's bridge, say).
    deadline = time.monotonic() + 10
    while _processes_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_of(tmp_path), _processes_of(tmp_path)


def _processes_of(folder: Path) -> list[str]:
    """The command lines of running processes that name ``folder`` (the demo's data)."""
    found = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True,
                           check=False, timeout=10)  # fmt: skip
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]
