"""Integrated Scanning's eSCL parts with real counterparts: the simulated scanner driven by a
real client (SANE's sane-airscan backend through ``scanimage``), printwarden's eSCL client
against the simulator and against hostile scanners (real sockets on 127.0.0.1), and the
generated pages, read back by Tesseract."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from PIL import Image

from printwarden.scanning.escl import (
    EsclClient,
    EsclError,
    EsclSettings,
    ScannedDocument,
    parse_xml,
)
from printwarden.scanning.sample_pages import generate_page, page_size, page_text
from printwarden.sim.escl_scanner import EsclScanner
from printwarden.sim.ports import free_port

TIMEOUT = 60  # seconds, for every child process
DEVICE = "airscan:e0:Sim"
A4_MM = ("-x", "210", "-y", "297")  # scanimage's scan area: A4 rather than the whole platen


@pytest.fixture
def scanner() -> Iterator[EsclScanner]:
    with EsclScanner(pages=3) as simulated:
        yield simulated


# --- the simulator and a real client: sane-airscan through scanimage ----------------------


@pytest.fixture
def sane_env(tmp_path: Path, scanner: EsclScanner) -> dict[str, str]:
    """scanimage's environment: only the airscan backend, only the simulator, no discovery."""
    config = tmp_path / "sane.d"
    config.mkdir()
    (config / "dll.conf").write_text("airscan\n")
    (config / "airscan.conf").write_text(
        f'[devices]\n"Sim" = {scanner.url}, eSCL\n\n[options]\ndiscovery = disable\n'
    )
    return {**os.environ, "SANE_CONFIG_DIR": str(config)}


def scanimage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["scanimage", *args], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def images(directory: Path, pattern: str) -> list[Image.Image]:
    found: list[Image.Image] = []
    for path in sorted(directory.glob(pattern)):
        with Image.open(path) as image:
            image.load()
            found.append(image)
    return found


def test_scanimage_lists_the_simulator(sane_env: dict[str, str]) -> None:
    listed = scanimage(sane_env, "-L")
    assert listed.returncode == 0, listed.stderr
    assert f"`{DEVICE}'" in listed.stdout


def test_scanimage_offers_the_simulators_capabilities(sane_env: dict[str, str]) -> None:
    options = scanimage(sane_env, "-d", DEVICE, "-A")
    assert options.returncode == 0, options.stderr
    assert "75|150|300dpi" in options.stdout
    assert "Color|Gray" in options.stdout
    assert "Flatbed|ADF|ADF Duplex" in options.stdout


def test_scanimage_scans_every_page_of_the_feeder(
    sane_env: dict[str, str], scanner: EsclScanner, tmp_path: Path
) -> None:
    batch = str(tmp_path / "page%d.png")
    args = ("--source", "ADF", "--mode", "Gray", "--resolution", "150", *A4_MM)
    scanned = scanimage(sane_env, "-d", DEVICE, *args, "--format=png", f"--batch={batch}")
    assert scanned.returncode == 0, scanned.stderr
    assert "3 pages scanned" in scanned.stderr
    pages = images(tmp_path, "page*.png")
    assert len(pages) == 3
    assert {(page.mode, page.size) for page in pages} == {("L", page_size("A4", 150))}
    assert len({page.tobytes() for page in pages}) == 3  # three different pages
    assert (scanner.jobs_created, scanner.documents_served, scanner.jobs_deleted) == (1, 3, 1)


def test_scanimage_scans_one_colour_page_from_the_flatbed(
    sane_env: dict[str, str], scanner: EsclScanner, tmp_path: Path
) -> None:
    output = tmp_path / "flat.png"
    args = ("--source", "Flatbed", "--mode", "Color", "--resolution", "300", *A4_MM)
    scanned = scanimage(sane_env, "-d", DEVICE, *args, "--format=png", "-o", str(output))
    assert scanned.returncode == 0, scanned.stderr
    [page] = images(tmp_path, "flat.png")
    assert (page.mode, page.size) == ("RGB", (2480, 3508))
    pixel = page.getpixel((1240, 155))  # on the red rule of a colour page
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert red > 150 > 100 > max(green, blue)
    assert (scanner.jobs_created, scanner.documents_served) == (1, 1)


