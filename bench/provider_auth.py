"""What HTTP Basic costs an IPP client that sends it with every request, as CUPS' ``ipp``
back-end does for a job's requests on one connection.

    .venv/bin/python bench/provider_auth.py                         # 200 requests of each kind
    .venv/bin/python bench/provider_auth.py --requests 100 --other /tmp/old/src   # A/B

An App Server (``app serve``, SQLite) and a Print Provider (ipps://, ``loopback_is_local =
false`` so the loopback client counts as remote) with two queues on one printer:
``open`` (trust-client-username: no password) and ``locked`` (authenticate: HTTP Basic,
checked by the App Server with argon2). The same client (``IppClient`` over httpx, TLS,
keep-alive) sends Get-Jobs ``--requests`` times:

- ``open``: one connection, no password: the anchor;
- ``locked``: one connection, the password with every request;
- ``locked, new connection each``: a fresh connection (and TLS handshake) per request.

Reported for each: the client's time per request (p50, p99) and the App Server's CPU per
request (``/proc``), and the ratios to the anchor. ``--other SRC`` runs the same against
another checkout's ``src`` (both servers), alternating, for an A/B.
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from harness import print_machine
from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient
from printwarden.testing.appserver import served_app
from printwarden.testing.provider import BasicOverTls, PrinterSpec, ProviderProcess, QueueSpec

PASSWORD = "bench-password-7"
PRICES = {"sizes": {"default": {"grey_simplex": 10}}}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _get_jobs(client: IppClient) -> None:
    client.request(Operation.GET_JOBS, [Attribute.of("which-jobs", ValueTag.KEYWORD, "all")])


def _timed(
    count: int, make: Callable[[], IppClient], hq_pid: int, *, fresh: bool
) -> tuple[list[float], float]:
    """Seconds per request, and the App Server's CPU seconds for all of them."""
    times: list[float] = []
    cpu = _cpu_seconds(hq_pid)
    client = make()
    try:
        _get_jobs(client)  # the connection (and a first login) outside the clock
        for _ in range(count):
            if fresh:
                client.close()
                client = make()
            started = time.perf_counter()
            _get_jobs(client)
            times.append(time.perf_counter() - started)
    finally:
        client.close()
    return times, _cpu_seconds(hq_pid) - cpu


def run(count: int, src: str | None) -> dict[str, tuple[list[float], float]]:
    if src:
        os.environ["PYTHONPATH"] = src
    try:
        with (
            tempfile.TemporaryDirectory() as directory,
            served_app(Path(directory)) as (
                app,
                admin,
            ),
        ):
            root = Path(directory)
            body = {"name": "laser", "colour": False, "cost_model": PRICES}
            assert admin.post("/printers", json=body).status_code == 201
            user = {"username": "alice", "password": PASSWORD}
            assert admin.post("/users", json=user).status_code == 201
            provider = ProviderProcess(
                server_url=app.url,
                token=app.token(Role.PROVIDER),
                directory=root,
                printers=[PrinterSpec("laser", f"file://{root / 'out'}", colour=False)],
                queues=[
                    QueueSpec("open", "direct", "laser"),
                    QueueSpec("locked", "direct", "laser", identity="authenticate"),
                ],
                tls=True,
                extra=["loopback_is_local = false", "user_check_seconds = 0"],
            )
            provider.start()
            try:
                assert app.process is not None
                return _runs(count, provider, app.process.pid)
            finally:
                provider.stop()
    finally:
        os.environ.pop("PYTHONPATH", None)


def _runs(
    count: int, provider: ProviderProcess, hq_pid: int
) -> dict[str, tuple[list[float], float]]:
    def secure(queue: str, password: str | None) -> Callable[[], IppClient]:
        def make() -> IppClient:
            if password is None:
                transport = httpx.HTTPTransport(
                    verify=ssl.create_default_context(cafile=str(provider.tls_ca))
                )
            else:
                transport = BasicOverTls(provider.tls_ca, "alice", password)
            uri = provider.ipps_uri(queue)
            return IppClient(uri, user_name="alice", timeout=30, transport=transport)

        return make

    return {
        "open": _timed(count, secure("open", None), hq_pid, fresh=False),
        "locked": _timed(count, secure("locked", PASSWORD), hq_pid, fresh=False),
        "locked, new connection each": _timed(
            count, secure("locked", PASSWORD), hq_pid, fresh=True
        ),
    }


def report(label: str, results: dict[str, tuple[list[float], float]], count: int) -> None:
    anchor = statistics.median(results["open"][0])
    print(f"\n{label}")
    for name, (times, cpu) in results.items():
        p50 = statistics.median(times)
        p99 = sorted(times)[int(0.99 * (len(times) - 1))]
        print(
            f"  {name:<30} p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  "
            f"App Server CPU {cpu / count * 1000:6.2f} ms/request  "
            f"p50 = {p50 / anchor:5.2f} x open"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--other", help="another checkout's src directory, run alternately")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"provider-auth, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print_machine()
    for _ in range(args.rounds):
        report("this code", run(args.requests, None), args.requests)
        if args.other:
            report(f"other: {args.other}", run(args.requests, args.other), args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
