"""Encoding of IPP messages into exact RFC 8010 octets."""

from __future__ import annotations

import struct

from printwarden.provider.ipp.errors import IppEncodeError
from printwarden.provider.ipp.model import (
    Attribute,
    Collection,
    Message,
    OutOfBand,
    TaggedValue,
    Value,
)
from printwarden.provider.ipp.tags import GroupTag, ValueTag, is_delimiter
from printwarden.provider.ipp.values import STRING_TAGS, encode_value

_MAX_FIELD = 0xFFFF
_FIELD_HEAD = struct.Struct(">BH")  # value tag, name length
_LENGTH = struct.Struct(">H")


def encode_message(message: Message) -> bytes:
    """The ``application/ipp`` octets of ``message``, document ``data`` included.

    Raises :class:`IppEncodeError` for a value that does not match its tag or does not fit
    its length field.
    """
    out = bytearray()
    _header(out, message)
    for group in message.groups:
        if not is_delimiter(group.tag) or group.tag in (0x00, GroupTag.END):
            raise IppEncodeError(f"0x{group.tag:02x} is not a group delimiter tag")
        out.append(group.tag)
        for attribute in group.attributes:
            _attribute(out, _name(attribute.name), attribute)
    out.append(GroupTag.END)
    out += message.data
    return bytes(out)


def _header(out: bytearray, message: Message) -> None:
    major, minor = message.version
    if not (0 <= major <= 0xFF and 0 <= minor <= 0xFF):
        raise IppEncodeError(f"version {message.version} does not fit two octets")
    if not 0 <= message.code <= 0xFFFF:
        raise IppEncodeError(f"operation or status code {message.code} does not fit two octets")
    if not 0 <= message.request_id < 2**31:
        raise IppEncodeError(f"request-id {message.request_id} is not in 0..2**31-1")
    out += bytes((major, minor))
    out += message.code.to_bytes(2, "big")
    out += message.request_id.to_bytes(4, "big")


def _name(name: str) -> bytes:
    raw = name.encode("utf-8")
    if not raw:
        raise IppEncodeError("attribute names must not be empty")
    return raw


def _attribute(out: bytearray, name: bytes, attribute: Attribute) -> None:
    """Encode ``attribute``: its first value carries ``name``, the others name-length 0."""
    values, tag = attribute.values, attribute.tag
    if not values:
        raise IppEncodeError(f"attribute {attribute.name!r} has no values")
    if len(values) == 1 and type(values[0]) is str and tag in STRING_TAGS:  # the common case
        raw = values[0].encode("utf-8")
        if len(name) > _MAX_FIELD or len(raw) > _MAX_FIELD:
            raise IppEncodeError(f"name or value longer than {_MAX_FIELD} octets")
        out += _FIELD_HEAD.pack(tag, len(name)) + name + _LENGTH.pack(len(raw)) + raw
        return
    for index, value in enumerate(values):
        tag, bare = _wire_tag(attribute.tag, value)
        _value(out, tag, name if index == 0 else b"", bare)


def _wire_tag(tag: int, value: Value) -> tuple[int, Value]:
    if isinstance(value, OutOfBand):
        return value.tag, value
    if isinstance(value, TaggedValue):
        if isinstance(value.value, OutOfBand | TaggedValue):
            raise IppEncodeError("a TaggedValue must wrap a plain value")
        return value.tag, value.value
    return tag, value


def _value(out: bytearray, tag: int, name: bytes, value: Value) -> None:
    if tag != ValueTag.BEG_COLLECTION:
        if isinstance(value, Collection):
            raise IppEncodeError(f"a collection cannot be sent with tag 0x{tag:02x}")
        _field(out, tag, name, encode_value(tag, value))
        return
    if not isinstance(value, Collection):
        raise IppEncodeError(f"begCollection needs a Collection, not {type(value).__name__}")
    _field(out, ValueTag.BEG_COLLECTION, name, b"")
    for member in value.attributes:
        _field(out, ValueTag.MEMBER_ATTR_NAME, b"", _name(member.name))
        _attribute(out, b"", member)
    _field(out, ValueTag.END_COLLECTION, b"", b"")


def _field(out: bytearray, tag: int, name: bytes, raw: bytes) -> None:
    if not 0x10 <= tag <= 0xFF:
        raise IppEncodeError(f"0x{tag:02x} is not a value tag")
    if len(name) > _MAX_FIELD or len(raw) > _MAX_FIELD:
        raise IppEncodeError(f"name or value longer than {_MAX_FIELD} octets")
    out.append(tag)
    out += len(name).to_bytes(2, "big") + name
    out += len(raw).to_bytes(2, "big") + raw
