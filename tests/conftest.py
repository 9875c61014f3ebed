"""Shared fixtures: throwaway databases; the App Server's app in this process (SQLite, and both
backends for concurrency tests); one Chromium per browser-test module."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from printwarden.domain.accounts import Role
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.testing import forkserver
from printwarden.testing.appserver import Seeding
from printwarden.testing.cluster import Cluster
from printwarden.testing.inprocess import STREAM_MINUTES, InProcessAppServer
from support.browser import chromium
from support.databases import postgres_server, throwaway_postgres

BACKENDS = ["sqlite", "postgresql"]
CLUSTER_ENV = "PRINTWARDEN_TEST_CLUSTER"
PROVIDER_NAME = "authz-provider"  # the provider the role_tokens' provider token is bound to


# Run in parallel (pytest-xdist, ``--dist loadfile``), each module stays on one worker, so
# its module fixtures start once; modules that must not run beside each other share a worker.
# The demos: each starts a private avahi-daemon on the loopback interface, and two at once
# can upset each other.
SHARED_WORKER = {
    "test_demo.py": "demo",
    "test_demo_stop.py": "demo",
    "test_demo_sites.py": "demo",
    # LibreOffice: each of these starts workers that take a core while they start; one
    # module at a time, so that the timing-sensitive tests on the other workers keep theirs.
    "test_rendering_pool.py": "office",
    "test_web_print_portal.py": "office",
    "test_web_print_hang.py": "office",
}


# The longest modules (most of their time spent waiting on what they test: a site noticing a
# cut link, ippeveprinter printing, the demo) start first, so that in parallel no worker is
# left with one of them at the end while the others idle. Measured with -n 3, 2026-12-05.
LONGEST_FIRST = [
    "test_demo.py", "test_demo_stop.py", "test_demo_sites.py",  # one worker, about 90 s
    "test_ipp_conformance.py", "test_cluster.py", "test_offline_policies.py", "test_site_trust.py",
    "test_functions_matrix.py", "test_api_schemathesis.py", "test_outages.py",
    "test_login_flood.py", "test_conversions_corpus.py", "test_login_throttle.py",
    "test_store_replication.py", "test_web_console.py", "test_site_links.py", "test_chaos.py",
    "test_mobility_mdns.py", "test_mobility_unicast.py", "test_web_print_portal.py",
    "test_rendering_pool.py", "test_user_client_site.py", "test_user_client.py",
    "test_scanning_site.py",
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the modules of :data:`LONGEST_FIRST` first, in that order (each keeps its own
    order of tests, and every other module the order it was collected in)."""
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the modules of :data:`SHARED_WORKER` on one worker.

    (xdist's own ``loadgroup`` cannot do it under pytest 9: it renames ``item._nodeid`` to
    add the group, which pytest 9 no longer reads, so every group is ignored.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedWorkerScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            scope: str = super()._split_scope(nodeid)
            return SHARED_WORKER.get(Path(scope).name, scope)

    return SharedWorkerScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def forked_servers() -> Iterator[None]:
    """Start the harness's server processes from one fork server that has imported them
    (``printwarden.testing.forkserver``): real processes without a second of imports each."""
    forkserver.enable()
    yield
    forkserver.disable()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A reachable PostgreSQL server URL (started privately when none is running)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with throwaway_postgres(pg_server) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def hq(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty App Server database on each backend, for tests in process."""
    url = (
        f"sqlite:///{tmp_path / 'hq.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    upgrade(url)
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


def _database_url(backend: str, directory: Path, pg_server: Callable[[], str]) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'printwarden.db'}"
        return
    with throwaway_postgres(pg_server()) as url:
        yield url


def _served_app(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, backend: str
) -> Iterator[InProcessAppServer]:
    directory = factory.mktemp(f"app-{backend}")
    urls = _database_url(backend, directory, lambda: str(request.getfixturevalue("pg_server")))
    server = InProcessAppServer(next(urls), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for _ in urls:
            pass


@pytest.fixture(scope="session")
def app_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessAppServer]:
    """The App Server's app in this process, over a throwaway SQLite database, shared by the
    API tests (each names what it makes with ``unique``). PostgreSQL runs the store,
    ledger, replication and migration tests, and the API's concurrency tests
    (``app_on_each_backend``).

    With ``PRINTWARDEN_TEST_CLUSTER=N`` in the environment it is instead N App Server
    processes on a throwaway PostgreSQL behind HAProxy (``testing/cluster.py``): the API and
    authorization suites run through the load balancer unchanged (``test_cluster.py``)."""
    size = int(os.environ.get(CLUSTER_ENV, "0") or "0")
    if size:
        yield from _cluster(request, tmp_path_factory, size)  # type: ignore[misc]
        return
    yield from _served_app(request, tmp_path_factory, "sqlite")


def _cluster(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, size: int
) -> Iterator[Cluster]:
    with throwaway_postgres(str(request.getfixturevalue("pg_server"))) as url:
        # As the app in process (testing/inprocess.py): an event stream ends after a moment.
        short = {"PRINTWARDEN_CLIENT__STREAM_MINUTES": str(STREAM_MINUTES)}
        cluster = Cluster(url, factory.mktemp("cluster"), size=size, extra_env=short)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def app_on_each_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessAppServer]:
    """The App Server's app in this process, once per backend: for tests of concurrency."""
    yield from _served_app(request, tmp_path_factory, request.param)


@pytest.fixture(scope="session")
def role_tokens(app_server: InProcessAppServer) -> dict[Role, str]:
    """One valid token per role against ``app_server``."""
    return tokens_of_each_role(app_server)


def tokens_of_each_role(app: Seeding) -> dict[Role, str]:
    """One valid token per role against ``app`` (the provider's bound to ``PROVIDER_NAME``)."""
    suffix = uuid.uuid4().hex[:8]
    return {
        Role.ADMIN: app.token(Role.ADMIN, f"admin-{suffix}"),
        Role.USER: app.token(Role.USER, f"person-{suffix}"),
        Role.SITE: app.token(Role.SITE, scope="north"),
        Role.PROVIDER: app.token(Role.PROVIDER, scope=f"provider:{PROVIDER_NAME}"),
        Role.DEVICE: app.device_token(f"authz-device-{suffix}"),
        Role.CLIENT: app.token(Role.CLIENT, f"client-{suffix}"),
    }


def _client(app_server: InProcessAppServer, token: str | None) -> Iterator[httpx.Client]:
    with app_server.client(token) as client:
        yield client


@pytest.fixture
def admin(app_server: InProcessAppServer, role_tokens: dict[Role, str]) -> Iterator[httpx.Client]:
    yield from _client(app_server, role_tokens[Role.ADMIN])


_served: dict[str, set[str]] = {}  # per App Server: the printers that provider registered


@pytest.fixture
def provider(
    app_server: InProcessAppServer, role_tokens: dict[Role, str]
) -> Iterator[httpx.Client]:
    """The provider of ``role_tokens``. Before it reports a job at a printer it registers as
    serving that printer too, as a real provider has at start-up: a bound provider token
    reaches only the printers its provider registered (``service/component_scope.py``)."""
    token = role_tokens[Role.PROVIDER]
    served = _served.setdefault(app_server.url, set())

    def serve(request: httpx.Request) -> None:
        if not request.url.path.endswith(("/jobs/decision", "/jobs/printed")):
            return
        try:
            printer = json.loads(request.content).get("printer")
        except (ValueError, AttributeError):
            return
        if not isinstance(printer, str) or printer in served:
            return
        served.add(printer)
        body = {"name": PROVIDER_NAME, "ipp_url": "ipp://127.0.0.1/ipp/print",
                "printers": [{"name": name} for name in sorted(served)]}  # fmt: skip
        with app_server.client(token) as registering:
            answer = registering.post("/providers/register", json=body)
        assert answer.status_code == 200, answer.text

    with app_server.client(token) as client:
        client.event_hooks = {"request": [serve]}
        yield client


@pytest.fixture
def device(app_server: InProcessAppServer, role_tokens: dict[Role, str]) -> Iterator[httpx.Client]:
    yield from _client(app_server, role_tokens[Role.DEVICE])


@pytest.fixture
def anonymous(app_server: InProcessAppServer) -> Iterator[httpx.Client]:
    yield from _client(app_server, None)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to one test, since a server is shared by the tests of a backend."""
    suffix = uuid.uuid4().hex[:8]
    return lambda base: f"{base}-{suffix}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, shared by the tests of one module."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a module's screenshots go (also docs/screens/ with PRINTWARDEN_SCREENS=1)."""
    return tmp_path_factory.mktemp("screens")