def test_scanimage_reports_an_empty_feeder(
    sane_env: dict[str, str], scanner: EsclScanner, tmp_path: Path
) -> None:
    scanner.pages = 0
    batch = str(tmp_path / "page%d.png")
    scanned = scanimage(sane_env, "-d", DEVICE, "--source", "ADF", f"--batch={batch}")
    # sane-airscan starts its jobs in the background: the empty feeder shows at the first read
    assert "Document feeder out of documents" in scanned.stderr
    assert not list(tmp_path.glob("page*"))
    assert (scanner.jobs_created, scanner.documents_served, scanner.jobs_deleted) == (1, 0, 1)


# --- the simulator's HTTP answers -----------------------------------------------------------


def settings(**fields: str) -> bytes:
    values = {"InputSource": "Feeder", "ColorMode": "Grayscale8", "XResolution": "300"}
    values |= fields
    values.setdefault("YResolution", values["XResolution"])
    body = "".join(f"<scan:{name}>{value}</scan:{name}>" for name, value in values.items())
    return (
        '<scan:ScanSettings xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03" '
        f'xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm">{body}</scan:ScanSettings>'
    ).encode()


def test_the_simulator_answers_like_an_escl_scanner(scanner: EsclScanner) -> None:
    with httpx.Client(base_url=scanner.url + "/", timeout=10) as http:
        created = http.post("ScanJobs", content=settings(), headers={"Content-Type": "text/xml"})
        assert created.status_code == 201
        job = created.headers["location"]
        assert job.startswith(f"{scanner.url}/ScanJobs/")
        status = parse_xml(http.get("ScannerStatus").content)
        assert "Processing" in [element.text for element in status.iter()]
        assert http.post("ScanJobs", content=settings()).status_code == 503  # one at a time
        pages = [http.get(f"{job}/NextDocument") for _ in range(4)]
        assert [page.status_code for page in pages] == [200, 200, 200, 404]
        assert {page.headers["content-type"] for page in pages[:3]} == {"image/jpeg"}
        info = http.get(f"{job}/ScanImageInfo").text
        assert "<scan:ActualWidth>2480</scan:ActualWidth>" in info
        assert http.delete(job).status_code == 200
        assert http.delete(job).status_code == 404
        assert http.get(f"{scanner.url}/ScanJobs/{'0' * 36}/NextDocument").status_code == 404


def test_the_simulator_forgets_an_abandoned_job() -> None:
    with EsclScanner(pages=3, job_timeout=0.2) as scanner, httpx.Client(timeout=10) as http:
        job = http.post(f"{scanner.url}/ScanJobs", content=settings()).headers["location"]
        assert http.get(f"{job}/NextDocument").status_code == 200
        assert http.post(f"{scanner.url}/ScanJobs", content=settings()).status_code == 503
        time.sleep(0.3)  # the client went away without a word
        assert http.post(f"{scanner.url}/ScanJobs", content=settings()).status_code == 201


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<scan:ScanSettings", 400),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', 400),
        (b"<ScanSettings/>", 400),
        (settings(XResolution="600"), 409),
        (settings(XResolution="300", YResolution="150"), 409),
        (settings(ColorMode="BlackAndWhite1"), 409),
        (settings(DocumentFormatExt="image/gif"), 409),
    ],
)
def test_the_simulator_refuses_bad_settings(scanner: EsclScanner, body: bytes, status: int) -> None:
    answer = httpx.post(f"{scanner.url}/ScanJobs", content=body, timeout=10)
    assert answer.status_code == status
    assert scanner.jobs_created == 0


# --- printwarden's client against the simulator -----------------------------------------------


async def scan_all(
    url: str, wanted: EsclSettings, deadline: float = 30.0, **limits: int
) -> list[ScannedDocument]:
    client = EsclClient(url, timeout=10, request_deadline=deadline, busy_retries=2, busy_delay=0)
    async with (
        client,
        contextlib.aclosing(client.scan(wanted, **limits)) as documents,
    ):
        return [document async for document in documents]


