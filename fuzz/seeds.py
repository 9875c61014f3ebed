"""Seed inputs for the IPP codec fuzz target: valid messages that reach every value syntax."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    Collection,
    GroupTag,
    IntRange,
    Message,
    Operation,
    OutOfBand,
    Resolution,
    StatusCode,
    TaggedValue,
    TextWithLanguage,
    ValueTag,
    encode_message,
)
from printwarden.provider.ipp.builders import operation_group


def _operation(*extra: Attribute) -> AttributeGroup:
    group = operation_group("en-us")
    group.add(Attribute.of("printer-uri", ValueTag.URI, "ipp://localhost/ipp/print"))
    for attribute in extra:
        group.add(attribute)
    return group


def _media_col() -> Attribute:
    size = Collection(
        [
            Attribute.of("x-dimension", ValueTag.INTEGER, 21000),
            Attribute.of("y-dimension", ValueTag.INTEGER, 29700, TaggedValue(0x33, IntRange(1, 2))),
        ]
    )
    return Attribute.of(
        "media-col",
        ValueTag.BEG_COLLECTION,
        Collection(
            [
                Attribute.of("media-size", ValueTag.BEG_COLLECTION, size),
                Attribute.of("media-type", ValueTag.KEYWORD, "stationery"),
            ]
        ),
    )


def _print_job() -> Message:
    job = AttributeGroup(
        GroupTag.JOB,
        [
            Attribute.of("copies", ValueTag.INTEGER, 2),
            Attribute.of("sides", ValueTag.KEYWORD, "two-sided-long-edge"),
            Attribute.of("print-quality", ValueTag.ENUM, 5),
            _media_col(),
        ],
    )
    operation = _operation(
        Attribute.of("requesting-user-name", ValueTag.NAME_WITHOUT_LANGUAGE, "alice"),
        Attribute.of("job-name", ValueTag.NAME_WITH_LANGUAGE, TextWithLanguage("Bericht", "de")),
        Attribute.of("document-format", ValueTag.MIME_MEDIA_TYPE, "application/pdf"),
        Attribute.of("ipp-attribute-fidelity", ValueTag.BOOLEAN, False),
    )
    return Message(code=Operation.PRINT_JOB, groups=[operation, job], data=b"%PDF-1.4\n")


def _printer_response() -> Message:
    zone = timezone(timedelta(hours=2))
    printer = AttributeGroup(
        GroupTag.PRINTER,
        [
            Attribute.of("printer-state", ValueTag.ENUM, 3),
            Attribute.of("printer-resolution-supported", 0x32, Resolution(600, 600, 3)),
            Attribute.of("printer-current-time", 0x31, datetime(2024, 5, 6, 7, 8, 9, tzinfo=zone)),
            Attribute.of("copies-supported", ValueTag.RANGE_OF_INTEGER, IntRange(1, 99)),
            Attribute.of("media-supported", ValueTag.KEYWORD, "iso_a4_210x297mm", "na_letter"),
            Attribute.out_of_band("printer-geo-location", ValueTag.UNKNOWN),
            Attribute.of("printer-alert", ValueTag.OCTET_STRING, b"code=other"),
            Attribute.of("x-vendor", ValueTag.EXTENSION, b"\x40\x00\x00\x01data"),
        ],
    )
    return Message(
        code=StatusCode.SUCCESSFUL_OK,
        groups=[operation_group(), printer, AttributeGroup(GroupTag.UNSUPPORTED)],
        data=b"",
    )


def seed_inputs() -> dict[str, bytes]:
    """Named seed inputs: encoded requests and responses plus a few broken ones."""
    requested = Attribute.of("requested-attributes", ValueTag.KEYWORD, "all", "media-col-database")
    get_printer = Message(code=Operation.GET_PRINTER_ATTRIBUTES, groups=[_operation(requested)])
    print_job = encode_message(_print_job())
    return {
        "print-job": print_job,
        "get-printer-attributes": encode_message(get_printer),
        "printer-response": encode_message(_printer_response()),
        "ipp-1.1-no-groups": b"\x01\x01\x00\x0b\x00\x00\x00\x01\x03",
        "truncated": print_job[: len(print_job) // 2],
        "unterminated-collection": print_job.replace(b"\x37\x00\x00\x00\x00", b"", 1),
        "out-of-band": encode_message(
            Message(code=2, groups=[AttributeGroup(1, [Attribute("x", 0x13, [OutOfBand(0x13)])])])
        ),
    }


def write_seeds(directory: Path) -> None:
    """Write every seed input as a file into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seed_inputs().items():
        (directory / f"seed-{name}").write_bytes(data)


if __name__ == "__main__":
    write_seeds(Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"))
