"""One warm worker: a sandboxed LibreOffice behind unoserver's converter, and our client.

The worker (:mod:`printwarden.rendering.uno_host`) answers unoserver's XML-RPC API
(``info``, ``convert``; unoserver.client's API version 3) on a Unix socket in its private
directory: a socket on the file system reaches into its network namespace, where a TCP port
would not. We send the document's bytes and get the PDF's bytes back (``indata`` and
``convert_to="pdf"``), so the worker never sees a path of ours. The call is plain HTTP/1.0
on an asyncio Unix connection, under our own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from xml.parsers.expat import ExpatError

from printwarden.rendering import sandbox as sandboxes
from printwarden.rendering.sandbox import Sandbox

log = logging.getLogger(__name__)

API_VERSION = "3"  # unoserver.client.API_VERSION
_HEADER_LIMIT = 64 * 1024
_RESCAN_EVERY = 25  # documents between two full /proc scans for the group's processes


class WorkerError(Exception):
    """A conversion on a warm worker did not give a PDF."""


class WorkerCrashed(WorkerError):
    """The worker went away mid-call (LibreOffice died, or was killed)."""


class WorkerTimedOut(WorkerError):
    """No answer within the timeout."""


class ConversionError(WorkerError):
    """LibreOffice answered that it could not convert the document (the worker is fine)."""


class Worker:
    """One ``uno_host serve`` process group and the number of documents it converted."""

    def __init__(self, slot: int, sandbox: Sandbox) -> None:
        self.slot = slot
        self.sandbox = sandbox
        self.home = sandbox.private_dir(f"worker-{slot}-")
        self.socket = self.home / "sock"
        self.process: asyncio.subprocess.Process | None = None
        self.soffice_pid = 0
        self.documents = 0
        self.retired = False
        self._members: list[int] = []  # the group's processes, as last found in /proc
        self._scanned_at = 0  # ``documents`` when they were found
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        """The host process's pid, which is also the process group's id."""
        return 0 if self.process is None else self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start LibreOffice and wait until the worker answers (``READY`` on its stdout)."""
        settings = self.sandbox.settings
        command = self.sandbox.command(
            self.home,
            "serve",
            "--socket",
            str(self.socket),
            "--soffice",
            settings.soffice,
            "--start-timeout",
            str(settings.start_timeout_seconds),
            *(() if settings.warm_up else ("--no-warm-up",)),
        )
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            cwd="/",
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._stderr_task = asyncio.create_task(self._log_stderr(self.process.stderr))
        try:
            async with asyncio.timeout(settings.start_timeout_seconds + 5):
                line = await self.process.stdout.readline()
        except TimeoutError:
            self.kill()
            raise WorkerError("LibreOffice did not start in time") from None
        words = line.decode(errors="replace").split()
        if len(words) != 2 or words[0] != "READY":
            await self.wait_exit(5)
            self.kill()
            raise WorkerError(f"LibreOffice did not start (exit status {self.process.returncode})")
        self.soffice_pid = int(words[1])

    async def _log_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            log.debug("render worker %d: %s", self.slot, line.decode(errors="replace").rstrip())

    async def convert(self, data: bytes, import_filter: str, timeout: float) -> bytes:
        """The PDF of ``data``; raises :class:`WorkerError` (the three kinds above)."""
        request = await asyncio.to_thread(_request_body, data, import_filter)
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                raw = await self._post(request)
        except TimeoutError:
            raise WorkerTimedOut(f"no answer in {time.monotonic() - started:.1f} s") from None
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            raise WorkerCrashed(str(exc) or type(exc).__name__) from exc
        return await asyncio.to_thread(_parse_response, raw)

    async def _post(self, body: bytes) -> bytes:
        reader, writer = await asyncio.open_unix_connection(str(self.socket))
        try:
            writer.write(
                b"POST /RPC2 HTTP/1.0\r\nHost: worker\r\nContent-Type: text/xml\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            writer.write(body)
            await writer.drain()
            limit = 2 * self.sandbox.settings.file_size_limit_bytes + _HEADER_LIMIT
            raw = await reader.read(limit)
            while chunk := await reader.read(limit - len(raw)):
                raw += chunk
                if len(raw) >= limit:
                    raise WorkerCrashed("the answer is too large")
            return raw
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def rss(self) -> int:
        """Resident memory of the worker's processes (LibreOffice and its host).

        Checked after every document: the group's members are found by a scan of /proc
        (milliseconds on a busy server) only now and then, or when one of them is gone;
        in between, only their own ``/proc/<pid>/stat`` are read."""
        if not self.alive:
            return 0
        if self._members and self.documents - self._scanned_at < _RESCAN_EVERY:
            sizes = [sandboxes.member_rss(pid, self.pid) for pid in self._members]
            if None not in sizes:
                return sum(size for size in sizes if size is not None)
        self._members = sandboxes.group_pids(self.pid)
        self._scanned_at = self.documents
        return sum(sandboxes.member_rss(pid, self.pid) or 0 for pid in self._members)

    def kill(self) -> None:
        """SIGKILL to the whole process group."""
        if self.process is not None:
            sandboxes.kill_group(self.process.pid)

    async def wait_exit(self, timeout: float) -> None:
        if self.process is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.process.wait()

    async def close(self) -> None:
        """Kill the process group, reap the host, remove the private directory."""
        self.retired = True
        self.kill()
        await self.wait_exit(10)
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
        await asyncio.to_thread(sandboxes.remove_tree, self.home)


def _request_body(data: bytes, import_filter: str) -> bytes:
    import xmlrpc.client  # loaded on first use, with the first document rendered

    # unoserver's convert(inpath, indata, outpath, convert_to, filtername, filter_options,
    #                     update_index, infiltername, password)
    binary = xmlrpc.client.Binary(data)
    options: list[str] = []
    params = (None, binary, None, "pdf", None, options, True, import_filter, None)
    return xmlrpc.client.dumps(params, "convert", allow_none=True).encode()


def _parse_response(raw: bytes) -> bytes:
    import xmlrpc.client

    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise WorkerCrashed("the worker closed the connection without an answer")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise WorkerCrashed(f"the worker answered {head[:80]!r}")
    try:
        (result,), _ = xmlrpc.client.loads(body, use_builtin_types=True)
    except xmlrpc.client.Fault as fault:
        raise ConversionError(str(fault.faultString)) from None
    except (ValueError, ExpatError, xmlrpc.client.ResponseError) as exc:
        raise WorkerCrashed(f"the worker's answer is not XML-RPC: {exc}") from exc
    if not isinstance(result, bytes) or not result.startswith(b"%PDF-"):
        raise ConversionError("LibreOffice did not produce a PDF")
    return result
