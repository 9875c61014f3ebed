"""Where a finished scan document goes: a local folder (:class:`LocalFolder`) or a folder on
an SMB share (``smb_folder.SmbFolder``), both behind :class:`Destination`.

Both deliver the same way: each file is written under a temporary name in the target folder
(``.<name>.<tag>.part``) and then renamed into place without replacing anything, so a reader
never sees half a file and no one else's file is overwritten. Delivering again (a retry after
a failure) is harmless: a file already there with the same content counts as delivered; one
with other content leaves the name to its owner and the document goes to
``<stem> (<tag>)<suffix>``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat
import unicodedata
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, NamedTuple, Protocol

log = logging.getLogger(__name__)

NAME_MAX_BYTES = 200
TAG_MAX_BYTES = 48  # so that ".<name>.<tag>.part" stays within 255 bytes
CHUNK = 1 << 20

# errno values that say "try again later": the disk or the network is away for now.
TEMPORARY_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.EIO,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.ENETRESET,
        errno.ENOTCONN,
    }
)

_WINDOWS_FORBIDDEN = frozenset('<>:"/\\|?*')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}
)


class DeliveryError(Exception):
    """A delivery that failed: ``temporary`` if worth retrying later (the server is down or
    went silent), not if it was refused (permissions, a bad path or name, a full disk)."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True, slots=True)
