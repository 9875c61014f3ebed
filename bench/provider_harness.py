"""Shared pieces of the Print Provider benchmarks (``bench/provider_*.py``).

* a private ``cupsd`` (its own ServerRoot, RequestRoot, cache and state directories, one
  loopback port, no browsing, no web interface) with a raw hold queue: the anchor;
* our App Server (SQLite, seeded through its API) and a Print Provider with a hold queue,
  both started with the test suite's helpers (:mod:`printwarden.testing`);
* ``ipptool`` workers: the same client and the same ``.test`` file drive both servers;
* IPP job counts, ``VmRSS`` of a process, and a py-spy summary for investigations.

Everything listens on 127.0.0.1 only, every loop is bounded in count and time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pikepdf

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, GroupTag, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.ports import free_port
from printwarden.sim.processes import stop_process
from printwarden.testing.appserver import AppServer
from printwarden.testing.provider import PrinterSpec, ProviderProcess, QueueSpec

DATE = "2026-12-05"
CUPSD = "/usr/sbin/cupsd"
LPADMIN = "/usr/sbin/lpadmin"
IPPTOOL = "/usr/bin/ipptool"
HOLD_QUEUE = "held"
USER = "alice"
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
STARTUP_SECONDS = 30.0
HELD = 4
# ipptool repeats a .test file only with an interval (-i); each repetition is a new connection.
IPPTOOL_INTERVAL = "0.000001"

# One Print-Job of one PDF, held: the very same file for cupsd and for the provider.
HELD_TEST = """\
{
  NAME "Print-Job, held"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name $requser
  ATTR name job-name bench
  ATTR mimeMediaType document-format application/pdf
  GROUP job-attributes-tag
  ATTR keyword job-hold-until indefinite
  FILE $filename
  STATUS successful-ok
}
"""

_CUPS_FILES = """\
ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
FileDevice Yes
User lp
Group lp
SystemGroup root
Sandboxing relaxed
{sync}
"""

_CUPSD_CONF = """\
Listen 127.0.0.1:{port}
LogLevel warn
MaxJobs 0
MaxJobsPerUser 0
MaxJobsPerPrinter 0
MaxClients 1000
Browsing No
BrowseLocalProtocols none
WebInterface No
DefaultAuthType None
{dirty}
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""


class BenchError(RuntimeError):
    """A benchmark could not run, or a server misbehaved (a correctness failure)."""


# --- documents and ipptool --------------------------------------------------------------------


def make_pdf(path: Path) -> Path:
    """A one-page A4 PDF with one line of text (about 700 bytes)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    page = pdf.pages[0]
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(b"BT /F1 24 Tf 72 770 Td (printwarden benchmark) Tj ET")
    pdf.save(path)
    return path


def write_held_test(path: Path) -> Path:
    path.write_text(HELD_TEST)
    return path


def ipptool_command(uri: str, test: Path, document: Path, count: int) -> list[str]:
    """``ipptool`` sending ``count`` held Print-Jobs to ``uri``, one connection each."""
    command = [IPPTOOL, "-q", "-T", "30", "-d", f"requser={USER}", "-f", str(document)]
    if count > 1:
        command += ["-i", IPPTOOL_INTERVAL, "-n", str(count)]
    return [*command, uri, str(test)]


def ipptool_workers(
    uri: str, test: Path, document: Path, workers: int, per_worker: int, timeout: float
) -> float:
    """Run ``workers`` ipptool processes in parallel, ``per_worker`` jobs each; wall seconds."""
    command = ipptool_command(uri, test, document, per_worker)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(workers)
    ]
    outputs: list[bytes] = []
    try:
        for process in processes:
            remaining = max(1.0, timeout - (time.perf_counter() - started))
            outputs.append(process.communicate(timeout=remaining)[0])
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()
        what = f"{workers}x{per_worker} jobs"
        raise BenchError(f"ipptool did not finish {what} in {timeout}s") from None
    elapsed = time.perf_counter() - started
    failed = [p.returncode for p in processes if p.returncode != 0]
    if failed:
        text = b"".join(outputs).decode(errors="replace")[-2000:]
        raise BenchError(f"ipptool failed (exit {failed}) against {uri}:\n{text}")
    return elapsed


# --- IPP look-ups -----------------------------------------------------------------------------


def job_states(uri: str, timeout: float = 60.0) -> Counter[int]:
    """How many not-completed jobs ``uri`` has, by job-state (Get-Jobs, all users)."""
    operation = [
        Attribute.of("which-jobs", ValueTag.KEYWORD, "not-completed"),
        Attribute.of("requested-attributes", ValueTag.KEYWORD, "job-id", "job-state"),
    ]
    with IppClient(uri, user_name=USER, timeout=timeout) as client:
        response = client.request(Operation.GET_JOBS, operation)
    states: Counter[int] = Counter()
    for group in response.groups:
        if group.tag == GroupTag.JOB:
            state = group.value("job-state")
            states[state if isinstance(state, int) else -1] += 1
    return states


def held_count(uri: str) -> int:
    return job_states(uri)[HELD]


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{what} exited: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise BenchError(f"{what} did not listen on {port} in time: {_tail(log)}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


# --- processes --------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` in KiB (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def filesystem(path: Path) -> str:
    """``fstype device`` of the mount holding ``path`` (from /proc/self/mounts)."""
    best = ("", "?", "?")
    for line in Path("/proc/self/mounts").read_text().splitlines():
        device, mount, fstype, *_ = line.split()
        if str(path).startswith(mount) and len(mount) > len(best[0]):
            best = (mount, fstype, device)
    return f"{best[1]} ({best[2]} on {best[0]})"


def system_cupsd_on_631() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 631), timeout=0.5):
            return True
    except OSError:
        return False


def running_commands(*names: str) -> list[str]:
    """``pid name`` of the processes whose command name is one of ``names``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            found.append(f"{entry.name} {comm}")
    return found


