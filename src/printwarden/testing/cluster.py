"""Several App Server processes on one PostgreSQL behind HAProxy: the scale-out set-up, for
the tests, ``make demo-ha`` and the benchmarks.

The processes share one data directory (one server secret, one place for uploaded files),
as workers on one host do; each has its own port and log. HAProxy (Debian's) spreads the
requests, checks each process's health every 500 ms, and retries a request that a process
failed to answer (a refused connection, a connection closed without an answer) on another:
every write of the API is idempotent by its id, so a retried write applies once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

import httpx

from printwarden.sim.ports import free_port
from printwarden.testing import processes
from printwarden.testing.appserver import AppServer, OnLoopback, Seeding
from printwarden.testing.seeding import wait_for

HAPROXY = "/usr/sbin/haproxy"
HEALTH = "/api/v1/health"


def haproxy_config(port: int, backends: list[int], stats_port: int) -> str:
    """An HAProxy configuration: ``port`` in front of the processes on ``backends``."""
    servers = "\n".join(
        f"    server app{n} 127.0.0.1:{p} check inter 500ms fall 2 rise 2"
        for n, p in enumerate(backends)
    )
    return f"""global
    maxconn 4096
    log stderr format short local0 info

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout queue 5s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503
    option http-server-close
    # HAProxy retries (retry-on) only a request it holds whole: buffer each (the API's
    # bodies fit in its 16 KB buffer; a larger one is streamed and not retried).
    option http-buffer-request
    # A request on a reused server connection that fails is answered by closing the
    # client's connection (browsers retry then; API clients fail): no reuse, so every
    # failure is one HAProxy retries itself.
    http-reuse never

frontend api
    bind 127.0.0.1:{port}
    default_backend apps

frontend stats
    bind 127.0.0.1:{stats_port}
    http-request return status 200 content-type text/plain string ok if {{ path /ready }}
    stats enable
    stats uri /stats

backend apps
    balance roundrobin
    option httpchk GET {HEALTH}
{servers}
"""


@dataclass
class Cluster(OnLoopback, Seeding):
    """``size`` App Server processes over ``database_url`` behind one HAProxy (its URLs and
    clients are the load balancer's)."""

    size: int = 3
    port: int = field(default_factory=free_port)
    servers: list[AppServer] = field(default_factory=list)
    haproxy: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    stats_port: int = field(default_factory=free_port)  # HAProxy's statistics page

    def start(self) -> None:
        for n in range(self.size):
            server = AppServer(self.database_url, self.data_dir, overrides=self.overrides,
                               log_name=f"server-{n}.log")  # fmt: skip
            server.extra_env.update(self.extra_env)
            self.servers.append(server)
            server.start()
        self._start_haproxy()

    def _start_haproxy(self) -> None:
        if shutil.which(HAPROXY) is None and not os.path.exists(HAPROXY):
            raise RuntimeError("HAProxy is not installed (Debian: apt-get install haproxy)")
        config = self.data_dir / "haproxy.cfg"
        backends = [s.port for s in self.servers]
        config.write_text(haproxy_config(self.port, backends, self.stats_port))
        log = (self.data_dir / "haproxy.log").open("ab")
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log,
                                        stderr=log, stdin=subprocess.DEVNULL)  # fmt: skip
        log.close()
        processes.wait_ready(self.haproxy, self._answers, "HAProxy", self.data_dir / "haproxy.log")
        wait_for(lambda: self.healthy() == self.size, "every process in HAProxy's pool", 15)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.api}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def healthy(self) -> int:
        """How many processes answer their health check now."""
        return sum(server.process is not None and server._answers() for server in self.servers)

    def kill(self, index: int) -> None:
        """``kill -9`` process ``index``."""
        server = self.servers[index]
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)

    def restart(self, index: int) -> None:
        self.servers[index].start()

    def stop(self) -> None:
        if self.haproxy is not None:
            processes.stop(self.haproxy)
        for server in self.servers:
            server.stop()