class Document:
    """The files to deliver, each with its name at the destination (``names[i]`` for
    ``files[i]``)."""

    files: tuple[Path, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.files or len(self.files) != len(self.names):
            raise ValueError("a document needs one name for each of its files (at least one)")
        if len(set(self.names)) != len(self.names):
            raise ValueError("a document's files need different names")


class Destination(Protocol):
    """Somewhere a document can be delivered to."""

    def deliver(self, document: Document, *, tag: str) -> str:
        """Deliver ``document`` (blocking); ``tag`` identifies the delivery (the same on a
        retry). Returns where it went, for people (the files' paths, comma-separated);
        raises :class:`DeliveryError`."""
        ...


class Target(NamedTuple):
    """A parsed destination: ``location`` is an absolute path (``"local"``) or a UNC path
    ``\\\\host\\share\\dir`` (``"smb"``, with its TCP port)."""

    kind: Literal["local", "smb"]
    location: str
    port: int = 445


def parse_target(text: str) -> Target:
    """``smb://host[:port]/share/dir``, ``//host/share/dir`` or ``\\\\host\\share\\dir`` → an
    SMB target; an absolute path → a local one. :class:`ValueError` for anything else."""
    if text.startswith("smb://"):
        url = urllib.parse.urlsplit(text)
        if url.username is not None or url.password is not None:
            raise ValueError("an smb:// target takes no credentials in the URL")
        if url.query or url.fragment or not url.hostname:
            raise ValueError(f"not an smb://host/share/dir URL: {text!r}")
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        server, share, sub = split_unc("\\\\" + "\\".join([url.hostname, *parts]))
        return Target("smb", unc_text(server, share, sub), url.port or 445)
    if text.startswith(("//", "\\\\")):
        return Target("smb", unc_text(*split_unc(text)))
    path = PurePosixPath(text)
    if not path.is_absolute() or ".." in path.parts or "\x00" in text:
        raise ValueError(f"not an absolute path nor an SMB location: {text!r}")
    return Target("local", str(path))


def check_name(name: str, *, windows: bool = False) -> str:
    """``name`` if it is one safe file name (with ``windows``: one Windows also accepts);
    :class:`DeliveryError` (not temporary) if not."""
    problem = name_problem(name, windows=windows)
    if problem is not None:
        shown = repr(name) if len(name) <= 80 else repr(name[:80]) + "…"
        raise DeliveryError(f"refused file name {shown}: {problem}", temporary=False)
    return name


def name_problem(name: str, *, windows: bool) -> str | None:
    if name in ("", ".", ".."):
        return "not a file name"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "it contains a control character"
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        return "it is not valid Unicode"
    if size > NAME_MAX_BYTES:
        return f"it is longer than {NAME_MAX_BYTES} bytes"
    if windows:
        if _WINDOWS_FORBIDDEN & set(name):
            return 'it contains one of < > : " | ? *'
        if name[-1] in " .":
            return "it ends with a space or a dot"
        if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
            return "it is a reserved device name"
    return None


def check_request(document: Document, tag: str, *, windows: bool) -> None:
    if len(tag.encode(errors="replace")) > TAG_MAX_BYTES:
        raise DeliveryError(f"delivery tag longer than {TAG_MAX_BYTES} bytes", temporary=False)
    check_name(tag, windows=True)
    for name in document.names:
        check_name(name, windows=windows)


def tagged_name(name: str, tag: str) -> str:
    """The name a document takes when ``name`` is someone else's: ``<stem> (<tag>)<suffix>``."""
    path = PurePosixPath(name)
    return f"{path.stem} ({tag}){path.suffix}"


class Fingerprint(NamedTuple):
    size: int
    sha256: bytes


def fingerprint(chunks: Iterator[bytes]) -> Fingerprint:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return Fingerprint(size, digest.digest())


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


class Folder(Protocol):
    """What :func:`place` needs of a target folder (names are single components)."""

    def size(self, name: str) -> int | None:
        """The size of the regular file ``name``, None if nothing is there, -1 if something
        other than a regular file is."""
        ...

    def fingerprint(self, name: str) -> Fingerprint: ...

    def write(self, source: Path, name: str) -> None:
        """Write ``source`` to ``name`` (replacing it) and make it durable."""
        ...

    def publish(self, temporary: str, name: str) -> bool:
        """Rename ``temporary`` to ``name`` unless ``name`` exists (then False)."""
        ...

    def discard(self, name: str) -> None:
        """Remove ``name`` if possible (best effort, never raises)."""
        ...

    def where(self, name: str) -> str: ...


def place(folder: Folder, source: Path, name: str, tag: str) -> str:
    """Deliver ``source`` as ``name`` into ``folder`` (or as its tagged name if ``name`` holds
    other content), idempotently; where it is."""
    try:
        wanted = fingerprint(read_chunks(source))
    except OSError as exc:
        message = f"cannot read {source}: {exc.strerror or exc}"
        raise DeliveryError(message, temporary=False) from exc
    temporary, pending = f".{name}.{tag}.part", False
    try:
        for candidate in (name, tagged_name(name, tag)):
            state = _compare(folder, candidate, wanted)
            if state == "absent":
                if not pending:
                    folder.write(source, temporary)
                    pending = True
                if folder.publish(temporary, candidate):
                    pending = False
                    return folder.where(candidate)
                state = _compare(folder, candidate, wanted)  # someone took it meanwhile
            if state == "same":
                return folder.where(candidate)
    finally:
        if pending:
            folder.discard(temporary)
    taken = f"{folder.where(name)} and {tagged_name(name, tag)}"
    raise DeliveryError(f"{taken} already exist with other content", temporary=False)


def _compare(
    folder: Folder, name: str, wanted: Fingerprint
) -> Literal["absent", "same", "different"]:
    size = folder.size(name)
    if size is None:
        return "absent"
    if size != wanted.size or folder.fingerprint(name) != wanted:
        return "different"
    return "same"


def _errno_error(where: str, exc: OSError) -> DeliveryError:
    temporary = exc.errno in TEMPORARY_ERRNOS or isinstance(exc, TimeoutError)
    return DeliveryError(f"cannot deliver to {where}: {exc}", temporary=temporary)


# --- a local folder ----------------------------------------------------------------------


class LocalFolder:
    """A folder on this machine (or mounted on it): files mode 0600, new folders 0700."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_absolute():
            raise ValueError(f"not an absolute path: {folder}")
        self.folder = folder

    def __repr__(self) -> str:
        return f"LocalFolder({str(self.folder)!r})"

    def deliver(self, document: Document, *, tag: str) -> str:
        """Deliver ``document`` into the folder (created if missing); where it went."""
        check_request(document, tag, windows=False)
        try:
            _make_folders(self.folder)
            target = _LocalFiles(self.folder)
            return ", ".join(
                place(target, source, name, tag)
                for source, name in zip(document.files, document.names, strict=True)
            )
        except OSError as exc:
            raise _errno_error(str(self.folder), exc) from exc


def _make_folders(folder: Path) -> None:
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            if not path.is_dir():
                raise


class _LocalFiles:
    """:class:`Folder` on the local file system."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def size(self, name: str) -> int | None:
        try:
            info = os.lstat(self.folder / name)
        except FileNotFoundError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else -1

    def fingerprint(self, name: str) -> Fingerprint:
        fd = os.open(self.folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            return fingerprint(iter(lambda: file.read(CHUNK), b""))

    def write(self, source: Path, name: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.folder / name, flags, 0o600)
        with os.fdopen(fd, "wb") as file:
            os.fchmod(fd, 0o600)  # in case a leftover of an earlier attempt had other bits
            for chunk in read_chunks(source):
                file.write(chunk)
            file.flush()
            os.fsync(fd)

    def publish(self, temporary: str, name: str) -> bool:
        source, target = self.folder / temporary, self.folder / name
        try:
            os.link(source, target, follow_symlinks=False)  # fails if target exists
        except FileExistsError:
            return False
        except OSError as exc:  # a file system without hard links
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            if os.path.lexists(target):
                return False
            os.rename(source, target)
        else:
            os.unlink(source)
        self._sync_folder()
        return True

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        except OSError as exc:  # some file systems cannot sync a folder
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
        finally:
            os.close(fd)

    def discard(self, name: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.folder / name)

    def where(self, name: str) -> str:
        return str(self.folder / name)


def split_unc(unc: str) -> tuple[str, str, tuple[str, ...]]:
    """(server, share, sub-folders) of ``\\\\host\\share\\sub`` or ``//host/share/sub``."""
    if not unc.startswith(("\\\\", "//")):
        raise ValueError(f"not a UNC path (\\\\host\\share\\dir): {unc!r}")
    parts = [p for p in unc.replace("/", "\\").split("\\") if p]
    if len(parts) < 2:
        raise ValueError(f"a UNC path needs a host and a share: {unc!r}")
    server, share, *sub = parts
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in server):
        raise ValueError(f"not a host name: {server!r}")
    for part in (share, *sub):
        problem = name_problem(part, windows=True)
        if problem is not None:
            raise ValueError(f"bad folder name {part!r} in {unc!r}: {problem}")
    return server, share, tuple(sub)


def unc_text(server: str, share: str, sub: tuple[str, ...] = ()) -> str:
    return "\\\\" + "\\".join((server, share, *sub))
