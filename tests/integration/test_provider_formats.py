"""Formats: a queue accepts only what can reach its printer, and converts the rest.

Real processes over real sockets: an App Server, a Print Provider and CUPS' ippeveprinter
printers started as the demo starts them (PDF, PWG raster and text only), one taking PWG
raster alone, one that is off when the provider starts, and a ``socket://`` PostScript
printer (a TCP sink). Before the fix (issue 16) every queue advertised PostScript, JPEG,
PNG, URF and octet-stream whatever its printer took: those jobs got ``successful-ok`` and
were then aborted with "printer refused … document-format", and random bytes or an office
file were accepted the same way.
"""

from __future__ import annotations

import io
import socket
import sqlite3
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from PIL import Image

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import (
    Attribute,
    Collection,
    JobState,
    StatusCode,
    ValueTag,
)
from printwarden.provider.ipp.builders import AttributeInput
from printwarden.provider.ipp.client import IppClient, IppError
from printwarden.sim.ports import free_port
from printwarden.testing.corpus.generate import POSTSCRIPT, build_pdf
from support.appserver import AppServer
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec, spool_documents
from support.seeding import PRICES, wait_for

WAIT_SECONDS = 30.0
LETTER = {"grey_simplex": 12, "grey_duplex": 9, "colour_simplex": 55, "colour_duplex": 50}
PDF, PS, PWG = "application/pdf", "application/postscript", "image/pwg-raster"
JPEG, PNG, TEXT, OCTET = "image/jpeg", "image/png", "text/plain", "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONVERTIBLE = [PDF, PS, PWG, JPEG, PNG, "image/tiff", "image/gif", TEXT, OCTET]
Attributes = Mapping[str, AttributeInput]


