"""Card swipe -> first job at the printer, with 1,000 users holding 10,000 jobs; device login.

    .venv/bin/python bench/card_release.py                  # 1,000 users x 10 jobs, 200 swipes
    .venv/bin/python bench/card_release.py --users 60 --jobs-per-user 10 --swipes 20 \\
        --logins 100                                        # a quick run (~1 min)
    .venv/bin/python bench/card_release.py --colour         # a colour printer: no conversion
    .venv/bin/python bench/card_release.py --profile provider   # + py-spy (or: app)

A real App Server (SQLite), a real ``ippeveprinter`` (monochrome by default, prints with /bin/true,
keeps every document) and a real Print Provider with one hold queue in front of it; the
printer is registered at the server with prices (10 cents a grey simplex page) and a device
(an MFD) is bound to it. A release at a monochrome printer tells the provider to convert the
job to grey (Ghostscript) before sending it, even a job without colour pages; ``--colour``
measures a colour printer instead, where the documents go as they are.

The users come in one CSV import, each with one card, unrestricted and with a balance of 0.
Every user prints ``--jobs-per-user`` 1-page PDFs over IPP to the
hold queue (``ipptool``, one ``.test`` file per worker with a Print-Job per job, each with its
owner's ``requesting-user-name``); the set-up waits until the server lists every user's jobs
as held (the provider analyses and reports them in batches).

Measure 1, device login: ``POST /device/sessions {"method": "card"}`` with the device token,
one at a time over one kept-alive client, each login a different user (cycling when
``--logins`` exceeds ``--users``); each session is logged out (DELETE) untimed.

Measure 2, card swipe -> first job at the printer: for a sample of users (never the same one
twice), the clock starts, the device logs in by card and calls ``release-all``; the clock stops
when the first of the user's documents is closed in ippeveprinter's spool (inotify
``IN_CLOSE_WRITE``, timestamped by a thread as it happens, so a document that arrives while
``release-all`` is still answering is timed right). Before the next swipe every one of that
user's documents has arrived and the provider reports all their jobs completed (ippeveprinter
answers server-error-busy while it prints, so overlapping would measure the queue).

Correctness first: every ``release-all`` must release exactly that user's held jobs (their ids
as the server listed them, nothing refused, cost 10 each), exactly those documents (named
after their owner) must arrive, and at the end every swiped user's balance has dropped by
``jobs-per-user`` x 10 cents, every other balance is untouched and the released jobs are
``printed``.

Goals: p99 swipe -> first job <= 150 ms; p99 device login <= 20 ms. ippeveprinter needs the
private D-Bus and avahi-daemon of printwarden.sim.ippeveprinter: one user per machine at a
time, so this waits while another one (a test run) is using them.
"""

from __future__ import annotations

import argparse
import csv
import io
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness import Budget, BudgetExceeded, print_machine
from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, GroupTag, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.ippeveprinter import IPPEVEPRINTER, IppEvePrinter
from printwarden.testing.appserver import AppServer
from printwarden.testing.provider import PrinterSpec, ProviderProcess, QueueSpec
from provider_harness import (
    HOLD_QUEUE,
    IPPTOOL,
    PRICES,
    BenchError,
    filesystem,
    finish_py_spy,
    header,
    make_pdf,
    percentile,
    require_tools,
    start_py_spy,
)
from provider_release import DirectoryWatch, wait_for_printer_slot

GOAL_SWIPE_P99_MS = 150.0
GOAL_LOGIN_P99_MS = 20.0
PRINTER = "mfd-printer"
DEVICE = "mfd-1"
PAGE_PRICE = PRICES["grey_simplex"]
WARMUP_LOGINS = 20
WARMUP_SWIPES = 3
SUBMIT_WORKERS = 2
DOCUMENT_SECONDS = 30.0
SETTLE_SECONDS = 120.0
# The stacks a profile keeps: the provider's dispatch thread, the App Server's release-all.
PROFILE_WITHIN = {"provider": "Engine.run_due", "app": "_release_all"}

