"""The provider's HTTP/1.1 framing, sans I/O: bytes in, events out; hostile input refused.

Every request here is fed whole and byte by byte: a server reads whatever the network
delivers, so the events must not depend on where the reads split.
"""

from __future__ import annotations

import pytest

from printwarden.provider.http11 import (
    BodyData,
    Event,
    HeadLimits,
    HttpError,
    MessageEnd,
    RequestHead,
    RequestParser,
    response_bytes,
)

IPP_POST = b"POST /ipp/print/held HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n"


def feed(data: bytes, *, split: bool = False, limits: HeadLimits | None = None) -> list[Event]:
    parser = RequestParser(limits or HeadLimits())
    if not split:
        return parser.feed(data)
    events: list[Event] = []
    for index in range(len(data)):
        events += parser.feed(data[index : index + 1])
    return events


def body_of(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, BodyData))


def refusal(data: bytes, *, split: bool = False, limits: HeadLimits | None = None) -> HttpError:
    with pytest.raises(HttpError) as caught:
        feed(data, split=split, limits=limits)
    return caught.value


@pytest.mark.parametrize("split", [False, True], ids=["whole", "byte-by-byte"])
def test_a_request_with_a_length_gives_its_head_body_and_end(split: bool) -> None:
    events = feed(IPP_POST + b"Content-Length: 5\r\n\r\nhello", split=split)
    head = events[0]
    assert isinstance(head, RequestHead)
    assert (head.method, head.path, head.query) == ("POST", "/ipp/print/held", "")
    assert head.header(b"content-type") == b"application/ipp"  # names lower-cased
    assert (head.content_length, head.chunked, head.keep_alive) == (5, False, True)
    assert body_of(events) == b"hello"
    assert isinstance(events[-1], MessageEnd)


@pytest.mark.parametrize("split", [False, True], ids=["whole", "byte-by-byte"])
def test_a_chunked_body_arrives_without_its_framing(split: bool) -> None:
    chunks = b"3\r\nabc\r\n1;ext=value\r\nd\r\n10\r\n" + b"e" * 16 + b"\r\n0\r\n\r\n"
    events = feed(IPP_POST + b"Transfer-Encoding: chunked\r\n\r\n" + chunks, split=split)
    head = events[0]
    assert isinstance(head, RequestHead)
    assert (head.chunked, head.content_length) == (True, None)
    assert body_of(events) == b"abcd" + b"e" * 16
    assert isinstance(events[-1], MessageEnd)


def test_pipelined_requests_come_out_in_order() -> None:
    events = feed(
        b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /metrics?x=1 HTTP/1.1\r\n\r\n"
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RequestHead", "BodyData", "MessageEnd", "RequestHead", "MessageEnd"]
    second = events[3]
    assert isinstance(second, RequestHead)
    assert (second.method, second.path, second.query) == ("GET", "/metrics", "x=1")


def test_keep_alive_follows_the_version_and_connection_header() -> None:
    def keep(request: bytes) -> bool:
        head = feed(request)[0]
        assert isinstance(head, RequestHead)
        return head.keep_alive

    assert keep(b"GET / HTTP/1.1\r\n\r\n")
    assert not keep(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert not keep(b"GET / HTTP/1.0\r\n\r\n")
    assert keep(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")


def test_targets_are_percent_decoded_and_absolute_ones_reduced_to_their_path() -> None:
    head = feed(b"POST http://printer:631/ipp/print/h%65ld HTTP/1.1\r\n\r\n")[0]
    assert isinstance(head, RequestHead)
    assert head.path == "/ipp/print/held"


def test_expect_100_continue_is_noted_and_other_expectations_refused() -> None:
    head = feed(IPP_POST + b"Expect: 100-continue\r\nContent-Length: 0\r\n\r\n")[0]
    assert isinstance(head, RequestHead)
    assert head.expect_continue
    assert refusal(IPP_POST + b"Expect: teapot\r\n\r\n").status == 417


# --- request smuggling: one body, one framing --------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 1 2\r\n",
        b"Content-Length: 0x10\r\n",
    ],
    ids=["cl-then-te", "te-then-cl", "two-lengths", "negative", "two-numbers", "hex"],
)
def test_a_body_framed_two_ways_or_badly_is_refused(headers: bytes) -> None:
    hidden = b"0\r\n\r\nPOST /control/wake HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    assert refusal(IPP_POST + headers + b"\r\n" + hidden).status == 400


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"chunked, chunked", b"identity", b"gzip"])
def test_only_the_chunked_transfer_coding_is_taken(coding: bytes) -> None:
    error = refusal(IPP_POST + b"Transfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n")
    assert error.status in (400, 501)


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\nab\r\n0\r\n\r\n", b"2\r\nabc\r\n0\r\n\r\n", b"2\nab\n0\n\n", b"-1\r\n\r\n"],
    ids=["not-hex", "longer-than-said", "bare-lf", "negative"],
)
def test_bad_chunking_is_refused(chunks: bytes) -> None:
    error = refusal(IPP_POST + b"Transfer-Encoding: chunked\r\n\r\n" + chunks, split=True)
    assert error.status == 400


