"""A simulated eSCL (AirScan) scanner on loopback, good enough for real clients (SANE's
``sane-airscan`` through ``scanimage``, and :mod:`printwarden.scanning.escl`).

It has a platen (one page a job) and a feeder holding ``pages`` pages that is full again for
every job; pages come from :func:`printwarden.scanning.sample_pages.generate_page` at the requested
resolution and colour mode, as JPEG or as one-page PDFs. One job at a time: another one
while a job still has pages to deliver is answered 503 (busy).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import img2pdf

from printwarden.scanning.escl import PWG, SCAN, parse_xml
from printwarden.scanning.sample_pages import generate_page, page_size
from printwarden.sim.http import QuietHandler, Served, TrackedServer

log = logging.getLogger(__name__)

RESOLUTIONS = (75, 150, 300)
COLOUR_MODES = ("Grayscale8", "RGB24")
FORMATS = ("image/jpeg", "application/pdf")
MAX_WIDTH = 2550  # 1/300 inch: US Letter's width (A4 is 2480)
MAX_HEIGHT = 3508  # A4's height (Letter is 3300)
MAX_BODY = 64 * 1024  # the largest ScanSettings accepted
MAX_JOBS_KEPT = 20  # finished jobs remembered for ScannerStatus
JOB_PATH = re.compile(r"^/eSCL/ScanJobs/([0-9a-f-]{36})(/NextDocument|/ScanImageInfo)?/?$")


@dataclass
class ScanJob:
    """One scan job: its settings and how far it has got."""

    id: str
    source: str  # "Platen" or "Feeder"
    colour: bool
    resolution: int
    document_format: str
    duplex: bool
    pages: int
    served: int = 0
    deleted: bool = False
    created: float = field(default_factory=time.monotonic)
    touched: float = field(default_factory=time.monotonic)
    last_size: tuple[int, int] = (0, 0)

    @property
    def state(self) -> str:
        """The eSCL JobState."""
        if self.pages == 0:
            return "Aborted"  # nothing in the feeder
        if self.served >= self.pages:
            return "Completed"
        return "Canceled" if self.deleted else "Processing"


class SettingsError(ValueError):
    """ScanSettings that are malformed (400) or that this scanner cannot do (409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _child(root: ET.Element, name: str) -> str | None:
    """The text of the first element called ``name`` in the eSCL or PWG namespace."""
    for namespace in (SCAN, PWG):
        found = root.find(f".//{{{namespace}}}{name}")
        if found is not None:
            return (found.text or "").strip()
    return None


def _settings(body: bytes, pages: int) -> ScanJob:
    """A new job from a ScanSettings document."""
    try:
        root = parse_xml(body)
    except ValueError as exc:
        raise SettingsError(400, str(exc)) from None
    if root.tag != f"{{{SCAN}}}ScanSettings":
        raise SettingsError(400, "not a scan:ScanSettings document")
    source = _child(root, "InputSource") or "Platen"
    mode = _child(root, "ColorMode") or "Grayscale8"
    x, y = _child(root, "XResolution") or "300", _child(root, "YResolution") or "300"
    fmt = _child(root, "DocumentFormatExt") or _child(root, "DocumentFormat") or FORMATS[0]
    duplex = (_child(root, "Duplex") or "false").lower() in ("true", "1")
    if source not in ("Platen", "Feeder") or mode not in COLOUR_MODES or fmt not in FORMATS:
        raise SettingsError(
            409, f"unsupported source, colour mode or format: {source} {mode} {fmt}"
        )
    if x != y or not x.isdigit() or int(x) not in RESOLUTIONS:
        raise SettingsError(409, f"unsupported resolution {x}x{y}")
    return ScanJob(
        id=str(uuid.uuid4()),
        source=source,
        colour=mode == "RGB24",
        resolution=int(x),
        document_format=fmt,
        duplex=duplex and source == "Feeder",
        pages=1 if source == "Platen" else pages,
    )


def _source_caps(element: str) -> str:
    """The InputCaps of one source (all sources can do the same)."""
    resolutions = "".join(
        "<scan:DiscreteResolution>"
        f"<scan:XResolution>{dpi}</scan:XResolution><scan:YResolution>{dpi}</scan:YResolution>"
        "</scan:DiscreteResolution>"
        for dpi in RESOLUTIONS
    )
    modes = "".join(f"<scan:ColorMode>{mode}</scan:ColorMode>" for mode in COLOUR_MODES)
    formats = "".join(
        f"<pwg:DocumentFormat>{fmt}</pwg:DocumentFormat>"
        f"<scan:DocumentFormatExt>{fmt}</scan:DocumentFormatExt>"
        for fmt in FORMATS
    )
    return (
        f"<scan:{element}>"
        f"<scan:MinWidth>16</scan:MinWidth><scan:MaxWidth>{MAX_WIDTH}</scan:MaxWidth>"
        f"<scan:MinHeight>16</scan:MinHeight><scan:MaxHeight>{MAX_HEIGHT}</scan:MaxHeight>"
        "<scan:MaxScanRegions>1</scan:MaxScanRegions>"
        "<scan:SettingProfiles><scan:SettingProfile>"
        f"<scan:ColorModes>{modes}</scan:ColorModes>"
        f"<scan:DocumentFormats>{formats}</scan:DocumentFormats>"
        "<scan:SupportedResolutions><scan:DiscreteResolutions>"
        f"{resolutions}</scan:DiscreteResolutions></scan:SupportedResolutions>"
        "</scan:SettingProfile></scan:SettingProfiles>"
        "<scan:SupportedIntents><scan:Intent>Document</scan:Intent>"
        "<scan:Intent>TextAndGraphic</scan:Intent><scan:Intent>Photo</scan:Intent>"
        "<scan:Intent>Preview</scan:Intent></scan:SupportedIntents>"
        f"<scan:MaxOpticalXResolution>{RESOLUTIONS[-1]}</scan:MaxOpticalXResolution>"
        f"<scan:MaxOpticalYResolution>{RESOLUTIONS[-1]}</scan:MaxOpticalYResolution>"
        f"</scan:{element}>"
    )


def _document(root: str, body: str) -> bytes:
    """An eSCL XML document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<scan:{root} xmlns:scan="{SCAN}" xmlns:pwg="{PWG}">{body}</scan:{root}>'
    ).encode()


class EsclScanner(Served):
    """A simulated eSCL scanner serving ``http://host:port/eSCL`` from a background thread.

    ``page_text(n)``, when given, is the text of page ``n`` (numbered from 1 in each job);
    ``pages`` may be changed between jobs (0: an empty feeder). ``jobs_created``,
    ``documents_served`` and ``jobs_deleted`` count what clients did."""

    running_name = "escl-scanner"

    def __init__(
        self,
        pages: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "printwarden eSCL simulator",
        page_text: Callable[[int], str] | None = None,
        job_timeout: float = 60.0,
    ) -> None:
        self.pages = pages
        self.host = host
        self.port = port
        self.name = name
        self.page_text = page_text
        self.job_timeout = job_timeout
        self.uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"printwarden-escl:{name}"))
        self.jobs_created = 0
        self.documents_served = 0
        self.jobs_deleted = 0
        self.jobs: dict[str, ScanJob] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        """The eSCL root, e.g. ``http://127.0.0.1:8080/eSCL``."""
        return f"http://{self.host}:{self.port}/eSCL"

    def make_server(self) -> TrackedServer:
        return _Server((self.host, self.port), _Handler, self)

    # --- the scanner's state (called from the handler threads) --------------------------

    def active_job(self) -> ScanJob | None:
        """The job still delivering pages, if any (one left alone too long has been abandoned)."""
        now = time.monotonic()
        for job in self.jobs.values():
            if job.state == "Processing" and now - job.touched < self.job_timeout:
                return job
        return None

    def create_job(self, body: bytes) -> ScanJob | None:
        """A new job from ``body``; None when busy. Raises :class:`SettingsError`."""
        job = _settings(body, self.pages)
        with self.lock:
            if self.active_job() is not None:
                return None
            for old in list(self.jobs)[: max(0, len(self.jobs) - MAX_JOBS_KEPT + 1)]:
                del self.jobs[old]
            self.jobs[job.id] = job
            self.jobs_created += 1
        return job

    def next_page(self, job_id: str) -> tuple[ScanJob, int] | None:
        """The job and the number of its next page, or None when it has no more."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.deleted or job.served >= job.pages:
                return None
            job.served += 1
            job.touched = time.monotonic()
            self.documents_served += 1
            return job, job.served

    def render(self, job: ScanJob, number: int) -> tuple[str, bytes]:
        """Page ``number`` of ``job``: its media type and bytes."""
        text = self.page_text(number) if self.page_text is not None else None
        jpeg = generate_page(number, dpi=job.resolution, colour=job.colour, text=text)
        job.last_size = page_size("A4", job.resolution)
        if job.document_format == "application/pdf":
            pdf: bytes = img2pdf.convert(jpeg)
            return "application/pdf", pdf
        return "image/jpeg", jpeg

    def delete_job(self, job_id: str) -> bool:
        """Cancel (or close) a job; False if there is no such job."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.deleted:
                return False
            job.deleted = True
            self.jobs_deleted += 1
            return True

    def capabilities_xml(self) -> bytes:
        """The ScannerCapabilities document."""
        body = (
            f"<pwg:Version>2.63</pwg:Version><pwg:MakeAndModel>{escape(self.name)}"
            "</pwg:MakeAndModel><pwg:SerialNumber>PW-SIM-0001</pwg:SerialNumber>"
            "<scan:Manufacturer>printwarden</scan:Manufacturer>"
            f"<scan:UUID>{self.uuid}</scan:UUID>"
            f"<scan:Platen>{_source_caps('PlatenInputCaps')}</scan:Platen>"
            f"<scan:Adf>{_source_caps('AdfSimplexInputCaps')}"
            f"{_source_caps('AdfDuplexInputCaps')}"
            "<scan:FeederCapacity>50</scan:FeederCapacity>"
            "<scan:AdfOptions><scan:AdfOption>DetectPaperLoaded</scan:AdfOption>"
            "<scan:AdfOption>Duplex</scan:AdfOption></scan:AdfOptions></scan:Adf>"
        )
        return _document("ScannerCapabilities", body)

    def status_xml(self) -> bytes:
        """The ScannerStatus document, with the jobs it remembers."""
        with self.lock:
            busy = self.active_job() is not None
            jobs = "".join(self._job_info(job) for job in reversed(self.jobs.values()))
        adf = "ScannerAdfLoaded" if self.pages > 0 else "ScannerAdfEmpty"
        body = (
            "<pwg:Version>2.63</pwg:Version>"
            f"<pwg:State>{'Processing' if busy else 'Idle'}</pwg:State>"
            f"<scan:AdfState>{adf}</scan:AdfState><scan:Jobs>{jobs}</scan:Jobs>"
        )
        return _document("ScannerStatus", body)

    @staticmethod
    def _job_info(job: ScanJob) -> str:
        reason = {
            "Completed": "JobCompletedSuccessfully",
            "Canceled": "JobCanceledByUser",
            "Processing": "JobScanning",
            "Aborted": "AbortedBySystem",
        }[job.state]
        return (
            f"<scan:JobInfo><pwg:JobUri>/eSCL/ScanJobs/{job.id}</pwg:JobUri>"
            f"<pwg:JobUuid>{job.id}</pwg:JobUuid>"
            f"<scan:Age>{int(time.monotonic() - job.created)}</scan:Age>"
            f"<pwg:ImagesCompleted>{job.served}</pwg:ImagesCompleted>"
            f"<pwg:ImagesToTransfer>{job.pages - job.served}</pwg:ImagesToTransfer>"
            f"<pwg:JobState>{job.state}</pwg:JobState><pwg:JobStateReasons>"
            f"<pwg:JobStateReason>{reason}</pwg:JobStateReason></pwg:JobStateReasons>"
            "</scan:JobInfo>"
        )

    def image_info_xml(self, job: ScanJob) -> bytes:
        """The ScanImageInfo document of the job's last page."""
        width, height = job.last_size
        bytes_per_line = width * (3 if job.colour else 1)
        body = (
            f"<pwg:JobUri>/eSCL/ScanJobs/{job.id}</pwg:JobUri><pwg:JobUuid>{job.id}</pwg:JobUuid>"
            f"<scan:ActualWidth>{width}</scan:ActualWidth>"
            f"<scan:ActualHeight>{height}</scan:ActualHeight>"
            f"<scan:ActualBytesPerLine>{bytes_per_line}</scan:ActualBytesPerLine>"
        )
        return _document("ScanImageInfo", body)


class _Server(TrackedServer):
    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], scanner: EsclScanner
    ) -> None:
        self.scanner = scanner
        super().__init__(address, handler)


