"""A private CUPS 2.4 scheduler for tests: the client a site sets up in front of a queue.

Everything lives under its own directory, created world-traversable in ``/tmp`` because
cupsd runs its filters and back-ends as user ``lp``; it listens on 127.0.0.1 on a port of
its own and nowhere else (no domain socket, no browsing), so it
never meets the system's cupsd. ``lpadmin`` and ``lp`` talk to it with ``-h``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from printwarden.sim.ports import free_port
from printwarden.testing import processes

CUPSD = Path("/usr/sbin/cupsd")
LPADMIN = Path("/usr/sbin/lpadmin")
LP = Path("/usr/bin/lp")
LPSTAT = Path("/usr/bin/lpstat")
INSTALL_HINT = "apt-get install cups cups-client cups-filters"

_FILES = """\
ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
User lp
Group lp
SystemGroup root
Sandboxing relaxed
"""

_CONF = """\
Listen 127.0.0.1:{port}
LogLevel debug
Browsing No
BrowseLocalProtocols none
WebInterface No
DefaultAuthType None
# A back-end that fails for a moment (a DNS-SD name not resolved in time on a loaded
# machine) retries its job soon, as a site would set it, not stop the queue.
ErrorPolicy retry-job
JobRetryInterval 2
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""


class CupsError(RuntimeError):
    """cupsd or one of its commands failed."""


@dataclass
class Cupsd:
    """One private cupsd; :meth:`start`, :meth:`add_everywhere_queue`, :meth:`lp`."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="printwarden-cups-")))
    process: subprocess.Popen[bytes] | None = None
    # Where it runs: a command prefix (``ip netns exec NAME``) and more environment (the
    # D-Bus of the avahi-daemon it resolves DNS-SD URIs through); its commands run alike.
    prefix: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.root / "log" / "error_log"

    def start(self) -> None:
        missing = [str(p) for p in (CUPSD, LPADMIN, LP, LPSTAT) if not p.exists()]
        if missing:
            raise CupsError(f"{', '.join(missing)} not found: run `{INSTALL_HINT}`")
        self.root.chmod(0o755)
        for name in ("conf", "spool", "spool/tmp", "cache", "state", "log"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        # Its filters and back-ends get only the environment cupsd passes on.
        passed = "".join(f"PassEnv {name}\n" for name in sorted(self.env))
        files = _FILES.format(root=self.root) + passed
        (self.root / "conf" / "cups-files.conf").write_text(files)
        (self.root / "conf" / "cupsd.conf").write_text(_CONF.format(port=self.port))
        command = [str(CUPSD), "-f", "-c", str(self.root / "conf" / "cupsd.conf")]
        command += ["-s", str(self.root / "conf" / "cups-files.conf")]
        log = (self.root / "log" / "cupsd.out").open("ab")
        self.process = subprocess.Popen(
            [*self.prefix, *command], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
        )  # fmt: skip
        log.close()
        processes.wait_ready(self.process, self._listening, "cupsd", self.error_log, 30.0)

    def _listening(self) -> bool:
        done = self.run(str(LPSTAT), "-r", check=False)
        return "is running" in done.stdout

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A CUPS client command against this cupsd (``-h`` goes right after the program)."""
        argv = [*self.prefix, command[0], "-h", self.server, *command[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, **self.env})  # fmt: skip
        if check and done.returncode != 0:
            raise CupsError(f"{' '.join(argv)} failed: {done.stderr or done.stdout}")
        return done

    def add_everywhere_queue(self, name: str, uri: str) -> None:
        """``lpadmin -p NAME -E -v URI -m everywhere``, as a site sets up a driverless queue."""
        self.run(str(LPADMIN), "-p", name, "-E", "-v", uri, "-m", "everywhere")

    def lp(self, queue: str, document: Path, user: str, *options: str) -> int:
        """``lp`` a file as ``user``; the CUPS job id."""
        args = [str(LP), "-d", queue, "-U", user, "-t", document.name]
        for option in options:
            args += ["-o", option]
        done = self.run(*args, str(document))
        # "request id is QUEUE-12 (1 file(s))"
        return int(done.stdout.split(f"{queue}-", 1)[1].split()[0])

    def job_done(self, queue: str, job_id: int) -> bool:
        """Whether the job left cupsd's queue (completed, or failed: see :meth:`log_tail`)."""
        done = self.run(str(LPSTAT), "-o", queue, check=False)
        return f"{queue}-{job_id} " not in done.stdout

    def log_tail(self, size: int = 4000) -> str:
        return processes.log_tail(self.error_log)[-size:]

    def stop(self) -> None:
        processes.stop(self.process)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
