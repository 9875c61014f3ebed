"""Private files: what printwarden keeps on disk (databases, replicas, spooled documents,
secrets, logs, the demo's manifest) is for its owner only — directories 0700, files 0600.

Every command sets the umask (:func:`private_umask`) before it creates anything, so files it
and its children create are private; :func:`private_dir` and :func:`private_file` also
tighten what an older version left readable to others.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (creations, renames, removals) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_umask() -> None:
    """Files and directories this process creates from now on are its owner's only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (created if missing), with the files
    directly in it readable by the owner only; returns ``path``."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path)
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                _tighten(Path(entry.path))
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty if missing, and readable by its owner only; returns it.

    An existing file is never opened: closing a descriptor of a SQLite database drops every
    POSIX lock this process holds on it, the locks of its open connections included (two
    ``Database`` objects over one file in one process then corrupt it)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _tighten(path)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (replacing it), readable by its owner only; returns it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    _tighten(path)
    return path


def private_sqlite(path: Path) -> Path:
    """A SQLite database file made private before SQLite opens it: SQLite creates its
    ``-wal`` and ``-shm`` files with the database file's own mode. Existing companions are
    tightened too."""
    private_file(path)
    for suffix in SQLITE_SUFFIXES[1:]:
        with contextlib.suppress(FileNotFoundError):
            _tighten(Path(f"{path}{suffix}"))
    return path


def _tighten(path: Path) -> None:
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077)
