"""CUPS ipptool's stock conformance suites against our queues.

The suites come from Debian's cups-ipp-utils; the documents they print (which Debian does
not ship) are generated here with Ghostscript. ``EXPECTED_FAILURES`` lists tests we know to
fail, each with its reason; it is empty for IPP/1.1 and IPP/2.0.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.domain.accounts import Role
from support.appserver import AppServer
from support.provider import PrinterSpec, ProviderProcess, QueueSpec

SUITES_DIR = Path("/usr/share/cups/ipptool")
SUITES = ["ipp-1.1.test", "ipp-2.0.test", "ipp-2.1.test", "ipp-2.2.test"]
NO_SUBSCRIPTIONS = (
    "IPP/2.1 requires event subscriptions and notifications (RFC 3995/3996) and printer "
    "administration (Pause/Resume/Purge, Set-*-Attributes, job-sheets, job-priority): a print "
    "management queue has no use for them yet; they come with the web interface and devices."
)
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "ipp-1.1.test": {},
    "ipp-2.0.test": {},
    "ipp-2.1.test": {
        "PWG 5100.12 section 6.3 - Required Printer Description Attributes": NO_SUBSCRIPTIONS
    },
    "ipp-2.2.test": {
        "PWG 5100.12 section 6.3 - Required Printer Description Attributes": NO_SUBSCRIPTIONS,
        "PWG 5100.12 section 6.4 - Required Printer Description Attributes": (
            "IPP/2.2 requires multiple-document jobs, number-up, page-ranges, overrides and "
            "printer alerts from the device; the provider keeps one document per job and passes "
            "imposition to the printer."
        ),
    },
}
RESULT = re.compile(r"^\s+(?P<name>.+?)\s+\[(?P<result>PASS|FAIL|SKIP)\]\s*$")


def _gs(out: Path, *args: str) -> None:
    command = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", f"-sOutputFile={out}", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _page(size: str) -> list[str]:
    return [
        f"-sPAPERSIZE={size}",
        "-dFIXEDMEDIA",
        "-c",
        "/Helvetica findfont 24 scalefont setfont 72 720 moveto (printwarden) show showpage",
    ]


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stock suites beside the documents they print."""
    if not shutil.which("ipptool") or not (SUITES_DIR / "ipp-1.1.test").exists():
        raise RuntimeError("ipptool and its suites are missing: apt-get install cups-ipp-utils")
    folder = tmp_path_factory.mktemp("ipptool")
    for suite in SUITES:
        shutil.copy(SUITES_DIR / suite, folder / suite)
    for size, name in (("a4", "a4"), ("letter", "letter")):
        _gs(folder / f"document-{name}.pdf", "-sDEVICE=pdfwrite", *_page(size))
        _gs(folder / f"document-{name}.ps", "-sDEVICE=ps2write", *_page(size))
    colour = ["-g64x64", "-c", "1 0 0 setrgbcolor 0 0 64 64 rectfill showpage"]
    _gs(folder / "color.jpg", "-sDEVICE=jpeg", *colour)
    _gs(folder / "gray.jpg", "-sDEVICE=jpeggray", *colour)
    return folder


@pytest.fixture(scope="module")
def conformance_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    """A provider whose server knows the user ipptool prints as (this process's user)."""
    root = tmp_path_factory.mktemp("conformance")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    token = app.token(Role.ADMIN, "conformance-admin")
    with httpx.Client(base_url=app.api, headers={"Authorization": f"Bearer {token}"}) as admin:
        admin.post("/printers", json={"name": "printer"}).raise_for_status()
        user = {"username": getpass.getuser(), "restricted": False}
        admin.post("/users", json=user).raise_for_status()
    provider = ProviderProcess(
        server_url=app.url,
        token=app.token(Role.PROVIDER),
        directory=root,
        printers=[PrinterSpec("printer", f"file://{root / 'out'}")],
        queues=[QueueSpec("direct", "direct", "printer")],
    )
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()
        app.stop()


def run_suite(folder: Path, suite: str, uri: str) -> dict[str, str]:
    result = subprocess.run(
        ["ipptool", "-t", "-T", "30", uri, suite],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    outcomes: dict[str, str] = {}
    for line in result.stdout.splitlines():
        match = RESULT.match(line)
        if match:
            outcomes[match["name"]] = match["result"]
    assert outcomes, result.stdout + result.stderr
    return outcomes


@pytest.mark.parametrize("suite", SUITES)
def test_stock_suite_passes(
    suites: Path, conformance_provider: ProviderProcess, suite: str
) -> None:
    outcomes = run_suite(suites, suite, conformance_provider.uri("direct"))
    failed = {name for name, result in outcomes.items() if result == "FAIL"}
    expected = set(EXPECTED_FAILURES[suite])
    assert failed == expected, f"unexpected: {failed - expected}; now passing: {expected - failed}"
    assert sum(1 for r in outcomes.values() if r == "PASS") > 0
