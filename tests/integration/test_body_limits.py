"""Request bodies are bounded at the App Server and the Site Server: a huge body, declared or
chunked, is refused with 413 problem+json before it is buffered, the server's memory does
not grow by the body's size, and the next request works."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.appserver import AppServer
from support.site import SiteProcess, app_and_site

MIB = 1024 * 1024
HUGE = 300 * MIB  # what the review sent to a Site Server
CHUNK = b"x" * MIB


@dataclass
class Servers:
    app: AppServer
    site: SiteProcess
    admin_token: str
    site_token: str


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with app_and_site(tmp_path_factory.mktemp("limits")) as both:
        yield Servers(both.app, both.site, both.admin_token, both.site.token)


def _stream(total: int) -> Iterator[bytes]:
    """``total`` bytes, a mebibyte at a time: never held whole by the test."""
    for _ in range(total // MIB):
        yield CHUNK


def _pid(servers: Servers, which: str) -> int:
    process = servers.app.process if which == "app" else servers.site.process
    assert process is not None
    return process.pid


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _reset_peak(pid: int) -> None:
    """Start the process's peak resident size (``VmHWM``) afresh from its current size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _post(url: str, total: int, declared: bool, token: str = "") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(total)  # else httpx sends it chunked
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, content=_stream(total), headers=headers, timeout=120)


@pytest.mark.parametrize("which", ["app", "site"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/sites/north/journal"])
def test_a_huge_body_gets_413_and_the_server_does_not_grow_by_it(
    servers: Servers, which: str, declared: bool, path: str
) -> None:
    base = servers.app.url if which == "app" else servers.site.url
    pid = _pid(servers, which)
    _reset_peak(pid)
    before = _peak_kb(pid)
    token = servers.site_token if "journal" in path else servers.admin_token
    answer = _post(base + path, HUGE, declared, token)
    growth_mib = (_peak_kb(pid) - before) / 1024
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["status"], problem["title"]) == (413, "Content Too Large")
    assert "bytes" in problem["detail"]
    assert growth_mib < 64, f"the server grew by {growth_mib:.0f} MiB for a 300 MiB body"
    # The server goes on: the next request on a new connection is answered as usual.
    health = httpx.get(f"{base}/api/v1/health", timeout=10)
    assert health.status_code == 200
    who = httpx.get(f"{base}/api/v1/users?limit=1", timeout=10,
                    headers={"Authorization": f"Bearer {servers.admin_token}"})  # fmt: skip
    assert who.status_code == 200, who.text


@pytest.mark.parametrize("which", ["app", "site"])
def test_routes_with_big_data_take_more_than_the_default_and_no_more_than_theirs(
    servers: Servers, which: str
) -> None:
    base = servers.app.url if which == "app" else servers.site.url
    four_mib = 4 * MIB  # over the 2 MiB default, under the held-job reports' 8 MiB
    assert _post(f"{base}/api/v1/printers", four_mib, True).status_code == 413
    reports = _post(f"{base}/api/v1/held-jobs/reports", four_mib, True)
    assert reports.status_code != 413  # read whole, then refused for what it is (not JSON)
    assert reports.status_code in (401, 422), reports.text
    assert _post(f"{base}/api/v1/held-jobs/reports", 9 * MIB, False).status_code == 413


def test_limits_are_configurable(tmp_path: Path) -> None:
    small = AppServer(f"sqlite:///{tmp_path / 'app.db'}", tmp_path,
                      extra_env={"PRINTWARDEN_LIMITS__DEFAULT_BYTES": str(100_000)})  # fmt: skip
    small.start()
    try:
        refused = _post(f"{small.api}/printers", MIB, False)
        assert refused.status_code == 413
        assert "100000 bytes" in refused.json()["detail"]
        login = httpx.post(f"{small.api}/auth/login", json={"username": "x", "password": "y"})
        assert login.status_code == 401
    finally:
        small.stop()
