"""The IPP message model: values, attributes, groups and messages (no encoding here).

Python types per value syntax:

* integer, enum: ``int``; boolean: ``bool``
* text, name, keyword, uri, uriScheme, charset, naturalLanguage, mimeMediaType: ``str``
* textWithLanguage, nameWithLanguage: :class:`TextWithLanguage`
* dateTime: an aware :class:`datetime.datetime` (deci-second precision on the wire)
* resolution: :class:`Resolution`; rangeOfInteger: :class:`IntRange`
* collection: :class:`Collection`; out-of-band: :class:`OutOfBand`
* octetString and tags this codec does not know (including extension 0x7F): ``bytes``

An attribute's ``tag`` is the tag of its first value. A later value with another tag (a
1setOf mixing keyword and name, say) is wrapped in :class:`TaggedValue`; out-of-band values
always carry their own tag. That is the form :func:`decode_message` produces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from printwarden.provider.ipp.tags import GroupTag


@dataclass(frozen=True, slots=True)
class Resolution:
    """A ``resolution`` value: cross-feed and feed resolution in ``units`` (3 dpi, 4 dpcm)."""

    x: int
    y: int
    units: int = 3


@dataclass(frozen=True, slots=True)
class IntRange:
    """A ``rangeOfInteger`` value (both bounds inclusive)."""

    lower: int
    upper: int


@dataclass(frozen=True, slots=True)
class TextWithLanguage:
    """A ``textWithLanguage`` or ``nameWithLanguage`` value."""

    text: str
    language: str


@dataclass(frozen=True, slots=True)
class OutOfBand:
    """An out-of-band value (``unsupported``, ``unknown``, ``no-value``, ...)."""

    tag: int


@dataclass(frozen=True, slots=True)
class TaggedValue:
    """A value whose tag differs from its attribute's ``tag`` (mixed-syntax 1setOf)."""

    tag: int
    value: Value


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute: a name, the tag of its first value and one or more values (1setOf)."""

    name: str
    tag: int
    values: list[Value]

    @classmethod
    def of(cls, name: str, tag: int, *values: Value) -> Attribute:
        """Build an attribute from positional values: ``Attribute.of("copies", INTEGER, 2)``."""
        return cls(name, tag, list(values))

    @classmethod
    def out_of_band(cls, name: str, tag: int) -> Attribute:
        """An attribute whose only value is the out-of-band ``tag`` (e.g. ``no-value``)."""
        return cls(name, tag, [OutOfBand(tag)])

    @property
    def value(self) -> Value:
        """The first value."""
        return self.values[0]


class AttributeMap(Mapping[str, Attribute]):
    """Attributes in insertion order, looked up by name; names are unique."""

    def __init__(self, attributes: Iterable[Attribute] = ()) -> None:
        self._attributes: dict[str, Attribute] = {}
        for attribute in attributes:
            self.add(attribute)

    def add(self, attribute: Attribute) -> None:
        """Append ``attribute``; a name already present is a ``ValueError``."""
        if attribute.name in self._attributes:
            raise ValueError(f"duplicate attribute {attribute.name!r}")
        self._attributes[attribute.name] = attribute

    def set(self, attribute: Attribute) -> None:
        """Add ``attribute``, replacing one of the same name in place."""
        self._attributes[attribute.name] = attribute

    def remove(self, name: str) -> Attribute | None:
        """Remove and return the attribute ``name`` (``None`` when absent)."""
        return self._attributes.pop(name, None)

    @property
    def attributes(self) -> list[Attribute]:
        """The attributes in order (a copy)."""
        return list(self._attributes.values())

    def value(self, name: str) -> Value | None:
        """The first value of attribute ``name``, or ``None`` when absent."""
        attribute = self._attributes.get(name)
        return None if attribute is None else attribute.value

    def values_of(self, name: str) -> list[Value]:
        """All values of attribute ``name`` (empty when absent)."""
        attribute = self._attributes.get(name)
        return [] if attribute is None else list(attribute.values)

    def __getitem__(self, name: str) -> Attribute:
        return self._attributes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._attributes

    def get(self, name: str, default: Attribute | None = None) -> Attribute | None:  # type: ignore[override]
        """The attribute ``name``, or ``default``."""
        return self._attributes.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._attributes)

    def __len__(self) -> int:
        return len(self._attributes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.attributes!r})"


class Collection(AttributeMap):
    """A ``collection`` value (e.g. ``media-col``): member attributes by name."""


Value: TypeAlias = (
    bool
    | int
    | str
    | bytes
    | datetime
    | Resolution
    | IntRange
    | TextWithLanguage
    | OutOfBand
    | TaggedValue
    | Collection
)
"""Any attribute value (see the module docstring for the syntax each type carries)."""


class AttributeGroup(AttributeMap):
    """One attribute group of a message (operation, job, printer, ...)."""

    def __init__(self, tag: int, attributes: Iterable[Attribute] = ()) -> None:
        super().__init__(attributes)
        self.tag = tag

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AttributeGroup):
            return NotImplemented
        return self.tag == other.tag and super().__eq__(other)

    def __repr__(self) -> str:
        return f"AttributeGroup({self.tag!r}, {self.attributes!r})"


@dataclass(kw_only=True)
class Message:
    """An IPP request or response.

    ``code`` is the operation id of a request and the status code of a response. ``data``
    is whatever follows the end-of-attributes tag (the document of a Print-Job).
    """

    code: int
    request_id: int = 1
    groups: list[AttributeGroup] = field(default_factory=list)
    version: tuple[int, int] = (2, 0)
    data: bytes = b""

    def group(self, tag: int) -> AttributeGroup | None:
        """The first group with ``tag``, or ``None``."""
        for group in self.groups:
            if group.tag == tag:
                return group
        return None

    def groups_of(self, tag: int) -> list[AttributeGroup]:
        """Every group with ``tag``, in order (Get-Jobs answers one job group per job)."""
        return [group for group in self.groups if group.tag == tag]

    @property
    def operation(self) -> AttributeGroup | None:
        """The operation attributes group."""
        return self.group(GroupTag.OPERATION)

    @property
    def job(self) -> AttributeGroup | None:
        """The first job attributes group."""
        return self.group(GroupTag.JOB)

    @property
    def printer(self) -> AttributeGroup | None:
        """The printer attributes group."""
        return self.group(GroupTag.PRINTER)

    @property
    def unsupported(self) -> AttributeGroup | None:
        """The unsupported attributes group."""
        return self.group(GroupTag.UNSUPPORTED)

    def get(self, name: str) -> Attribute | None:
        """The first attribute called ``name`` in any group, in group order."""
        for group in self.groups:
            attribute = group.get(name)
            if attribute is not None:
                return attribute
        return None

    def value(self, name: str) -> Value | None:
        """The first value of the first attribute called ``name``, or ``None``."""
        attribute = self.get(name)
        return None if attribute is None else attribute.value