def collect(
    url: str, wanted: EsclSettings, deadline: float = 30.0, **limits: int
) -> list[ScannedDocument]:
    return asyncio.run(scan_all(url, wanted, deadline, **limits))


def opened(document: ScannedDocument) -> Image.Image:
    with Image.open(io.BytesIO(document.data)) as image:
        image.load()
        return image


def test_client_reads_the_capabilities(scanner: EsclScanner) -> None:
    async def ask() -> Any:
        async with EsclClient(scanner.url) as client:
            return await client.capabilities()

    caps = asyncio.run(ask())
    assert caps.make_and_model == "printwarden eSCL simulator"
    assert caps.sources == ("platen", "feeder")
    assert set(caps.colour_modes) == {"Grayscale8", "RGB24"}
    assert caps.resolutions == (75, 150, 300)
    assert set(caps.formats) == {"image/jpeg", "application/pdf"}
    assert caps.duplex
    feeder = caps.source("feeder")
    assert feeder is not None
    assert (feeder.max_width, feeder.max_height) == (2550, 3508)


def test_client_scans_every_page_of_the_feeder_in_grey(scanner: EsclScanner) -> None:
    documents = collect(scanner.url, EsclSettings())
    assert [document.media_type for document in documents] == ["image/jpeg"] * 3
    pages = [opened(document) for document in documents]
    assert {(page.mode, page.size) for page in pages} == {("L", (2480, 3508))}
    assert documents[0].data == generate_page(1)
    assert (scanner.jobs_created, scanner.documents_served, scanner.jobs_deleted) == (1, 3, 1)


def test_client_scans_in_colour_at_the_resolution_asked(scanner: EsclScanner) -> None:
    documents = collect(scanner.url, EsclSettings(colour=True, resolution=150))
    pages = [opened(document) for document in documents]
    assert {(page.mode, page.size) for page in pages} == {("RGB", (1240, 1754))}


def test_client_scans_one_page_from_the_platen(scanner: EsclScanner) -> None:
    documents = collect(scanner.url, EsclSettings(source="platen", resolution=75))
    assert len(documents) == 1
    assert opened(documents[0]).size == page_size("A4", 75)
    assert scanner.jobs_deleted == 1


def test_client_scans_into_pdf(scanner: EsclScanner) -> None:
    documents = collect(scanner.url, EsclSettings(document_format="application/pdf"))
    assert [document.media_type for document in documents] == ["application/pdf"] * 3
    for document in documents:
        with pikepdf.open(io.BytesIO(document.data)) as pdf:
            assert len(pdf.pages) == 1


def test_client_refuses_settings_the_scanner_cannot_do(scanner: EsclScanner) -> None:
    with pytest.raises(EsclError, match="cannot do 600 dpi"):
        collect(scanner.url, EsclSettings(resolution=600))
    with pytest.raises(EsclError, match="cannot do image/gif"):
        collect(scanner.url, EsclSettings(document_format="image/gif"))
    with pytest.raises(EsclError, match="duplex"):
        collect(scanner.url, EsclSettings(source="platen", duplex=True))
    assert scanner.jobs_created == 0


def test_client_reports_an_empty_feeder(scanner: EsclScanner) -> None:
    scanner.pages = 0
    with pytest.raises(EsclError, match="no page"):
        collect(scanner.url, EsclSettings())
    assert scanner.jobs_deleted == 1


def test_client_reports_a_busy_scanner_and_cancels_a_job_left_early(
    scanner: EsclScanner,
) -> None:
    async def scan() -> None:
        async with (
            EsclClient(scanner.url, busy_retries=2, busy_delay=0) as first,
            contextlib.aclosing(first.scan(EsclSettings())) as documents,
        ):
            await anext(documents)  # one page of three: the job goes on
            with pytest.raises(EsclError, match="busy"):
                await scan_all(scanner.url, EsclSettings())
        # closing the scan early deleted the job: the scanner is free again
        assert [job.state for job in scanner.jobs.values()] == ["Canceled"]
        assert len(await scan_all(scanner.url, EsclSettings())) == 3

    asyncio.run(scan())
    assert scanner.jobs_deleted == 2


