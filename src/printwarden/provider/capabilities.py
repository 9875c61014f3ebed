"""What each printer takes and can do, and so what each queue can accept.

A printer's capabilities come from three places, most trusted first:

1. the provider's configuration, for every field it sets explicitly (an override: an
   administrator knows the printer has no duplex unit even if it claims one);
2. the printer itself, over IPP (``Get-Printer-Attributes``: ``document-format-supported``,
   colour, sides, media, resolutions, raster types), for ``ipp://`` and ``ipps://`` printers
   (:class:`Learnt`, refreshed by :mod:`.printer_watch`, kept on disk as last known);
3. a default: an IPP printer not heard from yet is assumed to take what every IPP Everywhere
   printer must, PWG raster (everything the chain handles reaches it, through PDF); a
   ``socket://`` or ``file://`` printer declaring no formats is sent each document as it
   came, as before (declare ``formats`` for it: such a printer cannot be asked).

A queue accepts what the conversion chain (:mod:`printwarden.domain.formats`) can bring to its
printer; a Find-Me queue, whose jobs may print at any printer of the provider, what it can
bring to every one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from printwarden.analysis import detect
from printwarden.analysis.papersize import from_pwg_name, pwg_points
from printwarden.analysis.render import RasterSettings
from printwarden.domain import formats
from printwarden.provider.config import PrinterConfig, QueueConfig, QueueKind
from printwarden.provider.ipp import AttributeGroup, Resolution, TextWithLanguage
from printwarden.provider.printer_status import STATUS_ATTRIBUTES, PrinterStatus, read_status

IPP_SCHEMES = frozenset({"ipp", "ipps"})
EVERYWHERE_BASELINE = frozenset({formats.PWG_RASTER})
REQUESTED = (
    "document-format-supported",
    "color-supported",
    "print-color-mode-supported",
    "sides-supported",
    "media-supported",
    "media-default",
    "printer-resolution-supported",
    "pwg-raster-document-resolution-supported",
    "pwg-raster-document-type-supported",
    "urf-supported",
    "printer-make-and-model",
    *STATUS_ATTRIBUTES,  # not capabilities: what the queue reports of its printer's state
)
DEFAULT_RESOLUTION = 300
_URF_RESOLUTIONS = re.compile(r"^RS(\d+(?:-\d+)*)$")
_RANGE = re.compile(r"^(custom|roll)_(min|max)_")  # the bounds of custom sizes, not sizes


@dataclass(frozen=True, slots=True)
class Learnt:
    """What a printer said about itself over IPP (``None``: it did not say)."""

    uri: str
    learnt_at: float
    formats: tuple[str, ...] | None = None
    colour: bool | None = None
    duplex: bool | None = None
    media: tuple[str, ...] | None = None
    resolutions: tuple[int, ...] | None = None
    raster_resolutions: tuple[int, ...] | None = None
    raster_types: tuple[str, ...] | None = None
    urf: tuple[str, ...] | None = None
    make_and_model: str = ""
    status: PrinterStatus | None = None  # supplies, alerts…: never part of the capabilities

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Learnt:
        """The inverse of :meth:`to_json`; raises ValueError/TypeError/KeyError if damaged."""

        def strings(key: str) -> tuple[str, ...] | None:
            value = data.get(key)
            return None if value is None else tuple(str(v) for v in value)

        def ints(key: str) -> tuple[int, ...] | None:
            value = data.get(key)
            return None if value is None else tuple(int(v) for v in value)

        def flag(key: str) -> bool | None:
            value = data.get(key)
            return None if value is None else bool(value)

        return cls(
            uri=str(data["uri"]),
            learnt_at=float(data["learnt_at"]),
            formats=strings("formats"),
            colour=flag("colour"),
            duplex=flag("duplex"),
            media=strings("media"),
            resolutions=ints("resolutions"),
            raster_resolutions=ints("raster_resolutions"),
            raster_types=strings("raster_types"),
            urf=strings("urf"),
            make_and_model=str(data.get("make_and_model", "")),
            status=PrinterStatus.from_json(data["status"]) if data.get("status") else None,
        )


def learn(group: AttributeGroup, uri: str, now: float) -> Learnt:
    """Read a printer's ``Get-Printer-Attributes`` answer."""
    document_formats = _strings(group, "document-format-supported")
    colour_modes = _strings(group, "print-color-mode-supported")
    colour = group.value("color-supported")
    sides = _strings(group, "sides-supported")
    model = group.value("printer-make-and-model")
    return Learnt(
        uri=uri,
        learnt_at=now,
        formats=_unique(map(detect.normalize, document_formats)) if document_formats else None,
        colour=colour if isinstance(colour, bool) else _colour_from_modes(colour_modes),
        duplex=any(s.startswith("two-sided") for s in sides) if sides else None,
        media=_media(_strings(group, "media-default"), _strings(group, "media-supported")),
        resolutions=_dpi(group, "printer-resolution-supported"),
        raster_resolutions=_dpi(group, "pwg-raster-document-resolution-supported"),
        raster_types=tuple(_strings(group, "pwg-raster-document-type-supported")) or None,
        urf=tuple(_strings(group, "urf-supported")) or None,
        make_and_model=_text(model),
        status=read_status(group),
    )


