"""A real, throwaway IPP Everywhere printer (CUPS' ``ippeveprinter``) for the demo and tests.

``ippeveprinter`` refuses to run without DNS-SD, so the first printer of a test process also
starts a private D-Bus and ``avahi-daemon`` restricted to the loopback interface; they stop
with the last printer. Each printer listens on ``localhost`` only (127.0.0.1 and ::1), on a
free port, keeps every received document in its spool directory (``-k``) and completes
jobs at once (its print command is ``/bin/true``) unless ``processing_seconds`` is set.

Nothing is skipped: a missing binary is an error that says what to install. avahi-daemon
runs as root with its fixed pid file ``/run/avahi-daemon/pid``, so one test process at a
time may use these printers on a machine without a system avahi.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from printwarden.sim.ports import free_port
from printwarden.sim.processes import stop_process

IPPEVEPRINTER = Path("/usr/sbin/ippeveprinter")
DBUS_DAEMON = Path("/usr/bin/dbus-daemon")
AVAHI_DAEMON = Path("/usr/sbin/avahi-daemon")
INSTALL_HINT = "apt-get install cups-ipp-utils avahi-daemon dbus-daemon"
DEFAULT_FORMATS = (
    "application/pdf",
    "image/pwg-raster",
    "text/plain",
    "application/octet-stream",
)
SYSTEM_BUS_SOCKET = Path("/run/dbus/system_bus_socket")
AVAHI_PID_FILE = Path("/run/avahi-daemon/pid")

# A private system bus anyone on this host may use (the tests' daemons and their clients).
BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# mDNS on the loopback interface only; nothing is announced on any real network.
_AVAHI_CONFIG = """\
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=no
publish-hinfo=no
publish-workstation=no
publish-domain=no
[reflector]
enable-reflector=no
"""


class IppEvePrinterError(RuntimeError):
    """The test printer (or the DNS-SD daemons it needs) could not be started."""


def _require(*paths: Path) -> None:
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise IppEvePrinterError(f"{', '.join(missing)} not found: run `{INSTALL_HINT}`")


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    """Poll ``condition()`` until it is true; past ``timeout`` raise with the log's tail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise IppEvePrinterError(f"{what} did not come up in {timeout:.0f}s:\n{tail}")
        time.sleep(0.05)


class _DnsSd:
    """Private D-Bus + avahi-daemon shared by the printers of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.env: dict[str, str] = {}
        self._workdir: Path | None = None
        self._bus: subprocess.Popen[bytes] | None = None
        self._avahi: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    def acquire(self) -> dict[str, str]:
        """Start the daemons for the first user; return the environment printers need."""
        with self.lock:
            if self.users == 0 and not _system_avahi_running():
                self._start()
            self.users += 1
            return dict(self.env)

    def release(self) -> None:
        """Stop the daemons when their last user is gone."""
        with self.lock:
            self.users -= 1
            if self.users == 0:
                self._stop()

    def _start(self) -> None:
        _require(DBUS_DAEMON, AVAHI_DAEMON)
        if os.geteuid() != 0:
            raise IppEvePrinterError("a private avahi-daemon needs root (or a system avahi)")
        self._workdir = Path(tempfile.mkdtemp(prefix="printwarden-dnssd-"))
        try:
            self._start_bus(self._workdir)
            self._start_avahi(self._workdir)
        except BaseException:
            self._stop()
            raise

    def _start_bus(self, workdir: Path) -> None:
        bus_socket = workdir / "bus.sock"
        config = workdir / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=bus_socket))
        log = workdir / "dbus.log"
        self._bus = self._spawn(
            [str(DBUS_DAEMON), f"--config-file={config}", "--nofork", "--nopidfile"], log, {}
        )
        _wait(bus_socket.exists, 10, "dbus-daemon", log)
        self.env = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus_socket}"}

    def _start_avahi(self, workdir: Path) -> None:
        config = workdir / "avahi.conf"
        config.write_text(_AVAHI_CONFIG)
        log = workdir / "avahi.log"
        command = [str(AVAHI_DAEMON), "-f", str(config), "--no-drop-root", "--no-chroot"]
        self._avahi = self._spawn([*private_run_dir(), *command, "--no-rlimits"], log, self.env)

        def ready() -> bool:
            if self._avahi is not None and self._avahi.poll() is not None:
                raise IppEvePrinterError(f"avahi-daemon exited:\n{log.read_text()[-2000:]}")
            return "Server startup complete" in log.read_text(errors="replace")

        _wait(ready, 15, "avahi-daemon", log)

    def _spawn(self, command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        handle = log.open("wb")
        self._logs.append(handle)
        return subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )

    def _stop(self) -> None:
        stop_process(self._avahi)
        stop_process(self._bus)
        self._avahi = self._bus = None
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        self.env = {}
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def private_run_dir() -> list[str]:
    """A command prefix giving avahi-daemon its own ``/run/avahi-daemon`` (a private tmpfs).

    avahi-daemon's pid file path is fixed; in a mount namespace of its own each process's
    daemon has its own, so the demo and a test run (or two test runs) can coexist.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    AVAHI_PID_FILE.parent.mkdir(parents=True, exist_ok=True)
    script = f'mount -t tmpfs tmpfs {AVAHI_PID_FILE.parent} && exec "$@"'
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def _system_avahi_running() -> bool:
    if not (SYSTEM_BUS_SOCKET.exists() and AVAHI_PID_FILE.exists()):
        return False
    try:
        os.kill(int(AVAHI_PID_FILE.read_text().strip()), 0)
    except (ValueError, OSError):
        return False
    return True


