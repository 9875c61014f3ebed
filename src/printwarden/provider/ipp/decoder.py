"""Strict, bounded decoding of ``application/ipp`` messages (RFC 8010 section 3)."""

from __future__ import annotations

from dataclasses import dataclass

from printwarden.provider.ipp.errors import IncompleteMessage, IppParseError
from printwarden.provider.ipp.model import (
    Attribute,
    AttributeGroup,
    AttributeMap,
    Collection,
    Message,
    OutOfBand,
    TaggedValue,
    Value,
)
from printwarden.provider.ipp.tags import GroupTag, StatusCode, ValueTag, is_delimiter, tag_name
from printwarden.provider.ipp.values import STRING_TAGS, decode_value

DEFAULT_MAX_ATTRIBUTES = 1000
DEFAULT_MAX_VALUE_LENGTH = 32767
MAX_COLLECTION_DEPTH = 16
SUPPORTED_MAJOR_VERSIONS = (1, 2)
_KNOWN_TAGS: dict[int, int] = {tag.value: tag for tag in (*GroupTag, *ValueTag)}


def decode_message(
    data: bytes,
    *,
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES,
    max_value_length: int = DEFAULT_MAX_VALUE_LENGTH,
) -> tuple[Message, int]:
    """Decode an IPP message; return it and the offset where document data begins.

    ``message.data`` holds ``data[offset:]``. ``max_attributes`` bounds the number of
    attribute fields (attributes, additional values, collection members and their
    delimiters, all counted); ``max_value_length`` bounds every name and value.

    Raises :class:`IncompleteMessage` when ``data`` ends before the end-of-attributes tag
    and :class:`IppParseError` (with the status to answer) when it is malformed.
    """
    reader = _Reader(bytes(data), max_attributes, max_value_length)
    version, code, request_id = _header(reader)
    try:
        groups = _groups(reader)
    except IppParseError as exc:
        exc.request_id = request_id
        raise
    end = reader.pos
    message = Message(
        version=version, code=code, request_id=request_id, groups=groups, data=bytes(data[end:])
    )
    return message, end


@dataclass(slots=True)
class _Field:
    """One tag / name / value triple as it is on the wire."""

    tag: int
    name: bytes
    value: bytes
    offset: int


def _bad(detail: str, offset: int) -> IppParseError:
    return IppParseError(StatusCode.CLIENT_ERROR_BAD_REQUEST, detail, offset=offset)


class _Reader:
    """A cursor over the message that checks every length against the buffer and limits."""

    def __init__(self, data: bytes, max_fields: int, max_length: int) -> None:
        self.data = data
        self.pos = 0
        self.fields = 0
        self.max_fields = max_fields
        self.max_length = max_length

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise IncompleteMessage(len(self.data))
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def number(self, size: int, *, signed: bool = False) -> int:
        return int.from_bytes(self.take(size), "big", signed=signed)

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise IncompleteMessage(len(self.data))
        return self.data[self.pos]

    def field(self) -> _Field:
        """The next tag / name / value (the hot loop of decoding: indexes, no helpers)."""
        data, offset, size = self.data, self.pos, len(self.data)
        self.fields += 1
        if self.fields > self.max_fields:
            raise IppParseError(
                StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE,
                f"more than {self.max_fields} attribute fields",
                offset=offset,
            )
        if offset + 3 > size:
            raise IncompleteMessage(size)
        tag = data[offset]
        start = offset + 3
        stop = start + self._checked((data[offset + 1] << 8) | data[offset + 2], offset)
        if stop + 2 > size:
            raise IncompleteMessage(size)
        name = data[start:stop]
        start = stop + 2
        stop = start + self._checked((data[stop] << 8) | data[stop + 1], offset)
        if stop > size:
            raise IncompleteMessage(size)
        self.pos = stop
        return _Field(_KNOWN_TAGS.get(tag, tag), name, data[start:stop], offset)

    def _checked(self, length: int, offset: int) -> int:
        if length > self.max_length:
            raise IppParseError(
                StatusCode.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG,
                f"name or value of {length} octets exceeds {self.max_length}",
                offset=offset,
            )
        return length


def _header(reader: _Reader) -> tuple[tuple[int, int], int, int]:
    major, minor = reader.number(1), reader.number(1)
    code = reader.number(2)
    request_id = reader.number(4, signed=True)
    if major not in SUPPORTED_MAJOR_VERSIONS:
        raise IppParseError(
            StatusCode.SERVER_ERROR_VERSION_NOT_SUPPORTED,
            f"IPP version {major}.{minor}",
            request_id=request_id if request_id > 0 else None,
        )
    # 0 is valid in a response (the echo of an unusable request); a server refuses it in a
    # request at the operation layer.
    if request_id < 0:
        raise _bad(f"request-id {request_id} is negative", 4)
    return (major, minor), code, request_id