class Sink:
    """A ``socket://`` printer: keeps the bytes of each connection."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while data := connection.recv(65536):
                    chunks.append(data)
            self.received.append(b"".join(chunks))

    def close(self) -> None:
        self.server.close()


@dataclass
class Rig:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    printers: dict[str, IppEvePrinter]
    sink: Sink
    pdf_sink: Sink
    users: list[str] = field(default_factory=list)

    def client(self, queue: str, user: str = "alice") -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=user, timeout=WAIT_SECONDS)

    def submit(
        self,
        queue: str,
        data: bytes,
        mime: str,
        user: str = "alice",
        attributes: Attributes | None = None,
    ) -> int:
        with self.client(queue, user) as client:
            return client.print_job(
                data,
                document_format=mime,
                job_name=f"{queue}-job",
                requesting_user_name=user,
                attributes=attributes,
            )

    def job(self, queue: str, job_id: int) -> dict[str, Any]:
        with self.client(queue) as client:
            group = client.get_job_attributes(job_id)
        return {name: group.value(name) for name in group}

    def completed(self, queue: str, job_id: int) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job = self.job(queue, job_id)
            state, message = job["job-state"], job["job-state-message"]
            assert state in (JobState.PENDING, JobState.PROCESSING, 9), (state, message)
            return job if job["job-state"] == JobState.COMPLETED else None

        found: dict[str, Any] = wait_for(done, f"job {job_id} completed", WAIT_SECONDS)
        return found

    def queue(self, queue: str) -> dict[str, list[Any]]:
        with self.client(queue) as client:
            group = client.get_printer_attributes()
        return {name: group.values_of(name) for name in group}

    def arrived(self, printer: str, job_id: int) -> bytes:
        """What the printer received for the provider's job ``job_id``."""
        row = self.spool_row(job_id)
        return self.printers[printer].wait_for_document(int(row["printer_job_id"]))

    def spool_row(self, job_id: int) -> dict[str, Any]:
        database = self.provider.directory / "data" / "state.db"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        assert row is not None
        return dict(row)

    def new_user(self) -> str:
        name = f"user{len(self.users)}"
        created = self.admin.post("/users", json={"username": name, "restricted": False})
        assert created.status_code == 201, created.text
        self.users.append(name)
        return name

    def balance(self, username: str) -> int:
        value: int = self.admin.get(f"/users/{username}").json()["balance"]
        return value

    def charged(self, username: str, amount: int) -> None:
        wait_for(lambda: self.balance(username) == -amount, f"{amount} charged to {username}")

    def jobs_count(self) -> int:
        database = self.provider.directory / "data" / "state.db"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("formats")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    printers: dict[str, IppEvePrinter] = {}
    sink, pdf_sink = Sink(), Sink()
    provider: ProviderProcess | None = None
    admin: httpx.Client | None = None
    late_port = free_port()
    try:
        app.start()
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"},
            timeout=WAIT_SECONDS,
        )
        printers["photo"] = IppEvePrinter("pw-formats-photo", color=True)
        printers["raster"] = IppEvePrinter("pw-formats-raster", color=False, formats=(PWG,))
        for printer in printers.values():
            printer.start()
        specs = [
            PrinterSpec("photo", printers["photo"].uri, colour=None),
            PrinterSpec("raster", printers["raster"].uri, colour=None),
            PrinterSpec("late", f"ipp://localhost:{late_port}/ipp/print", colour=None),
            PrinterSpec("postscript", f"socket://127.0.0.1:{sink.port}", formats=[PS]),
            PrinterSpec("pdf-socket", f"socket://127.0.0.1:{pdf_sink.port}", formats=[PDF]),
        ]
        prices = {
            "photo": {"A4": PRICES, "letter": LETTER},  # no default: 4x6 is unpriced
            "raster": {"default": PRICES},
            "late": {"default": PRICES},
            "postscript": {"default": PRICES},
            "pdf-socket": {"default": PRICES},
        }
        for spec in specs:
            body = {"name": spec.name, "cost_model": {"sizes": prices[spec.name]}}
            assert admin.post("/printers", json=body).status_code == 201
        # The user jobs are refused for by format (a user the server does not know would be
        # refused first, for that).
        assert admin.post("/users", json={"username": "alice"}).status_code == 201
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=specs,
            queues=[
                QueueSpec("photo", "direct", "photo"),
                QueueSpec("raster", "direct", "raster"),
                QueueSpec("late", "direct", "late"),
                QueueSpec("postscript", "direct", "postscript"),
                QueueSpec("pdfsocket", "direct", "pdf-socket"),
                QueueSpec("fitted", "direct", "photo", fit_to_paper=True),
                QueueSpec("anywhere", "findme", "photo"),
            ],
            extra=["printer_refresh_seconds = 1.0", "printer_first_wait_seconds = 3.0"],
        )
        provider.start()
        # Off while the provider started; started by the test that needs it.
        printers["late"] = IppEvePrinter(
            "pw-formats-late", color=False, formats=(PDF,), port=late_port
        )
        yield Rig(app, admin, provider, printers, sink, pdf_sink)
    finally:
        if provider is not None:
            provider.stop()
        sink.close()
        pdf_sink.close()
        for printer in printers.values():
            printer.stop()
        if admin is not None:
            admin.close()
        app.stop()


def jpeg(colour: str = "red", size: tuple[int, int] = (600, 400), dpi: int = 150) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", dpi=(dpi, dpi))
    return out.getvalue()


def png_grey() -> bytes:
    out = io.BytesIO()
    Image.new("L", (300, 300), 128).save(out, "PNG")
    return out.getvalue()


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def pdf_pages(data: bytes) -> int:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def refused(
    rig: Rig,
    queue: str,
    data: bytes,
    mime: str,
    attributes: Attributes | None = None,
) -> IppError:
    with pytest.raises(IppError) as raised:
        rig.submit(queue, data, mime, attributes=attributes)
    return raised.value


# --- what each queue advertises ---------------------------------------------------------------


def test_each_queue_advertises_what_reaches_its_printer(rig: Rig) -> None:
    photo = rig.queue("photo")
    assert photo["document-format-supported"] == CONVERTIBLE
    assert "urf-supported" not in photo  # nothing turns into Apple raster for this printer
    # Learnt from the printer (the configuration sets neither): colour, and its paper.
    assert photo["color-supported"] == [True]
    assert "na_index-4x6_4x6in" in photo["media-supported"]
    raster = rig.queue("raster")
    assert raster["document-format-supported"] == CONVERTIBLE
    assert raster["color-supported"] == [False]
    postscript = rig.queue("postscript")
    assert PWG not in postscript["document-format-supported"]
    assert {PDF, PS, JPEG, PNG, TEXT} <= set(postscript["document-format-supported"])
    # A Find-Me job may print at any printer: only what every one of them can be sent.
    anywhere = rig.queue("anywhere")["document-format-supported"]
    assert PWG not in anywhere
    assert {PDF, PS, JPEG, PNG, TEXT, OCTET} <= set(anywhere)