@dataclass(frozen=True, slots=True)
class Capabilities:
    """A printer as the provider treats it: ``formats`` it is sent (``None``: any, as it
    came), colour, duplex, ``media`` (PWG names, the default first), resolutions in dpi
    and raster types; ``origin`` says where the formats came from."""

    name: str
    formats: frozenset[str] | None
    colour: bool
    duplex: bool
    media: tuple[str, ...]
    resolutions: tuple[int, ...] = ()
    raster_resolutions: tuple[int, ...] = ()
    raster_types: frozenset[str] = frozenset()
    urf: tuple[str, ...] = ()
    origin: str = "configuration"

    @property
    def deliverable(self) -> frozenset[str]:
        """Every format the chain brings to this printer."""
        return formats.deliverable(self.formats)

    @property
    def default_media(self) -> str:
        return self.media[0] if self.media else "iso_a4_210x297mm"

    @property
    def paper_sizes(self) -> frozenset[str]:
        """The paper size names (``A4``, ``letter``, ``102x152mm``…) of :attr:`media`."""
        return frozenset(size for size in map(from_pwg_name, self.media) if size)

    def printer_config(self, base: PrinterConfig) -> PrinterConfig:
        """``base`` with these capabilities, for what a queue advertises."""
        update = {"colour": self.colour, "duplex": self.duplex, "media": list(self.media)}
        return base.model_copy(update=update)

    def raster(self, target: str, *, colour: bool, duplex: bool, tumble: bool) -> RasterSettings:
        """How to render for this printer's ``target`` raster format (PWG or URF)."""
        if target == formats.URF:
            return _urf_settings(self.urf, colour=colour and self.colour, duplex=duplex)
        types = self.raster_types
        rgb = colour and self.colour and (not types or "srgb_8" in types)
        grey = not types or "sgray_8" in types
        bilevel = not rgb and not grey and "black_1" in types
        return RasterSettings(
            resolution=_choose(self.raster_resolutions),
            colour=rgb or not (grey or bilevel),
            bilevel=bilevel,
            duplex=duplex and self.duplex,
            tumble=tumble,
        )

    def description(self) -> dict[str, Any]:
        """What the server is told about the printer (Find-Me compatibility checks): the
        formats it can be sent after conversion (empty: any)."""
        return {
            "name": self.name,
            "colour": self.colour,
            "duplex": self.duplex,
            "paper_sizes": sorted(self.paper_sizes),
            "formats": sorted(self.deliverable) if self.formats is not None else [],
        }


def effective(config: PrinterConfig, learnt: Learnt | None, origin: str = "") -> Capabilities:
    """The capabilities of the printer ``config`` describes: each field the configuration
    sets explicitly, else what the printer said (``learnt``), else a default."""
    explicit = config.model_fields_set
    said = learnt if learnt is not None and learnt.uri == config.uri else None

    def pick(field: str, heard: Any, default: Any) -> Any:
        if field in explicit or heard is None:
            return default
        return heard

    return Capabilities(
        name=config.name,
        formats=_formats(config, said, explicit),
        colour=pick("colour", said and said.colour, config.colour),
        duplex=pick("duplex", said and said.duplex, config.duplex),
        media=tuple(pick("media", said and said.media, config.media)),
        resolutions=(said and said.resolutions) or (),
        raster_resolutions=(said and said.raster_resolutions) or (),
        raster_types=frozenset((said and said.raster_types) or ()),
        urf=(said and said.urf) or (),
        origin=_origin(config, said, explicit, origin),
    )


