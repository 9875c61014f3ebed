"""atheris fuzz target for the IPP decoder.

For any input, ``decode_message`` may only raise ``IncompleteMessage`` or
``IppParseError``; an input it decodes must encode to bytes that decode to the same
message (document data included), and encode again to the same bytes.

Run it through ``fuzz/run.py`` (seeds, corpus, artifacts, time limit).
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["printwarden.provider.ipp"]):
    from printwarden.provider.ipp.codec import (
        IncompleteMessage,
        IppParseError,
        decode_message,
        encode_message,
    )


def test_one_input(data: bytes) -> None:
    """Decode ``data``; check the codec's contract for it."""
    try:
        message, offset = decode_message(data)
    except (IncompleteMessage, IppParseError):
        return
    if message.data != data[offset:]:
        raise AssertionError("message.data is not the bytes after the offset")
    wire = encode_message(message)
    again, again_offset = decode_message(wire)
    if again != message or again_offset != len(wire) - len(message.data):
        raise AssertionError(f"round trip changed the message: {message!r} -> {again!r}")
    if encode_message(again) != wire:
        raise AssertionError("re-encoding is not stable")


def main(argv: list[str]) -> None:
    """Hand ``argv`` (libFuzzer options and corpus directories) to atheris and fuzz."""
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
