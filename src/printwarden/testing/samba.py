"""A private Samba server (Debian's ``samba``) for the tests of delivery to SMB shares.

It runs ``smbd`` in the foreground with an ``smb.conf`` of its own in a temporary directory,
which also holds every directory smbd writes to (lock, state, cache, pid, private, ncalrpc,
...), so the system's ``/etc/samba`` and ``/var/lib/samba`` are never touched. It listens on
127.0.0.1 and a free port only, without NetBIOS, printing or winbind, and serves two shares:
``scans`` (``share_path``, writable by ``username``) and ``readonly`` (``readonly_path``).

smbd needs root; the SMB user is the Unix account the tests run as (root), with a password
of its own in the private passdb (given to ``smbpasswd`` on stdin, never on a command line).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from printwarden.sim.ports import free_port
from printwarden.testing.processes import log_tail, stop, wait_ready

SMBD = "/usr/sbin/smbd"
SMBPASSWD = "/usr/bin/smbpasswd"
SHARE = "scans"
READONLY_SHARE = "readonly"
STATE_DIRS = (
    "lock",
    "state",
    "cache",
    "run",
    "private",
    "ncalrpc",
    "bind-dns",
    "winbindd",
    "usershares",
)


def available() -> bool:
    """Whether smbd and smbpasswd are installed and this process may run smbd (root)."""
    return Path(SMBD).exists() and Path(SMBPASSWD).exists() and os.geteuid() == 0


class SambaServer:
    """A private smbd: ``start()``, ``stop()``, ``restart()``, ``kill()``; ``close()`` (or
    the end of a ``with``) stops it and removes its directory. The port stays the same
    across restarts, and so do the user and the shares' files."""

    def __init__(self, password: str | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="pw-samba-"))
        self.config = self.directory / "smb.conf"
        self.log = self.directory / "smbd.log"
        self.share_path = self.directory / SHARE
        self.readonly_path = self.directory / READONLY_SHARE
        self.username = pwd.getpwuid(os.geteuid()).pw_name
        self.password = password or secrets.token_urlsafe(18)
        self._port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._user_added = False

    @property
    def port(self) -> int:
        """The TCP port smbd listens on (chosen at the first start)."""
        return self._port

    def unc(self, sub: str = "", share: str = SHARE) -> str:
        r"""``\\127.0.0.1\scans`` or a folder under it (``sub`` with / or \ separators)."""
        parts = [p for p in sub.replace("/", "\\").split("\\") if p]
        return "\\\\" + "\\".join(["127.0.0.1", share, *parts])

    def start(self) -> None:
        """Start smbd; return when it accepts TCP connections (raise with its log if not)."""
        if self._process is not None:
            raise RuntimeError("smbd is already running")
        if not self._port:
            self._prepare()
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                [SMBD, "--foreground", "--no-process-group", "--debug-stdout", "-s", self.config],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all of smbd's
            )
        try:
            wait_ready(self._process, self._listening, "smbd", self.log, seconds=20)
        except BaseException:
            self.stop()
            raise

    def _prepare(self) -> None:
        self.directory.chmod(0o700)
        for name in (*STATE_DIRS, SHARE, READONLY_SHARE):
            (self.directory / name).mkdir(exist_ok=True)
        self._port = free_port()
        self.config.write_text(self._config())
        self._add_user()

    def _config(self) -> str:
        d = self.directory
        return (
            "[global]\n"
            "  server role = standalone server\n"
            "  workgroup = PWTEST\n"
            "  netbios name = PWSAMBA\n"
            f"  smb ports = {self._port}\n"
            "  interfaces = 127.0.0.1\n"
            "  bind interfaces only = yes\n"
            "  disable netbios = yes\n"
            f"  lock directory = {d}/lock\n"
            f"  state directory = {d}/state\n"
            f"  cache directory = {d}/cache\n"
            f"  pid directory = {d}/run\n"
            f"  private dir = {d}/private\n"
            f"  ncalrpc dir = {d}/ncalrpc\n"
            f"  binddns dir = {d}/bind-dns\n"
            f"  winbindd socket directory = {d}/winbindd\n"
            f"  ntp signd socket directory = {d}/winbindd\n"
            f"  usershare path = {d}/usershares\n"
            "  usershare max shares = 0\n"
            "  registry shares = no\n"
            f"  log file = {d}/log.%m\n"
            "  log level = 1\n"
            "  passdb backend = tdbsam\n"
            "  load printers = no\n"
            "  printing = bsd\n"
            "  printcap name = /dev/null\n"
            "  disable spoolss = yes\n"
            "  map to guest = never\n"
            "  restrict anonymous = 2\n"
            "  panic action =\n"
            f"[{SHARE}]\n"
            f"  path = {self.share_path}\n"
            "  read only = no\n"
            f"  valid users = {self.username}\n"
            "  create mask = 0600\n"
            "  directory mask = 0700\n"
            f"[{READONLY_SHARE}]\n"
            f"  path = {self.readonly_path}\n"
            "  read only = yes\n"
            f"  valid users = {self.username}\n"
        )

    def _add_user(self) -> None:
        if self._user_added:
            return
        done = subprocess.run(
            [SMBPASSWD, "-c", str(self.config), "-a", "-s", self.username],
            input=f"{self.password}\n{self.password}\n".encode(),
            capture_output=True,
            check=False,
            timeout=30,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise RuntimeError(f"smbpasswd failed ({done.returncode}): {output[-2000:]}")
        self._user_added = True

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self._port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop smbd (SIGTERM, then SIGKILL) and whatever of its processes is left."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)  # in case it was paused
            stop(process)
            self._kill_group(process.pid)

    def kill(self) -> None:
        """End smbd and all its processes at once (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None:
            self._kill_group(process.pid)
            process.wait()

    def pause(self) -> None:
        """Freeze smbd and its processes (SIGSTOP): connections stay open, nothing answers."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused smbd go on (SIGCONT)."""
        self._signal_group(signal.SIGCONT)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._process is None:
            raise RuntimeError("smbd is not running")
        os.killpg(self._process.pid, sig)

    def restart(self) -> None:
        """Stop smbd, then start it again on the same port."""
        self.stop()
        self.start()

    @staticmethod
    def _kill_group(group: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def log_tail(self, size: int = 4000) -> str:
        return log_tail(self.log, size)

    def close(self) -> None:
        """Stop smbd and remove its directory (the shares' files with it)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SambaServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