# --- converted, delivered, charged ------------------------------------------------------------


def test_postscript_images_and_text_arrive_as_the_printer_takes_them_and_are_charged(
    rig: Rig,
) -> None:
    user = rig.new_user()
    text = "".join(f"text line {n}\n" for n in range(70)).encode()  # two pages
    jobs = {
        "ps": rig.submit("photo", POSTSCRIPT, PS, user),
        "jpeg": rig.submit("photo", jpeg(), JPEG, user),
        "png": rig.submit("photo", png_grey(), PNG, user),
        "text": rig.submit("photo", text, TEXT, user),
    }
    for job_id in jobs.values():
        rig.completed("photo", job_id)
    ps, photo, grey = (rig.arrived("photo", jobs[k]) for k in ("ps", "jpeg", "png"))
    assert [pdf_pages(d) if d.startswith(b"%PDF") else -1 for d in (ps, photo, grey)] == [3, 1, 1]
    assert rig.arrived("photo", jobs["text"]) == text  # the printer takes text
    assert rig.job("photo", jobs["ps"])["document-format"] == PS  # as the client sent it
    # On the printer's letter paper: PostScript 2 grey + 1 colour page, a colour photo,
    # a grey image, two pages of text.
    rig.charged(user, (2 * 12 + 55) + 55 + 12 + 2 * 12)


def test_a_pdf_reaches_a_raster_only_printer_as_pwg_raster(rig: Rig, tmp_path: Path) -> None:
    user = rig.new_user()
    source = tmp_path / "doc.pdf"
    build_pdf(["red-rect", "text"], lines=5).save(source)
    job_id = rig.submit("raster", source.read_bytes(), PDF, user)
    rig.completed("raster", job_id)
    assert rig.arrived("raster", job_id).startswith(b"RaS2")
    rig.charged(user, 2 * 10)  # rendered grey for a monochrome printer: two grey pages


def test_a_jpeg_reaches_a_postscript_printer_as_postscript(rig: Rig) -> None:
    before = len(rig.sink.received)
    job_id = rig.submit("postscript", jpeg(), JPEG, rig.new_user())
    rig.completed("postscript", job_id)
    wait_for(lambda: len(rig.sink.received) > before, "the document at the socket printer")
    assert rig.sink.received[-1].startswith(b"%!PS")


def test_octet_stream_is_sniffed_and_converted(rig: Rig) -> None:
    job_id = rig.submit("photo", jpeg("blue"), OCTET, rig.new_user())
    rig.completed("photo", job_id)
    assert rig.arrived("photo", job_id).startswith(b"%PDF")


# --- refused at submission --------------------------------------------------------------------


def test_what_cannot_be_delivered_is_refused_at_submission_and_nothing_kept(rig: Rig) -> None:
    data = rig.provider.directory / "data"
    documents, jobs = spool_documents(data), rig.jobs_count()
    urf = b"UNIRAST\x00" + bytes(100)
    random_bytes = bytes(range(256)) * 64
    cases = [
        (docx(), DOCX),  # an office document, declared
        (docx(), OCTET),  # the same, as lp sends it
        (random_bytes, OCTET),  # nothing recognisable
        (docx(), JPEG),  # declared as an image, but its bytes say otherwise
        (urf, "image/urf"),  # Apple raster: this printer cannot be sent it
    ]
    for document, mime in cases:
        error = refused(rig, "photo", document, mime)
        assert error.status == StatusCode.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED, mime
        assert "application/pdf" in error.message  # says what the queue takes
    with rig.client("photo") as client, pytest.raises(IppError) as raised:
        client.validate_job(document_format=DOCX)  # the header alone says it
    assert raised.value.status == StatusCode.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED
    assert (spool_documents(data), rig.jobs_count()) == (documents, jobs)


