"""Soak: the whole system under a mixed load for a long time, with WAN cuts.

    .venv/bin/python bench/soak.py --minutes 30          # make soak
    .venv/bin/python bench/soak.py --minutes 3 --clients 10 --sites 50   # a quick one

One App Server (PostgreSQL by default, ``--backend``), a Site Server behind a link
(``testing/site.py``), a Print Provider served by the site with a direct and a hold queue onto
a file printer, and ``--sites`` simulated Site Servers more (beating long polls that follow
the changes, statuses: the ``bench/idle_sites.py`` simulator). Then, for ``--minutes``:

- ``--clients`` IPP clients (threads) print to the direct or the hold queue; a quarter of
  their held jobs they cancel themselves (IPP Cancel-Job);
- a device logs in by card at the site, reports copies and releases the person's two oldest
  held jobs; an administrator tops up;
- the site's link is cut every ``--cut-every`` seconds for ``--cut-seconds``.

The site answers for itself while cut, so no client may see an error at any time. Every
``--sample-seconds`` the memory (RSS) and open file descriptors of the App Server, the Site
Server and the provider are sampled. At the end the link stays up, the held jobs left are
canceled by their owners, and the checks: no error; every job in a final state (completed or
canceled); the site caught up with an empty journal; every account's balance equal to the sum
of its ledger; no traceback in any log; memory and descriptors after warm-up (the first
third) against the last third. Every loop is bounded by ``--minutes``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from harness import database_url
from idle_sites import SiteSimulator
from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from printwarden.testing.ledger_checks import unbalanced_accounts
from printwarden.testing.provider import QueueSpec
from printwarden.testing.seeding import add_user, top_up, wait_for
from printwarden.testing.site import PRINTER, World, site_world

FINAL = {7: "canceled", 8: "aborted", 9: "completed"}
RELEASED_AT_A_TIME = 2  # held jobs a device login releases
HELD = 4


class Soak:
    """The load's threads and what they saw."""

    def __init__(self, world: World, people: dict[str, tuple[str, int]], args: argparse.Namespace):
        self.world, self.people, self.args = world, people, args
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.started = time.monotonic()
        self.jobs: dict[str, list[int]] = {"direct": [], "secure": []}
        self.owners: dict[tuple[str, int], str] = {}

    def error(self, what: str) -> None:
        minute = (time.monotonic() - self.started) / 60
        with self.lock:
            self.errors.append(f"minute {minute:.1f}: {what[:300]}")

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def client(self, number: int) -> None:
        rng = random.Random(number)
        names = sorted(self.people)
        while not self.stop.is_set():
            user = rng.choice(names)
            queue = "secure" if rng.random() < 0.5 else "direct"
            data = f"soak {number} {uuid.uuid4().hex}\n".encode()
            try:
                with IppClient(self.world.provider.uri(queue), user_name=user, timeout=30) as ipp:
                    job = ipp.print_job(data, document_format="text/plain", job_name="soak",
                                        requesting_user_name=user)  # fmt: skip
                    if queue == "secure" and rng.random() < 0.25:
                        ipp.cancel_job(job, requesting_user_name=user)
                        self.count("canceled by their owner")
            except Exception as exc:
                self.error(f"print to {queue} as {user}: {type(exc).__name__}: {exc}")
                continue
            with self.lock:
                self.jobs[queue].append(job)
                self.owners[(queue, job)] = user
            self.count(f"printed to {queue}")
            self.stop.wait(rng.uniform(0.5, 2.0))

    def device(self) -> None:
        headers = {"Authorization": f"Bearer {self.world.device_token}"}
        rng = random.Random(7)
        with httpx.Client(base_url=self.world.site.api, headers=headers, timeout=30) as device:
            while not self.stop.wait(rng.uniform(0.5, 1.5)):
                card = self.people[rng.choice(sorted(self.people))][0]
                try:
                    login = {"method": "card", "card_number": card}
                    made = device.post("/device/sessions", json=login)
                    made.raise_for_status()
                    session = f"/device/sessions/{made.json()['session_id']}"
                    usage = {"usage_id": str(uuid.uuid4()), "kind": "copy", "pages": 1}
                    device.post(f"{session}/usage", json=usage).raise_for_status()
                    self.count("copies")
                    self._release_some(device, session)
                except httpx.HTTPError as exc:
                    self.error(f"device at the site: {type(exc).__name__}: {exc}")

    def _release_some(self, device: httpx.Client, session: str) -> None:
        """Release the person's two oldest held jobs at the device, as people do (a job
        its owner canceled meanwhile answers 409: not an error)."""
        listed = device.get(f"{session}/jobs")
        listed.raise_for_status()
        for job in listed.json()["jobs"][:RELEASED_AT_A_TIME]:
            released = device.post(f"{session}/jobs/{job['id']}/release")
            if released.status_code != 409:
                released.raise_for_status()
                self.count("released at the device")

    def top_ups(self) -> None:
        rng = random.Random(11)
        while not self.stop.wait(rng.uniform(1.0, 3.0)):
            account = self.people[rng.choice(sorted(self.people))][1]
            try:
                top_up(self.world.admin, account, 100)
            except (AssertionError, httpx.HTTPError) as exc:
                self.error(f"top-up at HQ: {exc}")
                continue
            self.count("top-ups")

    def cuts(self) -> None:
        while not self.stop.wait(self.args.cut_every):
            self.world.link.down()
            self.count("link cuts")
            self.stop.wait(self.args.cut_seconds)
            self.world.link.up()


