"""Job decision requests/s against a real App Server process, with wrk, on SQLite and PostgreSQL.

    .venv/bin/python bench/decision.py                          # both backends, 10 s per run
    .venv/bin/python bench/decision.py --backend sqlite --duration 5 --connections 16

For each backend: a fresh database (a SQLite file, or a throwaway PostgreSQL database that is
dropped afterwards) is seeded with users with balances, a printer with a cost model and a
provider token; ``python -m printwarden app serve`` runs as a subprocess (one uvicorn worker);
one request is checked by hand; then wrk (bench/wrk.lua) drives POST /api/v1/jobs/decision,
cycling through the users, and GET /api/v1/health (no authentication) as the anchor: the
framework's own floor on this machine. Loopback only; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness import BACKENDS, Budget, database_url, load_average, print_machine
from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.sim.ports import free_port
from printwarden.store import groups, ledger, printers, tokens, users
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.testing.cluster import HAPROXY, haproxy_config

GOAL_RPS = 1_000
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
PRINTER = "bench-laser"
USER_PREFIX = "bench"
BROKE_USER = "broke"
STARTING_BALANCE = 10_000
STARTUP_SECONDS = 30.0
# The job bench/wrk.lua sends: 4 pages, 1 in colour, A4 simplex.
JOB = {"printer": PRINTER, "pages": 4, "colour_pages": 1}
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
COST_MODEL = {"sizes": {"A4": PRICES}, "base_cost": 0, "group_modifiers": {"staff": -2000}}
EXPECTED_COST = {"students": 3 * 10 + 50, "staff": (3 * 10 + 50) * 8 // 10}


@dataclass(frozen=True)
class WrkResult:
    """One wrk run."""

    label: str
    requests: int
    duration_s: float
    non2xx: int
    last_bad_status: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    def line(self) -> str:
        bad = f" (last status {self.last_bad_status})" if self.last_bad_status else ""
        return (
            f"{self.label:<9} {self.rps:>8,.0f} req/s  p50 {self.p50_ms:6.1f} ms  "
            f"p99 {self.p99_ms:6.1f} ms  max {self.max_ms:6.1f} ms  "
            f"{self.requests:,} requests, non-2xx {self.non2xx}{bad}, "
            f"socket errors {self.socket_errors}"
        )


@dataclass(frozen=True)
class DecisionResult:
    backend: str
    users: int
    threads: int
    connections: int
    duration_s: float
    decision: WrkResult
    health: WrkResult
    runs: int
    all_decision: tuple[WrkResult, ...]
    all_health: tuple[WrkResult, ...]
    load: tuple[str, str]
    server_errors: int
    processes: int = 0  # behind HAProxy (0: one process, straight)
    cpu_ms: float = 0.0  # App Server CPU per decision, the median run
    cores: float = 0.0  # App Server CPU while it ran, in cores

    @property
    def ratio(self) -> float:
        return self.decision.rps / self.health.rps

    @property
    def meets_goal(self) -> bool:
        return self.decision.rps >= GOAL_RPS and self.decision.non2xx == 0


@dataclass(frozen=True)
class Seeded:
    token: str
    usernames: list[str]
    groups: dict[str, str]


def seed(url: str, data_dir: Path, user_count: int) -> Seeded:
    """Users in two groups with a starting balance, one broke user, a printer, a provider token."""
    upgrade(url)
    secret = Settings(data_dir=data_dir, database_url=url).resolved_secret()
    database = Database(url)
    names = [f"{USER_PREFIX}{n:04d}" for n in range(user_count)]
    membership = {name: ("staff" if n % 4 == 0 else "students") for n, name in enumerate(names)}
    try:
        with database.session() as session:
            groups.ensure_groups(session, {"staff", "students"}, "internal")
            for name in [*names, BROKE_USER]:
                changes = users.UserChanges(
                    full_name=f"Bench {name}", groups=[membership.get(name, "students")]
                )
                users.create_user(session, secret, name, changes)
            top_ups = [
                Transaction(
                    new_id(),
                    users.personal_account(session, users.find_user(session, name).id).id,
                    STARTING_BALANCE,
                    TransactionKind.TOP_UP,
                    reference="bench",
                )
                for name in names
            ]
            ledger.apply_transactions(session, top_ups)
            fields = {"location": "Bench", "colour": True, "cost_model": COST_MODEL}
            printers.save_printer(session, PRINTER, fields, create=True)
            token, _row = tokens.issue_token(session, Role.PROVIDER, name="bench provider")
    finally:
        database.dispose()
    return Seeded(token, names, membership)


@dataclass
class Server:
    """``python -m printwarden app serve`` as a subprocess: one uvicorn worker."""

    url: str
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    command: Sequence[str] = ("-m", "printwarden", "app", "serve")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PRINTWARDEN_DATA_DIR": str(self.data_dir),
            "PRINTWARDEN_DATABASE_URL": self.url,
        }
        command = [sys.executable, *self.command, "--port", str(self.port)]
        with (self.data_dir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"App Server exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"App Server did not answer in {STARTUP_SECONDS} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process is not None else []

    def logged_errors(self) -> int:
        """Tracebacks the server logged (none are expected)."""
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace").count("Traceback") if path.exists() else 0

    def log_tail(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def running_server(url: str, data_dir: Path) -> Iterator[Server]:
    server = Server(url, data_dir, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class Front:
    """``servers`` behind HAProxy (``testing/cluster.py``'s configuration): what wrk drives
    with ``--processes``."""

    servers: list[Server]
    port: int
    haproxy: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return all(server.alive() for server in self.servers) and self.haproxy.poll() is None

    def logged_errors(self) -> int:
        return self.servers[0].logged_errors()  # one log for all: the same data directory

    def log_tail(self) -> str:
        return self.servers[0].log_tail()

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers if s.process is not None]


@contextmanager
def running_front(url: str, data_dir: Path, count: int) -> Iterator[Front]:
    """``count`` App Server processes on ``url`` behind one HAProxy."""
    servers = [Server(url, data_dir, free_port()) for _ in range(count)]
    haproxy: subprocess.Popen[bytes] | None = None
    try:
        for server in servers:
            server.start()
        port, config = free_port(), data_dir / "haproxy.cfg"
        config.write_text(haproxy_config(port, [s.port for s in servers], free_port()))
        haproxy = subprocess.Popen([HAPROXY, "-f", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        front = Front(servers, port, haproxy)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(front.base):
            if time.monotonic() > deadline or haproxy.poll() is not None:
                raise RuntimeError("HAProxy did not answer")
            time.sleep(0.1)
        time.sleep(1.5)  # every server's health check passed (inter 500ms, rise 2)
        yield front
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(timeout=10)
        for server in servers:
            server.stop()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of ``pids`` so far (``/proc/PID/stat``)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def check_decisions(server: Server | Front, seeded: Seeded) -> None:
    """Before any load: one request per kind of user gives 200 and the expected verdict."""
    headers = {"Authorization": f"Bearer {seeded.token}"}
    with httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=10) as client:
        for name in (seeded.usernames[0], seeded.usernames[1]):
            group = seeded.groups[name]
            response = client.post("/jobs/decision", json={**JOB, "username": name})
            assert response.status_code == 200, response.text
            body = response.json()
            expected = {"verdict": "allow", "cost": EXPECTED_COST[group], "account": name}
            assert {k: body[k] for k in expected} == expected, body
            assert body["balance"] == STARTING_BALANCE, body
        response = client.post("/jobs/decision", json={**JOB, "username": BROKE_USER})
        assert response.status_code == 200, response.text
        denied = response.json()
        assert denied["verdict"] == "deny", denied
        assert "insufficient credit" in denied["reason"], denied
        unauthenticated = httpx.post(
            f"{server.base}/api/v1/jobs/decision", json={**JOB, "username": name}, timeout=10
        )
        assert unauthenticated.status_code == 401, unauthenticated.text
    health = httpx.get(f"{server.base}/api/v1/health", timeout=10)
    assert health.status_code == 200, health.text


def wrk(
    server: Server | Front,
    label: str,
    script_args: Sequence[str],
    *,
    threads: int,
    connections: int,
    duration: float,
) -> WrkResult:
    """One bounded wrk run; parses the BENCH_RESULT line bench/wrk.lua prints."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        server.base,
        "--",
        *script_args,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    if int(data["requests"]) == 0:
        raise RuntimeError(
            f"wrk: no {label} request completed in {duration:.0f} s with {connections} "
            f"connections; the server is stuck:\n{server.log_tail()}"
        )
    return WrkResult(
        label=label,
        requests=int(data["requests"]),
        duration_s=int(data["duration_us"]) / 1e6,
        non2xx=int(data["non2xx"]),
        last_bad_status=int(data["last_bad_status"]),
        p50_ms=int(data["p50_us"]) / 1000,
        p99_ms=int(data["p99_us"]) / 1000,
        max_ms=int(data["max_us"]) / 1000,
        socket_errors=sum(
            int(data[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
    )


def median_run(results: Sequence[WrkResult]) -> WrkResult:
    """The run with the median req/s (the lower middle one for an even count)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def profile_server(
    server: Server, decision_args: Sequence[str], out_dir: Path, backend: str, load: dict[str, int]
) -> None:
    """One more decision load while py-spy samples the server (investigation only)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--py-spy needs py-spy: .venv/bin/pip install py-spy (not a dependency)")
    assert server.process is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"decision-{backend}.collapsed"
    duration = load["duration"]
    command = [py_spy, "record", "--pid", str(server.process.pid), "--duration"]
    command += [str(duration + 2), "--rate", "250", "--gil", "--format", "raw", "-o", str(raw)]
    recorder = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    wrk(
        server,
        "profiled",
        decision_args,
        threads=load["threads"],
        connections=load["connections"],
        duration=duration,
    )
    _stdout, stderr = recorder.communicate(timeout=duration + 60)
    if recorder.returncode != 0 or not raw.exists():
        raise RuntimeError(f"py-spy failed: {stderr.decode(errors='replace')}")
    print(f"  py-spy samples of the server under decision load: {raw}")
    print(summarize_collapsed(raw))


def summarize_collapsed(path: Path, top: int = 12) -> str:
    """Share of samples per function, inclusive (anywhere on the stack) and own (leaf)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")[1:]]  # the first frame is the thread
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"    {total} samples; own time (leaf frames):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("    inclusive, printwarden and request-path frames:")
    wanted = ("printwarden", "fastapi", "starlette", "anyio", "sqlalchemy/orm/session")
    picked = [(k, n) for k, n in inclusive.most_common() if any(w in k for w in wanted)]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in picked[: top * 2]]
    return "\n".join(lines)


def _frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file-ish path)``, line numbers dropped."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    marker = "site-packages/"
    if marker in where:
        where = where.split(marker, 1)[1]
    elif "/src/" in where:
        where = where.split("/src/", 1)[1]
    return f"{name} ({where})"


def run(
    backend: str,
    *,
    user_count: int = 300,
    duration: float = 10.0,
    threads: int = 2,
    connections: int = 32,
    warmup: float = 3.0,
    runs: int = 3,
    py_spy_dir: Path | None = None,
    processes: int = 0,
) -> DecisionResult:
    """Seed, serve, check, warm up, then measure health and decision ``runs`` times each.
    ``processes``: that many App Servers behind HAProxy (0: one, straight)."""
    budget = Budget(120 + runs * 2 * (duration + 15) + 2 * warmup + 60, f"decision on {backend}")
    load = {"threads": threads, "connections": connections}
    load_before = load_average()
    with (
        tempfile.TemporaryDirectory(prefix="pw-bench-decision-") as tmp,
        database_url(backend, Path(tmp)) as url,
    ):
        data_dir = Path(tmp)
        seeded = seed(url, data_dir, user_count)
        decision_args = ["decision", seeded.token, PRINTER, USER_PREFIX, str(user_count)]
        health_args = ["health"]
        serving = (running_front(url, data_dir, processes) if processes
                   else running_server(url, data_dir))  # fmt: skip
        with serving as server:
            pids = server.pids()
            check_decisions(server, seeded)
            for args in (decision_args, health_args):
                wrk(server, "warm-up", args, **load, duration=warmup)
            health_runs: list[WrkResult] = []
            decision_runs: list[WrkResult] = []
            cpu: list[float] = []  # CPU seconds of the App Servers per decision run
            for _ in range(runs):  # interleaved, so drifting background load hits both alike
                budget.check()
                health_runs.append(wrk(server, "health", health_args, **load, duration=duration))
                before = cpu_seconds(pids)
                decision_runs.append(
                    wrk(server, "decision", decision_args, **load, duration=duration)
                )
                cpu.append(cpu_seconds(pids) - before)
            if not server.alive():
                raise RuntimeError(f"App Server died under load:\n{server.log_tail()}")
            check_decisions(server, seeded)
            server_errors = server.logged_errors()
            if py_spy_dir is not None and isinstance(server, Server):
                profile_server(
                    server, decision_args, py_spy_dir, backend, {**load, "duration": int(duration)}
                )
    index = decision_runs.index(median_run(decision_runs))
    return DecisionResult(
        backend=backend,
        users=user_count,
        threads=threads,
        connections=connections,
        duration_s=duration,
        decision=median_run(decision_runs),
        health=median_run(health_runs),
        runs=runs,
        all_decision=tuple(decision_runs),
        all_health=tuple(health_runs),
        load=(load_before, load_average()),
        server_errors=server_errors,
        processes=processes,
        cpu_ms=1000 * cpu[index] / decision_runs[index].requests,
        cores=cpu[index] / decision_runs[index].duration_s,
    )


def report(result: DecisionResult) -> None:
    goal = "meets" if result.meets_goal else "MISSES"
    runs = f", median of {result.runs} runs" if result.runs > 1 else ""
    workers = (f"{result.processes} App Server processes behind HAProxy" if result.processes
               else "1 uvicorn worker")  # fmt: skip
    print(
        f"decision/{result.backend}: {workers}, {result.users} users, wrk "
        f"-t{result.threads} -c{result.connections} -d{result.duration_s:.0f}s{runs}; "
        f"load average {result.load[0]} before, {result.load[1]} after"
    )
    if result.runs > 1:
        for label, all_runs in (("health", result.all_health), ("decision", result.all_decision)):
            rates = ", ".join(f"{r.rps:,.0f}" for r in all_runs)
            spread = statistics.pstdev([r.rps for r in all_runs])
            print(f"  {label} runs: {rates} req/s (stdev {spread:,.0f})")
    print(
        f"  {result.health.line()}\n"
        f"  {result.decision.line()}\n"
        f"  decision/health = {result.ratio:.2f}; tracebacks in the server log: "
        f"{result.server_errors}\n"
        f"  App Server CPU {result.cpu_ms:.2f} ms a decision, {result.cores:.2f} cores in use\n"
        f"  goal >= {GOAL_RPS:,} req/s: {goal}"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up load")
    p.add_argument("--runs", type=int, default=3, help="measure this many times; report median")
    p.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[0],
        help="App Server processes behind HAProxy, one run each (0: one, straight)",
    )
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="afterwards, profile one more decision run with py-spy into DIR",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (or make system-deps)")
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    print("machine:")
    print_machine()
    for backend, processes in [(b, n) for b in backends for n in args.processes]:
        result = run(
            backend,
            processes=processes,
            user_count=args.users,
            duration=args.duration,
            threads=args.threads,
            connections=args.connections,
            warmup=args.warmup,
            runs=args.runs,
            py_spy_dir=args.py_spy,
        )
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