def require_tools(*paths: str) -> None:
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run `make system-deps`")


@dataclass
class Cupsd:
    """A private cupsd: everything under ``root``, listening on 127.0.0.1:``port`` only.

    ``durable`` turns on ``SyncOnClose Yes`` and ``DirtyCleanInterval 0`` (fsync each file
    and write job control files at once); cupsd's defaults are off and 30 s.
    """

    root: Path
    durable: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def files_conf(self) -> Path:
        return self.root / "conf" / "cups-files.conf"

    @property
    def log(self) -> Path:
        return self.root / "log" / "cupsd.out"

    def uri(self, queue: str = HOLD_QUEUE) -> str:
        return f"ipp://127.0.0.1:{self.port}/printers/{queue}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError("cupsd is not running")
        return self.process.pid

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for name in ("conf", "spool", "spool/tmp", "cache", "state", "log"):
            (self.root / name).mkdir(exist_ok=True)
        sync = "SyncOnClose Yes" if self.durable else ""
        self.files_conf.write_text(_CUPS_FILES.format(root=self.root, sync=sync))
        dirty = "DirtyCleanInterval 0" if self.durable else ""
        conf = _CUPSD_CONF.format(port=self.port, dirty=dirty)
        (self.root / "conf" / "cupsd.conf").write_text(conf)

    def start(self) -> None:
        if not self.files_conf.exists():
            self.write_config()
        command = [CUPSD, "-f", "-c", str(self.root / "conf" / "cupsd.conf")]
        command += ["-s", str(self.files_conf)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        wait_listening(self.port, self.process, "cupsd", self.log)

    def add_queue(self, queue: str = HOLD_QUEUE) -> None:
        command = [LPADMIN, "-h", f"127.0.0.1:{self.port}", "-p", queue, "-E"]
        command += ["-v", "file:///dev/null", "-m", "raw"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise BenchError(f"lpadmin failed: {done.stderr}")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def kill9(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


# --- our side: App Server + Print Provider ----------------------------------------------------


@contextmanager
def pythonpath(src: Path | None) -> Iterator[None]:
    """While active, processes started with ``os.environ`` import printwarden from ``src``."""
    if src is None:
        yield
        return
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


@dataclass
class Ours:
    """A seeded App Server and a provider whose hold queue ``held`` feeds printer ``mono``.

    ``src`` (another source tree's ``src/``) makes the provider import printwarden from
    there: an A/B of a proposed change against the same App Server, in the same run.
    """

    app: AppServer
    provider: ProviderProcess
    src: Path | None = None

    def start_provider(self) -> None:
        with pythonpath(self.src):
            self.provider.start()

    def kill9(self) -> None:
        self.provider.kill9()

    def stop_provider(self) -> None:
        self.provider.stop()

    def uri(self, queue: str = HOLD_QUEUE) -> str:
        return self.provider.uri(queue)

    @property
    def pid(self) -> int:
        if self.provider.process is None:
            raise BenchError("the provider is not running")
        return self.provider.process.pid

    def stop(self) -> None:
        self.provider.stop()
        self.app.stop()


def start_ours(root: Path, printer_uri: str, balance: int = 1_000_000) -> Ours:
    """Start and seed an App Server (SQLite under ``root``), then a provider (spool in root)."""
    root.mkdir(parents=True, exist_ok=True)
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    provider: ProviderProcess | None = None
    try:
        admin_token = app.token(Role.ADMIN, "boss")
        headers = {"Authorization": f"Bearer {admin_token}"}
        with httpx.Client(base_url=app.api, headers=headers, timeout=30) as admin:
            body = {"name": "mono", "colour": False, "cost_model": {"sizes": {"default": PRICES}}}
            _expect(admin.post("/printers", json=body), 201)
            created = admin.post("/users", json={"username": USER, "restricted": True})
            _expect(created, 201)
            account = created.json()["account_id"]
            top_up = {"txn_id": str(uuid.uuid4()), "amount": balance}
            _expect(admin.post(f"/accounts/by-id/{account}/top-up", json=top_up), 200)
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=[PrinterSpec("mono", printer_uri, colour=False)],
            queues=[QueueSpec(HOLD_QUEUE, "hold", "mono")],
        )
        provider.start()
    except BaseException:
        if provider is not None:
            provider.stop()
        app.stop()
        raise
    return Ours(app, provider)


def start_provider(ours: Ours, root: Path, printer_uri: str, src: Path | None) -> Ours:
    """Another provider (spool under ``root``) for the App Server of ``ours``, with a token
    of its own (a provider token is bound to the first provider that registers with it: a
    shared one kept this provider unregistered, reporting no held job — less work)."""
    root.mkdir(parents=True, exist_ok=True)
    provider = ProviderProcess(
        server_url=ours.app.url,
        token=ours.app.token(Role.PROVIDER),
        directory=root,
        printers=[PrinterSpec("mono", printer_uri, colour=False)],
        queues=[QueueSpec(HOLD_QUEUE, "hold", "mono")],
    )
    other = Ours(ours.app, provider, src)
    other.start_provider()
    return other


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise BenchError(f"{response.request.url}: {response.status_code} {response.text}")


# --- numbers and profiles ---------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (not a dependency)")
    return found


def start_py_spy(
    pid: int, out: Path, seconds: float, *, wall: bool = False
) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` into a collapsed file.

    By default only the thread holding the GIL is sampled (where the CPU goes); ``wall``
    samples every thread, idle ones included (where a request's wall time goes).
    """
    command = [py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds) + 1)]
    command += ["--rate", "500", "--idle" if wall else "--gil", "--format", "raw", "--threads"]
    command += ["-o", str(out)]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaches
    return recorder


def finish_py_spy(recorder: subprocess.Popen[bytes], out: Path, within: str = "") -> str:
    _stdout, stderr = recorder.communicate(timeout=120)
    if recorder.returncode != 0 or not out.exists():
        raise BenchError(f"py-spy failed: {stderr.decode(errors='replace')}")
    return summarize_collapsed(out, within=within)


def summarize_collapsed(path: Path, top: int = 14, within: str = "") -> str:
    """Share of samples per function: own (leaf) time, and inclusive printwarden frames.

    ``within`` keeps only the stacks that hold a frame naming it (``Engine.process``).
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit() or within not in stack:
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")[1:] if " (" in f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "    (no samples)"
    scope = f"stacks within {within}" if within else "all stacks"
    lines = [f"    {total} samples ({scope}); own time (leaf frames):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("    inclusive, printwarden frames:")
    picked = [(k, n) for k, n in inclusive.most_common() if "printwarden/" in k]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in picked[:top]]
    return "\n".join(lines)


def _frame(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def header(title: str, command: Sequence[str]) -> None:
    print(f"{title}  ({DATE}, measured {time.strftime('%Y-%m-%d %H:%M:%S %Z')})")
    print(f"command: {' '.join(command)}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
