"""Many User Client event streams held by one asyncio process (``testing/streams.py`` runs
it for the load test and ``bench/user_client_events.py``).

    python -m printwarden.testing.sse_clients --port 8000 --tokens FILE [--concurrency 64]

Opens one ``GET /api/v1/me/events`` per line of ``FILE`` (a bearer token each) on 127.0.0.1,
over raw asyncio streams (HTTP/1.1, chunked transfer decoded here): the client's own cost
per stream is a coroutine and a socket, so the server is what is measured. At most
``--concurrency`` streams are being opened at once (each until its ``hello``).

Standard output, one line each: ``READY {json}`` once every stream has its ``hello`` (or
failed), ``EVENT {json}`` for every event after ``hello`` (``c`` stream, ``k`` kind, ``t``
``time.monotonic()`` when its bytes arrived, ``d`` its data), ``STATS {json}`` when asked,
``FINAL {json}`` at the end. Standard input: ``stats``, ``quit`` (or end of input). A stream
that ends or fails is not reopened: it is counted in ``errors`` with its reason. Every wait
is bounded (``--open-timeout`` per stream; ``--lifetime`` for the whole process).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS_PATH = "/api/v1/me/events"
NOFILE_CEILING = 65_536  # never ask for more descriptors than this


@dataclass
class Stream:
    index: int
    heartbeats: int = 0
    events: int = 0
    opened: float = 0.0  # seconds from its start to its hello
    error: str = ""
    alive: bool = False


class Streams:
    """The streams of this process and what they have heard."""

    def __init__(self, host: str, port: int, tokens: list[str], concurrency: int) -> None:
        self.host, self.port, self.tokens = host, port, tokens
        self.streams = [Stream(n) for n in range(len(tokens))]
        self.gate = asyncio.Semaphore(concurrency)
        self.writers: list[asyncio.StreamWriter] = []
        self.closing = False

    def emit(self, tag: str, body: dict[str, Any]) -> None:
        sys.stdout.write(f"{tag} {json.dumps(body, separators=(',', ':'))}\n")
        sys.stdout.flush()

    async def run(self, stream: Stream, open_timeout: float) -> None:
        holding = True
        await self.gate.acquire()
        started = time.monotonic()
        try:
            connect = asyncio.open_connection(self.host, self.port)
            reader, writer = await asyncio.wait_for(connect, open_timeout)
            self.writers.append(writer)
            request = (
                f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {self.tokens[stream.index]}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            )
            writer.write(request.encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), open_timeout)
            status = head.split(b" ", 2)[1].decode()
            if status != "200":
                raise _Failed(f"status {status}")
            chunked = b"transfer-encoding: chunked" in head.lower()
            buffer = b""
            while True:
                data = await (self._chunk(reader) if chunked else reader.read(65_536))
                if not data:
                    raise _Failed("ended")
                now = time.monotonic()
                buffer += data
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    if self._heard(stream, block, now) and holding:
                        stream.opened = now - started
                        stream.alive = True
                        holding = False
                        self.gate.release()
        except _Failed as exc:
            stream.error = str(exc)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            stream.error = type(exc).__name__
        except TimeoutError:
            stream.error = "timeout"
        except ValueError as exc:
            stream.error = f"bad answer: {exc}"[:80]
        finally:
            stream.alive = False
            if self.closing and stream.error in ("", "ended", "IncompleteReadError"):
                stream.error = ""
            if holding:
                self.gate.release()

    async def _chunk(self, reader: asyncio.StreamReader) -> bytes:
        size_line = await reader.readline()
        if not size_line:
            return b""
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            return b""
        data = await reader.readexactly(size + 2)
        return data[:-2]

    def _heard(self, stream: Stream, block: bytes, now: float) -> bool:
        """Count one Server-Sent Event block; True for ``hello``."""
        kind, data = "message", []
        comment_only = True
        for line in block.decode().splitlines():
            if line.startswith(":"):
                continue
            comment_only = False
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)
        if comment_only:
            stream.heartbeats += 1
            return False
        if kind == "hello":
            return True
        stream.events += 1
        body = json.loads("\n".join(data)) if data else {}
        self.emit("EVENT", {"c": stream.index, "k": kind, "t": now, "d": body})
        return False

    def stats(self) -> dict[str, Any]:
        errors = collections.Counter(s.error for s in self.streams if s.error)
        opened = sorted(s.opened for s in self.streams if s.opened)
        return {
            "alive": sum(s.alive for s in self.streams),
            "heartbeats": [s.heartbeats for s in self.streams],
            "events": sum(s.events for s in self.streams),
            "errors": dict(errors),
            "opened": opened,
            "monotonic": time.monotonic(),
        }

    def close(self) -> None:
        self.closing = True
        for writer in self.writers:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()


class _Failed(Exception):
    """A stream answered or ended other than as a stream does."""


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to ``wanted`` (bounded by the hard limit
    and :data:`NOFILE_CEILING`); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = NOFILE_CEILING if hard == resource.RLIM_INFINITY else min(hard, NOFILE_CEILING)
    target = min(max(soft, wanted), ceiling)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


async def commands() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main_async(args: argparse.Namespace) -> None:
    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    limit = raise_nofile(len(tokens) + 256)
    if limit < len(tokens) + 64:
        raise SystemExit(f"RLIMIT_NOFILE {limit} is too low for {len(tokens)} streams")
    streams = Streams(args.host, args.port, tokens, args.concurrency)
    started = time.monotonic()
    tasks = [asyncio.create_task(streams.run(s, args.open_timeout)) for s in streams.streams]
    stdin = await commands()
    deadline = started + args.lifetime
    while any(not (s.alive or s.error) for s in streams.streams):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    ready = streams.stats()
    ready["seconds"] = time.monotonic() - started
    del ready["heartbeats"]
    streams.emit("READY", ready)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = await asyncio.wait_for(stdin.readline(), remaining)
        except TimeoutError:
            break
        command = line.decode().strip()
        if command == "stats":
            streams.emit("STATS", streams.stats())
        elif command == "quit" or not line:
            break
    final = streams.stats()
    streams.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    streams.emit("FINAL", final)


def main() -> None:
    parser = argparse.ArgumentParser(description="Many User Client event streams.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", required=True, help="a file with one bearer token a line")
    parser.add_argument("--concurrency", type=int, default=64, help="streams opening at once")
    parser.add_argument("--open-timeout", type=float, default=30.0)
    parser.add_argument("--lifetime", type=float, default=1800.0, help="exit after (s)")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("streams go to loopback only")
    try:
        import uvloop  # the servers' loop: the same cheap reads on this side
    except ImportError:
        asyncio.run(main_async(args))
    else:
        uvloop.run(main_async(args))


if __name__ == "__main__":
    main()