# One held Print-Job with its owner and job name written in: many of them make one .test file,
# which ipptool runs over one connection.
JOB_TEST = """\
{{
  NAME "Print-Job {job}"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name {user}
  ATTR name job-name {job}
  ATTR mimeMediaType document-format application/pdf
  GROUP job-attributes-tag
  ATTR keyword job-hold-until indefinite
  FILE $filename
  STATUS successful-ok
}}
"""


@dataclass(frozen=True)
class Person:
    username: str
    card: str


@dataclass
class World:
    """The running servers and the API clients of one run."""

    app: AppServer
    provider: ProviderProcess
    printer: IppEvePrinter
    admin: httpx.Client
    device: httpx.Client

    def close(self) -> None:
        self.device.close()
        self.admin.close()
        self.provider.stop()
        self.app.stop()


@dataclass
class Swipes:
    """Latencies (ms) of the measured swipes."""

    login: list[float] = field(default_factory=list)
    release_all: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)


class Arrivals:
    """A thread timestamping every document ippeveprinter closes in its spool, as it happens."""

    def __init__(self, directory: Path) -> None:
        self.watch = DirectoryWatch(directory)
        self.events: queue.Queue[tuple[float, str]] = queue.Queue()
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arrivals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            when, names = self.watch.wait(0.2)
            for name in names:
                if name.endswith(".prn") or name in self._seen:
                    continue
                self._seen.add(name)
                self.events.put((when, name))

    def next(self, deadline: float) -> tuple[float, str]:
        """The next document (when it was closed, its file name); BenchError at ``deadline``."""
        remaining = deadline - time.perf_counter()
        try:
            return self.events.get(timeout=max(0.0, remaining))
        except queue.Empty:
            raise BenchError("no document arrived at the printer in time") from None

    def pending(self) -> list[str]:
        names = []
        while True:
            try:
                names.append(self.events.get_nowait()[1])
            except queue.Empty:
                return names

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.watch.close()


# --- set-up -----------------------------------------------------------------------------------


def people(count: int, seed: int) -> list[Person]:
    """``count`` users named ``cardNNNN``, each with a distinct random card number."""
    rng = random.Random(seed)
    width = max(4, len(str(count - 1)))
    cards: set[str] = set()
    while len(cards) < count:
        cards.add(f"{rng.getrandbits(56):014X}")
    return [
        Person(f"card{index:0{width}d}", card)
        for index, card in enumerate(sorted(cards, key=lambda _: rng.random()))
    ]


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text[:500]}"
        )
    return response.json() if response.content else None


def start_world(root: Path, printer: IppEvePrinter) -> World:
    """App Server + printer (with prices) + device + provider with one hold queue."""
    colour = printer.color
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    admin: httpx.Client | None = None
    provider: ProviderProcess | None = None
    try:
        headers = {"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"}
        admin = httpx.Client(base_url=app.api, headers=headers, timeout=60)
        body = {"name": PRINTER, "colour": colour, "cost_model": {"sizes": {"default": PRICES}}}
        expect(admin.post("/printers", json=body), 201)
        device_token = app.device_token(DEVICE, printer=PRINTER)
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=[PrinterSpec(PRINTER, printer.uri, colour=colour)],
            queues=[QueueSpec(HOLD_QUEUE, "hold", PRINTER, hold_hours=24)],
        )
        provider.start()
        device = httpx.Client(
            base_url=app.api, headers={"Authorization": f"Bearer {device_token}"}, timeout=30
        )
    except BaseException:
        if provider is not None:
            provider.stop()
        if admin is not None:
            admin.close()
        app.stop()
        raise
    return World(app, provider, printer, admin, device)


