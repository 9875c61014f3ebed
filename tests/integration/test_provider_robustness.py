"""The Print Provider under abuse: malformed IPP, odd HTTP, huge documents, kill -9, auth, accounts.

Everything runs against real processes: an App Server, Print Providers (``printwarden provider
serve``) and clients speaking HTTP over real sockets, raw where the test needs control over
the bytes (chunked bodies, ``Expect: 100-continue``, a connection cut mid-upload).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import select
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    IntRange,
    JobState,
    Message,
    Operation,
    Resolution,
    StatusCode,
    ValueTag,
    decode_message,
    encode_message,
)
from printwarden.provider.ipp.client import IppClient
from printwarden.testing.appserver import AppServer, served_app
from support.provider import (
    PrinterSpec,
    ProviderProcess,
    QueueSpec,
    colour_and_mono,
    file_printer_documents,
    spool_document,
    spool_documents,
)
from support.seeding import add_printer, add_user, top_up, wait_for

TEXT = b"printwarden robustness page\n"
WAIT_SECONDS = 30.0  # generous: the machine may be busy; every wait below is bounded
IPP = {"Content-Type": "application/ipp"}
PASSWORD = "correct horse battery staple"
MAX_DOCUMENT = 32 * 1024 * 1024  # the world's provider refuses larger documents


# --- IPP messages by hand ---------------------------------------------------------------


def operation_group(uri: str | None, *extra: Attribute, charset: str = "utf-8") -> AttributeGroup:
    group = AttributeGroup(
        GroupTag.OPERATION,
        [
            Attribute.of("attributes-charset", ValueTag.CHARSET, charset),
            Attribute.of("attributes-natural-language", ValueTag.NATURAL_LANGUAGE, "en"),
        ],
    )
    if uri is not None:
        group.add(Attribute.of("printer-uri", ValueTag.URI, uri))
    for attribute in extra:
        group.add(attribute)
    return group


def user(name: str) -> Attribute:
    return Attribute.of("requesting-user-name", ValueTag.NAME_WITHOUT_LANGUAGE, name)


def document_format(mime: str) -> Attribute:
    return Attribute.of("document-format", ValueTag.MIME_MEDIA_TYPE, mime)


def print_job_header(
    uri: str, username: str, mime: str = "text/plain", request_id: int = 1
) -> bytes:
    group = operation_group(uri, user(username), document_format(mime))
    return encode_message(Message(code=Operation.PRINT_JOB, request_id=request_id, groups=[group]))


def decode_answer(body: bytes) -> tuple[Message, int]:
    """Decode a provider answer; return it and the request-id it carries."""
    message, offset = decode_message(body)
    assert offset == len(body), "trailing bytes after the IPP answer"
    return message, message.request_id


# --- raw HTTP/1.1 over a socket -----------------------------------------------------------


class RawHttp:
    """One HTTP/1.1 connection driven byte by byte."""

    def __init__(self, port: int, timeout: float = WAIT_SECONDS) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.pending = b""

    def close(self) -> None:
        self.sock.close()

    def send_head(self, path: str, headers: dict[str, str]) -> None:
        lines = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send_chunk(self, data: bytes) -> None:
        self.sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunks(self) -> None:
        self.sock.sendall(b"0\r\n\r\n")

    def read_head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"connection closed; got {self.pending!r}")
            self.pending += data
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers = self.read_head()
        while status == 100:
            status, headers = self.read_head()
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed inside the response body")
            self.pending += data
        body, self.pending = self.pending[:length], self.pending[length:]
        return status, headers, body


# --- the world ----------------------------------------------------------------------------


@dataclass
class AuthProvider(ProviderProcess):
    """A provider whose provider.toml also sets ``require_authentication`` on some queues."""

    authenticated: tuple[str, ...] = ()

    def write_config(self) -> Path:
        path = super().write_config()
        text = path.read_text()
        for queue in self.authenticated:
            marker = f'[[queues]]\nname = "{queue}"\n'
            assert marker in text, f"queue {queue} not in {text}"
            text = text.replace(marker, marker + "require_authentication = true\n")
        path.write_text(text)
        return path


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: AuthProvider
    out: Path
    suffix: str

    @property
    def base(self) -> str:
        return f"http://{self.provider.host}"

    def printed(self, printer: str) -> list[bytes]:
        folder = self.out / printer
        return file_printer_documents(folder)

    def balance(self, username: str) -> int:
        value: int = self.admin.get(f"/users/{username}").json()["balance"]
        return value

    def account_balance(self, name: str) -> int:
        response = self.admin.get(f"/accounts/{name}")
        assert response.status_code == 200, response.text
        value: int = response.json()["balance"]
        return value

    def client(self, queue: str, username: str = "alice") -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=username, timeout=WAIT_SECONDS)

    def job(self, queue: str, job_id: int) -> dict[str, Any]:
        with self.client(queue) as client:
            group = client.get_job_attributes(job_id)
        return {name: group.value(name) for name in group}

    def serving(self) -> None:
        """The provider still answers a plain Get-Printer-Attributes."""
        with self.client("direct") as client:
            attributes = client.get_printer_attributes(["printer-state"])
        assert attributes.value("printer-state") == 3


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("robust")
    with served_app(root, "boss", WAIT_SECONDS) as (app, admin):
        for printer, colour in (
            ("colour", True),
            ("mono", False),
            ("paper", False),
            ("stall", False),
        ):
            add_printer(admin, printer, colour=colour)
        for name in ("alice", "bob"):
            add_user(admin, name, 1000, password=PASSWORD)
        out = root / "out"
        provider = AuthProvider(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=colour_and_mono(out),
            queues=[
                QueueSpec("direct", "direct", "colour"),
                QueueSpec("secure", "hold", "mono", ipp_release=True),
                QueueSpec("locked", "direct", "mono"),
            ],
            authenticated=("locked",),
            max_document_bytes=MAX_DOCUMENT,
        )
        provider.start()
        try:
            yield World(app, admin, provider, out, uuid.uuid4().hex[:8])
        finally:
            provider.stop()


# --- malformed IPP ------------------------------------------------------------------------

QUEUE_URI = "ipp://127.0.0.1/ipp/print/direct"


def _gpa(request_id: int, *groups: AttributeGroup, version: tuple[int, int] = (2, 0)) -> bytes:
    message = Message(
        code=Operation.GET_PRINTER_ATTRIBUTES,
        request_id=request_id,
        groups=list(groups) or [operation_group(QUEUE_URI)],
        version=version,
    )
    return encode_message(message)


def _header(version: bytes, code: int, request_id: int) -> bytes:
    return version + code.to_bytes(2, "big") + request_id.to_bytes(4, "big")


def _too_many_values(request_id: int) -> bytes:
    one = b"\x44\x00\x01k\x00\x01v"
    more = b"\x44\x00\x00\x00\x01v" * 5000
    return _header(b"\x02\x00", Operation.GET_PRINTER_ATTRIBUTES, request_id) + (
        b"\x01" + one + more + b"\x03"
    )


@dataclass(frozen=True)
class Malformed:
    body: bytes
    status: int
    request_id: int
    path: str = "/ipp/print/direct"


S = StatusCode
MALFORMED: dict[str, Malformed] = {
    "truncated-header": Malformed(b"\x02\x00\x00\x0b\x00", S.CLIENT_ERROR_BAD_REQUEST, 0),
    "truncated-attributes": Malformed(
        _header(b"\x02\x00", Operation.GET_PRINTER_ATTRIBUTES, 7) + b"\x01\x47\x00\x12attri",
        S.CLIENT_ERROR_BAD_REQUEST,
        7,
    ),
    "no-end-of-attributes": Malformed(_gpa(8)[:-1], S.CLIENT_ERROR_BAD_REQUEST, 8),
    "version-0.0": Malformed(_gpa(21, version=(0, 0)), S.SERVER_ERROR_VERSION_NOT_SUPPORTED, 21),
    "version-3.0": Malformed(_gpa(22, version=(3, 0)), S.SERVER_ERROR_VERSION_NOT_SUPPORTED, 22),
    "version-0.0-print-job-with-document": Malformed(
        b"\x00\x00" + print_job_header(QUEUE_URI, "alice", request_id=23)[2:] + TEXT * 40000,
        S.SERVER_ERROR_VERSION_NOT_SUPPORTED,
        23,
    ),
    "request-id-0": Malformed(
        _header(b"\x02\x00", Operation.GET_PRINTER_ATTRIBUTES, 0) + _gpa(1)[8:],
        S.CLIENT_ERROR_BAD_REQUEST,
        0,
    ),
    "no-charset-or-language": Malformed(
        _gpa(
            31,
            AttributeGroup(
                GroupTag.OPERATION, [Attribute.of("printer-uri", ValueTag.URI, QUEUE_URI)]
            ),
        ),
        S.CLIENT_ERROR_BAD_REQUEST,
        31,
    ),
    "no-operation-group": Malformed(
        _gpa(32, AttributeGroup(GroupTag.JOB)), S.CLIENT_ERROR_BAD_REQUEST, 32
    ),
    "unknown-charset": Malformed(
        _gpa(33, operation_group(QUEUE_URI, charset="x-klingon")),
        S.CLIENT_ERROR_CHARSET_NOT_SUPPORTED,
        33,
    ),
    "unknown-operation": Malformed(
        encode_message(Message(code=0x4242, request_id=41, groups=[operation_group(QUEUE_URI)])),
        S.SERVER_ERROR_OPERATION_NOT_SUPPORTED,
        41,
    ),
    "missing-printer-uri": Malformed(
        _gpa(42, operation_group(None)), S.CLIENT_ERROR_BAD_REQUEST, 42
    ),
    "unparsable-printer-uri": Malformed(
        _gpa(43, operation_group("ipp://[not-a-host/ipp/print/direct")),
        S.CLIENT_ERROR_BAD_REQUEST,
        43,
        path="/",
    ),
    "attribute-before-any-group": Malformed(
        _header(b"\x02\x00", Operation.GET_PRINTER_ATTRIBUTES, 44) + b"\x44\x00\x01k\x00\x01v\x03",
        S.CLIENT_ERROR_BAD_REQUEST,
        44,
    ),
    "bad-boolean": Malformed(
        _gpa(45)[:-1] + b"\x22\x00\x08my-jobs?\x00\x02\x01\x01\x03",
        S.CLIENT_ERROR_BAD_REQUEST,
        45,
    ),
    "value-too-long": Malformed(
        _header(b"\x02\x00", Operation.GET_PRINTER_ATTRIBUTES, 46)
        + b"\x01\x41\x00\x01x\x80\x00"
        + b"x" * 0x8000
        + b"\x03",
        S.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG,
        46,
    ),
    "huge-attribute-count": Malformed(
        _too_many_values(51), S.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, 51
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_ipp_gets_the_right_status_and_the_server_keeps_serving(
    world: World, case: str
) -> None:
    malformed = MALFORMED[case]
    response = httpx.post(
        world.base + malformed.path, content=malformed.body, headers=IPP, timeout=WAIT_SECONDS
    )
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/ipp"
    answer, request_id = decode_answer(response.content)
    assert (hex(answer.code), request_id) == (hex(malformed.status), malformed.request_id)
    assert answer.version in ((1, 1), (2, 0))
    operation = answer.operation
    assert operation is not None
    assert list(operation)[:2] == ["attributes-charset", "attributes-natural-language"]
    assert operation.value("status-message"), "an error answer says what was wrong"
    world.serving()


def test_wrong_content_type_and_get_are_http_errors_not_crashes(world: World) -> None:
    body = _gpa(1)
    wrong = httpx.post(
        world.base + "/ipp/print/direct",
        content=body,
        headers={"Content-Type": "text/plain"},
        timeout=WAIT_SECONDS,
    )
    assert wrong.status_code == 400
    missing = httpx.post(world.base + "/ipp/print/direct", content=body, timeout=WAIT_SECONDS)
    assert missing.status_code == 400
    get = httpx.get(world.base + "/ipp/print/direct", timeout=WAIT_SECONDS)
    assert get.status_code == 405
    assert get.headers["allow"] == "POST"
    nowhere = httpx.post(world.base + "/nowhere", content=body, headers=IPP, timeout=WAIT_SECONDS)
    assert nowhere.status_code == 404
    world.serving()


def _raw_exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection; everything the provider answers until it closes."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as sock:
        sock.sendall(request)
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                got += data
    return got


def _job_count(world: World, queue: str) -> int:
    with world.client(queue) as client:
        response = client.request(
            Operation.GET_JOBS, [Attribute.of("which-jobs", ValueTag.KEYWORD, "all")]
        )
    return len(response.groups_of(GroupTag.JOB))


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n",
        b"Transfer-Encoding: gzip, chunked\r\nX-Length: %d\r\n",
    ],
    ids=["cl-te", "te-cl", "te-not-only-chunked"],
)
def test_a_request_smuggled_in_a_print_job_is_refused_and_never_printed(
    world: World, framing: bytes
) -> None:
    """Framed two ways, a body could hide a second request from one reader of it."""
    hidden_doc = b"smuggled " + world.suffix.encode()
    header = print_job_header(world.provider.uri("direct"), "alice")
    hidden = (
        (
            b"POST /ipp/print/direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(header) + len(hidden_doc))
        )
        + header
        + hidden_doc
    )
    body = b"%x\r\n" % len(header) + header + b"\r\n0\r\n\r\n" + hidden
    before = _job_count(world, "direct")
    head = b"POST /ipp/print/direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\n"
    got = _raw_exchange(world.provider.port, head + framing % len(body) + b"\r\n" + body)
    assert got.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 501 ")), got[:200]
    assert got.count(b"HTTP/1.1 ") == 1, "only the one refusal, then the connection closed"
    assert _job_count(world, "direct") == before
    time.sleep(0.5)
    assert not any(hidden_doc in page for page in world.printed("colour"))
    world.serving()


def test_bad_chunking_in_a_print_job_keeps_no_job(world: World) -> None:
    header = print_job_header(world.provider.uri("direct"), "alice")
    before = _job_count(world, "direct")
    head = (
        b"POST /ipp/print/direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n" % len(header) + header + b"\r\n"
    got = _raw_exchange(world.provider.port, head + chunk + b"5\r\nlonger than five\r\n0\r\n\r\n")
    assert b"HTTP/1.1 400 " in got
    assert b"HTTP/1.1 200 " not in got
    assert _job_count(world, "direct") == before
    world.serving()


def test_an_oversized_request_head_is_refused_with_431(world: World) -> None:
    filler = b"X-Filler: " + b"a" * (64 * 1024) + b"\r\n"
    got = _raw_exchange(
        world.provider.port, b"POST /ipp/print/direct HTTP/1.1\r\nHost: x\r\n" + filler + b"\r\n"
    )
    assert got.startswith(b"HTTP/1.1 431 ")
    world.serving()


def test_job_template_values_of_odd_syntax_never_crash_a_print_job(world: World) -> None:
    """printer-resolution is a resolution, and a client may send octetString or ranges.

    Each must get an IPP answer (accepted, or ignored with successful-ok-ignored-...), never
    an HTTP 500 with the document left behind in the spool.
    """
    data = world.provider.directory / "data"
    before = spool_documents(data)
    odd = [
        (Attribute.of("printer-resolution", ValueTag.RESOLUTION, Resolution(600, 600, 3)), 0),
        (Attribute.of("media", ValueTag.OCTET_STRING, b"\x00\xff"), 1),
        (Attribute.of("copies", ValueTag.BOOLEAN, True), 1),
        (Attribute.of("job-account-id", ValueTag.OCTET_STRING, b"acct"), 1),
    ]
    for request_id, (attribute, status) in enumerate(odd, start=1):
        group = operation_group(
            world.provider.uri("secure"), user("alice"), document_format("text/plain")
        )
        message = Message(
            code=Operation.PRINT_JOB,
            request_id=request_id,
            groups=[group, AttributeGroup(GroupTag.JOB, [attribute])],
            data=TEXT,
        )
        response = httpx.post(
            world.base + "/ipp/print/secure",
            content=encode_message(message),
            headers=IPP,
            timeout=WAIT_SECONDS,
        )
        assert response.status_code == 200, (attribute.name, response.text[:300])
        answer, _ = decode_answer(response.content)
        assert answer.code == status, (attribute.name, hex(answer.code))
        if status == 1:
            unsupported = answer.unsupported
            assert unsupported is not None
            assert attribute.name in unsupported
        job_id = answer.value("job-id")
        assert isinstance(job_id, int)
        assert world.job("secure", job_id)["job-state"] == JobState.PENDING_HELD
    assert len(spool_documents(data) - before) == len(odd), "one document per accepted job"
    world.serving()


# --- chunked bodies, 100-continue, big documents ------------------------------------------


def _chunks(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    start = 0
    for size in sizes:
        if start >= len(data):
            return
        yield data[start : start + size]
        start += size
    while start < len(data):
        yield data[start : start + 65536]
        start += 65536


def test_chunked_print_job_after_100_continue_prints_the_same_bytes(world: World) -> None:
    document = b"".join(b"chunked line %05d\n" % i for i in range(3000))
    header = print_job_header(world.provider.uri("direct"), "bob", request_id=77)
    connection = RawHttp(world.provider.port)
    try:
        connection.send_head(
            "/ipp/print/direct",
            {
                "Content-Type": "application/ipp",
                "Transfer-Encoding": "chunked",
                "Expect": "100-continue",
            },
        )
        status, _ = connection.read_head()
        assert status == 100, "the provider asks for the body before the client sends it"
        # Odd chunk sizes: the IPP header itself arrives split across chunks.
        for chunk in _chunks(header + document, [1, 2, 3, 5, 7, 11, 13, 4093, 1]):
            connection.send_chunk(chunk)
        connection.end_chunks()
        status, headers, body = connection.read_response()
    finally:
        connection.close()
    assert status == 200
    assert headers["content-type"] == "application/ipp"
    answer, request_id = decode_answer(body)
    assert (answer.code, request_id) == (S.SUCCESSFUL_OK, 77)
    job_id = answer.value("job-id")
    assert isinstance(job_id, int)
    wait_for(lambda: document in world.printed("colour"), "the chunked document at the printer")
    assert world.printed("colour").count(document) == 1
    state = wait_for(
        lambda: world.job("direct", job_id)["job-state"] == JobState.COMPLETED, "completed"
    )
    assert state


def _memory_kb(pid: int, field: str = "VmRSS") -> int:
    """Resident memory (``VmRSS``) or its peak so far (``VmHWM``) of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_document_over_the_limit_is_refused_as_too_large_and_nothing_is_kept(
    world: World, declared: bool
) -> None:
    huge = 300 * 1024 * 1024
    assert world.provider.process is not None
    pid = world.provider.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts afresh
    peak_before = _memory_kb(pid, "VmHWM")
    data_dir = world.provider.directory / "data"
    kept_before = spool_documents(data_dir) | set(_names(data_dir / "incoming"))
    header = print_job_header(world.provider.uri("direct"), "alice", "text/plain", 88)
    framing = (
        {"Content-Length": str(len(header) + huge)}
        if declared
        else {"Transfer-Encoding": "chunked"}
    )
    connection = RawHttp(world.provider.port)
    try:
        connection.send_head("/ipp/print/direct", {**IPP, **framing})
        _send_until_answered(connection, header, huge, chunked=not declared)
        status, headers, body = connection.read_response()
    finally:
        connection.close()
    assert status == 200
    assert headers.get("connection") == "close"  # the rest of the upload is not read
    answer, request_id = decode_answer(body)
    assert (answer.code, request_id) == (S.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, 88)
    assert str(MAX_DOCUMENT) in str(answer.value("status-message"))
    growth_mb = (_memory_kb(pid, "VmHWM") - peak_before) / 1024
    assert growth_mb < 16, f"the provider's peak rose by {growth_mb:.1f} MB"
    wait_for(lambda: spool_documents(data_dir) | set(_names(data_dir / "incoming"))
             == kept_before, "the refused document gone from the spool")  # fmt: skip
    world.serving()
    with world.client("direct") as client:
        limit = client.get_printer_attributes(["job-k-octets-supported"])
    assert limit.value("job-k-octets-supported") == IntRange(0, MAX_DOCUMENT // 1024)


def _names(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()] if folder.exists() else []


def _send_until_answered(connection: RawHttp, header: bytes, size: int, chunked: bool) -> None:
    """Send ``header`` and then ``size`` bytes of document, a mebibyte at a time, until the
    server answers (or hangs up) — a refusal may come long before the end."""
    piece = b"y" * (1024 * 1024)
    frame = connection.send_chunk if chunked else connection.sock.sendall
    try:
        frame(header)
        for _ in range(size // len(piece)):
            if select.select([connection.sock], [], [], 0)[0]:
                return  # the answer is there
            frame(piece)
        if chunked:
            connection.end_chunks()
    except (BrokenPipeError, ConnectionResetError):
        return  # the server closed after answering


def test_twenty_megabytes_stream_to_disk_and_arrive_intact(world: World) -> None:
    size = 20 * 1024 * 1024
    # PCL (what a Windows driver sends): recognised by its first bytes, passed on as it is.
    document = b"\x1bEPWTEST\x00" + random.Random(20).randbytes(size - 9)
    digest = hashlib.sha256(document).hexdigest()
    assert world.provider.process is not None
    pid = world.provider.process.pid
    before = _memory_kb(pid)
    peak_before = _memory_kb(pid, "VmHWM")
    peak = [before]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak.append(_memory_kb(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    header = print_job_header(world.provider.uri("secure"), "bob", "application/octet-stream")
    connection = RawHttp(world.provider.port)
    try:
        connection.send_head(
            "/ipp/print/secure",
            {"Content-Type": "application/ipp", "Transfer-Encoding": "chunked"},
        )
        for chunk in _chunks(header + document, []):
            connection.send_chunk(chunk)
        connection.end_chunks()
        status, _, body = connection.read_response()
    finally:
        sampling.set()
        sampler.join(timeout=5)
        connection.close()
    assert status == 200
    answer, _ = decode_answer(body)
    assert answer.code == S.SUCCESSFUL_OK
    job_id = answer.value("job-id")
    assert isinstance(job_id, int)
    growth_mb = (max(peak) - before) / 1024
    assert growth_mb < 8, f"the provider grew by {growth_mb:.1f} MB for a 20 MB document"
    new_peak_mb = (_memory_kb(pid, "VmHWM") - peak_before) / 1024
    assert new_peak_mb < 8, f"the provider's peak rose by {new_peak_mb:.1f} MB"
    assert world.job("secure", job_id)["job-k-octets"] == size // 1024
    with world.client("secure", "bob") as client:
        client.request(Operation.RELEASE_JOB, [Attribute.of("job-id", ValueTag.INTEGER, job_id)])

    def arrived() -> bool:
        return any(
            hashlib.sha256(data).hexdigest() == digest
            for data in file_printer_documents(world.out / "mono")
            if len(data) == size
        )

    wait_for(arrived, "the 20 MB document at the printer")
    wait_for(lambda: world.job("secure", job_id)["job-state"] == JobState.COMPLETED, "completed")


# --- HTTP Basic authentication --------------------------------------------------------------


def test_queue_requiring_authentication_answers_401_and_trusts_only_the_password(
    world: World,
) -> None:
    url = world.base + "/ipp/print/locked"
    document = b"authenticated page " + world.suffix.encode() + b"\n"
    message = print_job_header(world.provider.uri("locked"), "mallory") + document

    anonymous = httpx.post(url, content=message, headers=IPP, timeout=WAIT_SECONDS)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic ")
    wrong = httpx.post(
        url, content=message, headers=IPP, auth=("alice", "not it"), timeout=WAIT_SECONDS
    )
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic ")
    unknown = httpx.post(
        url, content=message, headers=IPP, auth=("nobody", PASSWORD), timeout=WAIT_SECONDS
    )
    assert unknown.status_code == 401

    before = world.balance("alice")
    right = httpx.post(
        url, content=message, headers=IPP, auth=("alice", PASSWORD), timeout=WAIT_SECONDS
    )
    assert right.status_code == 200
    answer, _ = decode_answer(right.content)
    assert answer.code == S.SUCCESSFUL_OK
    job_id = answer.value("job-id")
    assert isinstance(job_id, int)
    wait_for(lambda: document in world.printed("mono"), "the authenticated job's page")
    assert world.printed("mono").count(document) == 1

    query = encode_message(
        Message(
            code=Operation.GET_JOB_ATTRIBUTES,
            request_id=9,
            groups=[
                operation_group(
                    world.provider.uri("locked"),
                    Attribute.of("job-id", ValueTag.INTEGER, job_id),
                    user("mallory"),
                )
            ],
        )
    )
    unauthenticated = httpx.post(url, content=query, headers=IPP, timeout=WAIT_SECONDS)
    assert unauthenticated.status_code == 401
    status = httpx.post(
        url, content=query, headers=IPP, auth=("alice", PASSWORD), timeout=WAIT_SECONDS
    )
    job, _ = decode_answer(status.content)
    assert job.value("job-originating-user-name") == "alice"
    wait_for(lambda: world.balance("alice") == before - 10, "alice charged for her job")


def test_password_guessing_over_ipp_is_throttled_with_429(world: World) -> None:
    """HTTP Basic on a queue is a login like any other: after a few wrong passwords for a
    user, the next attempt (even the right one) is answered 429 with Retry-After, and the
    user's account waits at the API too (one throttle, at the server)."""
    victim = f"victim-{world.suffix}"
    created = world.admin.post("/users", json={"username": victim, "password": PASSWORD})
    assert created.status_code == 201, created.text
    url = world.base + "/ipp/print/locked"
    message = print_job_header(world.provider.uri("locked"), victim) + b"guess\n"
    for guess in range(5):
        wrong = httpx.post(url, content=message, headers=IPP, auth=(victim, f"guess-{guess}"),
                           timeout=WAIT_SECONDS)  # fmt: skip
        assert wrong.status_code == 401
    limited = httpx.post(url, content=message, headers=IPP, auth=(victim, PASSWORD),
                         timeout=WAIT_SECONDS)  # fmt: skip
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    login = httpx.post(f"{world.app.api}/auth/login",
                       json={"username": victim, "password": PASSWORD})  # fmt: skip
    assert login.status_code == 429
    lockouts = world.admin.get("/lockouts").json()["items"]
    assert {"user:" + victim, "address:127.0.0.1"} <= {item["key"] for item in lockouts}


# --- job-account-id -------------------------------------------------------------------------


def _shared_account(world: World, name: str, users: list[str], balance: int) -> None:
    created = world.admin.post("/accounts", json={"name": name, "users": users, "restricted": True})
    assert created.status_code == 201, created.text
    top_up(world.admin, created.json()["id"], balance)


def test_job_account_id_charges_the_shared_account_the_user_may_use(world: World) -> None:
    account = f"dept-{world.suffix}"
    _shared_account(world, account, ["alice"], 500)
    personal = world.balance("alice")
    document = b"charged to the department\n"
    with world.client("direct") as client:
        job_id = client.print_job(
            document,
            document_format="text/plain",
            requesting_user_name="alice",
            attributes={"job-account-id": account},
        )
    wait_for(lambda: document in world.printed("colour"), "the department's page")
    wait_for(lambda: world.account_balance(account) == 490, "the department charged")
    assert world.job("direct", job_id)["job-account-id"] == account
    time.sleep(0.5)
    assert world.balance("alice") == personal
    assert world.account_balance(account) == 490


def test_job_account_id_the_user_may_not_use_cancels_the_job(world: World) -> None:
    account = f"board-{world.suffix}"
    _shared_account(world, account, ["bob"], 500)
    personal = world.balance("alice")
    document = b"not alice's account\n"
    with world.client("direct") as client:
        job_id = client.print_job(
            document,
            document_format="text/plain",
            requesting_user_name="alice",
            attributes={"job-account-id": account},
        )
    wait_for(lambda: world.job("direct", job_id)["job-state"] == JobState.CANCELED, "the cancel")
    message = str(world.job("direct", job_id)["job-state-message"])
    assert "alice may not charge account" in message, message
    assert account in message, message
    assert document not in world.printed("colour")
    assert world.account_balance(account) == 500
    assert world.balance("alice") == personal


# --- kill -9 ----------------------------------------------------------------------------------


class StallingPrinter:
    """A raw port-9100 printer that reads the first bytes of each job, then stops reading."""

    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port: int = self.server.getsockname()[1]
        self.connections = 0
        self.received = 0
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)
            self.connections += 1
            connection.settimeout(5)
            with contextlib.suppress(OSError):
                self.received += len(connection.recv(4096))

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


@dataclass
class CrashRig:
    provider: ProviderProcess
    printer: StallingPrinter
    out: Path

    @property
    def data(self) -> Path:
        return self.provider.directory / "data"

    def files(self, folder: str) -> set[str]:
        if folder == "docs":
            return spool_documents(self.data)
        return {p.name for p in (self.data / folder).iterdir()}

    def client(self, queue: str) -> IppClient:
        return IppClient(self.provider.uri(queue), user_name="bob", timeout=WAIT_SECONDS)

    def job(self, queue: str, job_id: int) -> dict[str, Any]:
        with self.client(queue) as client:
            group = client.get_job_attributes(job_id)
        return {name: group.value(name) for name in group}

    def job_ids(self, queue: str) -> list[int]:
        with self.client(queue) as client:
            response = client.request(
                Operation.GET_JOBS, [Attribute.of("which-jobs", ValueTag.KEYWORD, "all")]
            )
        return sorted(int(str(g.value("job-id"))) for g in response.groups_of(GroupTag.JOB))

    def printed(self) -> list[bytes]:
        return file_printer_documents(self.out)


@pytest.fixture(scope="module")
def crash_rig(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRig]:
    root = tmp_path_factory.mktemp("crash")
    printer = StallingPrinter()
    out = root / "out"
    name = f"crash-provider-{uuid.uuid4().hex[:8]}"  # a token acts for one provider only
    provider = ProviderProcess(
        server_url=world.app.url,
        token=world.app.token(Role.PROVIDER, scope=f"provider:{name}"),
        name=name,
        directory=root,
        printers=[
            PrinterSpec("paper", f"file://{out}", colour=False),
            PrinterSpec("stall", f"socket://127.0.0.1:{printer.port}", colour=False),
        ],
        queues=[
            QueueSpec("fast", "direct", "paper"),
            QueueSpec("held", "hold", "paper", ipp_release=True),
            QueueSpec("raw", "direct", "stall"),
        ],
    )
    provider.start()
    try:
        yield CrashRig(provider, printer, out)
    finally:
        provider.stop()
        printer.close()


@pytest.fixture
def rig(crash_rig: CrashRig) -> CrashRig:
    """The crash rig with its provider running (a failed test may have left it killed)."""
    process = crash_rig.provider.process
    if process is None or process.poll() is not None:
        crash_rig.provider.start()
    return crash_rig


def test_kill_9_mid_upload_leaves_no_job_and_no_orphan_document(rig: CrashRig) -> None:
    jobs_before = rig.job_ids("fast")
    docs_before = rig.files("docs")
    connection = RawHttp(rig.provider.port)
    got = b""
    try:
        connection.send_head(
            "/ipp/print/fast", {"Content-Type": "application/ipp", "Transfer-Encoding": "chunked"}
        )
        connection.send_chunk(print_job_header(rig.provider.uri("fast"), "bob"))
        for _ in range(64):  # 4 MB of a document that never ends
            connection.send_chunk(b"x" * 65536)

        def uploading() -> bool:
            return any(p.stat().st_size > 1024 * 1024 for p in (rig.data / "incoming").iterdir())

        wait_for(uploading, "the provider writing the upload to incoming/")
        rig.provider.kill9()
        connection.sock.settimeout(5)
        try:
            while data := connection.sock.recv(65536):
                got += data
        except OSError:
            pass
    finally:
        connection.close()
    assert b"HTTP/1.1 200" not in got, "the client must not have been told anything but failure"
    rig.provider.start()
    assert rig.files("incoming") == set()
    assert rig.files("docs") == docs_before
    assert rig.job_ids("fast") == jobs_before
    time.sleep(0.5)
    assert not any(b"x" * 65536 in page for page in rig.printed())


def test_held_job_survives_kill_9_and_prints_once_when_released(rig: CrashRig) -> None:
    document = b"held through a crash " + uuid.uuid4().hex.encode() + b"\n"
    docs_before = rig.files("docs")
    with rig.client("held") as client:
        job_id = client.print_job(
            document, document_format="text/plain", requesting_user_name="bob"
        )
    rig.provider.kill9()
    rig.provider.start()
    job = rig.job("held", job_id)
    assert job["job-state"] == JobState.PENDING_HELD
    new_docs = rig.files("docs") - docs_before
    assert len(new_docs) == 1
    assert spool_document(rig.data, new_docs.pop()) == document
    time.sleep(0.5)
    assert document not in rig.printed(), "a held job waits for its release"
    with rig.client("held") as client:
        client.request(Operation.RELEASE_JOB, [Attribute.of("job-id", ValueTag.INTEGER, job_id)])
    wait_for(lambda: document in rig.printed(), "the released job")
    wait_for(lambda: rig.job("held", job_id)["job-state"] == JobState.COMPLETED, "completed")
    time.sleep(1.0)
    assert rig.printed().count(document) == 1
    assert rig.files("docs") == docs_before, "a printed job's document leaves the spool"


def test_kill_9_amid_concurrent_print_jobs_loses_no_acknowledged_job(rig: CrashRig) -> None:
    """Jobs arriving together are committed together (one fsync for a batch): each client is
    answered only after its job's batch is on disk, so a crash right after any answer loses
    none that was answered."""
    acknowledged: dict[int, bytes] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def client(number: int) -> None:
        with contextlib.suppress(Exception):  # the provider dies under them
            for count in range(200):
                document = f"client {number} job {count} {uuid.uuid4().hex}\n".encode()
                with rig.client("held") as ipp:
                    job_id = ipp.print_job(
                        document, document_format="text/plain", requesting_user_name="bob"
                    )
                with lock:
                    acknowledged[job_id] = document
                    if len(acknowledged) >= 60:
                        enough.set()

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(6)]
    for thread in clients:
        thread.start()
    assert enough.wait(WAIT_SECONDS), "the clients got too few answers"
    rig.provider.kill9()  # while the others are mid-request
    for thread in clients:
        thread.join(WAIT_SECONDS)
    with lock:
        answered = dict(acknowledged)
    rig.provider.start()
    held = set(rig.job_ids("held"))
    assert set(answered) <= held, f"lost acknowledged jobs {sorted(set(answered) - held)}"
    for job_id in sorted(answered)[-10:]:  # the last answered: the ones most at risk
        job = rig.job("held", job_id)
        assert job["job-state"] == JobState.PENDING_HELD
    database = f"file:{rig.data / 'state.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(database, uri=True)) as db:
        rows = db.execute("SELECT id, document_data FROM jobs").fetchall()
    stored = {job_id: data for job_id, data in rows if job_id in answered}
    assert stored == answered, "every acknowledged job has its document"


def test_kill_9_mid_socket_send_stops_the_job_and_never_resends_it(rig: CrashRig) -> None:
    document = b"\x1bEPWSTALL\x00" + random.Random(9).randbytes(16 * 1024 * 1024)  # PCL
    connections = rig.printer.connections
    with rig.client("raw") as client:
        job_id = client.print_job(
            document, document_format="application/octet-stream", requesting_user_name="bob"
        )
    wait_for(lambda: rig.printer.connections == connections + 1, "the printer connection")
    wait_for(lambda: rig.job("raw", job_id)["job-state"] == JobState.PROCESSING, "processing")
    wait_for(lambda: rig.printer.received > 0, "the first bytes at the printer")
    rig.provider.kill9()
    rig.provider.start()
    job = wait_for(
        lambda: (j := rig.job("raw", job_id))["job-state"] == JobState.PROCESSING_STOPPED and j,
        "processing-stopped after the restart",
    )
    assert "not sent again" in str(job["job-state-message"])
    time.sleep(2.0)  # two turns of the engine's loop
    assert rig.printer.connections == connections + 1, "sent again over a raw socket"
    assert rig.job("raw", job_id)["job-state"] == JobState.PROCESSING_STOPPED
