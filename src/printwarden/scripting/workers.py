"""The server's side of the script hosts: a small pool of ``scripting.host`` processes.

A request goes to an idle host, started on demand (at most ``MAX_HOSTS``). A host that
dies, stops answering, or has stopped a script (``retire``) is killed and replaced, so a
crash in V8 costs one call at most, never the server.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import subprocess
import sys
import threading
import time
from typing import Any

from printwarden.scripting import channel

MAX_HOSTS = max(2, min(4, os.cpu_count() or 2))
BUSY_WAIT_S = 2.0  # how long a request waits for a host when all are busy
MAX_SCRIPTS = 64  # sources a host is counted on to remember (it keeps host.MAX_SOURCES)


@functools.lru_cache(maxsize=64)
def script_digest(source: str) -> str:
    """A short name for ``source`` on the channel."""
    return hashlib.blake2b(source.encode(), digest_size=16).hexdigest()


class HostLost(Exception):
    """The host died (or its pipe broke) before it answered."""


class HostStuck(Exception):
    """The host did not answer in time; it was killed."""


class HostsBusy(Exception):
    """Every host stayed busy for ``BUSY_WAIT_S``."""


class Host:
    """One running ``python -m printwarden.scripting.host``; one request at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "printwarden.scripting.host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._pipes = (self.process.stdin, self.process.stdout)
        self._to, self._from = self.process.stdin.fileno(), self.process.stdout.fileno()
        self.retired = False
        self._scripts: set[str] = set()  # digests of the sources this host was sent

    def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """The host's answer; raises ``HostLost`` or ``HostStuck`` (and retires the host).

        A source is sent once; after that only its digest (``script``). The host remembers
        more sources than this side counts on (``host.MAX_SOURCES > MAX_SCRIPTS``)."""
        digest = script_digest(request["source"])
        if digest in self._scripts:
            request = {**request, "source": None}
        elif len(self._scripts) >= MAX_SCRIPTS:
            self._scripts.clear()
        self._scripts.add(digest)
        try:
            channel.write(self._to, {**request, "script": digest})
            answer = channel.read(self._from, time.monotonic() + timeout_s)
        except (channel.ChannelClosed, ValueError):
            self.retired = True
            raise HostLost from None
        except channel.ChannelTimeout:
            self.retired = True
            raise HostStuck from None
        self.retired = bool(answer.pop("retire", False))
        return answer

    def stop(self) -> None:
        """Kill the host and reap it."""
        self.process.kill()
        self.process.wait()
        for pipe in self._pipes:
            pipe.close()


class Pool:
    """Idle hosts for reuse; busy ones are out on loan."""

    def __init__(self, size: int = MAX_HOSTS) -> None:
        self.size = size
        self._idle: list[Host] = []
        self._running = 0
        self._cond = threading.Condition()

    def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send ``request`` to a host; see ``Host.ask``, plus ``HostsBusy``."""
        host = self._take()
        try:
            return host.ask(request, timeout_s)
        finally:
            self._give_back(host)

    def _take(self) -> Host:
        deadline = time.monotonic() + BUSY_WAIT_S
        with self._cond:
            while not self._idle and self._running >= self.size:
                if not self._cond.wait(deadline - time.monotonic()):
                    raise HostsBusy
            while self._idle:
                host = self._idle.pop()
                if host.process.poll() is None:
                    return host
                self._running -= 1  # died while idle: reaped, and replaced below
                host.stop()
            self._running += 1
        try:
            return Host()  # started outside the lock: it takes a few hundred ms
        except BaseException:
            self._lost()
            raise

    def _give_back(self, host: Host) -> None:
        if host.retired:
            host.stop()
            threading.Thread(target=self._replace, name="script-host", daemon=True).start()
            return
        with self._cond:
            self._idle.append(host)
            self._cond.notify()

    def _replace(self) -> None:
        """Start a retired host's successor now, so the next request need not wait for it."""
        try:
            host = Host()
        except Exception:
            self._lost()
            raise
        self._give_back(host)

    def _lost(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify()

    def close(self) -> None:
        """Stop the idle hosts (busy ones stop when given back)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._running -= len(idle)
        for host in idle:
            host.stop()


pool = Pool()
atexit.register(pool.close)
