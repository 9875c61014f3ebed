"""Job Template attributes of IPP/2.x and IPP Everywhere a queue takes besides RFC 8011's:
``job-priority``, ``job-sheets``, ``page-ranges``, ``number-up``, ``overrides``,
``print-content-optimize`` and ``print-rendering-intent``.

:func:`parse` turns one such attribute into what the spool keeps (JSON: ranges as
``[lower, upper]`` pairs, overrides as dictionaries), or ``None`` when its value is not
supported (the request then reports it in the unsupported-attributes group).
:func:`layout_of` reads them back as the imposition plan's terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from printwarden.domain import imposition
from printwarden.domain.imposition import Override, PlanError
from printwarden.provider.ipp import Attribute, Collection, IntRange, TextWithLanguage

NAMES = frozenset(
    {
        "job-priority",
        "job-sheets",
        "page-ranges",
        "number-up",
        "overrides",
        "print-content-optimize",
        "print-rendering-intent",
    }
)
LAYOUT_NAMES = frozenset({"page-ranges", "number-up", "overrides"})
SELECTORS = {"pages": "pages", "document-numbers": "documents", "document-number": "documents"}


def parse(attribute: Attribute) -> Any:
    """The spool's value of one of :data:`NAMES`; None if its value is not supported."""
    name, values = attribute.name, attribute.values
    if name == "job-priority":
        value = values[0]
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100
        return value if ok else None
    if name == "job-sheets":
        return "none" if _text(values[0]) == "none" else None
    if name in ("print-content-optimize", "print-rendering-intent"):
        return "auto" if values[0] == "auto" else None
    if name == "number-up":
        value = values[0]
        ok = isinstance(value, int) and value in imposition.NUMBER_UP
        return value if ok else None
    if name == "page-ranges":
        return _ranges(values)
    if name == "overrides":
        found = [_override(v) for v in values]
        return found if found and all(o is not None for o in found) else None
    return None


@dataclass(frozen=True, slots=True)
class Layout:
    """How a job's pages are laid out (see :mod:`printwarden.domain.imposition`)."""

    page_ranges: tuple[tuple[int, int], ...] = ()
    number_up: int = 1
    handling: str = imposition.SEPARATE_COLLATED
    overrides: tuple[Override, ...] = ()

    @property
    def is_plain(self) -> bool:
        """Whether nothing asks for a layout (one document is then printed as it came)."""
        return not self.page_ranges and self.number_up == 1 and not self.overrides


def layout_of(attributes: Mapping[str, Any]) -> Layout:
    """The layout a job's stored attributes ask for."""
    ranges = attributes.get("page-ranges") or []
    handling = attributes.get("multiple-document-handling")
    overrides = [
        Override(
            documents=tuple((int(lo), int(hi)) for lo, hi in item.get("documents", [])),
            pages=tuple((int(lo), int(hi)) for lo, hi in item.get("pages", [])),
            settings=dict(item.get("settings", {})),
        )
        for item in attributes.get("overrides") or []
    ]
    return Layout(
        page_ranges=tuple((int(lo), int(hi)) for lo, hi in ranges),
        number_up=int(attributes.get("number-up", 1)),
        handling=handling if handling in imposition.HANDLINGS else imposition.SEPARATE_COLLATED,
        overrides=tuple(overrides),
    )


def _ranges(values: list[Any]) -> list[list[int]] | None:
    pairs = []
    for value in values:
        if isinstance(value, IntRange):
            pairs.append((value.lower, value.upper))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs.append((value, value))
        else:
            return None
    try:
        return [list(pair) for pair in imposition.ranges(pairs)]
    except PlanError:
        return None


def _override(value: Any) -> dict[str, Any] | None:
    """One ``overrides`` collection: its selectors and the settings it overrides."""
    if not isinstance(value, Collection):
        return None
    chosen: dict[str, Any] = {"documents": [], "pages": [], "settings": {}}
    for member in value.attributes:
        if member.name in SELECTORS:
            ranges = _ranges(member.values)
            if ranges is None:
                return None
            chosen[SELECTORS[member.name]] = ranges
        elif member.name == "orientation-requested" and member.value in (3, 4, 5, 6):
            chosen["settings"]["orientation-requested"] = member.value
        elif member.name == "print-color-mode" and member.value == "monochrome":
            chosen["settings"]["print-color-mode"] = "monochrome"
        else:
            return None  # a member or value the provider cannot apply
    return chosen if chosen["settings"] else None


def _text(value: Any) -> str:
    if isinstance(value, TextWithLanguage):
        return value.text
    return value if isinstance(value, str) else ""