def _seed_people(world: World, count: int) -> dict[str, tuple[str, int]]:
    """Users with cards and credit: name → (card, personal account id)."""
    people = {}
    for n in range(count):
        name, card = f"soak{n:03d}", uuid.uuid4().hex[:12]
        account = add_user(world.admin, name, 100_000)
        world.admin.patch(f"/users/{name}", json={"cards": [card]}).raise_for_status()
        people[name] = (card, account)
    wait_for(world.caught_up, "the users at the site", 120)
    return people


def _seed_sites(world: World, count: int) -> dict[str, str]:
    """``count`` more sites at HQ with their tokens (simulated Site Servers)."""
    tokens = {}
    for n in range(count):
        name = f"sim{n:04d}"
        world.admin.post("/sites", json={"name": name}).raise_for_status()
        tokens[name] = world.app.token(Role.SITE, scope=name)
    return tokens


def _pids(world: World) -> dict[str, int]:
    found = {"App Server": world.app.process, "Site Server": world.site.process,
             "provider": world.provider.process}  # fmt: skip
    return {name: process.pid for name, process in found.items() if process is not None}


def _sample(pid: int) -> tuple[float, int]:
    """RSS (MiB) and open file descriptors of ``pid``."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _final_states(soak: Soak, seconds: float = 180.0) -> Counter[str]:
    """Cancel what is still held (by its owner), then each job's final state (waiting up to
    ``seconds`` in all for the jobs still printing)."""
    states: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    clients: dict[tuple[str, str], IppClient] = {}  # kept open: one connection each
    try:
        for queue, jobs in soak.jobs.items():
            for job in jobs:
                user = soak.owners[(queue, job)]
                key = (queue, user)
                if key not in clients:
                    uri = soak.world.provider.uri(queue)
                    clients[key] = IppClient(uri, user_name=user, timeout=30)
                states[_final_state(clients[key], job, user, deadline)] += 1
    finally:
        for client in clients.values():
            client.close()
    return states


def _final_state(ipp: IppClient, job: int, user: str, deadline: float) -> str:
    state = _state(ipp, job)
    if state == HELD:
        ipp.cancel_job(job, requesting_user_name=user)
        state = _state(ipp, job)
    while state not in FINAL and time.monotonic() < deadline:
        time.sleep(0.2)
        state = _state(ipp, job)
    return FINAL.get(state, f"not final ({state})")


def _state(ipp: IppClient, job: int) -> int:
    return int(str(ipp.get_job_attributes(job, ["job-state"]).value("job-state")))


def _growth(series: list[float]) -> float:
    """The last third's mean against the first third's after warm-up, in percent."""
    third = max(1, len(series) // 3)
    first, last = statistics.mean(series[:third]), statistics.mean(series[-third:])
    return (last - first) / first * 100 if first else 0.0


def run(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="pw-soak-") as folder,
        database_url(args.backend, Path(folder)) as url,
    ):
        queues = [QueueSpec("secure", "hold", PRINTER)]
        with site_world(Path(folder), database_url=url, queues=queues) as world:
            people = _seed_people(world, args.users)
            sites = _seed_sites(world, args.sites)
            head = int(world.admin.get("/health").json()["change_seq"])
            simulated = SiteSimulator(world.app.port, sites, head, beats=True, follow=True)
            simulated.start()
            soak = Soak(world, people, args)
            workers = [threading.Thread(target=soak.client, args=(n,)) for n in range(args.clients)]
            workers += [threading.Thread(target=f) for f in (soak.device, soak.top_ups, soak.cuts)]
            for worker in workers:
                worker.start()
            pids, samples = _pids(world), {name: list[tuple[float, int]]() for name in _pids(world)}
            started = time.monotonic()
            end = started + args.minutes * 60
            print(f"{'minute':>6} " + " ".join(f"{n + ' MiB':>16} {n + ' fds':>16}" for n in pids))
            while time.monotonic() < end:
                time.sleep(min(args.sample_seconds, max(0.0, end - time.monotonic())))
                row = {name: _sample(pid) for name, pid in pids.items()}
                for name, value in row.items():
                    samples[name].append(value)
                minute = (time.monotonic() - started) / 60
                print(f"{minute:6.1f} " + " ".join(f"{r:16.1f} {f:16d}" for r, f in row.values()),
                      flush=True)  # fmt: skip
            soak.stop.set()
            for worker in workers:
                worker.join(timeout=120)
            world.link.up()
            simulated.stop()
            wait_for(world.caught_up, "the site caught up after the soak", 180)
            wait_for(lambda: world.site.status()["journal_backlog"] == 0, "the journal", 120)
            states = _final_states(soak)
            unbalanced = unbalanced_accounts(world.app.database_url)
            tracebacks = {name: _tracebacks(path) for name, path in _logs(world).items()}
            _keep_logs(world, args.keep_logs)
            for name, path in _logs(world).items():
                if tracebacks[name] > 0:  # the first, before the folder goes
                    text = path.read_text(errors="replace")
                    start = text.index("Traceback")
                    excerpt = text[start : start + 6000]
                    print(f"first traceback in the {name}'s log:\n{excerpt}")
    return _report(args, soak, samples, states, unbalanced, tracebacks, simulated)


def _logs(world: World) -> dict[str, Path]:
    return {"App Server": world.app.data_dir / world.app.log_name, "Site Server": world.site.log,
            "provider": world.provider.directory / "provider.log"}  # fmt: skip


def _keep_logs(world: World, folder: Path) -> None:
    """Copy every log to ``folder`` before the soak's directory goes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in _logs(world).items():
        if path.exists():
            shutil.copyfile(path, folder / f"{name.replace(' ', '-').lower()}.log")
    print(f"logs kept in {folder}")


