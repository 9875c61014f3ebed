"""Idle Site Servers' long polls: what they cost a real App Server process when nothing
changes, and how soon a change reaches them.

    .venv/bin/python bench/idle_sites.py --sites 100
    .venv/bin/python bench/idle_sites.py --sites 100 --other /path/to/older/src   # an anchor

An App Server (``printwarden app serve``, SQLite) is started over a fresh database with
``--sites`` sites; each site's long poll (``GET /sites/{name}/changes?wait=25``, as a Site
Server asks) is held open by a client thread, again as soon as it answers. Measured: the
server's CPU time over ``--seconds`` with nothing changing (percent of one core), then the
time from one committed change (a new user) until every poll has answered with it (p50,
max). ``--other SRC`` runs the same against another checkout's ``src`` directory (the code
before the change bell: every poll asked the database every 0.1 s) in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from printwarden.domain.accounts import Role
from printwarden.store import sites, tokens
from printwarden.testing.appserver import AppServer


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _seed(app: AppServer, count: int) -> dict[str, str]:
    database = app.database()
    found = {}
    try:
        with database.session() as session:
            for n in range(count):
                name = f"site-{n}"
                sites.create_site(session, name)
                found[name] = tokens.issue_token(session, Role.SITE, name=name, scope=name)[0]
    finally:
        database.dispose()
    return found


def run(src: str | None, count: int, seconds: float) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        app = AppServer(f"sqlite:///{root / 'app.db'}", root)
        other = _start_other(app, src) if src else None
        if other is None:
            app.start()
        try:
            site_tokens = _seed(app, count)
            admin = httpx.Client(base_url=app.api, timeout=60, headers={
                "Authorization": f"Bearer {app.token(Role.ADMIN, 'bench-admin')}"})  # fmt: skip
            head = int(admin.get("/health").json()["change_seq"])
            heard: dict[str, float] = {}
            stop = threading.Event()
            threads = [threading.Thread(target=_poll, args=(app.api, name, token, head, heard,
                                                             stop), daemon=True)
                       for name, token in site_tokens.items()]  # fmt: skip
            for thread in threads:
                thread.start()
            time.sleep(3)  # every poll open
            pid = other.pid if other is not None else app.process.pid if app.process else 0
            before = _cpu_seconds(pid)
            time.sleep(seconds)
            busy = (_cpu_seconds(pid) - before) / seconds * 100
            changed = time.monotonic()
            admin.post("/users", json={"username": "bench-newcomer"})
            deadline = time.monotonic() + 30
            while len(heard) < count and time.monotonic() < deadline:
                time.sleep(0.01)
            stop.set()
            admin.close()
            return busy, sorted(at - changed for at in heard.values())
        finally:
            if other is not None:
                other.terminate()
                other.wait(timeout=30)
            else:
                app.stop()


def _start_other(app: AppServer, src: str) -> subprocess.Popen[bytes]:
    """The App Server of another checkout (a plain process: the fork server has this
    checkout's modules loaded)."""
    from printwarden.store.migrate import upgrade

    upgrade(app.database_url)
    env = {**app.env(), "PYTHONPATH": src}
    command = [sys.executable, "-m", "printwarden", "app", "serve", "--port", str(app.port)]
    log = (app.data_dir / "server.log").open("ab")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{app.api}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the other App Server did not start")


def _poll(api: str, name: str, token: str, since: int, heard: dict[str, float],
          stop: threading.Event) -> None:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api, headers=headers, timeout=40) as client:
        while not stop.is_set():
            try:
                found = client.get(f"/sites/{name}/changes", params={"since": since, "wait": 25})
            except httpx.HTTPError:
                continue
            if found.status_code == 200 and found.json()["entities"]:
                heard.setdefault(name, time.monotonic())
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--other", default="", help="another checkout's src, as the anchor")
    args = parser.parse_args()
    count, seconds = min(args.sites, 1000), min(args.seconds, 120.0)
    for label, src in (("this code", None), ("other", args.other or None)):
        if label == "other" and src is None:
            continue
        busy, delays = run(src, count, seconds)
        p50 = statistics.median(delays) if delays else float("nan")
        worst = delays[-1] if delays else float("nan")
        print(f"{label:10} {count} idle sites: App Server CPU {busy:5.1f} % of a core; "
              f"a change reached {len(delays)}/{count} polls, p50 {p50 * 1000:.0f} ms, "
              f"max {worst * 1000:.0f} ms", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
