"""PDF content helpers for the colour scan: resource scopes, raw-content checks, fonts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pikepdf

from printwarden.analysis.pdfspaces import ColourStatus

MAX_FORM_DEPTH = 12
_COLOURFUL = re.compile(
    rb"(?<![^\s()<>\[\]{}/%])(?:rg|RG|k|K|cs|CS|scn?|SCN?|sh|Do|BI)(?![^\s()<>\[\]{}/%])"
)
"""Operators that can paint in colour once the current colours are grey (a superset:
the same letters inside strings or names also match)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Resources in force and the forms being executed (to stop cycles)."""

    resources: pikepdf.Object | None
    forms: frozenset[tuple[int, int]] = frozenset()

    def get(self, category: str) -> pikepdf.Dictionary | None:
        if not isinstance(self.resources, pikepdf.Dictionary):
            return None
        found = self.resources.get(category)
        return found if isinstance(found, pikepdf.Dictionary) else None

    def entry(self, category: str, name: object) -> pikepdf.Object | None:
        found = self.get(category)
        return found.get(str(name)) if found is not None and name is not None else None

    def enter(self, target: pikepdf.Object, resources: pikepdf.Object | None) -> Scope | None:
        """The scope inside form or pattern ``target``; ``None`` on a cycle or too deep."""
        key = target.objgen
        if key in self.forms or len(self.forms) >= MAX_FORM_DEPTH:
            return None
        return Scope(resources if resources is not None else self.resources, self.forms | {key})


def plainly_grey(target: pikepdf.Object, scope: Scope) -> bool:
    """Whether content that starts with grey colours can only paint grey: no operator
    could change them (checked on the raw bytes, much faster than parsing)."""
    fonts = scope.get("/Font")
    if fonts is not None and any(
        isinstance(f, pikepdf.Dictionary) and f.get("/Subtype") == pikepdf.Name.Type3
        for _, f in fonts.items()
    ):
        return False
    return _COLOURFUL.search(content_bytes(target)) is None


def content_bytes(target: pikepdf.Object) -> bytes:
    """The decoded content of a form/pattern stream or of a page's ``/Contents``."""
    if isinstance(target, pikepdf.Stream):
        return target.read_bytes()
    contents = target.get("/Contents") if isinstance(target, pikepdf.Dictionary) else None
    if isinstance(contents, pikepdf.Stream):
        return contents.read_bytes()
    if isinstance(contents, pikepdf.Array):
        return b"\n".join(s.read_bytes() for s in contents if isinstance(s, pikepdf.Stream))
    return b""


def type3_verdict(font: pikepdf.Dictionary) -> ColourStatus:
    """GREY when every glyph is uncoloured (``d1``: painted in the text colour)."""
    procs = font.get("/CharProcs")
    if not isinstance(procs, pikepdf.Dictionary):
        return ColourStatus.RENDER
    for _, proc in procs.items():
        if not isinstance(proc, pikepdf.Stream):
            return ColourStatus.RENDER
        first = pikepdf.parse_content_stream(proc, "d0 d1")
        if not first or str(first[0].operator) != "d1":
            return ColourStatus.RENDER
    return ColourStatus.GREY


def numbers(operands: Sequence[object]) -> list[float] | None:
    """The operands as floats, or ``None`` if any is not a number."""
    try:
        return [float(v) for v in operands]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def shows_something(operands: Sequence[object]) -> bool:
    """Whether text-showing operands hold a non-empty string."""
    for operand in operands:
        if isinstance(operand, pikepdf.String) and len(bytes(operand)) > 0:
            return True
        if isinstance(operand, pikepdf.Array) and shows_something(list(operand)):
            return True
    return False


def inherited(page: pikepdf.Object, key: str) -> pikepdf.Object | None:
    """A page attribute, looked up through the page tree when the page lacks it."""
    node: pikepdf.Object | None = page
    for _ in range(64):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node.get(key)
        node = node.get("/Parent")
    return None
