"""Start the tests' server processes by forking one that has already imported them.

Each ``python -m printwarden … serve`` a test starts spends most of a second importing
FastAPI, SQLAlchemy, uvicorn and the app before it does anything, and the suite starts
hundreds of them. The fork server imports all that once, then forks a child per request: a
real process with its own pid, sockets, signals and exit status (``kill -9`` works as on
any other), running the same ``-m`` module with the argv, environment, working directory
and standard streams it was given, and exiting the way the interpreter does (``atexit``,
non-daemon threads joined).

What only ``exec`` shows stays with :class:`subprocess.Popen`: a forked child's
``/proc/PID/cmdline`` and ``/proc/PID/environ`` are the fork server's, and it exits without
freeing the heap it inherited, so a test that reads those or times an exit starts its
processes within :func:`executing`.

Run as ``python -m printwarden.testing.forkserver SOCKET``; it ends, killing its children,
when its standard input closes (the test process has gone).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

PRELOADED = (
    "printwarden.cli",
    "printwarden.service.app",
    "printwarden.site.server",
    "printwarden.provider.app",
    "printwarden.provider.config",
    "printwarden.store.migrate",
    "printwarden.serving",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
)
MESSAGE_BYTES = 1 << 20
READY = b"ready\n"
STREAMS = 3  # stdin, stdout, stderr

_enabled = False
_server: ForkServer | None = None


# -- the server ---------------------------------------------------------------------------


class _Become(BaseException):
    """Raised in a freshly forked child to leave the server loop and run its program."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__()
        self.request = request


def serve(path: str) -> None:
    """Preload, listen on the Unix socket ``path`` and fork a child per request."""
    for module in PRELOADED:
        importlib.import_module(module)
    _Server(path).run()


