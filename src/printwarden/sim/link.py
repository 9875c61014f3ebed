"""A controllable WAN link: a fault-injecting TCP proxy between a site and the App Server.

Tests, benchmarks and ``printwarden demo`` put a :class:`Link` where the WAN would be and
cut it with :meth:`Link.down`. A link carries every connection between the two places, in
both directions: its first route takes the site's connections to HQ (the Site Server's), and
:meth:`Link.add_route` adds more — HQ's connections to the site (its Site Server, through
which HQ rings the site's providers). One :meth:`Link.down` cuts them all at once, as a cut
WAN line would. Why a proxy, and not stopping the App Server or refusing
connections? Because a cut WAN link does neither: packets simply vanish, so clients see
*timeouts* (connect, read or write), never ``connection refused`` or ``reset``, and
requests in flight hang until their own deadline. Code that only survives a fast, explicit
failure is exactly the code an outage breaks, so the simulation must be the slow kind.

While the link is **down** every byte is read and discarded, nothing is written and nothing
is closed, in either direction: open connections (keep-alive, 25 s long polls) go silent,
and new connections are accepted locally but black-holed (the App Server never hears of
them). Deviation from a real link: TCP would retransmit what was lost, a proxy that dropped
bytes cannot, so when the link comes back **up** every connection that lost data or was
opened during the outage is closed (its stream would be corrupt); connections that stayed
idle throughout resume, as they would on a real link. New connections work at once.

Control comes from the owning process (:meth:`Link.down`, :meth:`Link.up`,
:meth:`Link.flap`) or from another one through a control file holding ``up`` or ``down``
(:func:`write_state`, :func:`read_state`), polled every 50 ms::

    python -m printwarden.sim.link --listen 127.0.0.1:9000 --target 127.0.0.1:8000 \\
        --route 127.0.0.1:9100=127.0.0.1:8100 --control demo-data/north/link.state

The heavier alternative is a network namespace per site with nftables DROP rules (real
retransmissions, real SYN timeouts); it needs root, which the demo must not, so it is not
used here. Its one gain — that no address can bypass the link — is had by routing: HQ
reaches a site only through the site's Site Server, at the address the site advertises,
which in the demo and the tests is a route of the site's link.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self, TypeVar

__all__ = ["POLL_SECONDS", "Link", "LinkState", "Route", "main", "read_state", "write_state"]

POLL_SECONDS = 0.05
CONNECT_TIMEOUT = 10.0
CALL_TIMEOUT = 10.0
CHUNK = 64 * 1024
QUEUE_CHUNKS = 16

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_Version = tuple[int, int, int] | None
_Chunk = tuple[float, bytes] | None  # (due time, data); None ends the stream


class LinkState(StrEnum):
    """Whether the link forwards traffic."""

    UP = "up"
    DOWN = "down"


def read_state(path: Path | str) -> LinkState:
    """The state a control file asks for; a missing file means ``up`` (no outage)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip().lower()
    except FileNotFoundError:
        return LinkState.UP
    try:
        return LinkState(text)
    except ValueError:
        raise ValueError(f"{path}: expected 'up' or 'down', found {text!r}") from None


def write_state(path: Path | str, state: LinkState | str) -> None:
    """Atomically write ``state`` (``up`` or ``down``) to the control file ``path``."""
    target = Path(path)
    value = LinkState(state)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{value}\n", encoding="ascii")
    os.replace(temporary, target)


def _file_version(path: Path) -> _Version:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


@dataclass(eq=False)
class Route:
    """One direction of a link: connections to ``listen_host:port`` go to the target."""

    listen_host: str
    listen_port: int  # 0 until the link has started, when asked for any free port
    target_host: str
    target_port: int

    @property
    def port(self) -> int:
        """The port clients connect to (the real one once started with port 0)."""
        return self.listen_port

    @property
    def address(self) -> str:
        """``host:port`` clients connect to."""
        return f"{self.listen_host}:{self.listen_port}"


@dataclass(eq=False)
class _Connection:
    """A client connection's task and streams (client, then upstream unless black-holed)."""

    task: asyncio.Task[None]
    writers: list[asyncio.StreamWriter]
    lost_data: bool = False

    def abort(self) -> None:
        self.task.cancel()


