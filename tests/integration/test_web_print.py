"""Web Print over the API, end to end: a real App Server renders an upload, its Print
Provider fetches it and holds it, a device releases it, the ippeveprinter receives it and
the charge is the cost the upload was shown.

Office documents (LibreOffice) and the portal in a browser are in ``test_web_print_portal``.
"""

from __future__ import annotations

import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from PIL import Image
from test_held_jobs import COLOUR_PAGE, GREY_PAGE, Device, pdf, wait_received

from printwarden.analysis import analyze
from printwarden.service.web_print import upload_name
from printwarden.store import settings
from printwarden.testing import office_corpus
from support.devices import DeviceRig, device_rig
from support.provider import QueueSpec
from support.seeding import PRICES, wait_for

PRINTER_COLOURS = {"colour-laser": True, "mono-laser": False}
QUEUES = [
    QueueSpec("secure", "hold", "mono-laser"),
    QueueSpec("secure-colour", "hold", "colour-laser"),
    QueueSpec("findme", "findme"),
    QueueSpec("direct-colour", "direct", "colour-laser"),
]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    with device_rig(tmp_path_factory.mktemp("webprint"), PRINTER_COLOURS, QUEUES) as world:
        yield world


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


class Person:
    """A user with a balance, a card and an API session."""

    def __init__(self, rig: DeviceRig, balance: int = 10_000) -> None:
        self.card = uuid.uuid4().hex[:12]
        self.name = rig.add_user(balance, cards=[self.card], password=PASSWORD)
        login = httpx.post(
            f"{rig.app.api}/auth/login",
            json={"username": self.name, "password": PASSWORD},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        self.token = str(login.json()["token"])
        self.http = httpx.Client(
            base_url=rig.app.api, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def upload(self, name: str, data: bytes, **fields: Any) -> httpx.Response:
        form = {k: str(v) for k, v in fields.items()}
        form.setdefault("queue", "secure-colour")
        return self.http.post("/me/web-print", files={"file": (name, data)}, data=form)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/me/web-print/{job_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def settled(self, job_id: str) -> dict[str, Any]:
        """The job once it left the server's hands (accepted, failed or refused)."""
        return dict(
            wait_for(
                lambda: (
                    (job := self.job(job_id))["stage"] in ("accepted", "failed", "refused") and job
                ),
                f"web print {job_id} settled",
            )
        )


@pytest.fixture
def person(rig: DeviceRig) -> Iterator[Person]:
    found = Person(rig)
    yield found
    found.http.close()


def test_a_pdf_upload_is_held_then_released_at_a_device_and_charged_its_shown_cost(
    rig: DeviceRig, person: Person, documents: Path
) -> None:
    data = pdf(documents, [COLOUR_PAGE, GREY_PAGE, GREY_PAGE])

    answer = person.upload("report.pdf", data, copies=2, page_ranges="1-2")

    assert answer.status_code == 202, answer.text
    assert answer.json()["stage"] == "rendering"
    job = person.settled(answer.json()["id"])
    assert job["stage"] == "accepted", job
    assert (job["pages"], job["colour_pages"], job["copies"]) == (2, 1, 2)
    assert job["cost"] == 2 * (PRICES["colour_simplex"] + PRICES["grey_simplex"])
    held = wait_for(lambda: rig.held_job(person.name, "report.pdf"), "the job held")
    assert held["id"] == job["id"]
    assert person.job(job["id"])["state"] == "Held in a queue"
    device = Device(rig, "colour-laser")
    session = device.card(person.card)
    assert [j["cost"] for j in device.jobs(session)] == [job["cost"]]
    before = len(rig.printers["colour-laser"].documents())

    released = device.release(session, job["id"])

    assert released.status_code == 200, released.text
    received = documents / "received.pdf"
    received.write_bytes(wait_received(rig, "colour-laser", before))
    assert analyze(received, "application/pdf").pages == 2
    wait_for(lambda: rig.balance(person.name) == 10_000 - job["cost"], "the charge")
    wait_for(lambda: person.job(job["id"])["state"] == "Printed", "Printed in My jobs")


def test_an_image_sent_with_curl_is_held_as_one_grey_page(
    rig: DeviceRig, person: Person, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (600, 400), (200, 30, 30)).save(photo, "JPEG", dpi=(150, 150))
    config = tmp_path / "curl.conf"  # the token in a file, never on a command line
    config.write_text(f'header = "Authorization: Bearer {person.token}"\n')
    done = subprocess.run(
        ["curl", "-sS", "-K", str(config), "-F", f"file=@{photo}", "-F", "queue=secure",
         "-F", "grayscale=true", f"{rig.app.api}/me/web-print"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = person.settled(httpx.Response(200, text=done.stdout).json()["id"])
    assert job["stage"] == "accepted", job
    assert (job["pages"], job["colour_pages"]) == (1, 0)
    assert job["cost"] == PRICES["grey_simplex"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("setup.docx", Path("/bin/true").read_bytes(), "not a document"),
        ("noise.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8, "cannot be read"),
    ],
)
def test_what_cannot_be_printed_fails_with_a_reason(
    person: Person, name: str, content: bytes, reason: str
) -> None:
    answer = person.upload(name, content)
    assert answer.status_code == 202, answer.text
    job = person.settled(answer.json()["id"])
    assert job["stage"] == "failed"
    assert reason in job["detail"]
    assert job["state"].startswith("Could not render: ")


def test_a_password_protected_pdf_fails_saying_so(
    person: Person, documents: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(pdf(documents, [GREY_PAGE]))
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(plain) as document:
        document.save(locked, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    job = person.settled(person.upload("locked.pdf", locked.read_bytes()).json()["id"])
    assert job["stage"] == "failed"
    assert "password-protected" in job["detail"]


def test_empty_oversized_and_misaddressed_uploads_are_refused_with_a_message(
    rig: DeviceRig, person: Person
) -> None:
    empty = person.upload("empty.pdf", b"")
    assert empty.status_code == 422
    assert "empty" in empty.json()["detail"]
    nowhere = person.upload("a.txt", b"hello", queue="no-such-queue")
    assert nowhere.status_code == 422
    assert "no queue" in nowhere.json()["detail"]
    direct = person.upload("a.txt", b"hello", queue="direct-colour")
    assert direct.status_code == 422  # direct queues only where an administrator allows
    size = 200 * 2**20
    huge = person.http.post(
        "/me/web-print",
        content=(b"x" * 2**20 for _ in range(200)),
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(size)},
    )
    assert huge.status_code == 413
    assert "bytes" in huge.json()["detail"]


def test_someone_elses_job_is_not_found_and_a_provider_token_cannot_fetch_others(
    rig: DeviceRig, person: Person
) -> None:
    job = person.settled(person.upload("note.txt", b"hello\n").json()["id"])
    other = Person(rig)
    try:
        assert other.http.get(f"/me/web-print/{job['id']}").status_code == 404
        assert other.http.post(f"/me/web-print/{job['id']}/cancel").status_code == 404
        assert other.http.get("/providers/x/submissions").status_code == 403
    finally:
        other.http.close()
    thief = rig.app.token(rig_role("provider"), scope="provider:someone-else")
    stolen = httpx.get(
        f"{rig.app.api}/providers/{rig.provider.name}/submissions",
        headers={"Authorization": f"Bearer {thief}"},
        timeout=30,
    )
    assert stolen.status_code == 403


def rig_role(name: str) -> Any:
    from printwarden.domain.accounts import Role

    return Role(name)


def test_text_becomes_a_pdf_with_the_text_in_it(person: Person) -> None:
    text = "".join(f"line {n}\n" for n in range(120))
    job = person.settled(person.upload("lines.txt", text.encode(), queue="secure").json()["id"])
    assert job["stage"] == "accepted"
    assert job["pages"] >= 2


def test_a_docx_renders_through_libreoffice_on_a_server_started_by_the_cli(
    person: Person,
) -> None:
    """The CLI's umask (077) must not keep the sandboxed renderer (nobody) from its files."""
    corpus = office_corpus.build()
    data = corpus.path("docx-4").read_bytes()
    job = person.settled(person.upload("minutes.docx", data, queue="secure").json()["id"])
    assert job["stage"] == "accepted", job
    assert job["pages"] == corpus.pages("docx-4")
    assert job["cost"] == corpus.pages("docx-4") * PRICES["grey_simplex"]


def test_a_png_upload_keeps_its_page_and_costs_colour(person: Person) -> None:
    image = io.BytesIO()
    Image.new("RGB", (300, 300), (10, 200, 10)).save(image, "PNG")
    job = person.settled(person.upload("green.png", image.getvalue()).json()["id"])
    assert (job["pages"], job["colour_pages"]) == (1, 1)
    assert job["cost"] == PRICES["colour_simplex"]


def test_the_administrators_limits_apply_to_groups_kinds_and_pages(
    rig: DeviceRig, person: Person
) -> None:
    database = rig.app.database()
    try:
        with database.session() as session:
            limits = {"allowed_groups": ["printing"], "allowed_kinds": ["pdf", "text"],
                      "max_pages": 1}  # fmt: skip
            settings.put(session, "web-print", limits)
        refused = person.upload("a.txt", b"hello\n")
        assert refused.status_code == 403
        assert "groups" in refused.json()["detail"]
        assert rig.admin.post("/groups", json={"name": "printing"}).status_code == 201
        joined = rig.admin.patch(f"/users/{person.name}", json={"groups": ["printing"]})
        assert joined.status_code == 200
        image = io.BytesIO()
        Image.new("RGB", (20, 20)).save(image, "PNG")
        png = person.settled(person.upload("x.png", image.getvalue()).json()["id"])
        assert png["stage"] == "failed"
        assert "image documents are not accepted" in png["detail"]
        long = person.settled(person.upload("long.txt", b"line\n" * 200).json()["id"])
        assert long["stage"] == "failed"
        assert "at most 1 are allowed" in long["detail"]
    finally:
        with database.session() as session:
            settings.put(session, "web-print", {})
        database.dispose()


def test_an_uploads_name_loses_its_path_and_control_characters(person: Person) -> None:
    answer = person.upload("..\\..\\etc/passwd.txt", b"hello\n", queue="secure")
    assert answer.status_code == 202, answer.text
    assert answer.json()["document_name"] == "passwd.txt"
    assert upload_name("a/b\\pa\x07ss\x1b.txt") == "pass.txt"
    assert upload_name("") == "document"