def _groups(reader: _Reader) -> list[AttributeGroup]:
    groups: list[AttributeGroup] = []
    last: Attribute | None = None
    data, end_tag = reader.data, int(GroupTag.END)
    while True:
        if reader.pos >= len(data):
            raise IncompleteMessage(len(data))
        tag = data[reader.pos]
        if tag == end_tag:
            break
        if tag <= 0x0F:  # a delimiter: a new group begins
            if tag == 0x00:
                raise _bad("reserved delimiter tag 0x00", reader.pos)
            reader.pos += 1
            groups.append(AttributeGroup(_KNOWN_TAGS.get(tag, tag)))
            last = None
            continue
        field = reader.field()
        if not groups:
            raise _bad("attribute before any attribute group", field.offset)
        last = _attribute(reader, field, groups[-1], last)
    reader.pos += 1
    return groups


def _attribute(
    reader: _Reader, field: _Field, group: AttributeGroup, last: Attribute | None
) -> Attribute:
    """Add ``field`` to ``group`` as a new attribute or as another value of ``last``."""
    if field.name and field.tag in STRING_TAGS:  # most attributes: one string value
        try:
            attribute = Attribute(
                field.name.decode("utf-8"), field.tag, [field.value.decode("utf-8")]
            )
        except UnicodeDecodeError:
            pass  # the general path below says which part is not UTF-8
        else:
            _add(group, attribute, field.offset)
            return attribute
    value = _value(reader, field, depth=0)
    if not field.name:
        if last is None:
            raise _bad("additional value without a preceding attribute", field.offset)
        _append(last, field.tag, value)
        return last
    attribute = Attribute(_text(field.name, field.offset), field.tag, [value])
    _add(group, attribute, field.offset)
    return attribute


def _value(reader: _Reader, field: _Field, depth: int) -> Value:
    if field.tag == ValueTag.BEG_COLLECTION:
        return _collection(reader, field, depth + 1)
    if field.tag in (ValueTag.END_COLLECTION, ValueTag.MEMBER_ATTR_NAME):
        raise _bad(f"{tag_name(field.tag)} outside a collection", field.offset)
    return decode_value(field.tag, field.value, field.offset)


def _collection(reader: _Reader, begin: _Field, depth: int) -> Collection:
    """Read the members of the collection ``begin`` opens, up to its endCollection."""
    if begin.value:
        raise _bad("begCollection value must be empty", begin.offset)
    if depth > MAX_COLLECTION_DEPTH:
        raise _bad(f"collections nested deeper than {MAX_COLLECTION_DEPTH}", begin.offset)
    collection = Collection()
    pending: str | None = None  # a memberAttrName still waiting for its first value
    member: Attribute | None = None
    while (field := _member_field(reader)).tag != ValueTag.END_COLLECTION:
        if field.tag == ValueTag.MEMBER_ATTR_NAME:
            _check_no_pending(pending, field)
            pending = _member_name(collection, field)
            continue
        value = _value(reader, field, depth)
        if pending is not None:
            member = Attribute(pending, field.tag, [value])
            _add(collection, member, field.offset)
            pending = None
        elif member is not None:
            _append(member, field.tag, value)
        else:
            raise _bad("collection value before any memberAttrName", field.offset)
    _check_no_pending(pending, field)
    return collection


def _member_field(reader: _Reader) -> _Field:
    if is_delimiter(reader.peek()):
        raise _bad("collection not terminated by endCollection", reader.pos)
    field = reader.field()
    if field.name:
        raise _bad("collection member field with a name", field.offset)
    if field.tag == ValueTag.END_COLLECTION and field.value:
        raise _bad("endCollection value must be empty", field.offset)
    return field


def _check_no_pending(pending: str | None, field: _Field) -> None:
    if pending is not None:
        raise _bad(f"member {pending!r} has no value", field.offset)


def _member_name(collection: Collection, field: _Field) -> str:
    name = _text(field.value, field.offset)
    if not name:
        raise _bad("empty memberAttrName", field.offset)
    if name in collection:
        raise _bad(f"duplicate member attribute {name!r}", field.offset)
    return name


def _append(attribute: Attribute, tag: int, value: Value) -> None:
    if tag != attribute.tag and not isinstance(value, OutOfBand):
        value = TaggedValue(tag, value)
    attribute.values.append(value)


def _add(attributes: AttributeMap, attribute: Attribute, offset: int) -> None:
    try:
        attributes.add(attribute)
    except ValueError:
        raise _bad(f"duplicate attribute {attribute.name!r}", offset) from None


def _text(raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("attribute name is not valid UTF-8", offset) from None