class Link:
    """A TCP proxy from ``listen_host:listen_port`` to ``target_host:target_port``.

    It runs an asyncio loop in its own thread, so it serves any number of concurrent
    connections and every method may be called from synchronous code. ``listen_port`` 0
    picks a free port (see :attr:`port`). With ``control``, the file is watched and each
    change of it sets the state (see :func:`write_state`).
    """

    def __init__(
        self,
        listen_host: str,
        listen_port: int,
        target_host: str,
        target_port: int,
        *,
        latency_ms: float = 0.0,
        control: Path | str | None = None,
    ) -> None:
        self.listen_host = listen_host
        self.target_host = target_host
        self.target_port = target_port
        self.control = Path(control) if control is not None else None
        self.latency_ms = latency_ms
        self._listen_port = listen_port
        self.routes: list[Route] = []  # beyond the first (see :meth:`add_route`)
        self._state = LinkState.UP
        self._accepted = 0
        self._connections: set[_Connection] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._closing = False
        self._flapping: asyncio.Task[None] | None = None

    # -- public API ---------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """``up`` or ``down``."""
        return self._state

    @property
    def latency_ms(self) -> float:
        """Delay added to each direction, in milliseconds (may change while running)."""
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"latency_ms must not be negative: {value}")
        self._latency_ms = float(value)

    @property
    def port(self) -> int:
        """The port clients connect to (the real one once started with port 0)."""
        return self._listen_port

    @property
    def address(self) -> str:
        """``host:port`` clients connect to."""
        return f"{self.listen_host}:{self.port}"

    def add_route(
        self, listen_host: str, listen_port: int, target_host: str, target_port: int
    ) -> Route:
        """Carry connections to ``listen_host:listen_port`` to the target too (the other
        direction, say), cut and restored with the rest; before :meth:`start` only."""
        if self._thread is not None:
            raise RuntimeError("routes are added before the link starts")
        route = Route(listen_host, listen_port, target_host, target_port)
        self.routes.append(route)
        return route

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return len(self._connections)

    @property
    def silenced(self) -> int:
        """Open connections that lost data in an outage (closed when the link is back up)."""
        return sum(1 for connection in list(self._connections) if connection.lost_data)

    @property
    def accepted(self) -> int:
        """Client connections accepted so far (black-holed ones included)."""
        return self._accepted

    def start(self) -> None:
        """Listen and forward; return once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("link already started")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run,
            args=(ready,),
            name=f"printwarden-link-{self.target_port}",
            daemon=True,
        )
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise

    def stop(self) -> None:
        """Close the listener and every connection, end the thread; idempotent."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(event.set)
        thread.join()
        self._thread = None

    def down(self) -> None:
        """Cut the link: silence every connection, black-hole new ones (cancels a flap)."""
        self._call(LinkState.DOWN)

    def up(self) -> None:
        """Restore the link: close the connections that lost data (cancels a flap)."""
        self._call(LinkState.UP)

    def flap(self, period_seconds: float, duration: float) -> concurrent.futures.Future[None]:
        """Alternate down and up every ``period_seconds`` for ``duration`` seconds, then up.

        Runs in the background; the future completes when flapping ends and is cancelled
        if :meth:`up`, :meth:`down`, another flap or :meth:`stop` intervenes.
        """
        if period_seconds <= 0 or duration < 0:
            raise ValueError("period_seconds must be positive and duration not negative")
        return self._in_loop(lambda: self._start_flap(period_seconds, duration))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the loop thread ----------------------------------------------------------------

    def _in_loop(self, function: Callable[[], _T]) -> _T:
        """Run ``function`` in the loop thread and return its result."""
        loop = self._loop
        if loop is None or self._closing:
            raise RuntimeError("link not running")
        done: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(function())
            except BaseException as error:  # pragma: no cover - handed to the caller
                done.set_exception(error)

        loop.call_soon_threadsafe(call)
        return done.result(timeout=CALL_TIMEOUT)

    def _call(self, state: LinkState) -> None:
        """Set ``state`` in the loop thread (directly when not running)."""
        try:
            self._in_loop(lambda: self._set_state(state, cancel_flap=True))
        except RuntimeError:  # not running, or the loop has just ended
            self._state = state

    def _set_state(self, state: LinkState, *, cancel_flap: bool = False) -> None:
        if cancel_flap and self._flapping is not None:
            self._flapping.cancel()
            self._flapping = None
        if state != self._state:
            log.info("link %s -> %s:%s %s", self.address, self.target_host, self.target_port, state)
        self._state = state
        if state is LinkState.UP:
            for connection in list(self._connections):
                if connection.lost_data:
                    connection.abort()

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            asyncio.run(self._main(ready))
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error)
            else:  # pragma: no cover - defensive
                log.exception("link %s failed", self.address)
        finally:
            self._loop = None

    async def _main(self, ready: concurrent.futures.Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._closing = False
        first = Route(self.listen_host, self._listen_port, self.target_host, self.target_port)
        servers: list[asyncio.Server] = []
        watcher: asyncio.Task[None] | None = None
        try:
            for route in (first, *self.routes):
                serve = functools.partial(self._serve, route)
                server = await asyncio.start_server(serve, route.listen_host, route.listen_port)
                servers.append(server)
                route.listen_port = server.sockets[0].getsockname()[1]
            self._listen_port = first.listen_port
            if self.control is not None:
                version = self._apply_control(self.control)
                watcher = asyncio.create_task(self._watch(self.control, version))
            ready.set_result(None)
            await self._stop_event.wait()
        finally:
            self._closing = True
            for server in servers:
                server.close()
            for task in (watcher, self._flapping):
                if task is not None:
                    task.cancel()
            while self._connections:
                tasks = [connection.task for connection in self._connections]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            if watcher is not None:
                await asyncio.gather(watcher, return_exceptions=True)
            for server in servers:
                await server.wait_closed()

    def _apply_control(self, path: Path) -> _Version:
        """Set the state the control file asks for; return the version applied."""
        version = _file_version(path)
        try:
            state = read_state(path)
        except (OSError, ValueError) as error:
            log.warning("link %s: control file ignored: %s", self.address, error)
        else:
            self._set_state(state, cancel_flap=True)
        return version

    async def _watch(self, path: Path, version: _Version) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if _file_version(path) != version:
                version = self._apply_control(path)

    def _start_flap(
        self, period_seconds: float, duration: float
    ) -> concurrent.futures.Future[None]:
        if self._flapping is not None:
            self._flapping.cancel()
        self._set_state(LinkState.DOWN if duration > 0 else LinkState.UP)
        task = asyncio.get_running_loop().create_task(self._flap(period_seconds, duration))
        self._flapping = task
        result: concurrent.futures.Future[None] = concurrent.futures.Future()

        def finished(task: asyncio.Task[None]) -> None:
            if task.cancelled():
                result.cancel()
            elif (error := task.exception()) is not None:  # pragma: no cover - defensive
                result.set_exception(error)
            else:
                result.set_result(None)

        task.add_done_callback(finished)
        return result

    async def _flap(self, period_seconds: float, duration: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration
        while (left := end - loop.time()) > 0:
            await asyncio.sleep(min(period_seconds, left))
            if end - loop.time() > 0:
                down = self._state is LinkState.UP
                self._set_state(LinkState.DOWN if down else LinkState.UP)
        self._flapping = None
        self._set_state(LinkState.UP)

    # -- one connection -----------------------------------------------------------------

    def _forwarding(self, connection: _Connection) -> bool:
        return self._state is LinkState.UP and not connection.lost_data

    async def _serve(
        self, route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if self._closing or task is None:
            writer.transport.abort()
            return
        self._accepted += 1
        connection = _Connection(task=task, writers=[writer])
        self._connections.add(connection)
        graceful = False
        try:
            if self._state is LinkState.DOWN:
                connection.lost_data = True  # black-holed: closed once the link is back up
                await self._discard(reader)
            else:
                upstream = await self._connect(route)
                if upstream is None:
                    return
                up_reader, up_writer = upstream
                connection.writers.append(up_writer)
                await self._forward(connection, reader, writer, up_reader, up_writer)
                graceful = not connection.lost_data
            if not graceful:  # an outage swallowed data or an end of stream: stay silent
                await asyncio.get_running_loop().create_future()  # until up() or stop()
        except asyncio.CancelledError:
            pass  # up(), stop() or a broken connection: this connection ends, nothing else
        finally:
            self._connections.discard(connection)
            for each in connection.writers:
                if graceful:
                    each.close()
                else:
                    each.transport.abort()

    async def _connect(
        self, route: Route
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(route.target_host, route.target_port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            log.warning("link %s: target unreachable: %s", route.address, error)
            return None

    async def _discard(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while await reader.read(CHUNK):
                pass

    async def _forward(
        self,
        connection: _Connection,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Pump both directions until each has forwarded its end of stream."""
        to_target: asyncio.Queue[_Chunk] = asyncio.Queue(QUEUE_CHUNKS)
        to_client: asyncio.Queue[_Chunk] = asyncio.Queue(QUEUE_CHUNKS)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(connection, client_reader, to_target))
            group.create_task(self._write(connection, to_target, up_writer))
            group.create_task(self._read(connection, up_reader, to_client))
            group.create_task(self._write(connection, to_client, client_writer))

    async def _read(
        self, connection: _Connection, reader: asyncio.StreamReader, queue: asyncio.Queue[_Chunk]
    ) -> None:
        """Queue what arrives while forwarding, with its due time; discard it otherwise."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                if self._forwarding(connection):
                    connection.abort()
                    return
                data = b""
            if not self._forwarding(connection):
                connection.lost_data = True
                if data:
                    continue
            if not data:
                await queue.put(None)
                return
            await queue.put((loop.time() + self._latency_ms / 1000, data))

    async def _write(
        self, connection: _Connection, queue: asyncio.Queue[_Chunk], writer: asyncio.StreamWriter
    ) -> None:
        """Write queued data when due, unless the link went down meanwhile."""
        loop = asyncio.get_running_loop()
        while (chunk := await queue.get()) is not None:
            due, data = chunk
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            if not self._forwarding(connection):
                connection.lost_data = True
                continue
            try:
                writer.write(data)
                await writer.drain()
            except OSError:
                connection.abort()
                return
        if not self._forwarding(connection):
            connection.lost_data = True
        elif writer.can_write_eof():
            try:
                writer.write_eof()
            except OSError:
                connection.abort()


# -- command line -----------------------------------------------------------------------


def _endpoint(text: str) -> tuple[str, int]:
    host, separator, port = text.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _route(text: str) -> tuple[tuple[str, int], tuple[str, int]]:
    listen, separator, target = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected LISTEN=TARGET, got {text!r}")
    return _endpoint(listen), _endpoint(target)


def main(argv: list[str] | None = None) -> int:
    """Run a link until SIGTERM or SIGINT; print ``listening HOST:PORT`` once ready."""
    parser = argparse.ArgumentParser(
        prog="python -m printwarden.sim.link", description="A controllable WAN link."
    )
    parser.add_argument(
        "--listen", type=_endpoint, required=True, help="numeric HOST:PORT (port 0: any free port)"
    )
    parser.add_argument("--target", type=_endpoint, required=True, help="HOST:PORT")
    parser.add_argument(
        "--route",
        type=_route,
        action="append",
        default=[],
        help="LISTEN_HOST:PORT=TARGET_HOST:PORT: another route the link carries (the other "
        "direction, say), cut with the first; repeatable",
    )
    parser.add_argument("--control", type=Path, help="state file holding 'up' or 'down'")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added each way")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    (listen_host, listen_port), (target_host, target_port) = args.listen, args.target
    link = Link(
        listen_host,
        listen_port,
        target_host,
        target_port,
        latency_ms=args.latency_ms,
        control=args.control,
    )
    for (route_host, route_port), (to_host, to_port) in args.route:
        link.add_route(route_host, route_port, to_host, to_port)
    with link:
        print(f"listening {link.address} -> {target_host}:{target_port} {link.state}", flush=True)
        for route in link.routes:
            print(f"listening {route.address} -> {route.target_host}:{route.target_port}",
                  flush=True)  # fmt: skip
        while not stopping.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
