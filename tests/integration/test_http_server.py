"""The provider's HTTP/1.1 server over real sockets: keep-alive, pipelining, 100-continue,
TLS — and hostile clients bounded: slow heads, stalled bodies, idle connections, oversized
heads, smuggled requests, floods of bytes the handler does not read, too many connections.

The server runs in a thread of this process with deadlines of a fraction of a second (the
provider's are seconds), on 127.0.0.1; clients are plain sockets, so every byte is the test's.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from printwarden.provider.http11 import HeadLimits
from printwarden.provider.http_server import HttpServer, Request, Response, ServerSettings

SETTINGS = ServerSettings(
    keep_alive=0.4,
    head=0.4,
    body=0.4,
    max_connections=8,
    read_ahead=256 * 1024,
    sweep_every=0.05,
    shutdown_grace=2.0,
    limits=HeadLimits(max_head_bytes=4096, max_headers=20),
)
WAIT = 10.0  # no test waits longer than this for anything


@dataclass
class Handler:
    """Echoes what it read; ``gate`` (when set) holds it before it reads the body."""

    seen: list[Request] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None
    most_buffered: int = 0
    delay: float = 0.0

    async def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.most_buffered = max(self.most_buffered, request.body.buffered)
        size = 0
        try:
            async for chunk in request.body:
                size += len(chunk)
        except ConnectionError as exc:
            self.failures.append(str(exc))
            raise
        text = f"{request.method} {request.path} {size}".encode()
        return Response(200, [(b"content-type", b"text/plain")], text)


class Served:
    """An HttpServer on its own event loop in a thread."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.loop = asyncio.new_event_loop()
        self.server = HttpServer(handler, SETTINGS, ssl_context)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start("127.0.0.1", 0))
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(WAIT)
        self.port = self.server.port

    def call(self, function: object) -> None:
        self.loop.call_soon_threadsafe(function)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)


@pytest.fixture
def served() -> Iterator[Served]:
    running = Served(Handler())
    try:
        yield running
    finally:
        running.stop()


def read_until_closed(sock: socket.socket) -> bytes:
    got = b""
    while data := sock.recv(65536):
        got += data
    return got


