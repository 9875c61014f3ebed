"""A document that keeps LibreOffice busy past the render timeout gets a clear "Could not
render" state, and the server keeps serving everyone else meanwhile (real App Server with a
2-second render timeout, real Print Provider)."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator

import pytest
from test_web_print import Person

from printwarden.testing.appserver import AppServer
from support.devices import DeviceRig, device_rig
from support.provider import QueueSpec

TIMEOUT = 2


def endless_odt(paragraphs: int = 60_000) -> bytes:
    """An OpenDocument text of ``paragraphs`` paragraphs: minutes of layout for LibreOffice."""
    body = "".join(f"<text:p>Paragraph {n} of a very long document.</text:p>"
                   for n in range(paragraphs))  # fmt: skip
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    def env(_app: AppServer) -> dict[str, str]:
        return {"PRINTWARDEN_WEB_PRINT__RENDER_TIMEOUT_SECONDS": str(TIMEOUT)}

    queues = [QueueSpec("secure", "hold", "mono-laser")]
    with device_rig(tmp_path_factory.mktemp("hang"), {"mono-laser": False}, queues, env) as world:
        yield world


def test_a_document_that_hangs_libreoffice_fails_clearly_and_others_still_print(
    rig: DeviceRig,
) -> None:
    stuck, other = Person(rig), Person(rig)
    try:
        answer = stuck.upload("endless.odt", endless_odt(), queue="secure")
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        served: list[float] = []

        def meanwhile() -> None:  # another person's PDF while LibreOffice is busy
            started = time.monotonic()
            upload = other.upload("note.txt", b"short note\n", queue="secure")
            assert other.settled(upload.json()["id"])["stage"] == "accepted"
            served.append(time.monotonic() - started)

        thread = threading.Thread(target=meanwhile)
        thread.start()
        thread.join(60)
        job = stuck.settled(job_id)
        assert job["stage"] == "failed", job
        assert "longer than" in job["detail"], job["detail"]
        assert job["state"].startswith("Could not render: ")
        assert served
        assert served[0] < 10, f"another person waited {served[0]:.1f} s"
        again = other.upload("second.txt", b"and another\n", queue="secure")
        assert other.settled(again.json()["id"])["stage"] == "accepted"
    finally:
        stuck.http.close()
        other.http.close()
