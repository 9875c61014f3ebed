"""Idle Site Servers: what they cost a real App Server process when nothing changes, and
how soon a change reaches them.

    .venv/bin/python bench/idle_sites.py --sites 1000
    .venv/bin/python bench/idle_sites.py --sites 100 --other /path/to/older/src   # an anchor

An App Server (``printwarden app serve``, SQLite) is started over a fresh database with
``--sites`` sites, each connected as a Site Server is (:class:`SiteSimulator`, real sockets):
its beating long poll for changes (``GET /sites/{name}/changes?wait=50&beats=true``, a space
each beat while it waits), asked again as soon as it answers, and its status report every
``REFRESH_SECONDS`` (what a site whose poll beats sends when nothing changes). Measured: the
server's CPU time over ``--seconds`` with nothing changing (percent of one core) and its
memory, then the time from one committed change (a new user) until every site's poll has
answered with it (p50, p99, max). ``--other SRC`` runs plain
long polls and a status every 0.5 s (the site before beats) against another checkout's
``src`` directory in the same run. ``--no-status`` leaves the status reports out: what the
polls alone cost. ``--beacon`` gives the App Server a beacon port and each site holds its
beacon as the Site Server does (``site/beacon.py``: hello with the ticket of its first
status's answer, a byte back each second), its poll quiet (``quiet=true``, 240 s) and its
status every ``BEACON_REFRESH_SECONDS``. With ``IDLE_SITES_PROFILE=FILE`` in the
environment, py-spy records the App Server during the measured seconds (raw stacks); with
``IDLE_SITES_PROFILE_CHANGE=FILE``, for 10 s from the change on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from printwarden.domain import beacon as beacon_protocol
from printwarden.domain.accounts import Role
from printwarden.sim.ports import free_port
from printwarden.site.heartbeat import BEACON_REFRESH_SECONDS, PROBE_SECONDS, REFRESH_SECONDS
from printwarden.site.server import LONG_POLL_SECONDS, QUIET_LONG_POLL_SECONDS
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


async def _idle() -> None:
    await asyncio.Event().wait()


def run(
    src: str | None,
    count: int,
    seconds: float,
    beats: bool,
    status: bool = True,
    wait: float = LONG_POLL_SECONDS,
    beacon: bool = False,
    follow: bool = False,
) -> tuple[float, float, list[float]]:
    """The App Server's CPU (percent of a core) and memory (MB) with ``count`` idle sites
    connected, and how long one change took to reach each site's poll (seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        app = AppServer(f"sqlite:///{root / 'app.db'}", root)
        if beacon:
            app.extra_env["PRINTWARDEN_BEACON_PORT"] = str(free_port())
        other = _start_other(app, src) if src else None
        if other is None:
            app.start()
        try:
            site_tokens = _seed(app, count)
            # No kept-alive connection: the server closes an idle one after 5 s.
            admin = httpx.Client(base_url=app.api, timeout=60, headers={
                "Authorization": f"Bearer {app.token(Role.ADMIN, 'bench-admin')}"},
                limits=httpx.Limits(max_keepalive_connections=0))  # fmt: skip
            head = int(admin.get("/health").json()["change_seq"])
            sites = SiteSimulator(app.port, site_tokens, head, beats, status, follow)
            sites.wait, sites.beacon = wait, beacon
            sites.start()
            time.sleep(5)  # every poll open
            if beacon:  # and every beacon (each site's first status is a write)
                deadline = time.monotonic() + 120
                while sites.beacons_held < count and time.monotonic() < deadline:
                    time.sleep(0.5)
                time.sleep(5)
                print(f"beacons held: {sites.beacons_held} for {count} sites", flush=True)
            pid = other.pid if other is not None else app.process.pid if app.process else 0
            before = _cpu_seconds(pid)
            if os.environ.get("IDLE_SITES_PROFILE"):  # where the time goes (py-spy)
                subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "-d",
                                str(int(seconds)), "-r", "200", "-f", "raw", "-o",
                                os.environ["IDLE_SITES_PROFILE"], "-p", str(pid), "-n"],
                               check=False, capture_output=True)  # fmt: skip
            else:
                time.sleep(seconds)
            busy = (_cpu_seconds(pid) - before) / seconds * 100
            memory = _rss_mb(pid)
            if beacon:
                print(f"beacons held: {sites.beacons_held} for {count} sites", flush=True)
            spy = _profile_change(pid)
            changed, cpu_then = time.monotonic(), _cpu_seconds(pid)
            with contextlib.suppress(httpx.HTTPError):  # a saturated server may not answer
                admin.post("/users", json={"username": "bench-newcomer"})
            deadline = time.monotonic() + 30
            while len(sites.heard) < count and time.monotonic() < deadline:
                time.sleep(0.01)
            delays = sorted(at - changed for at in sites.heard.values())
            if delays:
                print(
                    f"fan-out: App Server CPU {_cpu_seconds(pid) - cpu_then:.2f} s while the "
                    f"change took {delays[-1]:.2f} s to reach the last site",
                    flush=True,
                )
            if spy is not None:
                spy.wait(timeout=60)
            sites.stop()
            admin.close()
            return busy, memory, delays
        finally:
            if other is not None:
                other.terminate()
                other.wait(timeout=30)
            else:
                app.stop()


