"""A folder on an SMB share as a scan destination (:class:`SmbFolder`), through smbprotocol:
delivered as every destination is (``destinations.py``). Its own module so that smbprotocol
(about 12 MB) loads with the first SMB destination, not with every server.
"""

from __future__ import annotations

import errno
import logging
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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

from printwarden.scanning.destinations import (
    CHUNK,
    TEMPORARY_ERRNOS,
    DeliveryError,
    Document,
    Fingerprint,
    check_request,
    fingerprint,
    place,
    read_chunks,
    split_unc,
    unc_text,
)

log = logging.getLogger(__name__)

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
        self.server, self.share, self.sub = split_unc(unc)
        self.username = username
        self._password = password
        self.port = port
        self.encrypt = encrypt
        self.timeout = timeout

    @property
    def unc(self) -> str:
        """The folder as ``\\\\host\\share\\sub\\dir``."""
        return unc_text(self.server, self.share, self.sub)

    def __repr__(self) -> str:
        return f"SmbFolder({self.unc!r}, username={self.username!r}, port={self.port})"

    def deliver(self, document: Document, *, tag: str) -> str:
        """Deliver ``document`` into the folder (created if missing); where it went."""
        check_request(document, tag, windows=True)
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
            place(target, source, name, tag)
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


class _SmbFiles:
    """:class:`Folder` on an SMB share, over one delivery's connection."""

    def __init__(
        self, folder: SmbFolder, connections: dict[str, Any], kick: Callable[[], None]
    ) -> None:
        self.unc = folder.unc
        self._connections = connections
        self._kick = kick
        self._kwargs = {"connection_cache": connections, **folder._credentials()}
        self._kwargs["connection_timeout"] = folder.timeout
        self._share = unc_text(folder.server, folder.share)

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

    def fingerprint(self, name: str) -> Fingerprint:
        path = self.where(name)
        with smbclient.open_file(path, mode="rb", share_access="rwd", **self._kwargs) as file:
            return fingerprint(self._progress(iter(lambda: file.read(CHUNK), b"")))

    def write(self, source: Path, name: str) -> None:
        with smbclient.open_file(self.where(name), mode="wb", **self._kwargs) as file:
            for chunk in self._progress(read_chunks(source)):
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
