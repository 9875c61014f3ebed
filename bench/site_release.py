"""A release from HQ of a job held at a site: through the Site Server's relay, or direct.

    .venv/bin/python bench/site_release.py                  # 100 releases each way
    .venv/bin/python bench/site_release.py --releases 20    # a quick run

Issue 17: HQ rings a provider at a site only through that site's Site Server
(``POST {site url}/site/providers/{name}/wake``, ``site/relay.py``), so that a cut link cuts
HQ's way in. This measures what the extra hop costs a release, against a ring straight to
the provider, in the same run and conditions.

Real processes: an App Server (SQLite), a link carrying both directions (the site's way to
HQ and HQ's way to the Site Server, ``Link.add_route``), a Site Server advertising the
second, and two Print Providers whose server is the Site Server, each with a hold queue
onto a ``file://`` printer: ``relayed`` is bound to the site (HQ rings it through the Site
Server), ``direct`` serves a printer of no site with a token of no site (HQ rings it
itself, as every provider before). Releases alternate between them. For each, untimed: a
1-line text job is held and HQ lists it; timed: from ``POST /held-jobs/{id}/release`` (an
administrator, at HQ) until the answer (200), and until the document is in the printer's
directory (polled every 2 ms).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness import print_machine
from printwarden.domain.accounts import Role
from printwarden.provider.ipp.client import IppClient
from printwarden.sim.ports import free_port
from printwarden.store.tokens import PROVIDER_PREFIX
from printwarden.testing.appserver import AppServer
from printwarden.testing.provider import PrinterSpec, ProviderProcess, QueueSpec
from printwarden.testing.site import SiteProcess, site_link
from provider_harness import BenchError, percentile

SITE, USER = "north", "bench-user"
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}
WAYS = ("relayed", "direct")
PAPER_SECONDS = 30.0


@dataclass
class Way:
    """One provider and its printer's directory; the times measured through it."""

    name: str
    provider: ProviderProcess
    printer: str
    out: Path
    answered: list[float] = field(default_factory=list)
    on_paper: list[float] = field(default_factory=list)


@contextmanager
def world(root: Path) -> Iterator[tuple[httpx.Client, dict[str, Way]]]:
    with ExitStack() as stack:
        app = AppServer(f"sqlite:///{root / 'app.db'}", root / "app")
        (root / "app").mkdir()
        app.start()
        stack.callback(app.stop)
        token = app.token(Role.ADMIN, "bench-admin")
        headers = {"Authorization": f"Bearer {token}"}
        admin = stack.enter_context(httpx.Client(base_url=app.api, headers=headers, timeout=60))
        _expect(admin.post("/sites", json={"name": SITE}), 201)
        created = admin.post("/users", json={"username": USER, "restricted": False})
        _expect(created, 201)
        site_port = free_port()
        link, advertised = site_link(app, site_port)
        stack.callback(link.stop)
        site_token = app.token(Role.SITE, scope=SITE)
        upstream = f"http://127.0.0.1:{link.port}"
        site = SiteProcess(
            upstream, site_token, SITE, root / "site", port=site_port, advertised_url=advertised
        )
        site.start()
        stack.callback(site.stop)
        ways = {}
        for name in WAYS:
            printer, out = f"{name}-laser", root / f"out-{name}"
            body = {"name": printer, "colour": False, "cost_model": {"sizes": {"default": PRICES}},
                    "site": SITE if name == "relayed" else None}  # fmt: skip
            _expect(admin.post("/printers", json=body), 201)
            provider_name = f"{name}-provider"
            bound = SITE if name == "relayed" else None
            provider_token = app.token(Role.PROVIDER, scope=f"{PROVIDER_PREFIX}{provider_name}",
                                       site=bound)  # fmt: skip
            (root / provider_name).mkdir()
            provider = ProviderProcess(site.url, provider_token, root / provider_name,
                                       [PrinterSpec(printer, f"file://{out}", colour=False)],
                                       [QueueSpec("secure", "hold", printer)],
                                       server_timeout=6.0, name=provider_name)  # fmt: skip
            provider.start()
            stack.callback(provider.stop)
            ways[name] = Way(name, provider, printer, out)
        _wait(lambda: _online(site), "the site online")
        yield admin, ways


def release_once(admin: httpx.Client, way: Way) -> None:
    text = f"{way.name} {uuid.uuid4().hex}\n"
    with IppClient(way.provider.uri("secure"), user_name=USER, timeout=30) as client:
        client.print_job(text.encode(), document_format="text/plain", job_name=text[:30],
                         requesting_user_name=USER)  # fmt: skip
    job = _wait(lambda: _held(admin, text[:30]), "HQ listing the held job")
    start = time.perf_counter()
    answer = admin.post(f"/held-jobs/{job}/release", json={"printer": way.printer})
    answered = time.perf_counter() - start
    _expect(answer, 200)
    deadline = time.monotonic() + PAPER_SECONDS
    while not _printed(way.out, text.encode()):
        if time.monotonic() > deadline:
            raise BenchError(f"{way.name}: the released job did not print")
        time.sleep(0.002)
    way.answered.append(answered)
    way.on_paper.append(time.perf_counter() - start)


def _held(admin: httpx.Client, name: str) -> str | None:
    jobs = admin.get("/held-jobs", params={"user": USER}).json()["jobs"]
    return next((j["id"] for j in jobs if j["document_name"] == name), None)


def _printed(out: Path, data: bytes) -> bool:
    for path in out.glob("*") if out.exists() else []:
        if path.suffix != ".part" and path.read_bytes() == data:
            return True
    return False


def _online(site: SiteProcess) -> bool:
    return bool(site.status()["mode"] == "online")


def _wait(condition: object, what: str, seconds: float = 60.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()  # type: ignore[operator]
        if found:
            return str(found)
        time.sleep(0.02)
    raise BenchError(f"timed out waiting for {what}")


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise BenchError(f"{response.request.url}: {response.status_code} {response.text}")


def _ms(values: list[float]) -> str:
    return (f"p50 {statistics.median(values) * 1000:.1f} ms, "
            f"p99 {percentile(values, 0.99) * 1000:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=100, help="releases each way")
    args = parser.parse_args()
    print_machine()
    with (
        tempfile.TemporaryDirectory(prefix="site-release-") as tmp,
        world(Path(tmp)) as (
            admin,
            ways,
        ),
    ):
        for _ in range(2):  # warm-up, untimed
            for way in ways.values():
                release_once(admin, way)
                way.answered.clear()
                way.on_paper.clear()
        for _ in range(args.releases):
            for way in ways.values():
                release_once(admin, way)
    for way in ways.values():
        count = len(way.answered)
        print(f"{way.name:8} release answered {_ms(way.answered)}; "
              f"document at the printer {_ms(way.on_paper)} ({count} releases)")  # fmt: skip


if __name__ == "__main__":
    main()