def queue_formats(queue: QueueConfig, printers: Mapping[str, Capabilities]) -> frozenset[str]:
    """What a queue accepts: what reaches its printer; for Find-Me, every printer."""
    if queue.kind is QueueKind.FINDME:
        return formats.common(p.deliverable for p in printers.values())
    printer = printers.get(queue.printer)
    return printer.deliverable if printer is not None else frozenset()


def queue_paper_sizes(
    queue: QueueConfig, printers: Mapping[str, Capabilities]
) -> frozenset[str] | None:
    """The paper sizes a queue offers (``None``: not known, any): its printer's; for a
    Find-Me queue those of any printer (the server refuses a release where it lacks)."""
    chosen = list(printers.values()) if queue.kind is QueueKind.FINDME else []
    if not chosen and queue.printer in printers:
        chosen = [printers[queue.printer]]
    sizes = frozenset(size for printer in chosen for size in printer.paper_sizes)
    return sizes or None


def _formats(
    config: PrinterConfig, said: Learnt | None, explicit: Iterable[str]
) -> frozenset[str] | None:
    if "formats" in explicit and config.formats:
        return formats.printer_formats(detect.normalize(f) for f in config.formats)
    if said is not None and said.formats is not None:
        return formats.printer_formats(said.formats)
    if urlsplit(config.uri).scheme in IPP_SCHEMES:
        return EVERYWHERE_BASELINE
    return None


def _origin(
    config: PrinterConfig, said: Learnt | None, explicit: Iterable[str], origin: str
) -> str:
    if "formats" in explicit and config.formats:
        return "configuration"
    if said is not None and said.formats is not None:
        return origin or "printer"
    if urlsplit(config.uri).scheme in IPP_SCHEMES:
        return "assumed (IPP Everywhere)"
    return "any (none declared)"


def _strings(group: AttributeGroup, name: str) -> list[str]:
    return [_text(v) for v in group.values_of(name) if isinstance(v, str | TextWithLanguage)]


def _text(value: object) -> str:
    if isinstance(value, TextWithLanguage):
        return value.text
    return value if isinstance(value, str) else ""


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _colour_from_modes(modes: list[str]) -> bool | None:
    return "color" in modes if modes else None


def _media(default: list[str], supported: list[str]) -> tuple[str, ...] | None:
    """Fixed sizes with self-describing names (not custom ranges), the default first."""
    fixed = [m for m in supported if pwg_points(m) is not None and not _RANGE.match(m)]
    if not fixed:
        return None
    first = [m for m in default if m in fixed]
    return _unique([*first, *fixed])


def _dpi(group: AttributeGroup, name: str) -> tuple[int, ...] | None:
    found = []
    for value in group.values_of(name):
        if isinstance(value, Resolution) and value.x > 0:
            found.append(value.x if value.units == 3 else round(value.x * 2.54))
    return tuple(sorted(set(found))) or None


def _choose(resolutions: tuple[int, ...]) -> int:
    """The resolution to render at: 300 dpi if offered, else the lowest above it, else
    the highest (raster files grow with the square of the resolution)."""
    if not resolutions or DEFAULT_RESOLUTION in resolutions:
        return DEFAULT_RESOLUTION
    above = [r for r in resolutions if r > DEFAULT_RESOLUTION]
    return min(above) if above else max(resolutions)


def _urf_settings(keywords: tuple[str, ...], *, colour: bool, duplex: bool) -> RasterSettings:
    resolutions: tuple[int, ...] = ()
    for keyword in keywords:
        match = _URF_RESOLUTIONS.match(keyword)
        if match:
            resolutions = tuple(int(r) for r in match.group(1).split("-"))
    rgb = colour and (not keywords or "SRGB24" in keywords)
    return RasterSettings(
        resolution=_choose(resolutions),
        colour=rgb,
        duplex=duplex and any(k.startswith("DM") for k in keywords),
    )