def test_client_reports_an_unreachable_scanner() -> None:
    with pytest.raises(EsclError, match="unreachable"):
        collect(f"http://127.0.0.1:{free_port()}/eSCL", EsclSettings())


# --- printwarden's client against hostile scanners ------------------------------------------

Answer = Callable[[BaseHTTPRequestHandler], None]
CAPABILITIES = EsclScanner().capabilities_xml()


def reply(status: int, body: bytes = b"", **headers: str) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        headers.setdefault("Content_Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(body)

    return answer


def endless(prefix: bytes) -> Answer:
    """A body without end (at most 256 MiB): until the client hangs up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        chunk = bytes(64 * 1024)
        with contextlib.suppress(OSError):
            handler.wfile.write(prefix)
            for _ in range(4096):
                handler.wfile.write(chunk)
                handler.server.sent += len(chunk)  # type: ignore[attr-defined]

    return answer


def dripping(handler: BaseHTTPRequestHandler) -> None:
    """A page at a byte every 50 ms (for at most 20 s): never too slow for the read timeout."""
    handler.send_response(200)
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(b"\xff\xd8\xff")
        for _ in range(400):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
            time.sleep(0.05)


class HostileScanner(ThreadingHTTPServer):
    """A scanner on 127.0.0.1 answering from ``answers`` (method and last path segment);
    by default a capable scanner that accepts jobs at a Location on some other host."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, answers: dict[tuple[str, str], Answer]) -> None:
        self.answers = {
            ("GET", "ScannerCapabilities"): reply(200, CAPABILITIES),
            ("POST", "ScanJobs"): reply(201, Location="http://elsewhere.invalid/eSCL/ScanJobs/7"),
            ("DELETE", "7"): reply(200),
        } | answers
        self.requests: list[tuple[str, str]] = []
        self.sent = 0
        super().__init__(("127.0.0.1", 0), HostileHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/eSCL"


class HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # a body without Content-Length ends with the connection
    timeout = 10
    server: HostileScanner

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self) -> None:
        if length := int(self.headers.get("Content-Length", "0")):
            self.rfile.read(length)
        self.server.requests.append((self.command, self.path))
        key = (self.command, self.path.rstrip("/").rsplit("/", 1)[-1])
        self.server.answers.get(key, reply(404))(self)

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def do_DELETE(self) -> None:
        self.answer()


@pytest.fixture
def hostile() -> Iterator[Callable[[dict[tuple[str, str], Answer]], HostileScanner]]:
    servers: list[HostileScanner] = []

    def start(answers: dict[tuple[str, str], Answer]) -> HostileScanner:
        server = HostileScanner(answers)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append(server)
        server.thread = thread  # type: ignore[attr-defined]
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
        server.thread.join(timeout=10)  # type: ignore[attr-defined]


JPEG = generate_page(1, dpi=75)


def test_client_stops_reading_an_endless_page(hostile: Callable[..., HostileScanner]) -> None:
    server = hostile({("GET", "NextDocument"): endless(b"\xff\xd8\xff")})
    started = time.monotonic()
    with pytest.raises(EsclError, match="longer than 1048576 bytes"):
        collect(server.url, EsclSettings(), max_page_bytes=1 << 20)
    assert time.monotonic() - started < 10
    assert server.sent < 64 << 20  # far from the 256 MiB it would send
    # the job's Location named another host: the client stayed with the scanner it was given
    assert server.requests[-2:] == [("GET", "/eSCL/ScanJobs/7/NextDocument"),
                                    ("DELETE", "/eSCL/ScanJobs/7")]  # fmt: skip


def test_client_gives_up_on_a_page_dripping_in(hostile: Callable[..., HostileScanner]) -> None:
    server = hostile({("GET", "NextDocument"): dripping})
    started = time.monotonic()
    with pytest.raises(EsclError, match="too slow"):
        collect(server.url, EsclSettings(), deadline=0.5)
    assert time.monotonic() - started < 5
    assert server.requests[-1] == ("DELETE", "/eSCL/ScanJobs/7")


def test_client_refuses_a_page_announced_too_long(hostile: Callable[..., HostileScanner]) -> None:
    huge = reply(200, JPEG, Content_Length=str(1 << 40))
    server = hostile({("GET", "NextDocument"): huge})
    with pytest.raises(EsclError, match="of 1099511627776 bytes"):
        collect(server.url, EsclSettings())


def test_client_stops_reading_endless_capabilities(hostile: Callable[..., HostileScanner]) -> None:
    server = hostile({("GET", "ScannerCapabilities"): endless(b"<x>")})
    with pytest.raises(EsclError, match="capabilities longer than"):
        collect(server.url, EsclSettings())
    assert ("POST", "/eSCL/ScanJobs") not in server.requests


def test_client_refuses_entities_in_the_capabilities(
    hostile: Callable[..., HostileScanner],
) -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
    answer = reply(200, bomb + CAPABILITIES.split(b"?>", 1)[1].replace(b"2.63", b"&b;", 1))
    server = hostile({("GET", "ScannerCapabilities"): answer})
    with pytest.raises(EsclError, match="DOCTYPE"):
        collect(server.url, EsclSettings())
    assert ("POST", "/eSCL/ScanJobs") not in server.requests


def test_client_stops_a_feeder_without_end(hostile: Callable[..., HostileScanner]) -> None:
    server = hostile({("GET", "NextDocument"): reply(200, JPEG)})
    with pytest.raises(EsclError, match="more than 5 pages"):
        collect(server.url, EsclSettings(), max_pages=5)
    assert server.requests.count(("GET", "/eSCL/ScanJobs/7/NextDocument")) == 6
    assert server.requests[-1] == ("DELETE", "/eSCL/ScanJobs/7")


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ({("GET", "NextDocument"): reply(200, b"<html>not a page</html>")}, "no image or PDF"),
        ({("POST", "ScanJobs"): reply(409)}, "refused by the scanner"),
        ({("POST", "ScanJobs"): reply(503)}, "busy"),
        ({("POST", "ScanJobs"): reply(201)}, "without a usable Location"),
        ({("GET", "NextDocument"): reply(500)}, "HTTP 500"),
        ({("GET", "ScannerCapabilities"): reply(200, b"<x/>")}, "root element"),
    ],
)
def test_client_reports_bad_answers(
    hostile: Callable[..., HostileScanner], answers: dict[tuple[str, str], Answer], error: str
) -> None:
    server = hostile(answers)
    with pytest.raises(EsclError, match=error):
        collect(server.url, EsclSettings())


