"""CUPS 2.4 as a client, the way a site sets it up: a driverless queue in front of ours.

A private cupsd (``support.cupsd``) gets ``lpadmin -p office -E -v ipp://…/ipp/print/office
-m everywhere``: CUPS reads the queue's attributes, writes a PPD from them, and from then on
converts each document to a format the queue says it takes, then sends it with its ``ipp``
back-end. ``lp`` of PDF, PostScript, JPEG, PNG and text must each arrive at the
ippeveprinter behind the queue (which, like the demo's, takes PDF, PWG raster and text
only) and be charged. With ``-o raw`` CUPS sends the file untouched as
``application/octet-stream``: the provider sniffs and converts it itself.

Before issue 16 the queue advertised JPEG, PNG and PostScript; CUPS passed those through
and the printer refused them after the provider had said ``successful-ok``.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from printwarden.domain.accounts import Role
from printwarden.testing.corpus.generate import POSTSCRIPT
from printwarden.testing.cupsd import Cupsd
from support.appserver import AppServer
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import PRICES, wait_for

WAIT_SECONDS = 60.0  # CUPS' filters and back-end take their time on a busy machine
QUEUE = "office"


@dataclass
class Site:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    printer: IppEvePrinter
    cups: Cupsd
    users: int = 0

    def new_user(self) -> str:
        self.users += 1
        name = f"cupsuser{self.users}"
        created = self.admin.post("/users", json={"username": name, "restricted": False})
        assert created.status_code == 201, created.text
        return name

    def balance(self, username: str) -> int:
        value: int = self.admin.get(f"/users/{username}").json()["balance"]
        return value

    def provider_jobs(self, user: str) -> list[dict[str, object]]:
        database = self.provider.directory / "data" / "state.db"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM jobs WHERE user = ? ORDER BY id", (user,))
            return [dict(row) for row in rows]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("cups-client")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    printer = IppEvePrinter("pw-cups-office", color=True)
    cups = Cupsd()
    provider: ProviderProcess | None = None
    admin: httpx.Client | None = None
    try:
        app.start()
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"},
            timeout=WAIT_SECONDS,
        )
        body = {"name": "office", "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
        printer.start()
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=[PrinterSpec("office", printer.uri, colour=None)],
            queues=[QueueSpec(QUEUE, "direct", "office")],
        )
        provider.start()
        cups.start()
        cups.add_everywhere_queue(QUEUE, provider.uri(QUEUE))
        yield Site(app, admin, provider, printer, cups)
    finally:
        cups.stop()
        if provider is not None:
            provider.stop()
        printer.stop()
        if admin is not None:
            admin.close()
        app.stop()


def _documents(directory: Path) -> dict[str, bytes]:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), "red").save(out, "JPEG", dpi=(150, 150))
    photo = out.getvalue()
    out = io.BytesIO()
    Image.new("L", (300, 300), 90).save(out, "PNG")
    grey = out.getvalue()
    pdf = directory / "doc.pdf"
    pdf.write_bytes(_pdf())
    return {
        "doc.pdf": pdf.read_bytes(),
        "doc.ps": POSTSCRIPT,
        "photo.jpg": photo,
        "grey.png": grey,
        "notes.txt": "".join(f"line {n}\n" for n in range(20)).encode(),
    }


def _pdf() -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.add_blank_page(page_size=(595, 842))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


# What each document costs as printed (PRICES: 10 a grey page, 50 a colour one), and the
# format CUPS sends it in through its filters: images pass through (the queue takes them and
# the provider converts them), the rest becomes PDF.
EXPECTED = {
    "doc.pdf": (2 * 10, "application/pdf"),
    "doc.ps": (10 + 50 + 10, "application/pdf"),
    "photo.jpg": (50, "image/jpeg"),
    "grey.png": (10, "image/png"),
    "notes.txt": (10, "application/pdf"),
}


@pytest.mark.parametrize("raw", [False, True], ids=["cups-filters", "raw"])
@pytest.mark.parametrize("name", list(EXPECTED))
def test_lp_through_a_driverless_cups_queue_arrives_and_is_charged(
    site: Site, tmp_path: Path, name: str, raw: bool
) -> None:
    document = tmp_path / name
    document.write_bytes(_documents(tmp_path)[name])
    cost, sent_as = EXPECTED[name]
    user = site.new_user()
    before = set(site.printer.documents())
    job = site.cups.lp(QUEUE, document, user, *(["raw"] if raw else []))
    wait_for(lambda: site.cups.job_done(QUEUE, job), f"CUPS job {job} sent", WAIT_SECONDS)
    arrived = wait_for(
        lambda: set(site.printer.documents()) - before,
        f"{name} at the printer\n{site.cups.log_tail()}",
        WAIT_SECONDS,
    )
    [ours] = site.provider_jobs(user)
    assert ours["format"] == ("application/octet-stream" if raw else sent_as)
    assert ours["state"] == 9, ours["message"]
    assert len(arrived) == 1
    received = site.printer.wait_for_document(arrived.pop())
    if name == "notes.txt" and raw:
        assert received == document.read_bytes()  # the printer takes text as it is
    else:
        assert received.startswith(b"%PDF"), received[:16]
    wait_for(lambda: site.balance(user) == -cost, f"{cost} charged to {user}")
