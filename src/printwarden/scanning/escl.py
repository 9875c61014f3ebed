"""An eSCL (AirScan) client: drive a network scanner over HTTP and take its pages.

The scanner is untrusted: every answer is read with a size bound (bodies are streamed and cut
off), XML is parsed without a DOCTYPE (so no entities of any kind), the ``Location`` of a
job keeps only its path (the host stays the one we were given), pages are sniffed rather than
taken at their ``Content-Type``, and the number of pages and of busy retries is bounded.
Every failure is an :class:`EsclError` that says what went wrong. httpx loads with the first
client: a server that never scans never carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import xml.etree.ElementTree as ET
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PWG = "http://www.pwg.org/schemas/2010/12/sm"
SCAN = "http://schemas.hp.com/imaging/escl/2011/05/03"
NS = {"pwg": PWG, "scan": SCAN}
MIB = 1 << 20
MAX_XML_BYTES = MIB  # capabilities, status and error answers
MAX_NUMBER = 1_000_000  # the largest number believed in an answer (sizes, resolutions)
COLOUR_MODES = {True: "RGB24", False: "Grayscale8"}
SOURCES = {"platen": "Platen", "feeder": "Feeder"}
STANDARD_RESOLUTIONS = (75, 100, 150, 200, 300, 400, 600, 1200)
MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


class EsclError(Exception):
    """The scanner is unreachable, busy, refused the settings or answered nonsense."""


@dataclass(frozen=True, slots=True)
class EsclSettings:
    """What to scan: where from, in colour or grey, at which resolution, into which format."""

    source: Literal["feeder", "platen"] = "feeder"
    colour: bool = False
    resolution: int = 300
    duplex: bool = False
    document_format: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class ScannedDocument:
    """One document from the scanner (a page, or a PDF), its type sniffed from its bytes."""

    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """What one input source ("platen" or "feeder") can do; sizes in 1/300 inch."""

    name: str
    max_width: int
    max_height: int
    colour_modes: tuple[str, ...]
    resolutions: tuple[int, ...]
    formats: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """A scanner's capabilities; the flat fields are the union over its sources."""

    make_and_model: str
    sources: tuple[str, ...]
    colour_modes: tuple[str, ...]
    resolutions: tuple[int, ...]
    formats: tuple[str, ...]
    duplex: bool
    source_details: tuple[SourceCapabilities, ...]

    def source(self, name: str) -> SourceCapabilities | None:
        """The capabilities of source ``name``, or None when the scanner has none such."""
        return next((found for found in self.source_details if found.name == name), None)


# --- XML ---------------------------------------------------------------------------------