def read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` whole responses (each with a Content-Length) from ``sock``."""
    got, answers = b"", list[bytes]()
    while len(answers) < count:
        data = sock.recv(65536)
        assert data, f"closed after {answers!r}, then {got!r}"
        got += data
        while b"\r\n\r\n" in got:
            head, rest = got.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                break
            answers.append(head + b"\r\n\r\n" + rest[:length])
            got = rest[length:]
    return answers


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n".encode()
    return head + extra + b"\r\n" + body


# --- what clients rely on -------------------------------------------------------------------


def test_keep_alive_and_pipelined_requests_are_answered_in_order(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(post("/one", b"abc") + post("/two", b"defgh"))
        first, second = read_responses(sock, 2)
        sock.sendall(post("/three", b""))
        (third,) = read_responses(sock, 1)
    assert first.endswith(b"POST /one 3")
    assert second.endswith(b"POST /two 5")
    assert third.endswith(b"POST /three 0")


def test_expect_100_continue_is_answered_before_the_body_is_sent(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(
            b"POST /ipp/print/q HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"data")
        (answer,) = read_responses(sock, 1)
    assert answer.endswith(b"POST /ipp/print/q 4")


def test_a_chunked_body_reaches_the_handler_whole(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"1\r\na\r\n", b"3\r\nbcd\r\n", b"0\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.01)
        (answer,) = read_responses(sock, 1)
    assert answer.endswith(b"POST /c 4")


def test_the_client_address_is_the_peer_and_a_plain_request_is_not_tls(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(post("/who", b""))
        read_responses(sock, 1)
    request = served.handler.seen[-1]
    assert (request.client, request.tls) == ("127.0.0.1", False)


def _read_or_reset(sock: socket.socket) -> bytes:
    try:
        return read_until_closed(sock)
    except ConnectionResetError:
        return b""


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    return cert, private


def test_over_tls_requests_are_served_and_say_so(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    running = Served(Handler(), context)
    try:
        client = ssl.create_default_context(cafile=str(cert))
        client.check_hostname = False
        with (
            socket.create_connection(("127.0.0.1", running.port), timeout=WAIT) as raw,
            client.wrap_socket(raw) as sock,
        ):
            sock.sendall(post("/ipp/print/q", b"secret"))
            (answer,) = read_responses(sock, 1)
        assert answer.endswith(b"POST /ipp/print/q 6")
        assert running.handler.seen[-1].tls
        with running.connect() as plain:  # no TLS: no request ever reaches the handler
            plain.sendall(post("/ipp/print/q", b"x"))
            assert b"HTTP/1.1" not in _read_or_reset(plain)
        assert len(running.handler.seen) == 1
    finally:
        running.stop()


# --- hostile clients --------------------------------------------------------------------------


def test_a_head_that_never_ends_is_timed_out_with_408(served: Served) -> None:
    with served.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"POST /ipp/print/q HTTP/1.1\r\nHost: t\r\n")
        for _ in range(3):  # a byte now and then does not keep it open
            time.sleep(0.1)
            sock.sendall(b"X")
        got = read_until_closed(sock)
        took = time.monotonic() - started
    assert got.startswith(b"HTTP/1.1 408 ")
    assert SETTINGS.head <= took < SETTINGS.head + 2
    assert served.handler.seen == []


def test_an_idle_connection_is_closed(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(post("/first", b""))
        read_responses(sock, 1)
        started = time.monotonic()  # the server's idle clock began as it sent, a little earlier
        assert read_until_closed(sock) == b""
        assert SETTINGS.keep_alive * 0.75 <= time.monotonic() - started < SETTINGS.keep_alive + 2


def test_a_stalled_body_is_cut_and_the_handler_told(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(post("/stall", b"") .replace(b"Content-Length: 0", b"Content-Length: 100")
                     + b"only ten..")  # fmt: skip
        started = time.monotonic()
        got = read_until_closed(sock)
        took = time.monotonic() - started
    assert b"200" not in got
    assert SETTINGS.body <= took < SETTINGS.body + 2
    deadline = time.monotonic() + WAIT
    while not served.handler.failures and time.monotonic() < deadline:
        time.sleep(0.01)
    assert served.handler.failures, "the handler reading the body must learn it was cut"


def test_an_oversized_head_is_refused_with_431(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nX-Filler: " + b"a" * 10_000)
        got = read_until_closed(sock)
    assert got.startswith(b"HTTP/1.1 431 ")
    assert served.handler.seen == []


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
    ],
    ids=["cl-te", "te-cl", "te-not-only-chunked"],
)
def test_a_smuggled_request_never_reaches_the_handler(served: Served, framing: bytes) -> None:
    smuggled = b"POST /control/wake HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
    with served.connect() as sock:
        sock.sendall(
            b"POST /ipp/print/q HTTP/1.1\r\nHost: t\r\n" + framing + b"\r\n0\r\n\r\n" + smuggled
        )
        got = read_until_closed(sock)
    assert got.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 501 "))
    assert got.count(b"HTTP/1.1") == 1
    assert served.handler.seen == []


def test_bad_chunking_is_refused_and_the_connection_closed(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"4\r\nabcdefgh\r\n0\r\n\r\n")  # more bytes than the chunk said
        got = read_until_closed(sock)
    assert b"HTTP/1.1 400 " in got
    assert b"200 OK" not in got


def test_bad_chunking_after_the_handler_started_is_refused_too(served: Served) -> None:
    """The bad body arrives while its request's handler is already reading it."""
    with served.connect() as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        deadline = time.monotonic() + WAIT
        while not served.handler.seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert served.handler.seen  # handling it
        sock.sendall(b"4\r\nabcdefgh\r\n0\r\n\r\n")
        got = read_until_closed(sock)
    assert got.startswith(b"HTTP/1.1 400 ")
    assert got.count(b"HTTP/1.1") == 1


def test_bytes_the_handler_does_not_read_yet_are_not_all_buffered() -> None:
    handler = Handler(gate=asyncio.Event())
    running = Served(handler)
    try:
        total = 16 * 1024 * 1024
        with running.connect() as sock:
            sock.sendall(b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total)
            sent = _send_until_blocked(sock, total)
            assert sent < total  # the server stopped reading: sending blocked
            gate = handler.gate
            assert gate is not None
            running.call(gate.set)
            sock.settimeout(WAIT)
            sock.sendall(b"x" * (total - sent))
            (answer,) = read_responses(sock, 1)
        assert answer.endswith(b"POST /big %d" % total)
        assert handler.most_buffered <= SETTINGS.read_ahead + 1024 * 1024
    finally:
        running.stop()


def _send_until_blocked(sock: socket.socket, total: int) -> int:
    """Send up to ``total`` bytes until the peer stops taking them (0.5 s); how many went."""
    sock.settimeout(0.5)
    sent = 0
    try:
        while sent < total:
            sent += sock.send(b"x" * 65536)
    except TimeoutError:
        pass
    return sent


def test_connections_over_the_limit_are_turned_away(served: Served) -> None:
    held = [served.connect() for _ in range(SETTINGS.max_connections)]
    try:
        time.sleep(0.1)
        with served.connect() as extra:
            got = read_until_closed(extra)
        assert got.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with served.connect() as sock:  # once they are gone, others get in again
        sock.sendall(post("/again", b""))
        (answer,) = read_responses(sock, 1)
    assert answer.endswith(b"POST /again 0")


def test_stopping_lets_a_request_in_progress_finish_and_refuses_new_ones() -> None:
    handler = Handler(delay=0.5)
    running = Served(handler)
    with running.connect() as sock:
        sock.sendall(post("/slow", b"abc"))
        time.sleep(0.1)  # the handler has it
        stopping = threading.Thread(target=running.stop)
        stopping.start()
        (answer,) = read_responses(sock, 1)
        assert answer.endswith(b"POST /slow 3")
        assert b"connection: close" in answer
    stopping.join(WAIT)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", running.port), timeout=1).close()