def import_users(admin: httpx.Client, everyone: Sequence[Person]) -> None:
    """One CSV import: every user unrestricted, with one card; then check them all."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["username", "cards", "restricted"])
    writer.writerows([person.username, person.card, "false"] for person in everyone)
    headers = {"Content-Type": "text/csv"}
    report = expect(admin.post("/users/import", content=text.getvalue(), headers=headers), 200)
    if report["created"] != len(everyone):
        raise BenchError(f"CSV import created {report['created']} users, not {len(everyone)}")
    listed = users_by_name(admin)
    for person in everyone:
        user = listed.get(person.username)
        if user is None or user["card_count"] != 1 or user["restricted"] or user["balance"]:
            raise BenchError(f"user {person.username} not imported as asked: {user}")


def users_by_name(admin: httpx.Client) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = expect(admin.get("/users", params={"offset": offset, "limit": 1000}), 200)
        found.update((user["username"], user) for user in page["items"])
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return found


def job_name(username: str, index: int) -> str:
    return f"{username}-{index}"


def owner_of(document: str) -> str:
    """The owner named in an ippeveprinter spool file ``JOBID-USERNAME-N.pdf``."""
    _job_id, _, rest = document.partition("-")
    return rest.rpartition("-")[0]


def submit_jobs(
    uri: str, everyone: Sequence[Person], per_user: int, pdf: Path, root: Path, timeout: float
) -> float:
    """Every user prints ``per_user`` held jobs; ``SUBMIT_WORKERS`` ipptools; wall seconds."""
    commands = []
    for worker in range(SUBMIT_WORKERS):
        test = root / f"jobs-{worker}.test"
        mine = everyone[worker::SUBMIT_WORKERS]
        blocks = (
            JOB_TEST.format(user=p.username, job=job_name(p.username, i))
            for p in mine
            for i in range(per_user)
        )
        test.write_text("".join(blocks))
        commands.append([IPPTOOL, "-q", "-T", "30", "-f", str(pdf), uri, str(test)])
    print(f"submit: {' '.join(commands[0])} (x{SUBMIT_WORKERS}, one Print-Job per job)")
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for command in commands
    ]
    outputs = []
    try:
        for process in processes:
            remaining = max(1.0, timeout - (time.perf_counter() - started))
            outputs.append(process.communicate(timeout=remaining)[0])
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()
        raise BenchError(f"ipptool did not submit the jobs in {timeout:.0f} s") from None
    if any(process.returncode for process in processes):
        text = b"".join(outputs).decode(errors="replace")[-2000:]
        raise BenchError(f"ipptool failed against {uri}:\n{text}")
    return time.perf_counter() - started


def held_of(admin: httpx.Client, username: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = expect(admin.get("/held-jobs", params={"user": username}), 200)[
        "jobs"
    ]
    return jobs


def wait_all_held(
    admin: httpx.Client, everyone: Sequence[Person], per_user: int, budget: Budget
) -> dict[str, set[str]]:
    """Wait until the server lists every user's jobs as held; their ids by user.

    First the last user each worker submitted (reports come in batches, oldest first), then
    every user, again and again for those still short, until all are complete.
    """
    last = [everyone[worker::SUBMIT_WORKERS][-1] for worker in range(SUBMIT_WORKERS)]
    for person in last:
        while len(held_of(admin, person.username)) < per_user:
            budget.check()
            time.sleep(0.2)
    held: dict[str, set[str]] = {}
    missing = list(everyone)
    while missing:
        budget.check()
        short = []
        for person in missing:
            jobs = held_of(admin, person.username)
            names = sorted(job["document_name"] for job in jobs)
            if len(jobs) > per_user:
                raise BenchError(f"{person.username} has {len(jobs)} held jobs: {names}")
            if len(jobs) < per_user:
                short.append(person)
                continue
            wanted = sorted(job_name(person.username, i) for i in range(per_user))
            if names != wanted or any(job["owner"] != person.username for job in jobs):
                raise BenchError(f"{person.username}'s held jobs are not theirs: {names}")
            held[person.username] = {job["id"] for job in jobs}
        missing = short
        if missing:
            time.sleep(0.5)
    return held


# --- measure 1: device login ------------------------------------------------------------------


def log_in(device: httpx.Client, person: Person) -> tuple[float, str]:
    """ms of one card login, and the session id (checked to be this person's)."""
    started = time.perf_counter()
    response = device.post("/device/sessions", json={"method": "card", "card_number": person.card})
    elapsed = ms(time.perf_counter() - started)
    session = expect(response, 201)
    if session["username"] != person.username or session["printer"] != PRINTER:
        raise BenchError(f"card of {person.username} logged in as {session}")
    return elapsed, str(session["session_id"])


def log_out(device: httpx.Client, session_id: str) -> None:
    expect(device.delete(f"/device/sessions/{session_id}"), 204)


def measure_logins(
    device: httpx.Client, everyone: Sequence[Person], count: int, budget: Budget
) -> list[float]:
    latencies = []
    for index in range(WARMUP_LOGINS + count):
        budget.check()
        person = everyone[(index - WARMUP_LOGINS) % len(everyone)]
        elapsed, session_id = log_in(device, person)
        log_out(device, session_id)
        if index >= WARMUP_LOGINS:
            latencies.append(elapsed)
    return latencies


# --- measure 2: card swipe -> first job at the printer ----------------------------------------


def provider_busy_with(uri: str, username: str) -> int:
    """How many of ``username``'s jobs the provider has not completed (Get-Jobs, my-jobs)."""
    operation = [
        Attribute.of("requesting-user-name", ValueTag.NAME_WITHOUT_LANGUAGE, username),
        Attribute.of("which-jobs", ValueTag.KEYWORD, "not-completed"),
        Attribute.of("my-jobs", ValueTag.BOOLEAN, True),
        Attribute.of("requested-attributes", ValueTag.KEYWORD, "job-id"),
    ]
    with IppClient(uri, user_name=username, timeout=30) as client:
        response = client.request(Operation.GET_JOBS, operation)
    return sum(1 for group in response.groups if group.tag == GroupTag.JOB)


def swipe(
    world: World, arrivals: Arrivals, person: Person, held: set[str]
) -> tuple[float, float, float, float]:
    """One swipe; ms until logged in, release-all answered, first and last document there."""
    stray = arrivals.pending()
    if stray:
        raise BenchError(f"documents arrived while nobody released anything: {stray}")
    started = time.perf_counter()
    response = world.device.post(
        "/device/sessions", json={"method": "card", "card_number": person.card}
    )
    logged_in = time.perf_counter()
    session = expect(response, 201)
    if session["username"] != person.username:
        raise BenchError(f"card of {person.username} logged in as {session['username']}")
    session_id = session["session_id"]
    answer = expect(world.device.post(f"/device/sessions/{session_id}/release-all"), 200)
    answered = time.perf_counter()
    deadline = started + DOCUMENT_SECONDS
    times: list[float] = []
    names: list[str] = []
    while len(names) < len(held):
        when, name = arrivals.next(deadline)
        times.append(when)
        names.append(name)
    log_out(world.device, session_id)
    check_release(person, held, answer, names)
    uri = world.provider.uri(HOLD_QUEUE)
    while provider_busy_with(uri, person.username):
        if time.perf_counter() > deadline:
            raise BenchError(f"the provider did not complete {person.username}'s jobs in time")
        time.sleep(0.002)
    return (
        ms(logged_in - started),
        ms(answered - logged_in),
        ms(min(times) - started),
        ms(max(times) - started),
    )


def check_release(
    person: Person, held: set[str], answer: dict[str, Any], documents: list[str]
) -> None:
    released = answer["released"]
    if answer["refused"]:
        raise BenchError(f"{person.username}: release-all refused {answer['refused']}")
    ids = {job["id"] for job in released}
    if ids != held or len(released) != len(held):
        raise BenchError(
            f"{person.username}: release-all released {sorted(ids)}, held were {sorted(held)}"
        )
    for job in released:
        if job["owner"] != person.username or job["released_to"] != PRINTER:
            raise BenchError(f"{person.username}: released {job}")
        if job["status"] != "releasing" or job["cost"] != PAGE_PRICE:
            raise BenchError(f"{person.username}: released {job}")
    owners = {owner_of(name) for name in documents}
    if owners != {person.username}:
        raise BenchError(f"{person.username}'s swipe printed {sorted(documents)}")


def measure_swipes(
    world: World,
    sample: Sequence[Person],
    held: dict[str, set[str]],
    budget: Budget,
) -> Swipes:
    swipes = Swipes()
    arrivals = Arrivals(world.printer.spool_dir)
    try:
        for index, person in enumerate(sample):
            budget.check()
            login, release_all, first, last = swipe(world, arrivals, person, held[person.username])
            if index < WARMUP_SWIPES:
                continue
            swipes.login.append(login)
            swipes.release_all.append(release_all)
            swipes.first.append(first)
            swipes.last.append(last)
        time.sleep(0.2)
        stray = arrivals.pending()
        if stray:
            raise BenchError(f"documents arrived after the last swipe: {stray}")
    finally:
        arrivals.close()
    return swipes


def check_afterwards(
    world: World,
    everyone: Sequence[Person],
    swiped: Sequence[Person],
    held: dict[str, set[str]],
    per_user: int,
) -> None:
    """Charges uploaded: each swiped user paid per_user x the page price, nobody else paid;
    every released job printed; the printer received exactly the released documents."""
    owed = -per_user * PAGE_PRICE
    names = {person.username for person in swiped}
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        balances = {name: user["balance"] for name, user in users_by_name(world.admin).items()}
        wrong = {
            p.username: balances.get(p.username)
            for p in everyone
            if balances.get(p.username) != (owed if p.username in names else 0)
        }
        if not wrong:
            break
        if time.monotonic() > deadline:
            sample = dict(list(wrong.items())[:5])
            raise BenchError(
                f"{len(wrong)} balances are wrong after {SETTLE_SECONDS:.0f} s "
                f"(expected {owed} for swiped users, 0 otherwise): {sample}"
            )
        time.sleep(0.5)
    for person in swiped:
        for job_id in held[person.username]:
            while (status := expect(world.admin.get(f"/held-jobs/{job_id}"), 200)["status"]) != (
                "printed"
            ):
                if time.monotonic() > deadline:
                    raise BenchError(f"{person.username}'s job {job_id} is {status}, not printed")
                time.sleep(0.1)
        if held_of(world.admin, person.username):
            raise BenchError(f"{person.username} still has held jobs after release-all")
    documents = world.printer.documents()
    if len(documents) != len(swiped) * per_user:
        raise BenchError(
            f"the printer has {len(documents)} documents, expected {len(swiped) * per_user}"
        )
    printed = {owner_of(path.name) for path in documents.values()}
    if printed != names:
        raise BenchError("the printer received documents of users nobody swiped for")


# --- report -----------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return 1000 * seconds


def line(name: str, values: Sequence[float]) -> str:
    p50, p90, p99 = (percentile(values, q) for q in (0.5, 0.9, 0.99))
    return f"  {name:<34} p50 {p50:6.1f}  p90 {p90:6.1f}  p99 {p99:6.1f}  max {max(values):6.1f} ms"


def verdict(name: str, p99: float, goal: float) -> tuple[str, bool]:
    met = p99 <= goal
    return f"  p99 {name} {p99:.1f} ms ({'meets' if met else 'MISSES'} the {goal:.0f} ms goal)", met


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--users", type=int, default=1000, help="users, each with one card")
    p.add_argument("--jobs-per-user", type=int, default=10, help="held jobs per user")
    p.add_argument("--swipes", type=int, default=200, help="measured swipes (distinct users)")
    p.add_argument("--logins", type=int, default=1000, help="measured device logins")
    p.add_argument(
        "--colour",
        action="store_true",
        help="a colour printer: released jobs go as they are (a mono printer gets them\n"
        "converted to grey by Ghostscript first)",
    )
    p.add_argument("--profile", choices=["app", "provider"], help="py-spy it during the swipes")
    p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the printer")
    p.add_argument("--budget", type=float, default=900.0, help="seconds for the whole run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.users < args.swipes + WARMUP_SWIPES or args.jobs_per_user < 1 or args.logins < 1:
        raise SystemExit(
            f"--users must be at least --swipes + {WARMUP_SWIPES}; "
            "--jobs-per-user and --logins at least 1"
        )
    header("Card swipe -> first job at the printer; device login", [sys.executable, *sys.argv])
    print_machine()
    require_tools(IPPTOOL, str(IPPEVEPRINTER))
    wait_for_printer_slot(args.wait)
    budget = Budget(args.budget, "card release")
    root = Path(tempfile.mkdtemp(prefix="printwarden-card-"))
    print(f"App Server database and provider spool under {root} [{filesystem(root)}]")
    everyone = people(args.users, args.seed)
    total = args.users * args.jobs_per_user
    printer = IppEvePrinter("printwarden-card", color=args.colour, processing_seconds=0)
    world: World | None = None
    profile = ""
    out = root.parent / "printwarden-card-release.collapsed"
    try:
        printer.start()
        kind = "colour" if args.colour else "monochrome: released jobs are converted to grey"
        print(f"printer: {printer.uri} (ippeveprinter, {kind}; spool {printer.spool_dir})")
        world = start_world(root, printer)
        started = time.perf_counter()
        import_users(world.admin, everyone)
        print(
            f"set-up: {args.users} users imported (one CSV) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        pdf = make_pdf(root / "page.pdf")
        uri = world.provider.uri(HOLD_QUEUE)
        seconds = submit_jobs(uri, everyone, args.jobs_per_user, pdf, root, budget.remaining())
        print(f"set-up: {total} held jobs submitted in {seconds:.1f} s ({total / seconds:.0f}/s)")
        started = time.perf_counter()
        held = wait_all_held(world.admin, everyone, args.jobs_per_user, budget)
        print(
            f"set-up: all {total} listed as held by the server "
            f"{time.perf_counter() - started:.1f} s later"
        )
        logins = measure_logins(world.device, everyone, args.logins, budget)
        sample = random.Random(args.seed).sample(everyone, args.swipes + WARMUP_SWIPES)
        print(f"swipes: {WARMUP_SWIPES} (warm-up) + {args.swipes}, each a different user")
        recorder = None
        if args.profile:
            process = world.app.process if args.profile == "app" else world.provider.process
            assert process is not None
            seconds = min(60.0, budget.remaining())
            recorder = start_py_spy(process.pid, out, seconds, wall=True)
        swipes = measure_swipes(world, sample, held, budget)
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)  # py-spy writes what it has
            profile = finish_py_spy(recorder, out, within=PROFILE_WITHIN[args.profile])
        check_afterwards(world, everyone, sample, held, args.jobs_per_user)
        charge = args.jobs_per_user * PAGE_PRICE
        print(
            "checked: each swipe released exactly its user's jobs, only their documents arrived,"
            f"\n  every swiped balance dropped by {charge}, no other changed, all jobs printed"
        )
    except BudgetExceeded as exc:
        raise SystemExit(f"stopped: {exc}") from None
    finally:
        if world is not None:
            world.close()
        printer.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n== summary: {args.users} users, {total} held jobs, one device at one printer")
    print(f"  device login ({len(logins)} logins, each user once, one at a time):")
    print(line("POST /device/sessions (card)", logins))
    print(f"  card swipe ({len(swipes.first)} swipes, {args.jobs_per_user} jobs each):")
    print(line("login (part of the swipe)", swipes.login))
    print(line("release-all answered", swipes.release_all))
    print(line("swipe -> first job at the printer", swipes.first))
    print(line(f"swipe -> all {args.jobs_per_user} jobs at the printer", swipes.last))
    swipe_text, swipe_met = verdict(
        "swipe -> first job", percentile(swipes.first, 0.99), GOAL_SWIPE_P99_MS
    )
    login_text, login_met = verdict("device login", percentile(logins, 0.99), GOAL_LOGIN_P99_MS)
    print(swipe_text)
    print(login_text)
    if profile:
        print("  NOTE: py-spy pauses the process it samples: these latencies are inflated;")
        print("  take the numbers from a run without --profile.")
        within = PROFILE_WITHIN[args.profile]
        print(
            f"  py-spy, wall time of the {args.profile} within {within} during the swipes ({out}):"
        )
        print(profile)
    print(f"total {time.monotonic() - budget.started:.0f} s")
    return 1 if args.strict and not (swipe_met and login_met) else 0


if __name__ == "__main__":
    raise SystemExit(main())