class _Server:
    """The fork server's loop: requests, children ending, its own end."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(64)
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.connections: set[socket.socket] = set()
        self.children: dict[int, socket.socket] = {}
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.wake_read, selectors.EVENT_READ)
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ)

    def run(self) -> None:
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.listener:
                    connection, _ = self.listener.accept()
                    self.connections.add(connection)
                    self.selector.register(connection, selectors.EVENT_READ)
                elif key.fileobj == self.wake_read:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_read, 4096)
                    self._reap()
                elif key.fileobj == sys.stdin.fileno():
                    if not os.read(sys.stdin.fileno(), 4096):  # the test process has gone
                        self._kill(list(self.children))
                        return
                else:
                    assert isinstance(key.fileobj, socket.socket)
                    self._answer(key.fileobj)

    def _answer(self, connection: socket.socket) -> None:
        """Fork for the request on ``connection``; a closed connection kills its child."""
        try:
            message, fds, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, STREAMS)
        except OSError:
            message, fds = b"", []
        if not message:
            self.selector.unregister(connection)
            self.connections.discard(connection)
            connection.close()
            self._kill([pid for pid, owner in self.children.items() if owner is connection])
            return
        if threading.active_count() != 1:  # pragma: no cover - a preloaded module started one
            raise RuntimeError("the fork server must not run threads")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_child(fds)
            raise _Become(json.loads(message))
        for fd in fds:
            os.close(fd)
        self.children[pid] = connection
        connection.send(json.dumps({"pid": pid}).encode())

    def _become_child(self, fds: list[int]) -> None:
        """In the new child: take the given streams, drop everything of the server's."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd, target in zip(fds, (0, 1, 2), strict=True):
            os.dup2(fd, target)
            os.close(fd)
        self.selector.close()
        self.listener.close()
        for connection in self.connections:
            connection.close()
        os.close(self.wake_read)
        os.close(self.wake_write)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.children.pop(pid, None)
            if connection is not None:
                ended = {"exit": os.waitstatus_to_exitcode(status)}
                with contextlib.suppress(OSError):
                    connection.send(json.dumps(ended).encode())

    def _kill(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _run_child(request: dict[str, Any]) -> int:
    """Be the program ``request`` names, as ``python -m MODULE ARGS`` would; its exit code."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    module, arguments = request["module"], request["arguments"]
    sys.argv = [module, *arguments]
    # As ``python -m`` sets it up: the directory first, then PYTHONPATH's entries.
    extra = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:1] = [request["cwd"], *extra]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as ended:
        return _exit_code(ended.code)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m printwarden.testing.forkserver SOCKET``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        serve(arguments[0])
        return
    except _Become as child:
        request = child.request
    # Out of the ``except`` block: the child's program runs with no exception being handled
    # (one would become the implicit context of every exception it raises).
    _exit(_run_child(request))


def _exit(code: int) -> None:
    """End the child as the interpreter would, without tearing down the preloaded heap
    (half a second of freeing that an exec'd server, having imported less, spends less on)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


# -- the client ---------------------------------------------------------------------------


class ForkedProcess:
    """A child of the fork server, with the part of :class:`subprocess.Popen` tests use."""

    def __init__(self, args: list[str], connection: socket.socket) -> None:
        self.args = args
        self._connection = connection
        self.returncode: int | None = None
        self.pid: int = self._receive(None)["pid"]

    def _receive(self, timeout: float | None) -> dict[str, Any]:
        self._connection.settimeout(timeout)
        message = self._connection.recv(MESSAGE_BYTES)
        if not message:
            raise RuntimeError("the fork server has gone")
        answer: dict[str, Any] = json.loads(message)
        return answer

    def poll(self) -> int | None:
        """The exit code once the child has ended, else None."""
        if self.returncode is None:
            with contextlib.suppress(TimeoutError, BlockingIOError):
                self._ended(self._receive(0.0)["exit"])
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; :class:`subprocess.TimeoutExpired` after ``timeout``."""
        if self.returncode is None:
            try:
                self._ended(self._receive(timeout)["exit"])
            except TimeoutError:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0) from None
        assert self.returncode is not None
        return self.returncode

    def _ended(self, code: int) -> None:
        self.returncode = code
        self._connection.close()

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` unless the child has been reaped already."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Forget the child (the fork server kills it if it still runs)."""
        self._connection.close()

    def __del__(self) -> None:
        self._connection.close()


class ForkServer:
    """A running fork server process and the socket it listens on."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="printwarden-forkserver-")
        self.path = str(Path(self._directory.name) / "socket")
        command = [sys.executable, "-m", "printwarden.testing.forkserver", self.path]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        if self.process.stdout.readline() != READY:
            self.process.kill()
            raise RuntimeError("the fork server did not start")

    def spawn(
        self,
        command: list[str],
        *,
        env: dict[str, str],
        stdout: IO[Any] | int | None,
        stderr: IO[Any] | int | None,
        cwd: str | None = None,
    ) -> ForkedProcess:
        """Start ``[python, -m, MODULE, *ARGS]`` as a forked child."""
        if command[1:2] != ["-m"]:
            raise ValueError(f"the fork server runs `python -m MODULE` commands: {command}")
        request = {"module": command[2], "arguments": command[3:], "env": env,
                   "cwd": cwd or os.getcwd()}  # fmt: skip
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        connection.connect(self.path)
        with _streams(stdout, stderr) as fds:
            socket.send_fds(connection, [json.dumps(request).encode()], fds)
        return ForkedProcess(command, connection)

    def close(self) -> None:
        """End the fork server and every child it still has."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._directory.cleanup()


@contextlib.contextmanager
def _streams(stdout: IO[Any] | int | None, stderr: IO[Any] | int | None) -> Iterator[list[int]]:
    """Descriptors for the child's stdin (``/dev/null``), stdout and stderr."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        yield [null, _fd(stdout, null), _fd(stderr, null)]
    finally:
        os.close(null)


def _fd(stream: IO[Any] | int | None, null: int) -> int:
    if stream is None or stream == subprocess.DEVNULL:
        return null
    if isinstance(stream, int):
        if stream < 0:
            raise ValueError("pipes are not supported; give a file")
        return stream
    return stream.fileno()


def enable() -> None:
    """Let :func:`popen` fork from a shared fork server (started on first use)."""
    global _enabled
    _enabled = True


def disable() -> None:
    """Stop the fork server; :func:`popen` executes commands again."""
    global _enabled, _server
    _enabled = False
    if _server is not None:
        _server.close()
        _server = None


@contextlib.contextmanager
def executing() -> Iterator[None]:
    """Within, :func:`popen` executes commands (for tests that read what only ``exec``
    shows: a process's command line and environment, the time a whole interpreter takes
    to exit)."""
    global _enabled
    enabled, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = enabled


def popen(
    command: list[str],
    *,
    env: dict[str, str],
    stdout: IO[Any] | int | None,
    stderr: IO[Any] | int | None,
) -> subprocess.Popen[bytes] | ForkedProcess:
    """Start ``command``: forked from the fork server when enabled, else executed."""
    global _server
    if not _enabled:
        return subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
    if _server is None:
        _server = ForkServer()
    return _server.spawn(command, env=env, stdout=stdout, stderr=stderr)


if __name__ == "__main__":
    main()
