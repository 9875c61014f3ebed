"""The IPP client (and so the codec) against a real CUPS ``ippeveprinter`` on loopback."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from printwarden.provider.ipp import (
    AttributeGroup,
    GroupTag,
    JobState,
    Message,
    Operation,
    PrinterState,
    StatusCode,
    decode_message,
    encode_message,
)
from printwarden.provider.ipp.builders import operation_group
from printwarden.provider.ipp.client import (
    IppClient,
    IppError,
    IppProtocolError,
    PrinterUnreachable,
    http_url,
)
from printwarden.provider.ipp.model import Attribute
from printwarden.provider.ipp.tags import TERMINAL_JOB_STATES, ValueTag
from printwarden.sim.ports import free_port
from support.ippeveprinter import IppEvePrinter

JOB_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def printer() -> Iterator[IppEvePrinter]:
    with IppEvePrinter("printwarden-color", color=True) as running:
        yield running


@pytest.fixture
def client(printer: IppEvePrinter) -> Iterator[IppClient]:
    with IppClient(printer.uri, user_name="alice", timeout=10) as ipp:
        yield ipp


def wait_for_job(client: IppClient, job_id: int, timeout: float = JOB_TIMEOUT) -> int:
    """Poll Get-Job-Attributes until the job is in a terminal state; return that state."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get_job_attributes(job_id, ["job-state"]).value("job-state")
        assert isinstance(state, int)
        if state in TERMINAL_JOB_STATES or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def tiny_pdf(text: str = "printwarden") -> bytes:
    """A one-page PDF written by hand, with a correct cross-reference table."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# --- printer attributes ------------------------------------------------------------------


def test_get_printer_attributes_reports_state_and_formats(client: IppClient) -> None:
    attributes = client.get_printer_attributes()
    assert attributes.value("printer-state") in set(PrinterState)
    formats = attributes.values_of("document-format-supported")
    assert {"application/pdf", "text/plain", "application/octet-stream"} <= set(formats)
    assert attributes.value("color-supported") is True
    assert client.uri in attributes.values_of("printer-uri-supported")


def test_requested_attributes_limit_the_answer(client: IppClient) -> None:
    attributes = client.get_printer_attributes(["printer-state", "printer-name"])
    assert set(attributes) == {"printer-state", "printer-name"}
    assert attributes.value("printer-name") == "printwarden-color"


def test_monochrome_printer_is_not_color() -> None:
    with (
        IppEvePrinter("printwarden-mono", color=False) as mono,
        IppClient(mono.uri) as ipp,
    ):
        attributes = ipp.get_printer_attributes(["color-supported", "print-color-mode-supported"])
    assert attributes.value("color-supported") is False
    assert attributes.values_of("print-color-mode-supported") == ["monochrome"]


def test_printer_response_reencodes_to_the_same_octets(printer: IppEvePrinter) -> None:
    """ippeveprinter's full Get-Printer-Attributes answer (collections, 1setOf, ranges,
    resolutions, dateTime, out-of-band) decodes and encodes back to identical bytes."""
    group = operation_group()
    group.add(Attribute.of("printer-uri", ValueTag.URI, printer.uri))
    request = Message(code=Operation.GET_PRINTER_ATTRIBUTES, request_id=42, groups=[group])
    response = httpx.post(
        http_url(printer.uri),
        content=encode_message(request),
        headers={"Content-Type": "application/ipp"},
        timeout=10,
    )
    raw = response.content
    message, end = decode_message(raw, max_attributes=100_000)
    assert end == len(raw)
    assert message.code == StatusCode.SUCCESSFUL_OK
    assert message.request_id == 42
    assert len(message.printer or ()) > 50
    assert encode_message(message) == raw


# --- jobs --------------------------------------------------------------------------------


def test_print_plain_text_completes_and_arrives_intact(
    client: IppClient, printer: IppEvePrinter
) -> None:
    document = "Hello from printwarden\nÄÖÜ – second line\n".encode()
    job_id = client.print_job(
        document, document_format="text/plain", job_name="hello", attributes={"copies": 1}
    )
    assert job_id > 0
    assert wait_for_job(client, job_id) == JobState.COMPLETED
    assert printer.wait_for_document(job_id) == document


def test_print_pdf_from_a_file_object(client: IppClient, printer: IppEvePrinter) -> None:
    pdf = tiny_pdf()
    job_id = client.print_job(io.BytesIO(pdf), document_format="application/pdf", job_name="pdf")
    assert wait_for_job(client, job_id) == JobState.COMPLETED
    assert printer.wait_for_document(job_id) == pdf
    attributes = client.get_job_attributes(job_id)
    assert attributes.value("job-name") == "pdf"
    assert attributes.value("job-originating-user-name") == "alice"


def test_large_document_is_streamed_in_chunks(client: IppClient, printer: IppEvePrinter) -> None:
    chunks = [os.urandom(64 * 1024) for _ in range(48)]  # 3 MiB, never joined by the client
    # ippeveprinter sniffs application/octet-stream and refuses random bytes; text it takes.
    job_id = client.print_job(iter(chunks), document_format="text/plain", job_name="big")
    assert wait_for_job(client, job_id) == JobState.COMPLETED
    assert printer.wait_for_document(job_id) == b"".join(chunks)


def test_validate_job_accepts_and_rejects(client: IppClient) -> None:
    response = client.validate_job(document_format="application/pdf", attributes={"copies": 1})
    assert response.code == StatusCode.SUCCESSFUL_OK
    with pytest.raises(IppError) as caught:
        client.validate_job(document_format="application/x-not-a-format")
    # ippeveprinter answers attributes-or-values-not-supported here; both are correct.
    assert caught.value.status in {
        StatusCode.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
        StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
    }


def wait_until_processing(client: IppClient, job_id: int, timeout: float = JOB_TIMEOUT) -> None:
    """Poll Get-Job-Attributes until the job is processing."""
    deadline = time.monotonic() + timeout
    while client.get_job_attributes(job_id, ["job-state"]).value("job-state") != (
        JobState.PROCESSING
    ):
        assert time.monotonic() < deadline, "the job never started processing"
        time.sleep(0.05)


def test_cancel_a_processing_job() -> None:
    # ippeveprinter lets the print command finish, then marks the job canceled. The cancel
    # waits until the job runs: a Cancel-Job that lands between ippeveprinter marking a
    # pending job canceled and its processing thread starting is overwritten by "completed"
    # (ippeveprinter's own race, seen once under load).
    with (
        IppEvePrinter("printwarden-slow", processing_seconds=6) as slow,
        IppClient(slow.uri) as ipp,
    ):
        job_id = ipp.print_job(b"slow\n", document_format="text/plain")
        wait_until_processing(ipp, job_id)
        ipp.cancel_job(job_id)
        assert wait_for_job(ipp, job_id, timeout=20) == JobState.CANCELED
        with pytest.raises(IppError) as caught:
            ipp.cancel_job(job_id)
        assert caught.value.status == StatusCode.CLIENT_ERROR_NOT_POSSIBLE


def test_unknown_job_is_not_found(client: IppClient) -> None:
    with pytest.raises(IppError) as caught:
        client.get_job_attributes(987_654)
    assert caught.value.status == StatusCode.CLIENT_ERROR_NOT_FOUND
    assert caught.value.response is not None


# --- transport errors --------------------------------------------------------------------


def test_closed_port_is_unreachable_quickly() -> None:
    started = time.monotonic()
    with (
        IppClient(f"ipp://127.0.0.1:{free_port()}/ipp/print") as ipp,
        pytest.raises(PrinterUnreachable),
    ):
        ipp.get_printer_attributes()
    assert time.monotonic() - started < 2


def test_wrong_resource_is_a_protocol_error(printer: IppEvePrinter) -> None:
    with (
        IppClient(printer.uri.replace("/ipp/print", "/nowhere")) as ipp,
        pytest.raises((IppProtocolError, IppError)),
    ):
        ipp.get_printer_attributes()


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("ipp://printer.example/ipp/print", "http://printer.example:631/ipp/print"),
        ("ipps://printer.example/ipp/print", "https://printer.example:631/ipp/print"),
        ("ipp://10.0.0.5:8631/printers/a", "http://10.0.0.5:8631/printers/a"),
        ("IPP://[::1]/x", "http://[::1]:631/x"),
        ("ipp://host", "http://host:631/"),
    ],
)
def test_http_url_maps_ipp_schemes(uri: str, url: str) -> None:
    assert http_url(uri) == url


@pytest.mark.parametrize("uri", ["socket://host:9100", "ipp:///nohost", "lpd://q"])
def test_http_url_rejects_other_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="printer URI"):
        http_url(uri)


# --- the client against a scripted HTTP transport ----------------------------------------


def answer(request: httpx.Request, status: int = 0, **headers: str) -> httpx.Response:
    """An IPP response to ``request`` with ``status`` and a job group with job-id 5."""
    received, _ = decode_message(request.read())
    operation = operation_group()
    operation.add(Attribute.of("status-message", ValueTag.TEXT_WITHOUT_LANGUAGE, "scripted"))
    job = AttributeGroup(GroupTag.JOB, [Attribute.of("job-id", ValueTag.INTEGER, 5)])
    response = Message(code=status, request_id=received.request_id, groups=[operation, job])
    return httpx.Response(
        200,
        headers={"Content-Type": "application/ipp", **headers},
        content=encode_message(response),
    )


def scripted(handler: Callable[[httpx.Request], httpx.Response]) -> IppClient:
    return IppClient("ipp://printer.test/ipp/print", transport=httpx.MockTransport(handler))


def test_documents_are_sent_chunked_after_the_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    chunks = [b"a" * 100, b"", b"b" * 70_000]
    with scripted(handler) as ipp:
        assert ipp.print_job(iter(chunks), document_format="text/plain", job_name="j") == 5
    request = seen[0]
    assert request.url == "http://printer.test:631/ipp/print"
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in request.headers
    message, offset = decode_message(request.content)
    assert request.content[offset:] == b"".join(chunks)
    assert message.code == Operation.PRINT_JOB
    operation = message.operation
    assert operation is not None
    assert operation.attributes[0].name == "attributes-charset"
    assert operation.value("printer-uri") == "ipp://printer.test/ipp/print"
    assert operation.value("requesting-user-name") == "printwarden"


def test_error_status_raises_ipp_error() -> None:
    with (
        scripted(lambda request: answer(request, 0x0406)) as ipp,
        pytest.raises(IppError, match="scripted") as caught,
    ):
        ipp.cancel_job(3)
    assert caught.value.status == StatusCode.CLIENT_ERROR_NOT_FOUND


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (httpx.Response(401), "HTTP 401"),
        (httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>"), "text/html"),
        (
            httpx.Response(200, headers={"Content-Type": "application/ipp"}, content=b"\x02\x00"),
            "malformed",
        ),
    ],
)
def test_bad_http_answers_are_protocol_errors(response: httpx.Response, words: str) -> None:
    with scripted(lambda request: response) as ipp, pytest.raises(IppProtocolError, match=words):
        ipp.get_printer_attributes()


def test_mismatched_request_id_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        reply = answer(request)
        message, _ = decode_message(reply.content)
        message.request_id += 1
        return httpx.Response(200, headers=reply.headers, content=encode_message(message))

    with scripted(handler) as ipp, pytest.raises(IppProtocolError, match="request-id"):
        ipp.get_job_attributes(1)


def test_timeouts_are_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with scripted(handler) as ipp, pytest.raises(PrinterUnreachable, match="ReadTimeout"):
        ipp.get_printer_attributes()


def test_every_request_names_the_user_after_its_target() -> None:
    seen: list[Message] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(decode_message(request.read())[0])
        return answer(request)

    with scripted(handler) as ipp:
        ipp.get_job_attributes(5, ["job-state"])
        ipp.cancel_job(5, requesting_user_name="bob")
    names = [list(message.operation or ()) for message in seen]
    assert names == [
        [
            "attributes-charset",
            "attributes-natural-language",
            "printer-uri",
            "job-id",
            "requested-attributes",
            "requesting-user-name",
        ],
        [
            "attributes-charset",
            "attributes-natural-language",
            "printer-uri",
            "job-id",
            "requesting-user-name",
        ],
    ]
    assert seen[1].value("requesting-user-name") == "bob"