@pytest.mark.parametrize(
    "request_line",
    [b"POST / HTTP/2.0\r\n", b"POST / HTTP/1.2\r\n", b"POST /\r\n", b"POST / HTTP/1.1\n"],
)
def test_other_versions_and_malformed_lines_are_refused(request_line: bytes) -> None:
    assert refusal(request_line + b"Content-Length: 0\r\n\r\n").status in (400, 505)


def test_folded_headers_and_upgrades_are_refused() -> None:
    assert refusal(b"POST / HTTP/1.1\r\nHost: a\r\n folded: b\r\n\r\n").status == 400
    upgrade = b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    assert refusal(upgrade).status == 501


# --- bounded heads ------------------------------------------------------------------------


@pytest.mark.parametrize("split", [False, True], ids=["whole", "byte-by-byte"])
def test_a_head_over_the_limit_is_refused_before_it_ends(split: bool) -> None:
    limits = HeadLimits(max_head_bytes=1024)
    endless = IPP_POST + b"X-Filler: " + b"a" * 4096  # never reaches its end
    error = refusal(endless, split=split, limits=limits)
    assert error.status in (414, 431)


def test_a_head_over_the_limit_is_refused_even_when_it_came_in_one_read() -> None:
    whole = IPP_POST + b"X-Filler: " + b"a" * 4096 + b"\r\n\r\n"
    assert refusal(whole, limits=HeadLimits(max_head_bytes=1024)).status == 431
    small = IPP_POST + b"X-Filler: " + b"a" * 500 + b"\r\n\r\n"
    assert isinstance(feed(small, limits=HeadLimits(max_head_bytes=1024))[0], RequestHead)


def test_a_long_target_is_refused() -> None:
    limits = HeadLimits(max_head_bytes=1024)
    assert refusal(b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", limits=limits).status == 414


def test_too_many_headers_are_refused() -> None:
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(20))
    assert refusal(IPP_POST + many + b"\r\n", limits=HeadLimits(max_headers=10)).status == 431


def test_a_body_does_not_count_against_the_head_limit() -> None:
    limits = HeadLimits(max_head_bytes=1024)
    parser = RequestParser(limits)
    big = b"x" * 100_000
    events = parser.feed(IPP_POST + b"Content-Length: %d\r\n\r\n" % (2 * len(big)) + big)
    events += parser.feed(big + b"GET /next HTTP/1.1\r\n\r\n")
    assert len(body_of(events)) == 2 * len(big)
    assert isinstance(events[-1], MessageEnd)


def test_the_parser_says_when_a_head_is_half_read() -> None:
    """What the server's head deadline (slowloris) is based on."""
    parser = RequestParser()
    assert not parser.head_open
    parser.feed(b"POST /ipp/print/held HT")
    assert parser.head_open
    parser.feed(b"TP/1.1\r\nContent-Length: 1\r\n\r\n")
    assert not parser.head_open  # now in the body
    parser.feed(b"x")
    assert not parser.head_open  # between requests


# --- responses ----------------------------------------------------------------------------


def test_a_response_carries_its_length_and_says_when_the_connection_closes() -> None:
    kept = response_bytes(200, [(b"content-type", b"application/ipp")], b"\x01\x01")
    assert kept == (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/ipp\r\ncontent-length: 2\r\n\r\n\x01\x01"
    )
    closing = response_bytes(413, [], b"", keep_alive=False)
    assert closing.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
    assert b"connection: close\r\n" in closing
    assert closing.endswith(b"content-length: 0\r\nconnection: close\r\n\r\n")