# --- the generated pages ---------------------------------------------------------------------


def test_pages_are_deterministic_and_differ_by_number() -> None:
    assert generate_page(2) == generate_page(2)
    assert generate_page(2) != generate_page(3)
    assert generate_page(2, colour=True) != generate_page(2)


@pytest.mark.parametrize(
    ("dpi", "colour", "paper", "mode", "size"),
    [
        (300, False, "A4", "L", (2480, 3508)),
        (150, False, "A4", "L", (1240, 1754)),
        (150, True, "A4", "RGB", (1240, 1754)),
        (300, False, "Letter", "L", (2550, 3300)),
    ],
)
def test_pages_have_the_size_of_the_paper(
    dpi: int, colour: bool, paper: str, mode: str, size: tuple[int, int]
) -> None:
    with Image.open(io.BytesIO(generate_page(1, dpi=dpi, colour=colour, paper=paper))) as page:
        assert (page.format, page.mode, page.size) == ("JPEG", mode, size)
        assert page.info["dpi"] == (dpi, dpi)


def test_tesseract_reads_the_first_line_of_a_page(tmp_path: Path) -> None:
    path = tmp_path / "page.jpg"
    path.write_bytes(generate_page(7))
    read = subprocess.run(
        ["tesseract", str(path), "stdout"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert read.returncode == 0, read.stderr
    assert page_text(7) in read.stdout
    assert "The quick brown fox jumps over the lazy dog" in read.stdout