def _profile_change(pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy recording the App Server for 10 s from the change on, with
    ``IDLE_SITES_PROFILE_CHANGE=FILE`` in the environment (raw stacks)."""
    target = os.environ.get("IDLE_SITES_PROFILE_CHANGE")
    if not target:
        return None
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-d", "10",
                            "-r", "200", "-f", "raw", "-o", target, "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1)  # recording
    return spy


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class SiteSimulator:
    """``sites`` Site Servers as HQ sees them, on one event loop in a thread: each holds its
    long poll for changes (a beating one with ``beats``, as the Site Server asks) over its
    own socket, and reports its status every ``REFRESH_SECONDS`` (with beats; every
    ``PROBE_SECONDS`` without, as the site before beats did), as the real site does.
    The HTTP is written by hand to keep the client light: the client runs on the same cores
    as the server it measures."""

    def __init__(
        self,
        port: int,
        sites: dict[str, str],
        since: int,
        beats: bool,
        status: bool = True,
        follow: bool = False,
    ) -> None:
        self.port, self.sites, self.since, self.beats = port, sites, since, beats
        self.status, self.wait, self.follow = status, LONG_POLL_SECONDS, follow
        self.beacon = False  # hold a beacon, poll quietly, a status every 300 s
        self.beacons_held = 0
        self._tickets: dict[str, asyncio.Future[tuple[int, str]]] = {}
        self.heard: dict[str, float] = {}
        self.answers = 0  # polls answered with changes
        self.beats_heard = 0
        self.refused = 0  # connections that failed (retried after 0.5 s)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(60)

    async def _start(self) -> None:
        for name, token in self.sites.items():
            self._tasks.append(asyncio.create_task(self._site(name, token)))
            await asyncio.sleep(0.002)  # connections spread over 2 s, as sites start

    def stop(self) -> None:
        async def cancel() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _site(self, name: str, token: str) -> None:
        """Poll until a change is heard (with ``follow``: for ever, from each answer's
        ``upto`` on, as a Site Server does)."""
        if self.beacon:
            self._tickets[name] = asyncio.get_running_loop().create_future()
        status = asyncio.create_task(self._status(name, token) if self.status else _idle())
        held = asyncio.create_task(self._beacon(name) if self.beacon else _idle())
        since = self.since
        try:
            while self.follow or name not in self.heard:
                try:
                    body = await self._long_poll(name, token, since)
                except OSError:
                    self.refused += 1
                    await asyncio.sleep(0.5)
                    continue
                if b'"entities":[{' in body:
                    self.heard.setdefault(name, time.monotonic())
                    self.answers += 1
                if self.follow:
                    since = _upto(body, since)
        finally:
            status.cancel()
            held.cancel()

    async def _beacon(self, name: str) -> None:
        """The site's beacon, as ``site/beacon.py`` holds it: the ticket of its first
        status's answer, then HQ's beats heard and a byte back each second."""
        port, ticket = await self._tickets[name]
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            try:
                writer.write(beacon_protocol.hello(ticket))
                beacon_protocol.parse_answer(await reader.readline())
                self.beacons_held += 1
                ticked = 0.0
                while await asyncio.wait_for(reader.read(256), 0.7):
                    if time.monotonic() - ticked >= beacon_protocol.TICK_SECONDS:
                        ticked = time.monotonic()
                        writer.write(beacon_protocol.BEAT)
            except (OSError, TimeoutError, beacon_protocol.BeaconError):
                await asyncio.sleep(0.5)
            finally:
                writer.close()

    async def _long_poll(self, name: str, token: str, since: int) -> bytes:
        wait = self.wait if self.beats else 25  # plain polls: the older site's
        query = f"since={since}&wait={wait}" + ("&beats=true&forced=false" if self.beats else "")
        if self.beacon:
            query = f"since={since}&wait={QUIET_LONG_POLL_SECONDS}&beats=true&quiet=true"
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(
                f"GET /api/v1/sites/{name}/changes?{query} HTTP/1.1\r\nHost: hq\r\n"
                f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
            )
            body = b""
            while chunk := await reader.read(65536):
                if not chunk.strip(b" \r\n0123456789abcdef"):
                    self.beats_heard += 1
                body += chunk
            return body
        finally:
            writer.close()

    async def _status(self, name: str, token: str) -> None:
        """Statuses over one kept-alive connection (as the Site Server's HTTP client sends
        them), opened again when it fails."""
        body = b'{"mode":"online","journal_backlog":0}'
        request = (f"POST /api/v1/sites/{name}/status HTTP/1.1\r\nHost: hq\r\n"
                   f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
        period = REFRESH_SECONDS if self.beats else PROBE_SECONDS
        period = BEACON_REFRESH_SECONDS if self.beacon else period
        first = 0.0 if self.beacon else period  # the first answer brings the beacon's ticket
        await asyncio.sleep(period * (hash(name) % 1000) / 1000 if not self.beacon else 0)
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            await asyncio.sleep(first)
            first = period
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", self.port)
                reader, writer = connection
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                answer = json.loads(await reader.readexactly(length))
                ticket = self._tickets.get(name)
                if ticket is not None and not ticket.done() and answer.get("beacon_ticket"):
                    ticket.set_result((answer["beacon_port"], answer["beacon_ticket"]))
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                if connection is not None:
                    connection[1].close()
                connection = None


def _upto(response: bytes, since: int) -> int:
    """The ``upto`` of a poll's answer (HTTP, chunked or not, beats before the JSON)."""
    found = re.search(rb'"upto":(\d+)', response)
    return int(found.group(1)) if found else since


def _start_other(app: AppServer, src: str) -> subprocess.Popen[bytes]:
    """The App Server of another checkout (a plain process: the fork server has this
    checkout's modules loaded), over a database it migrates itself (to its own schema)."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--other", default="", help="another checkout's src, as the anchor")
    parser.add_argument("--no-beats", action="store_true", help="plain long polls (older)")
    parser.add_argument("--no-status", action="store_true", help="no status reports")
    parser.add_argument("--beacon", action="store_true", help="sites hold beacons")
    parser.add_argument("--follow", action="store_true", help="poll again after an answer")
    parser.add_argument(
        "--wait",
        type=float,
        default=LONG_POLL_SECONDS,
        help="seconds each beating poll asks to wait (HQ takes up to 55)",
    )
    args = parser.parse_args()
    count, seconds = min(args.sites, 2000), min(args.seconds, 120.0)
    for label, src in (("this code", None), ("other", args.other or None)):
        if label == "other" and src is None:
            continue
        beats = not args.no_beats and src is None
        wait = min(args.wait, 55.0)
        beacon = args.beacon and src is None
        busy, memory, delays = run(src, count, seconds, beats, not args.no_status, wait, beacon,
                                   args.follow)  # fmt: skip
        p50 = statistics.median(delays) if delays else float("nan")
        p99 = delays[int(len(delays) * 0.99) - 1] if delays else float("nan")
        worst = delays[-1] if delays else float("nan")
        kind = ("beating" if beats else "plain") + (" polls" if args.no_status else " polls+status")
        kind = "beacons, quiet polls, status every 300 s" if beacon else kind
        print(f"{label:10} {count} idle sites ({kind}): "
              f"App Server CPU {busy:5.1f} % of a core, {memory:.0f} MB; a change reached "
              f"{len(delays)}/{count} polls, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
              f"max {worst * 1000:.0f} ms", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
