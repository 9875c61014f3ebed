"""``make demo-ha`` as a user runs it (``python -m printwarden.testing.demo_ha``): it comes
up, the admin of its welcome logs in through HAProxy, a killed process costs no request, and
SIGTERM stops everything and removes the database clusters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from printwarden.sim.ports import free_port
from printwarden.testing.seeding import wait_for

READY_SECONDS = 120.0


def test_demo_ha_comes_up_survives_a_killed_process_and_stops(tmp_path: Path) -> None:
    data, port = tmp_path / "demo-ha", free_port()
    log = (tmp_path / "demo-ha.log").open("wb")
    command = [sys.executable, "-m", "printwarden.testing.demo_ha", "--data-dir", str(data),
               "--port", str(port), "--processes", "2"]  # fmt: skip
    demo = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    manifest_path = data / "demo-ha.json"
    try:
        wait_for(
            lambda: manifest_path.exists() or demo.poll() is not None, "demo-ha", READY_SECONDS
        )
        assert demo.poll() is None, (tmp_path / "demo-ha.log").read_text()[-3000:]
        manifest = json.loads(manifest_path.read_text())
        assert oct(manifest_path.stat().st_mode & 0o777) == "0o600"  # it holds a password
        assert "is ready" in (tmp_path / "demo-ha.log").read_text()
        api = f"{manifest['url']}/api/v1"
        login = httpx.post(f"{api}/auth/login", json=manifest["admin"], timeout=30)
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        page = httpx.get(f"{api}/users", headers=headers, timeout=30).json()
        names = {u["username"] for u in page["items"]}
        assert {u["username"] for u in manifest["users"]} <= names
        os.kill(manifest["processes"][0]["pid"], signal.SIGKILL)
        answers = [httpx.get(f"{api}/users", headers=headers, timeout=30).status_code
                   for _ in range(20)]  # fmt: skip
        assert answers == [200] * 20  # HAProxy sent them to the other process
        pg = manifest["postgresql"]
        assert Path(pg["primary"]["data"]).exists()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
        log.close()
    assert not Path(pg["primary"]["data"]).exists()  # the clusters are removed
    try:
        httpx.get(f"{api}/health", timeout=2)
    except httpx.ConnectError:
        return  # HAProxy and the processes are gone
    raise AssertionError("HAProxy still answers after the demo stopped")
