"""Encoding and decoding of single (non-collection) attribute values, RFC 8010 section 3.9."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

from printwarden.provider.ipp.errors import IppEncodeError, IppParseError
from printwarden.provider.ipp.model import (
    IntRange,
    OutOfBand,
    Resolution,
    TextWithLanguage,
    Value,
)
from printwarden.provider.ipp.tags import StatusCode, ValueTag, is_out_of_band

INTEGER_TAGS = frozenset({ValueTag.INTEGER, ValueTag.ENUM})
STRING_TAGS = frozenset(
    {
        ValueTag.TEXT_WITHOUT_LANGUAGE,
        ValueTag.NAME_WITHOUT_LANGUAGE,
        ValueTag.KEYWORD,
        ValueTag.URI,
        ValueTag.URI_SCHEME,
        ValueTag.CHARSET,
        ValueTag.NATURAL_LANGUAGE,
        ValueTag.MIME_MEDIA_TYPE,
    }
)
LANGUAGE_TAGS = frozenset({ValueTag.TEXT_WITH_LANGUAGE, ValueTag.NAME_WITH_LANGUAGE})
STRUCTURE_TAGS = frozenset(
    {ValueTag.BEG_COLLECTION, ValueTag.END_COLLECTION, ValueTag.MEMBER_ATTR_NAME}
)

_INT32 = struct.Struct(">i")
_RESOLUTION = struct.Struct(">iiB")
_RANGE = struct.Struct(">ii")
_DATE_TIME = struct.Struct(">HBBBBBBcBB")
_MAX_UTC_HOURS = 14
_FIXED_LENGTHS: dict[int, int] = {
    ValueTag.INTEGER: 4,
    ValueTag.ENUM: 4,
    ValueTag.BOOLEAN: 1,
    ValueTag.DATE_TIME: _DATE_TIME.size,
    ValueTag.RESOLUTION: _RESOLUTION.size,
    ValueTag.RANGE_OF_INTEGER: _RANGE.size,
}


def _bad(detail: str, offset: int) -> IppParseError:
    return IppParseError(StatusCode.CLIENT_ERROR_BAD_REQUEST, detail, offset=offset)


# --- decoding ----------------------------------------------------------------------------


def decode_value(tag: int, raw: bytes, offset: int = 0) -> Value:
    """Decode the value octets ``raw`` of a non-collection value with ``tag``.

    ``offset`` (where ``raw`` starts in the message) only goes into error messages.
    """
    if tag in STRING_TAGS:  # the most common: checked first
        return _utf8(raw, offset)
    if is_out_of_band(tag):
        return OutOfBand(tag)  # RFC 8010: any value octets of an out-of-band value are ignored
    expected = _FIXED_LENGTHS.get(tag)
    if expected is not None and len(raw) != expected:
        raise _bad(f"value of tag 0x{tag:02x} must be {expected} octets, not {len(raw)}", offset)
    if tag in INTEGER_TAGS:
        return int(_INT32.unpack(raw)[0])
    if tag == ValueTag.BOOLEAN:
        return _decode_boolean(raw, offset)
    if tag in LANGUAGE_TAGS:
        return _decode_with_language(raw, offset)
    if tag == ValueTag.DATE_TIME:
        return _decode_date_time(raw, offset)
    if tag == ValueTag.RESOLUTION:
        return Resolution(*_RESOLUTION.unpack(raw))
    if tag == ValueTag.RANGE_OF_INTEGER:
        return IntRange(*_RANGE.unpack(raw))
    if tag == ValueTag.EXTENSION:
        _check_extension(raw, offset)
    return bytes(raw)


def _decode_boolean(raw: bytes, offset: int) -> bool:
    if raw[0] > 1:
        raise _bad(f"boolean value must be 0 or 1, not {raw[0]}", offset)
    return raw[0] == 1


def _utf8(raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"invalid UTF-8 at value octet {exc.start}", offset) from None


def _decode_with_language(raw: bytes, offset: int) -> TextWithLanguage:
    if len(raw) < 4:
        raise _bad("textWithLanguage value shorter than its two length fields", offset)
    language_length = int.from_bytes(raw[:2], "big")
    text_at = 2 + language_length
    if text_at + 2 > len(raw):
        raise _bad("textWithLanguage language overruns the value", offset)
    text_length = int.from_bytes(raw[text_at : text_at + 2], "big")
    if text_at + 2 + text_length != len(raw):
        raise _bad("textWithLanguage lengths do not add up to the value length", offset)
    language = _utf8(raw[2:text_at], offset)
    return TextWithLanguage(_utf8(raw[text_at + 2 :], offset), language)


def _decode_date_time(raw: bytes, offset: int) -> datetime:
    year, month, day, hour, minute, second, deci, sign, utc_h, utc_m = _DATE_TIME.unpack(raw)
    if sign not in (b"+", b"-") or deci > 9 or utc_h > _MAX_UTC_HOURS or utc_m > 59:
        raise _bad("dateTime has an invalid deci-second or UTC offset", offset)
    shift = timedelta(hours=utc_h, minutes=utc_m)
    zone = timezone(-shift if sign == b"-" else shift)
    try:
        return datetime(year, month, day, hour, minute, second, deci * 100_000, tzinfo=zone)
    except ValueError as exc:
        raise _bad(f"dateTime is not a valid date and time: {exc}", offset) from None


def _check_extension(raw: bytes, offset: int) -> None:
    if len(raw) < 4 or raw[0] & 0x80:
        raise _bad("extension value must start with a 4-octet type code below 2**31", offset)


# --- encoding ----------------------------------------------------------------------------


def encode_value(tag: int, value: Value) -> bytes:
    """The value octets of a non-collection ``value`` sent with ``tag``."""
    if is_out_of_band(tag):
        _expect(isinstance(value, OutOfBand) and value.tag == tag, tag, value)
        return b""
    if tag in INTEGER_TAGS:
        return _INT32.pack(_int32(_int_value(tag, value)))
    if tag == ValueTag.BOOLEAN:
        _expect(isinstance(value, bool), tag, value)
        return b"\x01" if value else b"\x00"
    if tag in STRING_TAGS:
        _expect(isinstance(value, str), tag, value)
        return str(value).encode("utf-8")
    return _encode_structured(tag, value)


def _encode_structured(tag: int, value: Value) -> bytes:
    if tag in LANGUAGE_TAGS and isinstance(value, TextWithLanguage):
        return _length_prefixed(value.language) + _length_prefixed(value.text)
    if tag == ValueTag.DATE_TIME and isinstance(value, datetime):
        return _encode_date_time(value)
    if tag == ValueTag.RESOLUTION and isinstance(value, Resolution):
        if not 0 <= value.units <= 0xFF:
            raise IppEncodeError(f"resolution units {value.units} do not fit one octet")
        return _RESOLUTION.pack(_int32(value.x), _int32(value.y), value.units)
    if tag == ValueTag.RANGE_OF_INTEGER and isinstance(value, IntRange):
        return _RANGE.pack(_int32(value.lower), _int32(value.upper))
    typed = tag in LANGUAGE_TAGS or tag in _FIXED_LENGTHS or tag in STRUCTURE_TAGS
    if typed or not isinstance(value, bytes):
        raise _mismatch(tag, value)
    if tag == ValueTag.EXTENSION and (len(value) < 4 or value[0] & 0x80):
        raise IppEncodeError("extension value must start with a 4-octet type code below 2**31")
    return value


def _encode_date_time(value: datetime) -> bytes:
    shift = value.utcoffset()
    if shift is None:
        raise IppEncodeError("dateTime values must be timezone-aware")
    minutes, rest = divmod(shift, timedelta(minutes=1))
    hours, minute = divmod(abs(minutes), 60)
    if rest or hours > _MAX_UTC_HOURS:
        raise IppEncodeError(f"UTC offset {shift} is not whole minutes within ±14 hours")
    sign = b"-" if minutes < 0 else b"+"
    return _DATE_TIME.pack(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond // 100_000,
        sign,
        hours,
        minute,
    )


def _length_prefixed(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise IppEncodeError("textWithLanguage part longer than 65535 octets")
    return len(raw).to_bytes(2, "big") + raw


def _int_value(tag: int, value: Value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _mismatch(tag, value)
    return value


def _int32(number: int) -> int:
    if not -(2**31) <= number < 2**31:
        raise IppEncodeError(f"{number} does not fit a signed 32-bit integer")
    return number


def _expect(ok: bool, tag: int, value: Value) -> None:
    if not ok:
        raise _mismatch(tag, value)


def _mismatch(tag: int, value: Value) -> IppEncodeError:
    kind = type(value).__name__
    return IppEncodeError(f"a {kind} value ({value!r:.60}) cannot be sent with tag 0x{tag:02x}")
