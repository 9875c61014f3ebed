"""After a grey conversion: process colorants that Ghostscript leaves in Separation and
DeviceN spaces are renamed, so that they print through their (grey) alternate.

Ghostscript's ``ColorConversionStrategy=Gray`` converts the alternate space of a
Separation or DeviceN space to DeviceGray but keeps its colorant names; a colorant named
Cyan, Magenta, Yellow or All is still painted with that ink by a CMYK printer. Renamed
(``/Cyan`` becomes ``/Grey Cyan``), it is a spot colour the printer does not have, so
the printer paints the alternate: grey.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

PROCESS = frozenset({"/Cyan", "/Magenta", "/Yellow", "/All"})
MAX_DEPTH = 64


def rename_process_colorants(source: Path, target: Path) -> int:
    """Write ``source`` to ``target`` with the process colorants of grey Separation and
    DeviceN spaces renamed; how many spaces changed (none: ``target`` is not written)."""
    changed = 0
    with pikepdf.open(source) as pdf:
        seen: set[tuple[int, int]] = set()
        for obj in pdf.objects:
            if _container(obj):
                changed += _visit(obj, seen, 0)
        if changed:
            pdf.save(target)
    return changed


def _visit(obj: object, seen: set[tuple[int, int]], depth: int) -> int:
    if depth > MAX_DEPTH or not isinstance(obj, pikepdf.Object):
        return 0
    if obj.is_indirect:
        if obj.objgen in seen:
            return 0
        seen.add(obj.objgen)
    if isinstance(obj, pikepdf.Array):
        changed = _rename(obj)
        return changed + sum(_visit(item, seen, depth + 1) for item in obj if _container(item))
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        items = obj.items() if isinstance(obj, pikepdf.Dictionary) else obj.stream_dict.items()
        return sum(_visit(value, seen, depth + 1) for _, value in items if _container(value))
    return 0


def _container(obj: object) -> bool:
    return isinstance(obj, pikepdf.Array | pikepdf.Dictionary | pikepdf.Stream)


def _rename(array: pikepdf.Array) -> int:
    if len(array) < 4 or array[2] != pikepdf.Name.DeviceGray:
        return 0
    family = array[0]
    if family == pikepdf.Name.Separation and str(array[1]) in PROCESS:
        array[1] = _grey_name(array[1])
        return 1
    if family == pikepdf.Name.DeviceN and isinstance(array[1], pikepdf.Array):
        names = list(array[1])
        if any(str(n) in PROCESS for n in names):
            array[1] = pikepdf.Array([_grey_name(n) if str(n) in PROCESS else n for n in names])
            return 1
    return 0


def _grey_name(name: object) -> pikepdf.Name:
    return pikepdf.Name("/Grey " + str(name)[1:])