_DNS_SD = _DnsSd()


def dns_sd_bus() -> str:
    """The D-Bus address of the avahi-daemon this process's printers announce through: the
    private one while it runs, else the system bus."""
    return _DNS_SD.env.get("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={SYSTEM_BUS_SOCKET}")


class IppEvePrinter:
    """One ``ippeveprinter`` process: ``uri``, ``spool_dir`` and the documents it received."""

    def __init__(
        self,
        name: str = "printwarden-test",
        color: bool = True,
        *,
        formats: tuple[str, ...] = DEFAULT_FORMATS,
        processing_seconds: float = 0.0,
        startup_timeout: float = 20.0,
        duplex: bool = True,
        port: int = 0,
    ) -> None:
        self.name = name
        self.color = color
        self.duplex = duplex
        self.formats = formats
        self.processing_seconds = processing_seconds
        self.startup_timeout = startup_timeout
        self.fixed_port = port  # 0: a free port at each start
        self.port = 0
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._env: dict[str, str] | None = None

    @property
    def uri(self) -> str:
        """``ipp://localhost:PORT/ipp/print`` of the running printer."""
        self._require_running()
        return f"ipp://localhost:{self.port}/ipp/print"

    @property
    def spool_dir(self) -> Path:
        """Where the printer keeps each received document as ``JOBID-JOBNAME.EXT``."""
        return self._require_running() / "spool"

    def start(self) -> None:
        """Start the printer and wait until it accepts connections."""
        _require(IPPEVEPRINTER)
        if self._process is not None:
            raise IppEvePrinterError("the printer is already running")
        self._env = _DNS_SD.acquire()
        try:
            self._workdir = Path(tempfile.mkdtemp(prefix="printwarden-ippeve-"))
            (self._workdir / "spool").mkdir()
            self._launch(self._workdir)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the printer and remove its directory (received documents included)."""
        process, self._process = self._process, None
        stop_process(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        if self._env is not None:
            self._env = None
            _DNS_SD.release()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def documents(self) -> dict[int, Path]:
        """The received documents by job id (output ``.prn`` files are left out)."""
        found: dict[int, Path] = {}
        for path in sorted(self.spool_dir.iterdir()):
            job_id, _, _ = path.name.partition("-")
            if path.suffix != ".prn" and job_id.isdigit():
                found[int(job_id)] = path
        return found

    def wait_for_document(self, job_id: int, timeout: float = 10.0) -> bytes:
        """The bytes received for ``job_id`` once its spool file exists and stops growing.

        Call it after the job reached a terminal state to be sure the file is whole.
        """
        deadline = time.monotonic() + timeout
        previous = -1
        while True:
            path = self.documents().get(job_id)
            size = path.stat().st_size if path is not None else -1
            if path is not None and size == previous:
                return path.read_bytes()
            if time.monotonic() > deadline:
                raise IppEvePrinterError(f"no whole document for job {job_id} after {timeout}s")
            previous = size
            time.sleep(0.1)

    def log_text(self) -> str:
        """Everything ippeveprinter logged so far (it runs with ``-v``)."""
        if self._workdir is None:
            return ""
        path = self._workdir / "ippeveprinter.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _launch(self, workdir: Path, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                self._launch_once(workdir)
                return
            except IppEvePrinterError:
                # Most likely the free port was taken before ippeveprinter bound it.
                stop_process(self._process)
                if attempt == attempts - 1:
                    raise

    def _launch_once(self, workdir: Path) -> None:
        if self._log is not None:
            self._log.close()
        self.port = self.fixed_port or free_port()
        log_path = workdir / "ippeveprinter.log"
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            self._command(workdir),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self._env or {})},
        )
        _wait(self._accepting, self.startup_timeout, "ippeveprinter", log_path)

    def _command(self, workdir: Path) -> list[str]:
        speed = "10,5" if self.color else "10,0"  # a color speed of 0 makes it monochrome
        return [
            str(IPPEVEPRINTER),
            *("-p", str(self.port), "-n", "localhost", "-s", speed, "-k", "-v"),
            *("-c", self._print_command(workdir)),
            *("-d", str(workdir / "spool"), "-f", ",".join(self.formats)),
            *(("-2",) if self.duplex else ()),
            self.name,
        ]

    def _print_command(self, workdir: Path) -> str:
        if self.processing_seconds <= 0:
            return "/bin/true"
        script = workdir / "print.sh"
        script.write_text(f"#!/bin/sh\nsleep {self.processing_seconds}\n")
        script.chmod(0o755)
        return str(script)

    def _accepting(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            raise IppEvePrinterError(f"ippeveprinter exited early:\n{self.log_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _require_running(self) -> Path:
        if self._process is None or self._workdir is None:
            raise IppEvePrinterError("the printer is not running")
        return self._workdir
