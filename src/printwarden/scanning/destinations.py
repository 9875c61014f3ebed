"""Where a finished scan document goes: a local folder (:class:`LocalFolder`) or a folder on
an SMB share (:class:`SmbFolder`), both behind :class:`Destination`.

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
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple, Protocol

import smbclient  # type: ignore[import-untyped,unused-ignore]
from smbprotocol.connection import Connection  # type: ignore[import-untyped,unused-ignore]
from smbprotocol.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    SMBAuthenticationError,
    SMBConnectionClosed,
    SMBException,
    SMBOSError,
    SMBResponseException,
)
from smbprotocol.header import NtStatus  # type: ignore[import-untyped,unused-ignore]

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

# NT status codes that say "try again later"; every other status an SMB server answers with
# (access denied, no such share, bad name, disk full, ...) is final.
TEMPORARY_STATUSES = frozenset(
    {
        0xC00000C9,  # STATUS_NETWORK_NAME_DELETED
        0xC000009A,  # STATUS_INSUFFICIENT_RESOURCES
        0xC00000B5,  # STATUS_IO_TIMEOUT
        0xC0000043,  # STATUS_SHARING_VIOLATION
        0xC0000054,  # STATUS_FILE_LOCK_CONFLICT
        0xC0000055,  # STATUS_LOCK_NOT_GRANTED
        0xC0000056,  # STATUS_DELETE_PENDING
        0xC00000D0,  # STATUS_REQUEST_NOT_ACCEPTED
        0xC0000120,  # STATUS_CANCELLED
        0xC0000203,  # STATUS_USER_SESSION_DELETED
        0xC0000205,  # STATUS_INSUFF_SERVER_RESOURCES
        0xC000020C,  # STATUS_CONNECTION_DISCONNECTED
        0xC000020D,  # STATUS_CONNECTION_RESET
        0xC000026D,  # STATUS_DFS_UNAVAILABLE
        0xC000035C,  # STATUS_NETWORK_SESSION_EXPIRED
        0xC0000466,  # STATUS_SERVER_UNAVAILABLE
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
        server, share, sub = _split_unc("\\\\" + "\\".join([url.hostname, *parts]))
        return Target("smb", _unc(server, share, sub), url.port or 445)
    if text.startswith(("//", "\\\\")):
        return Target("smb", _unc(*_split_unc(text)))
    path = PurePosixPath(text)
    if not path.is_absolute() or ".." in path.parts or "\x00" in text:
        raise ValueError(f"not an absolute path nor an SMB location: {text!r}")
    return Target("local", str(path))


def check_name(name: str, *, windows: bool = False) -> str:
    """``name`` if it is one safe file name (with ``windows``: one Windows also accepts);
    :class:`DeliveryError` (not temporary) if not."""
    problem = _name_problem(name, windows=windows)
    if problem is not None:
        shown = repr(name) if len(name) <= 80 else repr(name[:80]) + "…"
        raise DeliveryError(f"refused file name {shown}: {problem}", temporary=False)
    return name


def _name_problem(name: str, *, windows: bool) -> str | None:
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


def _check_request(document: Document, tag: str, *, windows: bool) -> None:
    if len(tag.encode(errors="replace")) > TAG_MAX_BYTES:
        raise DeliveryError(f"delivery tag longer than {TAG_MAX_BYTES} bytes", temporary=False)
    check_name(tag, windows=True)
    for name in document.names:
        check_name(name, windows=windows)


def tagged_name(name: str, tag: str) -> str:
    """The name a document takes when ``name`` is someone else's: ``<stem> (<tag>)<suffix>``."""
    path = PurePosixPath(name)
    return f"{path.stem} ({tag}){path.suffix}"


class _Fingerprint(NamedTuple):
    size: int
    sha256: bytes


def _fingerprint(chunks: Iterator[bytes]) -> _Fingerprint:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return _Fingerprint(size, digest.digest())


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