def _tracebacks(path: Path) -> int:
    return path.read_text(errors="replace").count("Traceback") if path.exists() else -1


def _report(args: argparse.Namespace, soak: Soak, samples: dict[str, list[tuple[float, int]]],
            states: Counter[str], unbalanced: dict[int, tuple[int, int]],
            tracebacks: dict[str, int], simulated: SiteSimulator) -> int:  # fmt: skip
    print(f"\nsoak: {args.minutes} min, {args.clients} IPP clients, {args.sites} simulated sites, "
          f"a cut every {args.cut_every:.0f} s for {args.cut_seconds:.0f} s")  # fmt: skip
    print("  done:", ", ".join(f"{k} {v}" for k, v in sorted(soak.counts.items())))
    print("  jobs at the end:", dict(states))
    print(f"  simulated sites' polls answered with changes: {simulated.answers}; "
          f"connections refused {simulated.refused}")  # fmt: skip
    for name, series in samples.items():
        warm = series[len(series) // 4 :] or series
        print(
            f"  {name}: RSS {warm[0][0]:.1f} -> {warm[-1][0]:.1f} MiB "
            f"({_growth([s[0] for s in warm]):+.1f} % last third against first), "
            f"fds {warm[0][1]} -> {warm[-1][1]} ({_growth([s[1] for s in warm]):+.1f} %)"
        )
    print(f"  errors: {len(soak.errors)}", *soak.errors[:10], sep="\n    ")
    print(f"  unbalanced accounts: {len(unbalanced)}; tracebacks in logs: {tracebacks}")
    not_final = sum(v for k, v in states.items() if k.startswith("not final"))
    failed = bool(soak.errors or unbalanced or not_final or any(tracebacks.values()))
    print("  result:", "FAILED" if failed else "passed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--keep-logs",
        type=Path,
        default=Path(tempfile.gettempdir()) / f"pw-soak-logs-{time.strftime('%Y%m%d-%H%M%S')}",
        help="where the servers' logs are copied at the end",
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql"],
        default="postgresql",
        help="HQ's database (a throwaway one on 127.0.0.1:5432)",
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--cut-every", type=float, default=180.0)
    parser.add_argument("--cut-seconds", type=float, default=20.0)
    parser.add_argument("--sample-seconds", type=float, default=15.0)
    args = parser.parse_args()
    args.minutes = min(args.minutes, 120.0)  # bounded
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