class _Handler(QuietHandler):
    """The eSCL resources."""

    server_version = "printwarden-escl-sim/1"
    default_media_type = "text/xml"
    server: _Server

    def _body(self) -> bytes | None:
        """The request body, or None (after answering) when it is unusable."""
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self.close_connection = True
            self._send(411)
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._send(413)
            return None
        return self.rfile.read(int(length))

    def do_GET(self) -> None:
        scanner = self.server.scanner
        path = self.path.split("?", 1)[0]
        if path == "/eSCL/ScannerCapabilities":
            self._send(200, scanner.capabilities_xml())
        elif path == "/eSCL/ScannerStatus":
            self._send(200, scanner.status_xml())
        elif (match := JOB_PATH.match(path)) and match[2] == "/NextDocument":
            self._next_document(match[1])
        elif match and match[2] == "/ScanImageInfo" and (job := scanner.jobs.get(match[1])):
            self._send(200, scanner.image_info_xml(job))
        else:
            self._send(404)

    def _next_document(self, job_id: str) -> None:
        scanner = self.server.scanner
        page = scanner.next_page(job_id)
        if page is None:
            self._send(404)
            return
        media_type, data = scanner.render(*page)
        self._send(200, data, media_type)

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0].rstrip("/") != "/eSCL/ScanJobs":
            self._send(404)
            return
        body = self._body()
        if body is None:
            return
        try:
            job = self.server.scanner.create_job(body)
        except SettingsError as exc:
            self._send(exc.status, escape(str(exc)).encode(), "text/plain")
            return
        if job is None:
            self._send(503, b"busy", "text/plain", {"Retry-After": "1"})
            return
        location = f"{self.server.scanner.url}/ScanJobs/{job.id}"
        self._send(201, headers={"Location": location})

    def do_DELETE(self) -> None:
        match = JOB_PATH.match(self.path.split("?", 1)[0])
        if match and not match[2] and self.server.scanner.delete_job(match[1]):
            self._send(200)
        else:
            self._send(404)
