"""The sans-I/O IPP codec: RFC 8010 byte vectors, round trips and malformed input."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    Collection,
    GroupTag,
    IncompleteMessage,
    IntRange,
    IppEncodeError,
    IppParseError,
    Message,
    Operation,
    OutOfBand,
    Resolution,
    StatusCode,
    TaggedValue,
    TextWithLanguage,
    Value,
    ValueTag,
    decode_message,
    encode_message,
)
from printwarden.provider.ipp.builders import make_attribute, operation_group
from printwarden.provider.ipp.codec import MAX_COLLECTION_DEPTH
from printwarden.provider.ipp.tags import is_out_of_band

PROPERTY = settings(max_examples=200, deadline=None, database=None)
BAD_REQUEST = StatusCode.CLIENT_ERROR_BAD_REQUEST


def field(tag: int, name: bytes, value: bytes) -> bytes:
    """One attribute field: tag, name-length, name, value-length, value."""
    lengths = len(name).to_bytes(2, "big"), len(value).to_bytes(2, "big")
    return bytes([tag]) + lengths[0] + name + lengths[1] + value


HEADER = b"\x02\x00" + b"\x00\x02" + b"\x00\x00\x00\x07"  # IPP/2.0 Print-Job, request-id 7
OPERATION_GROUP = b"\x01" + field(0x47, b"attributes-charset", b"utf-8")


def message_bytes(*fields: bytes, header: bytes = HEADER) -> bytes:
    """A request with an operation group holding ``fields``, then end-of-attributes."""
    return header + OPERATION_GROUP + b"".join(fields) + b"\x03"


def parse_error(data: bytes, **limits: int) -> IppParseError:
    with pytest.raises(IppParseError) as caught:
        decode_message(data, **limits)
    return caught.value


# --- byte vectors written by hand after RFC 8010 appendix A ------------------------------

PRINT_JOB_REQUEST = b"".join(
    [
        b"\x01\x01",  # version-number 1.1
        b"\x00\x02",  # operation-id Print-Job
        b"\x00\x00\x00\x01",  # request-id 1
        b"\x01",  # operation-attributes-tag
        b"\x47" + b"\x00\x12" + b"attributes-charset" + b"\x00\x05" + b"utf-8",
        b"\x48" + b"\x00\x1b" + b"attributes-natural-language" + b"\x00\x05" + b"en-us",
        b"\x45" + b"\x00\x0b" + b"printer-uri",
        b"\x00\x2c" + b"ipp://printer.example.com/ipp/print/pinetree",
        b"\x42" + b"\x00\x14" + b"requesting-user-name" + b"\x00\x05" + b"alice",
        b"\x42" + b"\x00\x08" + b"job-name" + b"\x00\x06" + b"foobar",
        b"\x49" + b"\x00\x0f" + b"document-format" + b"\x00\x0f" + b"application/pdf",
        b"\x22" + b"\x00\x16" + b"ipp-attribute-fidelity" + b"\x00\x01" + b"\x01",
        b"\x02",  # job-attributes-tag
        b"\x21" + b"\x00\x06" + b"copies" + b"\x00\x04" + b"\x00\x00\x00\x14",
        b"\x44" + b"\x00\x05" + b"sides" + b"\x00\x13" + b"two-sided-long-edge",
        b"\x03",  # end-of-attributes-tag
    ]
)
PDF_DATA = b"%PDF-1.4\n...document bytes...\n%%EOF\n"


def print_job_request() -> Message:
    operation = operation_group("en-us")
    for attribute in (
        Attribute.of("printer-uri", ValueTag.URI, "ipp://printer.example.com/ipp/print/pinetree"),
        Attribute.of("requesting-user-name", ValueTag.NAME_WITHOUT_LANGUAGE, "alice"),
        Attribute.of("job-name", ValueTag.NAME_WITHOUT_LANGUAGE, "foobar"),
        Attribute.of("document-format", ValueTag.MIME_MEDIA_TYPE, "application/pdf"),
        Attribute.of("ipp-attribute-fidelity", ValueTag.BOOLEAN, True),
    ):
        operation.add(attribute)
    job = AttributeGroup(
        GroupTag.JOB,
        [
            Attribute.of("copies", ValueTag.INTEGER, 20),
            Attribute.of("sides", ValueTag.KEYWORD, "two-sided-long-edge"),
        ],
    )
    return Message(version=(1, 1), code=Operation.PRINT_JOB, request_id=1, groups=[operation, job])


def test_print_job_request_encodes_to_the_rfc_octets() -> None:
    assert encode_message(print_job_request()) == PRINT_JOB_REQUEST


def test_print_job_request_decodes_with_document_offset() -> None:
    message, offset = decode_message(PRINT_JOB_REQUEST + PDF_DATA)
    assert offset == len(PRINT_JOB_REQUEST)
    assert message.data == PDF_DATA
    assert message == Message(**{**print_job_request().__dict__, "data": PDF_DATA})
    assert message.code == Operation.PRINT_JOB
    assert message.value("job-name") == "foobar"
    assert message.value("copies") == 20
    assert message.job is not None
    assert message.job.value("sides") == "two-sided-long-edge"


PRINT_JOB_RESPONSE = b"".join(
    [
        b"\x01\x01" + b"\x00\x00" + b"\x00\x00\x00\x01",  # IPP/1.1 successful-ok, request-id 1
        b"\x01",
        b"\x47" + b"\x00\x12" + b"attributes-charset" + b"\x00\x05" + b"utf-8",
        b"\x48" + b"\x00\x1b" + b"attributes-natural-language" + b"\x00\x05" + b"en-us",
        b"\x41" + b"\x00\x0e" + b"status-message" + b"\x00\x0d" + b"successful-ok",
        b"\x02",
        b"\x21" + b"\x00\x06" + b"job-id" + b"\x00\x04" + b"\x00\x00\x00\x93",
        b"\x45" + b"\x00\x07" + b"job-uri",
        b"\x00\x30" + b"ipp://printer.example.com/ipp/print/pinetree/147",
        b"\x23" + b"\x00\x09" + b"job-state" + b"\x00\x04" + b"\x00\x00\x00\x03",
        b"\x03",
    ]
)


def test_print_job_response_vector() -> None:
    operation = operation_group("en-us")
    operation.add(Attribute.of("status-message", ValueTag.TEXT_WITHOUT_LANGUAGE, "successful-ok"))
    job = AttributeGroup(
        GroupTag.JOB,
        [
            Attribute.of("job-id", ValueTag.INTEGER, 147),
            Attribute.of(
                "job-uri", ValueTag.URI, "ipp://printer.example.com/ipp/print/pinetree/147"
            ),
            Attribute.of("job-state", ValueTag.ENUM, 3),
        ],
    )
    expected = Message(version=(1, 1), code=0, request_id=1, groups=[operation, job])
    assert encode_message(expected) == PRINT_JOB_RESPONSE
    assert decode_message(PRINT_JOB_RESPONSE) == (expected, len(PRINT_JOB_RESPONSE))


UNSUPPORTED_RESPONSE = b"".join(
    [
        b"\x01\x01" + b"\x04\x0b" + b"\x00\x00\x00\x01",  # attributes-or-values-not-supported
        b"\x01",
        b"\x47" + b"\x00\x12" + b"attributes-charset" + b"\x00\x05" + b"utf-8",
        b"\x48" + b"\x00\x1b" + b"attributes-natural-language" + b"\x00\x05" + b"en-us",
        b"\x05",  # unsupported-attributes-tag
        b"\x21" + b"\x00\x06" + b"copies" + b"\x00\x04" + b"\x00\x00\x00\x14",
        b"\x10"
        + b"\x00\x05"
        + b"sides"
        + b"\x00\x00",  # out-of-band 'unsupported', no value octets
        b"\x03",
    ]
)


def test_unsupported_attributes_response_vector() -> None:
    unsupported = AttributeGroup(
        GroupTag.UNSUPPORTED,
        [
            Attribute.of("copies", ValueTag.INTEGER, 20),
            Attribute.out_of_band("sides", ValueTag.UNSUPPORTED),
        ],
    )
    expected = Message(
        version=(1, 1),
        code=StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
        groups=[operation_group("en-us"), unsupported],
    )
    assert encode_message(expected) == UNSUPPORTED_RESPONSE
    decoded, _ = decode_message(UNSUPPORTED_RESPONSE)
    assert decoded == expected
    assert decoded.unsupported is not None
    assert decoded.unsupported.value("sides") == OutOfBand(ValueTag.UNSUPPORTED)


MEDIA_COL = b"".join(
    [
        b"\x34" + b"\x00\x09" + b"media-col" + b"\x00\x00",  # begCollection
        b"\x4a" + b"\x00\x00" + b"\x00\x0a" + b"media-size",  # memberAttrName
        b"\x34" + b"\x00\x00" + b"\x00\x00",  # member value: a nested collection
        b"\x4a" + b"\x00\x00" + b"\x00\x0b" + b"x-dimension",
        b"\x21" + b"\x00\x00" + b"\x00\x04" + b"\x00\x00\x52\x08",  # 21000
        b"\x4a" + b"\x00\x00" + b"\x00\x0b" + b"y-dimension",
        b"\x21" + b"\x00\x00" + b"\x00\x04" + b"\x00\x00\x74\x04",  # 29700
        b"\x37" + b"\x00\x00" + b"\x00\x00",  # endCollection (media-size)
        b"\x4a" + b"\x00\x00" + b"\x00\x0a" + b"media-type",
        b"\x44" + b"\x00\x00" + b"\x00\x0a" + b"stationery",
        b"\x37" + b"\x00\x00" + b"\x00\x00",  # endCollection (media-col)
    ]
)


def media_col() -> Attribute:
    size = Collection(
        [
            Attribute.of("x-dimension", ValueTag.INTEGER, 21000),
            Attribute.of("y-dimension", ValueTag.INTEGER, 29700),
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


def one_attribute_message(attribute: Attribute) -> Message:
    return Message(
        code=Operation.PRINT_JOB,
        request_id=7,
        groups=[
            AttributeGroup(
                GroupTag.OPERATION, [Attribute.of("attributes-charset", ValueTag.CHARSET, "utf-8")]
            ),
            AttributeGroup(GroupTag.JOB, [attribute]),
        ],
    )


def test_collection_vector() -> None:
    wire = HEADER + OPERATION_GROUP + b"\x02" + MEDIA_COL + b"\x03"
    message = one_attribute_message(media_col())
    assert encode_message(message) == wire
    decoded, _ = decode_message(wire)
    assert decoded == message
    col = decoded.value("media-col")
    assert isinstance(col, Collection)
    size = col.value("media-size")
    assert isinstance(size, Collection)
    assert size.value("y-dimension") == 29700


@pytest.mark.parametrize(
    ("attribute", "wire"),
    [
        pytest.param(
            Attribute.of("requested-attributes", ValueTag.KEYWORD, "job-id", "job-state"),
            field(0x44, b"requested-attributes", b"job-id") + field(0x44, b"", b"job-state"),
            id="1setOf keyword",
        ),
        pytest.param(
            Attribute.of(
                "media-supported",
                ValueTag.KEYWORD,
                "iso_a4_210x297mm",
                TaggedValue(ValueTag.NAME_WITHOUT_LANGUAGE, "Letterhead"),
            ),
            field(0x44, b"media-supported", b"iso_a4_210x297mm") + field(0x42, b"", b"Letterhead"),
            id="1setOf keyword | name",
        ),
        pytest.param(
            Attribute.of(
                "date-time-at-creation",
                ValueTag.DATE_TIME,
                datetime(2024, 1, 2, 3, 4, 5, 600_000, timezone(-timedelta(hours=5, minutes=30))),
            ),
            field(0x31, b"date-time-at-creation", bytes.fromhex("07e8 01 02 03 04 05 06 2d 05 1e")),
            id="dateTime with a negative UTC offset",
        ),
        pytest.param(
            Attribute.of("printer-resolution", ValueTag.RESOLUTION, Resolution(600, 300, 3)),
            field(0x32, b"printer-resolution", bytes.fromhex("00000258 0000012c 03")),
            id="resolution",
        ),
        pytest.param(
            Attribute.of("page-ranges", ValueTag.RANGE_OF_INTEGER, IntRange(-1, 5)),
            field(0x33, b"page-ranges", bytes.fromhex("ffffffff 00000005")),
            id="rangeOfInteger",
        ),
        pytest.param(
            Attribute.of(
                "job-name", ValueTag.NAME_WITH_LANGUAGE, TextWithLanguage("Bericht", "de")
            ),
            field(0x36, b"job-name", b"\x00\x02de\x00\x07Bericht"),
            id="nameWithLanguage",
        ),
        pytest.param(
            Attribute.of("job-name", ValueTag.NAME_WITHOUT_LANGUAGE, "Überweisung"),
            field(0x42, b"job-name", "Überweisung".encode()),
            id="UTF-8 name",
        ),
        pytest.param(
            Attribute.of("printer-alert", ValueTag.OCTET_STRING, b"\x00\xff"),
            field(0x30, b"printer-alert", b"\x00\xff"),
            id="octetString",
        ),
        pytest.param(
            Attribute.of("job-state", ValueTag.ENUM, 9),
            field(0x23, b"job-state", b"\x00\x00\x00\x09"),
            id="enum",
        ),
        pytest.param(
            Attribute.of("x-vendor", 0x7F, b"\x40\x00\x00\x01payload"),
            field(0x7F, b"x-vendor", b"\x40\x00\x00\x01payload"),
            id="extension tag",
        ),
        pytest.param(
            Attribute.of("x-future", 0x38, b"opaque"),
            field(0x38, b"x-future", b"opaque"),
            id="unknown value tag kept as bytes",
        ),
        pytest.param(
            Attribute.of("job-hold-until", ValueTag.NO_VALUE, OutOfBand(ValueTag.NO_VALUE)),
            field(0x13, b"job-hold-until", b""),
            id="no-value",
        ),
    ],
)
def test_value_vectors(attribute: Attribute, wire: bytes) -> None:
    message = one_attribute_message(attribute)
    encoded = HEADER + OPERATION_GROUP + b"\x02" + wire + b"\x03"
    assert encode_message(message) == encoded
    assert decode_message(encoded) == (message, len(encoded))


def test_booleans_and_integer_extremes() -> None:
    wire = message_bytes(
        field(0x22, b"t", b"\x01"),
        field(0x22, b"f", b"\x00"),
        field(0x21, b"low", b"\x80\x00\x00\x00"),
        field(0x21, b"high", b"\x7f\xff\xff\xff"),
    )
    message, _ = decode_message(wire)
    assert [message.value(name) for name in ("t", "f", "low", "high")] == [
        True,
        False,
        -(2**31),
        2**31 - 1,
    ]


@pytest.mark.parametrize("version", [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)])
def test_supported_versions(version: tuple[int, int]) -> None:
    wire = message_bytes(header=bytes(version) + HEADER[2:])
    assert decode_message(wire)[0].version == version


def test_unknown_group_tag_is_kept() -> None:
    wire = HEADER + b"\x0b" + field(0x44, b"x", b"y") + b"\x03"
    message, _ = decode_message(wire)
    assert message.groups[0].tag == 0x0B
    assert encode_message(message) == wire


def test_empty_groups_round_trip() -> None:
    wire = HEADER + b"\x01\x02\x02\x04\x03"
    message, _ = decode_message(wire)
    assert [group.tag for group in message.groups] == [1, 2, 2, 4]
    assert encode_message(message) == wire


def test_out_of_band_value_octets_are_ignored() -> None:
    message, _ = decode_message(message_bytes(field(0x12, b"printer-state-message", b"junk")))
    assert message.value("printer-state-message") == OutOfBand(ValueTag.UNKNOWN)


def test_decoded_tags_are_enum_members() -> None:
    message, _ = decode_message(PRINT_JOB_REQUEST)
    copies = message.get("copies")
    assert copies is not None
    assert copies.tag is ValueTag.INTEGER
    assert message.groups[1].tag is GroupTag.JOB


# --- the message model -------------------------------------------------------------------


def test_group_lookup_helpers() -> None:
    message, _ = decode_message(PRINT_JOB_REQUEST)
    operation = message.operation
    assert operation is not None
    assert "printer-uri" in operation
    assert operation.get("nope") is None
    assert operation.value("nope") is None
    assert operation.values_of("job-name") == ["foobar"]
    assert list(operation)[:2] == ["attributes-charset", "attributes-natural-language"]
    assert message.printer is None
    assert message.get("sides") == Attribute.of("sides", ValueTag.KEYWORD, "two-sided-long-edge")
    assert message.groups_of(GroupTag.JOB) == [message.job]


def test_group_rejects_duplicates_and_set_replaces() -> None:
    group = AttributeGroup(GroupTag.JOB, [Attribute.of("copies", ValueTag.INTEGER, 1)])
    with pytest.raises(ValueError, match="duplicate"):
        group.add(Attribute.of("copies", ValueTag.INTEGER, 2))
    group.set(Attribute.of("copies", ValueTag.INTEGER, 3))
    assert group.value("copies") == 3
    assert group.remove("copies") is not None
    assert len(group) == 0
    assert group != AttributeGroup(GroupTag.PRINTER)
    assert group == AttributeGroup(GroupTag.JOB)


@pytest.mark.parametrize(
    ("name", "value", "tag"),
    [
        ("copies", 2, ValueTag.INTEGER),
        ("print-quality", 5, ValueTag.ENUM),
        ("sides", "one-sided", ValueTag.KEYWORD),
        ("job-name", "report", ValueTag.NAME_WITHOUT_LANGUAGE),
        ("job-message-to-operator", "hi", ValueTag.TEXT_WITHOUT_LANGUAGE),
        ("fit-to-page", True, ValueTag.BOOLEAN),
        ("printer-resolution", Resolution(600, 600), ValueTag.RESOLUTION),
        ("page-ranges", [IntRange(1, 2), IntRange(5, 6)], ValueTag.RANGE_OF_INTEGER),
        ("media-col", Collection(), ValueTag.BEG_COLLECTION),
        ("finishings", [3, 4], ValueTag.ENUM),
    ],
)
def test_make_attribute_infers_tags(name: str, value: Value | list[Value], tag: int) -> None:
    attribute = make_attribute(name, value)
    assert attribute.tag == tag
    assert attribute.values == (value if isinstance(value, list) else [value])


# --- malformed input ---------------------------------------------------------------------


def test_request_id_zero_decodes_for_the_operation_layer_to_refuse() -> None:
    message, _ = decode_message(b"\x02\x00\x00\x02\x00\x00\x00\x00\x01\x03")
    assert message.request_id == 0


@pytest.mark.parametrize(
    ("wire", "words"),
    [
        pytest.param(message_bytes(field(0x21, b"copies", b"\x00\x00\x01")), "4 octets", id="int3"),
        pytest.param(message_bytes(field(0x23, b"e", b"\x00" * 5)), "4 octets", id="enum5"),
        pytest.param(message_bytes(field(0x22, b"b", b"\x02")), "0 or 1", id="bool2"),
        pytest.param(message_bytes(field(0x22, b"b", b"\x01\x00")), "1 octets", id="boollen"),
        pytest.param(message_bytes(field(0x31, b"d", b"\x00" * 10)), "11 octets", id="date10"),
        pytest.param(
            message_bytes(field(0x31, b"d", bytes.fromhex("07e8 0d 01 00 00 00 00 2b 00 00"))),
            "valid date",
            id="month13",
        ),
        pytest.param(
            message_bytes(field(0x31, b"d", bytes.fromhex("07e8 01 01 00 00 00 00 78 00 00"))),
            "UTC offset",
            id="date-direction",
        ),
        pytest.param(message_bytes(field(0x32, b"r", b"\x00" * 8)), "9 octets", id="res8"),
        pytest.param(message_bytes(field(0x33, b"r", b"\x00" * 7)), "8 octets", id="range7"),
        pytest.param(
            message_bytes(field(0x35, b"t", b"\x00\x02en\x00\x05abc")), "add up", id="langlen"
        ),
        pytest.param(message_bytes(field(0x35, b"t", b"\x00\x09en")), "overruns", id="langover"),
        pytest.param(message_bytes(field(0x41, b"t", b"caf\xc3")), "UTF-8", id="utf8-text"),
        pytest.param(message_bytes(field(0x42, b"n", b"\xff")), "UTF-8", id="utf8-name"),
        pytest.param(message_bytes(field(0x44, b"\xc3(", b"x")), "UTF-8", id="utf8-attr-name"),
        pytest.param(message_bytes(field(0x7F, b"x", b"\x00\x01")), "extension", id="ext-short"),
        pytest.param(message_bytes(field(0x7F, b"x", b"\x80\x00\x00\x00")), "extension", id="ext"),
        pytest.param(
            message_bytes(field(0x4A, b"", b"media-size")), "outside a collection", id="member"
        ),
        pytest.param(
            message_bytes(field(0x37, b"", b"")), "outside a collection", id="end-collection"
        ),
        pytest.param(
            message_bytes(field(0x34, b"media-col", b""), field(0x44, b"", b"x")),
            "before any memberAttrName",
            id="collection-value-first",
        ),
        pytest.param(
            message_bytes(field(0x34, b"c", b""), field(0x4A, b"", b"m"), field(0x37, b"", b"")),
            "has no value",
            id="member-without-value",
        ),
        pytest.param(
            message_bytes(field(0x34, b"c", b""), field(0x4A, b"", b"")),
            "empty memberAttrName",
            id="empty-member",
        ),
        pytest.param(
            message_bytes(
                field(0x34, b"c", b""), field(0x4A, b"", b"m"), field(0x44, b"named", b"x")
            ),
            "with a name",
            id="named-member-value",
        ),
        pytest.param(
            message_bytes(
                field(0x34, b"c", b""),
                *(field(0x4A, b"", b"m") + field(0x21, b"", bytes(4)) for _ in range(2)),
                field(0x37, b"", b""),
            ),
            "duplicate member",
            id="duplicate-member",
        ),
        pytest.param(
            message_bytes(field(0x34, b"c", b""), field(0x4A, b"", b"m"), field(0x21, b"", b"")),
            "4 octets",
            id="bad-member-value",
        ),
        pytest.param(
            message_bytes(field(0x34, b"c", b"x"), field(0x37, b"", b"")),
            "begCollection value must be empty",
            id="begCollection-value",
        ),
        pytest.param(
            message_bytes(
                field(0x34, b"c", b""),
                field(0x4A, b"", b"m"),
                field(0x44, b"", b"v"),
                field(0x37, b"", b"x"),
            ),
            "endCollection value must be empty",
            id="endCollection-value",
        ),
        pytest.param(
            HEADER + OPERATION_GROUP + field(0x34, b"c", b"") + b"\x03",
            "not terminated",
            id="unterminated-collection",
        ),
        pytest.param(
            HEADER + OPERATION_GROUP + field(0x34, b"c", b"") + b"\x02" + field(0x44, b"a", b"b"),
            "not terminated",
            id="group-inside-collection",
        ),
        pytest.param(HEADER + field(0x44, b"a", b"b") + b"\x03", "before any", id="no-group"),
        pytest.param(
            HEADER + b"\x01" + field(0x44, b"", b"b") + b"\x03", "additional value", id="no-attr"
        ),
        pytest.param(
            HEADER + OPERATION_GROUP + b"\x02" + field(0x44, b"", b"b") + b"\x03",
            "additional value",
            id="additional-value-after-new-group",
        ),
        pytest.param(
            message_bytes(field(0x44, b"attributes-charset", b"x")), "duplicate", id="dup-attr"
        ),
        pytest.param(HEADER + b"\x00\x03", "0x00", id="delimiter-0"),
        pytest.param(b"\x02\x00\x00\x02\xff\xff\xff\xff\x01\x03", "request-id", id="id-neg"),
    ],
)
def test_malformed_messages_are_bad_requests(wire: bytes, words: str) -> None:
    error = parse_error(wire)
    assert error.status == BAD_REQUEST
    assert words in error.detail


def test_parse_error_carries_request_id_and_offset() -> None:
    wire = message_bytes(field(0x22, b"b", b"\x07"))
    error = parse_error(wire)
    assert error.request_id == 7
    assert error.offset == len(HEADER + OPERATION_GROUP)


@pytest.mark.parametrize("version", [b"\x00\x09", b"\x03\x00", b"\xff\xff"])
def test_unsupported_versions(version: bytes) -> None:
    error = parse_error(version + HEADER[2:] + b"\x01\x03")
    assert error.status == StatusCode.SERVER_ERROR_VERSION_NOT_SUPPORTED
    assert error.request_id == 7


def test_too_many_attributes() -> None:
    many = message_bytes(*(field(0x21, f"a{i}".encode(), bytes(4)) for i in range(20)))
    assert decode_message(many, max_attributes=21)[0].value("a19") == 0
    error = parse_error(many, max_attributes=20)
    assert error.status == StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE


def test_additional_values_and_members_count_towards_the_limit() -> None:
    values = message_bytes(field(0x21, b"a", bytes(4)), *[field(0x21, b"", bytes(4))] * 9)
    assert parse_error(values, max_attributes=10).status == 0x0408
    wire = HEADER + OPERATION_GROUP + b"\x02" + MEDIA_COL + b"\x03"
    assert parse_error(wire, max_attributes=10).status == 0x0408
    assert decode_message(wire, max_attributes=12)[0].value("media-col") is not None


def test_too_long_value_and_name() -> None:
    value = message_bytes(field(0x41, b"t", b"x" * 101))
    assert decode_message(value, max_value_length=101)[0].value("t") == "x" * 101
    assert parse_error(value, max_value_length=100).status == 0x0409
    name = message_bytes(field(0x41, b"n" * 200, b"x"))
    assert parse_error(name, max_value_length=100).status == 0x0409


def test_too_long_value_is_refused_before_its_octets_arrive() -> None:
    start = HEADER + OPERATION_GROUP + b"\x41\x00\x01t\x7f\xff"  # a 32767-octet value follows
    assert parse_error(start, max_value_length=1000).status == 0x0409
    with pytest.raises(IncompleteMessage):
        decode_message(start)


def nested_collection(depth: int) -> bytes:
    inner = field(0x44, b"", b"leaf")
    for _ in range(depth - 1):
        inner = field(0x34, b"", b"") + field(0x4A, b"", b"m") + inner + field(0x37, b"", b"")
    member = field(0x4A, b"", b"m")
    return field(0x34, b"c", b"") + member + inner + field(0x37, b"", b"")


def test_collection_depth_limit() -> None:
    allowed = message_bytes(nested_collection(MAX_COLLECTION_DEPTH))
    message, _ = decode_message(allowed)
    assert encode_message(message) == allowed
    error = parse_error(message_bytes(nested_collection(MAX_COLLECTION_DEPTH + 1)))
    assert "deeper" in error.detail


@pytest.mark.parametrize("size", range(0, 9))
def test_short_headers_are_incomplete(size: int) -> None:
    with pytest.raises(IncompleteMessage):
        decode_message(PRINT_JOB_REQUEST[:size])


def test_every_truncation_of_a_valid_message_is_incomplete() -> None:
    wire = encode_message(complex_message())
    for cut in range(len(wire)):
        with pytest.raises(IncompleteMessage):
            decode_message(wire[:cut])
    assert decode_message(wire)[1] == len(wire)


def test_streaming_header_parse_from_the_first_bytes() -> None:
    """A server parses the header from the first chunk; the rest is document data."""
    body = PRINT_JOB_REQUEST + b"D" * 10_000
    message, offset = decode_message(body[:4096])
    assert offset == len(PRINT_JOB_REQUEST)
    assert message.data == body[offset:4096]


# --- encoding errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "words"),
    [
        (Attribute.of("copies", ValueTag.INTEGER, "2"), "cannot be sent"),
        (Attribute.of("copies", ValueTag.INTEGER, True), "cannot be sent"),
        (Attribute.of("copies", ValueTag.INTEGER, 2**31), "32-bit"),
        (Attribute.of("flag", ValueTag.BOOLEAN, 1), "cannot be sent"),
        (Attribute.of("name", ValueTag.KEYWORD, b"bytes"), "cannot be sent"),
        (Attribute.of("when", ValueTag.DATE_TIME, datetime(2024, 1, 1)), "timezone-aware"),
        (
            Attribute.of(
                "when",
                ValueTag.DATE_TIME,
                datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=15))),
            ),
            "UTC offset",
        ),
        (Attribute.of("col", ValueTag.BEG_COLLECTION, "x"), "Collection"),
        (Attribute.of("x", ValueTag.KEYWORD, Collection()), "collection"),
        (Attribute.of("x", ValueTag.MEMBER_ATTR_NAME, b"m"), "cannot be sent"),
        (Attribute.of("x", ValueTag.NO_VALUE, "v"), "cannot be sent"),
        (Attribute.of("x", ValueTag.TEXT_WITHOUT_LANGUAGE, "x" * 70_000), "65535"),
        (Attribute.of("x", ValueTag.RESOLUTION, Resolution(1, 1, 256)), "units"),
        (Attribute.of("x", 0x7F, b"\x00"), "extension"),
        (Attribute.of("x", 0x05, b"x"), "not a value tag"),
        (Attribute("x", ValueTag.KEYWORD, []), "no values"),
        (Attribute.of("", ValueTag.KEYWORD, "x"), "empty"),
        (Attribute.of("x", ValueTag.KEYWORD, TaggedValue(0x13, OutOfBand(0x13))), "plain"),
    ],
)
def test_encode_errors(attribute: Attribute, words: str) -> None:
    with pytest.raises(IppEncodeError, match=words):
        encode_message(one_attribute_message(attribute))


def test_encode_header_errors() -> None:
    with pytest.raises(IppEncodeError, match="group delimiter"):
        encode_message(Message(code=2, groups=[AttributeGroup(GroupTag.END)]))
    with pytest.raises(IppEncodeError, match="request-id"):
        encode_message(Message(code=2, request_id=2**31))
    with pytest.raises(IppEncodeError, match="two octets"):
        encode_message(Message(code=0x10000))


# --- round trips (hypothesis) ------------------------------------------------------------

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
NAMES = st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12)
SCALAR_STRATEGIES: dict[int, st.SearchStrategy[Value]] = {
    ValueTag.INTEGER: INT32,
    ValueTag.ENUM: INT32,
    ValueTag.BOOLEAN: st.booleans(),
    ValueTag.OCTET_STRING: st.binary(max_size=16),
    ValueTag.DATE_TIME: st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.integers(-14 * 60 - 59, 14 * 60 + 59).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        ),
    ).map(lambda moment: moment.replace(microsecond=moment.microsecond // 100_000 * 100_000)),
    ValueTag.RESOLUTION: st.builds(Resolution, INT32, INT32, st.integers(0, 255)),
    ValueTag.RANGE_OF_INTEGER: st.builds(IntRange, INT32, INT32),
    ValueTag.TEXT_WITH_LANGUAGE: st.builds(TextWithLanguage, st.text(max_size=12), NAMES),
    ValueTag.NAME_WITH_LANGUAGE: st.builds(TextWithLanguage, st.text(max_size=12), NAMES),
    ValueTag.EXTENSION: st.binary(max_size=8).map(lambda raw: b"\x40\x00\x00\x02" + raw),
    0x38: st.binary(max_size=8),
    0x60: st.binary(max_size=8),
    0xC1: st.binary(max_size=8),
    **{
        tag: st.text(max_size=16)
        for tag in (
            ValueTag.TEXT_WITHOUT_LANGUAGE,
            ValueTag.NAME_WITHOUT_LANGUAGE,
            ValueTag.KEYWORD,
            ValueTag.URI,
            ValueTag.URI_SCHEME,
            ValueTag.CHARSET,
            ValueTag.NATURAL_LANGUAGE,
            ValueTag.MIME_MEDIA_TYPE,
        )
    },
    **{tag: st.just(OutOfBand(tag)) for tag in (0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x1F)},
}
MAX_TEST_DEPTH = 3


def value_tags(depth: int) -> st.SearchStrategy[int]:
    tags = sorted(SCALAR_STRATEGIES)
    if depth < MAX_TEST_DEPTH:
        tags.append(ValueTag.BEG_COLLECTION)
    return st.sampled_from(tags)


def value_of(tag: int, depth: int) -> st.SearchStrategy[Value]:
    if tag == ValueTag.BEG_COLLECTION:
        return collections(depth + 1)
    return SCALAR_STRATEGIES[tag]


@st.composite
def attributes(draw: st.DrawFn, name: str, depth: int = 0) -> Attribute:
    """An attribute in the canonical form the decoder produces."""
    tag = draw(value_tags(depth))
    values: list[Value] = [draw(value_of(tag, depth))]
    for _ in range(draw(st.integers(0, 3))):
        other = draw(st.one_of(st.just(tag), value_tags(depth)))
        value = draw(value_of(other, depth))
        plain = other == tag or is_out_of_band(other)
        values.append(value if plain else TaggedValue(other, value))
    return Attribute(name, tag, values)


@st.composite
def collections(draw: st.DrawFn, depth: int) -> Collection:
    names = draw(st.lists(NAMES, unique=True, max_size=3))
    return Collection([draw(attributes(name, depth)) for name in names])


@st.composite
def groups(draw: st.DrawFn) -> AttributeGroup:
    tag = draw(st.sampled_from([tag for tag in range(1, 16) if tag != GroupTag.END]))
    names = draw(st.lists(NAMES, unique=True, max_size=4))
    return AttributeGroup(tag, [draw(attributes(name)) for name in names])


messages = st.builds(
    Message,
    code=st.integers(0, 0xFFFF),
    request_id=st.integers(1, 2**31 - 1),
    groups=st.lists(groups(), max_size=4),
    version=st.tuples(st.sampled_from([1, 2]), st.integers(0, 255)),
    data=st.binary(max_size=32),
)


def complex_message() -> Message:
    message = print_job_request()
    job = message.job
    assert job is not None
    job.add(media_col())
    job.add(
        Attribute.of(
            "page-ranges",
            ValueTag.RANGE_OF_INTEGER,
            IntRange(1, 3),
            IntRange(5, 5),
            TaggedValue(ValueTag.INTEGER, 9),
        )
    )
    job.add(Attribute.out_of_band("job-hold-until", ValueTag.NO_VALUE))
    return message


@PROPERTY
@given(messages)
def test_round_trip(message: Message) -> None:
    wire = encode_message(message)
    decoded, offset = decode_message(wire, max_attributes=10_000)
    assert decoded == message
    assert offset == len(wire) - len(message.data)
    assert encode_message(decoded) == wire


@PROPERTY
@given(messages, st.data())
def test_truncated_messages_are_incomplete(message: Message, data: st.DataObject) -> None:
    wire = encode_message(message)
    header_end = len(wire) - len(message.data)
    cut = data.draw(st.integers(0, header_end - 1))
    with pytest.raises(IncompleteMessage):
        decode_message(wire[:cut], max_attributes=10_000)


def decode_or_reject(data: bytes) -> None:
    """The codec's contract for untrusted bytes: only its two errors, or a stable message."""
    try:
        message, offset = decode_message(data)
    except (IncompleteMessage, IppParseError):
        return
    assert message.data == data[offset:]
    wire = encode_message(message)
    assert decode_message(wire) == (message, len(wire) - len(message.data))
    assert encode_message(decode_message(wire)[0]) == wire


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=200))
def test_any_bytes_only_raise_codec_errors(data: bytes) -> None:
    decode_or_reject(data)


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=200))
def test_any_attribute_bytes_only_raise_codec_errors(data: bytes) -> None:
    decode_or_reject(HEADER + b"\x01" + data)


@PROPERTY
@given(messages, st.data())
def test_mutated_messages_only_raise_codec_errors(message: Message, data: st.DataObject) -> None:
    wire = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    decode_or_reject(bytes(wire))
