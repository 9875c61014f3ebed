"""Optional content (layers): which content prints, from the default configuration.

A layer (optional content group) is shown unless the document's default configuration
(``/OCProperties /D``) turns it off: ``/BaseState`` with the ``/ON`` and ``/OFF`` lists.
A membership dictionary shows its content when its groups are on or off as its ``/P``
policy says. Documents whose printed layers may differ from that - usage-driven
states (``/AS``, ``/Usage``), visibility expressions (``/VE``) - are not judged here:
:func:`layers` gives ``None`` and rendering decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import pikepdf

_POLICIES = frozenset({"/AnyOn", "/AllOn", "/AnyOff", "/AllOff"})


class Undecided(Exception):
    """This content's visibility is not judged here."""


@dataclass(frozen=True, slots=True)
class Layers:
    """Which optional content groups are on."""

    off: frozenset[tuple[int, int]]
    base_on: bool
    on: frozenset[tuple[int, int]]

    def shows(self, member: object) -> bool:
        """Whether content marked with group or membership dictionary ``member`` shows.
        Raises :class:`Undecided`."""
        if not isinstance(member, pikepdf.Dictionary):
            return True
        kind = member.get("/Type")
        if kind == pikepdf.Name.OCG:
            return self._group(member)
        if kind == pikepdf.Name.OCMD:
            return self._membership(member)
        raise Undecided("optional content of an unknown type")

    def _group(self, group: pikepdf.Dictionary) -> bool:
        key = group.objgen
        if self.base_on:
            return key not in self.off
        return key in self.on

    def _membership(self, member: pikepdf.Dictionary) -> bool:
        if "/VE" in member:
            raise Undecided("a visibility expression")
        groups = member.get("/OCGs")
        items = list(groups) if isinstance(groups, pikepdf.Array) else [groups]
        states = [self._group(g) for g in items if isinstance(g, pikepdf.Dictionary)]
        if not states:
            return True
        policy = str(member.get("/P", pikepdf.Name.AnyOn))
        if policy not in _POLICIES:
            raise Undecided(f"membership policy {policy}")
        return {
            "/AnyOn": any(states),
            "/AllOn": all(states),
            "/AnyOff": not all(states),
            "/AllOff": not any(states),
        }[policy]


def layers(root: pikepdf.Object) -> Layers | None:
    """The layers of a document with optional content; ``None`` when what prints cannot
    be told from the default configuration."""
    properties = root.get("/OCProperties")
    if not isinstance(properties, pikepdf.Dictionary):
        return Layers(frozenset(), True, frozenset())
    config = properties.get("/D")
    if not isinstance(config, pikepdf.Dictionary) or "/AS" in config:
        return None
    groups = properties.get("/OCGs")
    if isinstance(groups, pikepdf.Array) and any(
        isinstance(g, pikepdf.Dictionary) and "/Usage" in g for g in groups
    ):
        return None
    base = config.get("/BaseState", pikepdf.Name.ON)
    if base not in (pikepdf.Name.ON, pikepdf.Name.OFF):
        return None
    return Layers(_keys(config.get("/OFF")), base == pikepdf.Name.ON, _keys(config.get("/ON")))


def _keys(items: object) -> frozenset[tuple[int, int]]:
    if not isinstance(items, pikepdf.Array):
        return frozenset()
    return frozenset(i.objgen for i in items if isinstance(i, pikepdf.Dictionary))