class _Folder(Protocol):
    """What :func:`_place` needs of a target folder (names are single components)."""

    def size(self, name: str) -> int | None:
        """The size of the regular file ``name``, None if nothing is there, -1 if something
        other than a regular file is."""
        ...

    def fingerprint(self, name: str) -> _Fingerprint: ...

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


def _place(folder: _Folder, source: Path, name: str, tag: str) -> str:
    """Deliver ``source`` as ``name`` into ``folder`` (or as its tagged name if ``name`` holds
    other content), idempotently; where it is."""
    try:
        wanted = _fingerprint(_read_chunks(source))
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
    folder: _Folder, name: str, wanted: _Fingerprint
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
        _check_request(document, tag, windows=False)
        try:
            _make_folders(self.folder)
            target = _LocalFiles(self.folder)
            return ", ".join(
                _place(target, source, name, tag)
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
    """:class:`_Folder` on the local file system."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def size(self, name: str) -> int | None:
        try:
            info = os.lstat(self.folder / name)
        except FileNotFoundError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else -1

    def fingerprint(self, name: str) -> _Fingerprint:
        fd = os.open(self.folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            return _fingerprint(iter(lambda: file.read(CHUNK), b""))

    def write(self, source: Path, name: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.folder / name, flags, 0o600)
        with os.fdopen(fd, "wb") as file:
            os.fchmod(fd, 0o600)  # in case a leftover of an earlier attempt had other bits
            for chunk in _read_chunks(source):
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


# --- a folder on an SMB share ------------------------------------------------------------


class SmbFolder:
    """A folder on an SMB share (``\\\\host\\share\\sub\\dir`` or ``//host/share/sub/dir``),
    through smbprotocol's ``smbclient``: one connection of its own for each delivery, closed
    after it. ``timeout``: seconds to connect, and the longest the server may stay silent
    during a delivery before it counts as gone (a temporary failure)."""

    def __init__(
        self,
        unc: str,
        *,
        username: str,
        password: str,
        port: int = 445,
        encrypt: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.server, self.share, self.sub = _split_unc(unc)
        self.username = username
        self._password = password
        self.port = port
        self.encrypt = encrypt
        self.timeout = timeout

    @property
    def unc(self) -> str:
        """The folder as ``\\\\host\\share\\sub\\dir``."""
        return _unc(self.server, self.share, self.sub)

    def __repr__(self) -> str:
        return f"SmbFolder({self.unc!r}, username={self.username!r}, port={self.port})"

    def deliver(self, document: Document, *, tag: str) -> str:
        """Deliver ``document`` into the folder (created if missing); where it went."""
        _check_request(document, tag, windows=True)
        connections: dict[str, Any] = {}
        watchdog = _Watchdog(self.timeout, lambda: _abort(connections))
        try:
            with watchdog:
                try:
                    return self._deliver(document, tag, connections, watchdog.kick)
                finally:
                    _close(connections)
        except DeliveryError:
            raise
        except Exception as exc:
            if watchdog.expired:
                message = f"{self.unc}: no answer from the server within {self.timeout:g} s"
                raise DeliveryError(message, temporary=True) from exc
            if not isinstance(exc, SMBException | OSError):
                raise
            raise self._error(exc) from exc

    def _deliver(
        self, document: Document, tag: str, connections: dict[str, Any], kick: Callable[[], None]
    ) -> str:
        self._connect(connections)
        kick()
        target = _SmbFiles(self, connections, kick)
        target.prepare()
        return ", ".join(
            _place(target, source, name, tag)
            for source, name in zip(document.files, document.names, strict=True)
        )

    def _connect(self, connections: dict[str, Any]) -> None:
        """Connect and log on, into ``connections`` (a connection cache of smbclient's,
        private to this delivery, so that no one else's session is ever reused)."""
        config = smbclient.ClientConfig()
        connection = Connection(config.client_guid, self.server, self.port, require_signing=True)
        connections[f"{self.server.lower()}:{self.port}"] = connection  # smbclient's key
        try:
            connection.connect(timeout=self.timeout)
        except ValueError as exc:  # smbprotocol's "Failed to connect to ..."
            reason = exc.__cause__ or exc
            message = f"{self.unc}: cannot reach {self.server} port {self.port}: {reason}"
            raise DeliveryError(message, temporary=True) from exc
        smbclient.register_session(
            self.server,
            connection_cache=connections,
            connection_timeout=self.timeout,
            **self._credentials(),
        )

    def _credentials(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password": self._password,
            "port": self.port,
            "encrypt": True if self.encrypt else None,
        }

    def _error(self, exc: SMBException | OSError) -> DeliveryError:
        status: int | None = None
        if isinstance(exc, SMBOSError):
            status, reason = exc.ntstatus, f"{_status_text(exc.ntstatus)}: {exc.filename}"
        elif isinstance(exc, SMBResponseException):
            status, reason = exc.status, _status_text(exc.status)
        else:  # text of smbprotocol's (or the OS's): never let the password through
            reason = str(exc).replace(self._password, "***") if self._password else str(exc)
        if status is not None:
            temporary = status in TEMPORARY_STATUSES
        elif isinstance(exc, SMBAuthenticationError):
            temporary = False
        elif isinstance(exc, SMBConnectionClosed):
            temporary = True
        elif isinstance(exc, OSError):
            temporary = exc.errno in TEMPORARY_ERRNOS or isinstance(exc, TimeoutError)
        else:  # smbprotocol's own: mostly a lost connection or a timeout
            temporary = True
        return DeliveryError(f"{self.unc}: {reason}", temporary=temporary)


_STATUS_TEXTS = {
    NtStatus.STATUS_ACCESS_DENIED: "access denied",
    NtStatus.STATUS_LOGON_FAILURE: "logon failed (wrong user name or password)",
    NtStatus.STATUS_WRONG_PASSWORD: "wrong password",
    NtStatus.STATUS_PASSWORD_EXPIRED: "password expired",
    NtStatus.STATUS_BAD_NETWORK_NAME: "no such share",
    NtStatus.STATUS_NOT_FOUND: "not found (no such share?)",
    NtStatus.STATUS_OBJECT_PATH_NOT_FOUND: "no such folder",
    NtStatus.STATUS_OBJECT_NAME_INVALID: "invalid name",
    NtStatus.STATUS_NOT_A_DIRECTORY: "not a folder",
    NtStatus.STATUS_DISK_FULL: "disk full",
    NtStatus.STATUS_SHARING_VIOLATION: "in use by someone else",
}


def _status_text(status: int) -> str:
    """``access denied (STATUS_ACCESS_DENIED)`` for an NT status code."""
    names = (k for k, v in vars(NtStatus).items() if k.startswith("STATUS_") and v == status)
    name = next(names, f"NT status 0x{status:08x}")
    text = _STATUS_TEXTS.get(status)
    return f"{text} ({name})" if text else name


def _split_unc(unc: str) -> tuple[str, str, tuple[str, ...]]:
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
        problem = _name_problem(part, windows=True)
        if problem is not None:
            raise ValueError(f"bad folder name {part!r} in {unc!r}: {problem}")
    return server, share, tuple(sub)


def _unc(server: str, share: str, sub: tuple[str, ...] = ()) -> str:
    return "\\\\" + "\\".join((server, share, *sub))


class _SmbFiles:
    """:class:`_Folder` on an SMB share, over one delivery's connection."""

    def __init__(
        self, folder: SmbFolder, connections: dict[str, Any], kick: Callable[[], None]
    ) -> None:
        self.unc = folder.unc
        self._connections = connections
        self._kick = kick
        self._kwargs = {"connection_cache": connections, **folder._credentials()}
        self._kwargs["connection_timeout"] = folder.timeout
        self._share = _unc(folder.server, folder.share)

    def prepare(self) -> None:
        """Create the folder if missing; make sure it is one."""
        # A missing share fails here: smbclient's makedirs() would loop on it.
        smbclient.stat(self._share, **self._kwargs)
        if self._share != self.unc:
            smbclient.makedirs(self.unc, exist_ok=True, **self._kwargs)
            if not stat.S_ISDIR(smbclient.stat(self.unc, **self._kwargs).st_mode):
                raise DeliveryError(f"{self.unc} is not a folder", temporary=False)
        self._kick()

    def size(self, name: str) -> int | None:
        try:
            info = smbclient.lstat(self.where(name), **self._kwargs)
        except SMBOSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        self._kick()
        return int(info.st_size) if stat.S_ISREG(info.st_mode) else -1

    def fingerprint(self, name: str) -> _Fingerprint:
        path = self.where(name)
        with smbclient.open_file(path, mode="rb", share_access="rwd", **self._kwargs) as file:
            return _fingerprint(self._progress(iter(lambda: file.read(CHUNK), b"")))

    def write(self, source: Path, name: str) -> None:
        with smbclient.open_file(self.where(name), mode="wb", **self._kwargs) as file:
            for chunk in self._progress(_read_chunks(source)):
                file.write(chunk)
            file.flush()  # SMB2 FLUSH: the server writes it to its disk
        self._kick()

    def publish(self, temporary: str, name: str) -> bool:
        try:
            smbclient.rename(self.where(temporary), self.where(name), **self._kwargs)
        except SMBOSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise
        self._kick()
        return True

    def discard(self, name: str) -> None:
        # Only over the delivery's own connection: smbclient would quietly open a new one.
        if not self._connections or not all(_connected(c) for c in self._connections.values()):
            return
        try:
            smbclient.remove(self.where(name), **self._kwargs)
        except Exception:  # best effort: the next delivery overwrites it
            log.debug("could not remove %s", self.where(name), exc_info=True)

    def where(self, name: str) -> str:
        return f"{self.unc}\\{name}"

    def _progress(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self._kick()
            yield chunk


def _connected(connection: Any) -> bool:
    return connection.transport is not None and bool(connection.transport.connected)


def _abort(connections: dict[str, Any]) -> None:
    """Close the sockets under a delivery that went silent: what waits on them fails."""
    for connection in list(connections.values()):
        if connection.transport is not None:
            connection.transport.close()


def _close(connections: dict[str, Any]) -> None:
    """Log off and close every connection of a delivery, whatever state it is in."""
    for connection in list(connections.values()):
        if connection.transport is None:
            continue
        sessions = list(connection.session_table.values())
        try:
            connection.disconnect(close=_connected(connection), timeout=5)
        except Exception:
            log.debug("SMB log off failed", exc_info=True)
            connection.disconnect(close=False)  # closes the socket, ends its worker thread
        for session in sessions:
            _forget_handles(session)
    connections.clear()


def _forget_handles(session: Any) -> None:
    """Mark the file handles a lost connection left open as closed (the server dropped them
    with it): smbclient's file objects would warn (ResourceWarning) when collected."""
    for handle in list(session.open_table.values()):
        handle._connected = False
    session.open_table.clear()


class _Watchdog:
    """Calls ``expire`` (once) when ``kick`` was not called for ``seconds``: smbprotocol
    itself would wait minutes for a server that stopped answering."""

    def __init__(self, seconds: float, expire: Callable[[], None]) -> None:
        self.seconds = seconds
        self.expired = False
        self._expire = expire
        self._last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="smb-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._last = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def kick(self) -> None:
        self._last = time.monotonic()

    def _watch(self) -> None:
        while not self._done.wait(max(self._last + self.seconds - time.monotonic(), 0.01)):
            if time.monotonic() - self._last >= self.seconds:
                self.expired = True
                try:
                    self._expire()
                except Exception:
                    log.debug("closing a silent SMB connection failed", exc_info=True)
                return