def _qualified(name: str) -> str:
    """Expat's ``uri}local`` as ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def _forbidden(*_args: Any) -> None:
    raise ValueError("a DOCTYPE or entity declaration (not allowed)")


def parse_xml(data: bytes) -> ET.Element:
    """Parse untrusted XML: any DOCTYPE or entity declaration is refused (so there are no
    entities to expand or fetch). Raises :class:`ValueError` for anything not well-formed."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _forbidden
    parser.EntityDeclHandler = _forbidden
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _qualified(name), {_qualified(key): value for key, value in attrs.items()}
    )
    parser.EndElementHandler = lambda name: builder.end(_qualified(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        root = builder.close()
    except expat.ExpatError as exc:
        raise ValueError(f"malformed XML: {exc}") from None
    except AssertionError:  # the builder's own complaint about an unbalanced tree
        raise ValueError("malformed XML") from None
    return root


def _number(text: str | None, what: str) -> int:
    """A non-negative whole number from the scanner, no larger than :data:`MAX_NUMBER`."""
    value = (text or "").strip()
    if not value.isdigit() or int(value) > MAX_NUMBER:
        raise EsclError(f"bad scanner capabilities: {what} is {value[:20]!r}")
    return int(value)


def _texts(element: ET.Element, path: str) -> list[str]:
    return [(found.text or "").strip() for found in element.iterfind(path, NS)]


def _unique(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


def _resolutions(caps: ET.Element) -> tuple[int, ...]:
    """Discrete resolutions (same X and Y), else standard ones within the advertised range."""
    found: list[int] = []
    for discrete in caps.iterfind(".//scan:DiscreteResolution", NS):
        x = _number(discrete.findtext("scan:XResolution", None, NS), "XResolution")
        y = _number(discrete.findtext("scan:YResolution", None, NS), "YResolution")
        if x == y and x > 0:
            found.append(x)
    ranged = caps.find(".//scan:ResolutionRange/scan:XResolution", NS)
    if not found and ranged is not None:
        low = _number(ranged.findtext("scan:Min", None, NS), "resolution minimum")
        high = _number(ranged.findtext("scan:Max", None, NS), "resolution maximum")
        found = [value for value in STANDARD_RESOLUTIONS if low <= value <= high]
    return tuple(sorted(set(found)))


def _source(name: str, caps: ET.Element) -> SourceCapabilities:
    formats = _texts(caps, ".//scan:DocumentFormats/pwg:DocumentFormat")
    formats += _texts(caps, ".//scan:DocumentFormats/scan:DocumentFormatExt")
    return SourceCapabilities(
        name=name,
        max_width=_number(caps.findtext("scan:MaxWidth", None, NS), "MaxWidth"),
        max_height=_number(caps.findtext("scan:MaxHeight", None, NS), "MaxHeight"),
        colour_modes=_unique(_texts(caps, ".//scan:ColorModes/scan:ColorMode")),
        resolutions=_resolutions(caps),
        formats=_unique(value.lower() for value in formats),
    )


def parse_capabilities(data: bytes) -> Capabilities:
    """The :class:`Capabilities` in a ``ScannerCapabilities`` answer."""
    try:
        root = parse_xml(data)
    except ValueError as exc:
        raise EsclError(f"bad scanner capabilities: {exc}") from None
    if root.tag != f"{{{SCAN}}}ScannerCapabilities":
        raise EsclError(f"bad scanner capabilities: the root element is {root.tag[:80]!r}")
    details = []
    for name, path in (("platen", "scan:Platen/scan:PlatenInputCaps"),
                       ("feeder", "scan:Adf/scan:AdfSimplexInputCaps")):  # fmt: skip
        caps = root.find(path, NS)
        if caps is not None:
            details.append(_source(name, caps))
    if not details:
        raise EsclError("bad scanner capabilities: neither a platen nor a feeder")
    return Capabilities(
        make_and_model=(root.findtext("pwg:MakeAndModel", "", NS) or "").strip()[:200],
        sources=tuple(found.name for found in details),
        colour_modes=_unique(mode for found in details for mode in found.colour_modes),
        resolutions=tuple(sorted({value for found in details for value in found.resolutions})),
        formats=_unique(value for found in details for value in found.formats),
        duplex=root.find("scan:Adf/scan:AdfDuplexInputCaps", NS) is not None,
        source_details=tuple(details),
    )


def settings_xml(settings: EsclSettings, width: int, height: int) -> bytes:
    """The ``ScanSettings`` document of a scan job over a ``width`` x ``height`` region."""
    fmt = escape(settings.document_format)
    duplex = "true" if settings.duplex else "false"
    feeder = f"<scan:Duplex>{duplex}</scan:Duplex>" if settings.source == "feeder" else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<scan:ScanSettings xmlns:scan="{SCAN}" xmlns:pwg="{PWG}">'
        "<pwg:Version>2.0</pwg:Version><scan:Intent>Document</scan:Intent>"
        "<pwg:ScanRegions><pwg:ScanRegion>"
        "<pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>"
        f"<pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset>"
        f"<pwg:Width>{width}</pwg:Width><pwg:Height>{height}</pwg:Height>"
        "</pwg:ScanRegion></pwg:ScanRegions>"
        f"<pwg:InputSource>{SOURCES[settings.source]}</pwg:InputSource>"
        f"<scan:ColorMode>{COLOUR_MODES[settings.colour]}</scan:ColorMode>"
        f"<pwg:DocumentFormat>{fmt}</pwg:DocumentFormat>"
        f"<scan:DocumentFormatExt>{fmt}</scan:DocumentFormatExt>"
        f"<scan:XResolution>{settings.resolution}</scan:XResolution>"
        f"<scan:YResolution>{settings.resolution}</scan:YResolution>"
        f"{feeder}</scan:ScanSettings>"
    ).encode()


def check_settings(settings: EsclSettings, caps: Capabilities) -> SourceCapabilities:
    """The source to scan from, or an :class:`EsclError` naming what the scanner lacks."""
    source = caps.source(settings.source)
    if source is None:
        raise EsclError(f"settings refused: the scanner has no {settings.source}")
    problems = []
    if settings.duplex and (settings.source != "feeder" or not caps.duplex):
        problems.append("duplex")
    if COLOUR_MODES[settings.colour] not in source.colour_modes:
        problems.append("colour" if settings.colour else "greyscale")
    if settings.resolution not in source.resolutions:
        problems.append(f"{settings.resolution} dpi")
    if settings.document_format.lower() not in source.formats:
        problems.append(settings.document_format)
    if problems:
        raise EsclError(f"settings refused: the {source.name} cannot do {', '.join(problems)}")
    return source


def sniff(data: bytes) -> str:
    """The media type of a scanned document by its first bytes."""
    for magic, media_type in MAGIC:
        if data.startswith(magic):
            return media_type
    raise EsclError("bad answer: the scanner sent a document that is no image or PDF")


# --- HTTP --------------------------------------------------------------------------------


async def _read_bounded(response: httpx.Response, limit: int, what: str) -> bytes:
    """The body of ``response``, or an :class:`EsclError` as soon as it passes ``limit``."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise EsclError(f"bad answer: {what} in content-encoding {encoding[:40]!r}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise EsclError(f"bad answer: {what} of {declared} bytes (the limit is {limit})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise EsclError(f"bad answer: {what} longer than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class EsclClient:
    """A client of one eSCL scanner at ``base_url`` (e.g. ``http://scanner/eSCL``).

    ``timeout`` bounds each wait for the network; ``request_deadline`` a whole request with
    its body (a scanner dripping bytes gets no more); ``busy_retries`` and ``busy_delay``
    bound the waits while the scanner answers 503 (busy, or still scanning the next page)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        request_deadline: float = 300.0,
        busy_retries: int = 10,
        busy_delay: float = 1.0,
    ) -> None:
        import httpx  # loaded on first use (the module's docstring)

        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._deadline = request_deadline
        self._busy_retries = max(1, busy_retries)
        self._busy_delay = busy_delay
        self._capabilities: Capabilities | None = None
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"Accept-Encoding": "identity"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections to the scanner."""
        await self._http.aclose()

    @contextlib.asynccontextmanager
    async def _request(
        self, method: str, url: str, content: bytes | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed request within the deadline, with failures as :class:`EsclError`."""
        import httpx

        headers = {"Content-Type": "text/xml"} if content is not None else None
        try:
            async with (
                asyncio.timeout(self._deadline),
                self._http.stream(method, url, content=content, headers=headers) as resp,
            ):
                yield resp
        except TimeoutError as exc:
            raise EsclError(f"scanner at {self.base_url} too slow ({method} {url})") from exc
        except httpx.ConnectError as exc:
            raise EsclError(f"scanner unreachable at {self.base_url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise EsclError(f"scanner at {self.base_url} timed out ({method} {url})") from exc
        except httpx.HTTPError as exc:
            raise EsclError(f"bad answer from the scanner at {self.base_url}: {exc}") from exc

    async def capabilities(self) -> Capabilities:
        """The scanner's capabilities (asked once, then remembered)."""
        if self._capabilities is None:
            async with self._request("GET", f"{self.base_url}/ScannerCapabilities") as resp:
                body = await _read_bounded(resp, MAX_XML_BYTES, "capabilities")
                if resp.status_code != 200:
                    raise EsclError(f"bad answer: capabilities with HTTP {resp.status_code}")
            self._capabilities = parse_capabilities(body)
        return self._capabilities

    async def scan(
        self, settings: EsclSettings, *, max_pages: int = 500, max_page_bytes: int = 64 * MIB
    ) -> AsyncGenerator[ScannedDocument, None]:
        """Scan with ``settings``: the documents as the scanner sends them (one for the
        platen). The job is deleted at the end, or on error; close the iterator early
        (``contextlib.aclosing``) to cancel it."""
        source = check_settings(settings, await self.capabilities())
        job = await self._create_job(settings_xml(settings, source.max_width, source.max_height))
        try:
            async for document in self._documents(job, settings, max_pages, max_page_bytes):
                yield document
        finally:
            await self._delete_job(job)

    async def _create_job(self, body: bytes) -> str:
        """POST the settings; the job's URL (only the path of its Location is believed)."""
        for attempt in range(self._busy_retries):
            if attempt:
                await asyncio.sleep(self._busy_delay)
            async with self._request("POST", f"{self.base_url}/ScanJobs", body) as resp:
                await _read_bounded(resp, MAX_XML_BYTES, "scan job answer")
                if resp.status_code == 201:
                    return self._job_url(resp.headers.get("location", ""))
                if resp.status_code in (400, 409):
                    raise EsclError(f"settings refused by the scanner (HTTP {resp.status_code})")
                if resp.status_code != 503:
                    raise EsclError(f"bad answer: scan job with HTTP {resp.status_code}")
        raise EsclError("the scanner is busy")

    def _job_url(self, location: str) -> str:
        """The job at ``location``, on the scanner's own origin."""
        if not location or len(location) > 2000:
            raise EsclError("bad answer: a scan job without a usable Location")
        path = urlsplit(urljoin(f"{self.base_url}/ScanJobs/", location.strip())).path
        path = posixpath.normpath(path)
        if not path.startswith("/") or path.rstrip("/").endswith("/ScanJobs"):
            raise EsclError(f"bad answer: scan job Location {location[:100]!r}")
        return self._origin + path.rstrip("/")

    async def _documents(
        self, job: str, settings: EsclSettings, max_pages: int, max_page_bytes: int
    ) -> AsyncIterator[ScannedDocument]:
        for number in range(1, max_pages + 2):
            document = await self._next_document(job, max_page_bytes)
            if document is None:
                if number == 1:
                    raise EsclError(f"the scanner sent no page (is the {settings.source} empty?)")
                return
            if number > max_pages:
                raise EsclError(f"the scanner sent more than {max_pages} pages")
            yield document
            if settings.source == "platen":
                return

    async def _next_document(self, job: str, limit: int) -> ScannedDocument | None:
        """The job's next document; None once there are no more (HTTP 404)."""
        for attempt in range(self._busy_retries):
            if attempt:
                await asyncio.sleep(self._busy_delay)
            async with self._request("GET", f"{job}/NextDocument") as resp:
                if resp.status_code == 200:
                    data = await _read_bounded(resp, limit, "a page")
                    return ScannedDocument(sniff(data), data)
                await _read_bounded(resp, MAX_XML_BYTES, "an error answer")
                if resp.status_code in (404, 410):
                    return None
                if resp.status_code != 503:
                    raise EsclError(f"bad answer: next page with HTTP {resp.status_code}")
        raise EsclError("the scanner stayed busy and sent no page")

    async def _delete_job(self, job: str) -> None:
        """Delete the job; a scanner that forgot it already is fine, and so is a client
        closed before the scan was (RuntimeError from httpx)."""
        try:
            async with self._request("DELETE", job) as resp:
                await _read_bounded(resp, MAX_XML_BYTES, "the job's deletion")
        except (EsclError, RuntimeError) as exc:
            log.info("could not delete scan job %s: %s", job, exc)
