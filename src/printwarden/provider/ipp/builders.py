"""Shorthands for building request and response attributes from plain Python values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

from printwarden.provider.ipp.model import (
    Attribute,
    AttributeGroup,
    Collection,
    IntRange,
    Resolution,
    TextWithLanguage,
    Value,
)
from printwarden.provider.ipp.tags import GroupTag, ValueTag

AttributeInput: TypeAlias = "Value | Sequence[Value] | Attribute"

# Attributes whose plain values are not keyword/integer (RFC 8011 and PWG 5100.x syntaxes).
ENUM_ATTRIBUTES = frozenset(
    {"finishings", "orientation-requested", "print-quality", "job-state", "printer-state"}
)
NAME_ATTRIBUTES = frozenset(
    {"job-name", "document-name", "requesting-user-name", "job-account-id", "printer-name"}
)
TEXT_ATTRIBUTES = frozenset(
    {"job-message-to-operator", "status-message", "printer-info", "printer-location"}
)


def make_attribute(name: str, value: AttributeInput) -> Attribute:
    """An attribute from a plain value or list of values, its tag inferred from the type.

    ``str`` is a keyword (name or text for the attributes in :data:`NAME_ATTRIBUTES` and
    :data:`TEXT_ATTRIBUTES`), ``int`` an integer (enum for :data:`ENUM_ATTRIBUTES`).
    Pass an :class:`Attribute` to choose the tag yourself.
    """
    if isinstance(value, Attribute):
        return value
    values = _as_values(value)
    if not values:
        raise ValueError(f"attribute {name!r} needs at least one value")
    return Attribute(name, infer_tag(name, values[0]), values)


def _as_values(value: Value | Sequence[Value]) -> list[Value]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def infer_tag(name: str, value: Value) -> int:
    """The value tag :func:`make_attribute` uses for ``value`` of attribute ``name``."""
    if isinstance(value, bool):
        return ValueTag.BOOLEAN
    if isinstance(value, int):
        return ValueTag.ENUM if name in ENUM_ATTRIBUTES else ValueTag.INTEGER
    if isinstance(value, str):
        return _string_tag(name)
    if isinstance(value, TextWithLanguage):
        named = name in NAME_ATTRIBUTES
        return ValueTag.NAME_WITH_LANGUAGE if named else ValueTag.TEXT_WITH_LANGUAGE
    simple: dict[type, int] = {
        Collection: ValueTag.BEG_COLLECTION,
        Resolution: ValueTag.RESOLUTION,
        IntRange: ValueTag.RANGE_OF_INTEGER,
        datetime: ValueTag.DATE_TIME,
        bytes: ValueTag.OCTET_STRING,
    }
    for kind, tag in simple.items():
        if isinstance(value, kind):
            return tag
    raise ValueError(f"cannot infer an IPP syntax for {type(value).__name__} ({name!r})")


def _string_tag(name: str) -> int:
    if name in NAME_ATTRIBUTES:
        return ValueTag.NAME_WITHOUT_LANGUAGE
    if name in TEXT_ATTRIBUTES:
        return ValueTag.TEXT_WITHOUT_LANGUAGE
    return ValueTag.KEYWORD


def operation_group(language: str = "en", charset: str = "utf-8") -> AttributeGroup:
    """An operation group starting with attributes-charset and attributes-natural-language."""
    return AttributeGroup(
        GroupTag.OPERATION,
        [
            Attribute.of("attributes-charset", ValueTag.CHARSET, charset),
            Attribute.of("attributes-natural-language", ValueTag.NATURAL_LANGUAGE, language),
        ],
    )