def test_paper_the_queue_lacks_is_refused_unless_the_queue_fits_it(rig: Rig) -> None:
    a3 = {"media": "iso_a3_297x420mm"}
    error = refused(rig, "photo", jpeg(), JPEG, a3)
    assert error.status == StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED
    assert "A3" in error.message
    user = rig.new_user()
    job_id = rig.submit("fitted", jpeg(), JPEG, user, a3)
    rig.completed("fitted", job_id)
    arrived = rig.arrived("photo", job_id)
    with pikepdf.open(io.BytesIO(arrived)) as pdf:
        box = pdf.pages[0].mediabox
        assert sorted((round(box[2]), round(box[3]))) == [612, 792]  # the printer's letter
    rig.charged(user, 55)


def test_a_4x6_photo_is_charged_at_the_printers_default_price_not_0(rig: Rig) -> None:
    user = rig.new_user()
    size = Collection(
        [
            Attribute.of("x-dimension", ValueTag.INTEGER, 10160),
            Attribute.of("y-dimension", ValueTag.INTEGER, 15240),
        ]
    )
    media_col = Collection([Attribute.of("media-size", ValueTag.BEG_COLLECTION, size)])
    photo = jpeg(size=(1200, 1800), dpi=300)  # 4 x 6 inches
    job_id = rig.submit("photo", photo, JPEG, user, {"media-col": media_col})
    rig.completed("photo", job_id)
    with pikepdf.open(io.BytesIO(rig.arrived("photo", job_id))) as pdf:
        box = pdf.pages[0].mediabox
        assert (round(box[2]), round(box[3])) == (288, 432)  # on 4x6 paper
    rig.charged(user, 55)  # 4x6 has no price: the dearest listed colour page


# --- a printer off at start -------------------------------------------------------------------


def test_a_printer_off_at_start_does_not_hold_the_provider_and_is_learnt_later(rig: Rig) -> None:
    late = rig.queue("late")
    assert late["color-supported"] == [True]  # the configuration's default, for now
    rig.printers["late"].start()
    wait_for(lambda: rig.queue("late")["color-supported"] == [False], "learnt: monochrome")
    assert PWG not in rig.queue("late")["document-format-supported"]  # it takes PDF only
    job_id = rig.submit("late", jpeg(), JPEG, rig.new_user())
    rig.completed("late", job_id)
    assert rig.arrived("late", job_id).startswith(b"%PDF")
    # The last known capabilities are kept for the next start.
    assert (rig.provider.directory / "data" / "printers.json").exists()


# --- a crash while converting -------------------------------------------------------------------

SLOW_POSTSCRIPT = (  # a few seconds of Ghostscript, then one page
    b"%!PS\n0 1 60000000 { pop } for\n"
    b"/Helvetica findfont 24 scalefont setfont 72 720 moveto (slow page) show showpage\n"
)


def converting(provider_pid: int) -> bool:
    """Whether the provider runs Ghostscript to convert a job (not to analyse one)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        gs = any(part.endswith(b"gs") for part in command[:4])
        if parent == provider_pid and gs and not any(b"printwarden-ps-" in p for p in command):
            return True
    return False


def test_kill_9_while_converting_converts_again_and_prints_once(rig: Rig) -> None:
    """The job is marked as being sent only once it is converted: before issue 16 it was
    marked first, so a crash during a conversion stopped a raw-socket job for good
    ("interrupted while sending") although not a byte had been sent."""
    user = rig.new_user()
    before = len(rig.pdf_sink.received)
    job_id = rig.submit("pdfsocket", SLOW_POSTSCRIPT, PS, user)
    assert rig.provider.process is not None
    pid = rig.provider.process.pid
    wait_for(lambda: converting(pid), "Ghostscript converting the job", 90)
    rig.provider.kill9()
    rig.provider.start()
    rig.completed("pdfsocket", job_id)
    wait_for(lambda: len(rig.pdf_sink.received) > before, "the document at the printer")
    time.sleep(1.0)
    assert len(rig.pdf_sink.received) == before + 1
    assert rig.pdf_sink.received[-1].startswith(b"%PDF")
    rig.charged(user, 10)
