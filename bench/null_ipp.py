"""A do-nothing IPP responder: the ceiling the client and the machine put on ingest.

    .venv/bin/python bench/null_ipp.py PORT

It answers every POST with one canned ``successful-ok`` Print-Job response (job 1,
``pending-held``, the request's request-id patched in) and does nothing else: no attribute
parsing, no spool, no durability. uvloop and httptools make it about as fast as a Python
server can be. Whatever rate ipptool reaches against it bounds what any server doing real
work can reach on the same machine with the same client.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import uvloop

from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    JobState,
    Message,
    StatusCode,
    ValueTag,
    encode_message,
)

_HTTP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: %d\r\n\r\n"


def canned_answer(job_id: int = 1) -> bytes:
    """The IPP body of a Print-Job answer: the job is held."""
    message = Message(
        code=StatusCode.SUCCESSFUL_OK,
        request_id=1,
        groups=[
            AttributeGroup(
                GroupTag.OPERATION,
                [
                    Attribute.of("attributes-charset", ValueTag.CHARSET, "utf-8"),
                    Attribute.of("attributes-natural-language", ValueTag.NATURAL_LANGUAGE, "en"),
                ],
            ),
            AttributeGroup(
                GroupTag.JOB,
                [
                    Attribute.of("job-id", ValueTag.INTEGER, job_id),
                    Attribute.of("job-uri", ValueTag.URI, f"ipp://127.0.0.1/jobs/{job_id}"),
                    Attribute.of("job-state", ValueTag.ENUM, int(JobState.PENDING_HELD)),
                ],
            ),
        ],
        version=(1, 1),
    )
    return encode_message(message)


_BODY = canned_answer()
_HEAD = _HTTP_HEAD % len(_BODY)


class NullIpp(asyncio.Protocol):
    """One connection: parse HTTP, keep the body's first 8 bytes, answer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.parser = httptools.HttpRequestParser(self)
        self.head = b""

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"expect" and value.lower() == b"100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if len(self.head) < 8:
            self.head += body[: 8 - len(self.head)]

    def on_message_complete(self) -> None:
        request_id = self.head[4:8] if len(self.head) == 8 else b"\0\0\0\1"
        self.transport.write(_HEAD + _BODY[:4] + request_id + _BODY[8:])
        self.head = b""


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NullIpp, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
