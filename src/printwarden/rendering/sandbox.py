"""How a converter process is started: as whom, in which namespace, with which limits.

Three modes, chosen once when the pool starts (:func:`choose_mode`):

``root``
    We are root: each converter runs in its own network namespace (``unshare --net``) with
    only its loopback interface, as the unprivileged ``sandbox_user`` (``nobody:nogroup`` by
    default; uid/gid 65534 when those names do not exist), in a private 0700 directory.
``userns``
    Not root, but unprivileged user namespaces work: ``unshare -rn`` gives the converter its
    own network namespace; it keeps our uid (there is no other user to become).
``none``
    Neither (or ``sandbox=False``): the converter runs as we do, with network, and a
    warning is logged.

In every mode the limits (RLIMIT_AS, RLIMIT_FSIZE, no core files) are set by the sandboxed
program itself before it drops privileges (:mod:`printwarden.rendering.uno_host`), each
converter leads its own process group (all of it is killed at once), and it never gets a
path of ours: it receives the document's bytes (or a copy in its private directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import grp
import logging
import os
import pwd
import shutil
import signal
import stat
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from printwarden.rendering.settings import RenderSettings

log = logging.getLogger(__name__)

NOBODY = 65534
_UNOSERVER_FILES = ("__init__.py", "converter.py")


class Mode(enum.Enum):
    ROOT = "root"
    USERNS = "userns"
    NONE = "none"


@dataclass(frozen=True)
class Sandbox:
    """A chosen mode, and where its processes' directories and programs are."""

    mode: Mode
    settings: RenderSettings
    base: Path  # the private directories are made here
    runtime: Path  # uno_host.py and a copy of unoserver, readable by the sandbox user
    uid: int | None = None  # the sandbox user (root mode only)
    gid: int | None = None

    def private_dir(self, prefix: str) -> Path:
        """A fresh 0700 directory owned by the sandbox user, with ``tmp/`` inside."""
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.base))
        (path / "tmp").mkdir(mode=0o700)
        self.give(path / "tmp")
        self.give(path)
        return path

    def give(self, path: Path) -> None:
        """Hand ``path`` (made by us) to the sandbox user."""
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def command(self, home: Path, *args: str) -> list[str]:
        """The command line that runs ``uno_host`` with ``args`` in this sandbox."""
        prefix: list[str] = []
        options = [
            "--home",
            str(home),
            "--memory",
            str(self.settings.memory_limit_bytes),
            "--file-size",
            str(self.settings.file_size_limit_bytes),
        ]
        if self.mode is Mode.ROOT:
            prefix = ["unshare", "--net", "--"]
            options += ["--uid", str(self.uid), "--gid", str(self.gid), "--loopback"]
        elif self.mode is Mode.USERNS:
            prefix = ["unshare", "--map-root-user", "--net", "--"]
            options += ["--loopback"]
        host = str(self.runtime / "uno_host.py")
        return [*prefix, self.settings.python, "-I", host, *options, *args]


async def choose_mode(settings: RenderSettings) -> tuple[Mode, int | None, int | None]:
    """The strongest sandbox this machine allows, and the sandbox user in root mode."""
    if not settings.sandbox:
        log.warning("rendering: sandbox disabled; LibreOffice runs as this user, with network")
        return Mode.NONE, None, None
    if os.geteuid() == 0:
        if await _works("unshare", "--net", "--", "true"):
            uid, gid = sandbox_ids(settings)
            return Mode.ROOT, uid, gid
        log.warning("rendering: running as root but `unshare --net` fails")
    elif await _works("unshare", "--map-root-user", "--net", "--", "true"):
        return Mode.USERNS, None, None
    log.warning(
        "rendering: no network namespace available (unshare fails); "
        "LibreOffice runs unsandboxed as this user, with network"
    )
    return Mode.NONE, None, None


def sandbox_ids(settings: RenderSettings) -> tuple[int, int]:
    """The uid and gid of ``sandbox_user``/``sandbox_group``, 65534 for names that do not
    exist (a uid needs no passwd entry to run a process)."""
    try:
        uid = pwd.getpwnam(settings.sandbox_user).pw_uid
    except KeyError:
        uid = NOBODY
    try:
        gid = grp.getgrnam(settings.sandbox_group).gr_gid
    except KeyError:
        gid = NOBODY
    if uid == 0 or gid == 0:
        raise ValueError("the rendering sandbox user must not be root")
    return uid, gid


async def _works(*command: str) -> bool:
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return False
    return await process.wait() == 0


async def make_sandbox(settings: RenderSettings, work_dir: Path) -> Sandbox:
    """Choose the mode and prepare ``work_dir``: the runtime copy and the directory the
    private directories are made in (0711: the sandbox user may pass, not list)."""
    mode, uid, gid = await choose_mode(settings)
    base = work_dir
    if mode is Mode.ROOT and not reachable(work_dir):
        base = Path(tempfile.gettempdir())
        log.warning(
            "rendering: %s is not reachable by uid %s; using %s for its directories",
            work_dir,
            uid,
            base,
        )
    base = base / "printwarden-rendering" if base != work_dir else base
    await asyncio.to_thread(_prepare, base)
    runtime = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="runtime-", dir=base))
    await asyncio.to_thread(install_runtime, runtime)
    return Sandbox(mode, settings, base, runtime, uid, gid)


def _prepare(base: Path) -> None:
    base.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(base.stat().st_mode)
    if mode & 0o011 != 0o011:
        base.chmod(mode | 0o711)


def reachable(path: Path) -> bool:
    """Whether every existing directory above and at ``path`` lets others pass (o+x)."""
    current = path.resolve()
    for directory in (current, *current.parents):
        with contextlib.suppress(FileNotFoundError):
            if not directory.stat().st_mode & stat.S_IXOTH:
                return False
    return True


def install_runtime(runtime: Path) -> None:
    """Copy ``uno_host.py`` and unoserver's converter into ``runtime`` (0755)."""
    runtime.chmod(0o755)
    # A file copied, never imported here: its XML-RPC server (and pydoc) is the sandbox's.
    shutil.copyfile(Path(__file__).with_name("uno_host.py"), runtime / "uno_host.py")
    package = runtime / "unoserver"
    package.mkdir()
    package.chmod(0o755)  # whatever the umask (the CLI sets 077): the worker is nobody
    spec = find_spec("unoserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the unoserver package is not installed")
    source = Path(next(iter(spec.submodule_search_locations)))
    for name in _UNOSERVER_FILES:
        shutil.copyfile(source / name, package / name)
    for path in (runtime / "uno_host.py", *(package / name for name in _UNOSERVER_FILES)):
        path.chmod(0o644)


def kill_group(pgid: int) -> None:
    """SIGKILL to every process of the group (a converter and all it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_pids(pgid: int) -> list[int]:
    """The live (not zombie) processes of the process group ``pgid``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and fields[2] == str(pgid) and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def group_rss(pgid: int) -> int:
    """Resident memory of the whole process group, in bytes."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in group_pids(pgid):
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[21]) * page
    return total


def member_rss(pid: int, pgid: int) -> int | None:
    """Resident memory of ``pid`` if it is still a live member of the group ``pgid``."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z" or fields[2] != str(pgid):
        return None
    return int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from the state on (field 3 onwards, so index 0 is the state)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].decode().split()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
