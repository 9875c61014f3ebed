"""Releasing a held job at a printer: is the printer compatible, and what will it print?

Pure rules, no I/O. A colour job released at a mono printer is converted to greyscale and
costed as such; a two-sided job at a printer without a duplexer prints one-sided; a paper
size or document format the printer lacks (and no conversion can supply) is refused with a
reason a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from printwarden.domain.costs import JobUsage

# Formats the provider can convert to PDF before sending (Ghostscript).
CONVERTIBLE_TO_PDF = frozenset({"application/postscript"})
PDF = "application/pdf"


class Incompatible(Exception):
    """The job cannot print at this printer; the message says why."""


@dataclass(frozen=True, slots=True)
class PrinterCapabilities:
    """What a printer can do. Empty ``paper_sizes``/``formats`` mean "not known: any"."""

    name: str
    colour: bool = True
    duplex: bool = True
    paper_sizes: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class HeldSettings:
    """A held job as its owner left it: what it prints, per copy, and how."""

    pages: int | None
    colour_pages: int = 0
    copies: int = 1
    duplex: bool = False
    grayscale: bool = False
    paper_size: str = "A4"
    document_format: str = PDF


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    """What the printer will be sent: the usage it is costed by, and the conversions."""

    usage: JobUsage
    grayscale: bool
    duplex: bool
    convert_to_pdf: bool = False
    notes: tuple[str, ...] = field(default=())


def plan_release(job: HeldSettings, printer: PrinterCapabilities) -> ReleasePlan:
    """The plan for printing ``job`` at ``printer``, or :class:`Incompatible`."""
    notes: list[str] = []
    _check_paper(job, printer)
    convert = _needs_conversion(job, printer)
    if convert:
        notes.append("converted to PDF")
    # A mono printer prints grey anyway: only colour pages need converting (a Ghostscript run
    # costs tens of milliseconds between a card swipe and the paper).
    grayscale = job.grayscale or (not printer.colour and job.colour_pages > 0)
    if grayscale and not job.grayscale:
        notes.append(f"converted to greyscale: {printer.name} prints in black and white")
    duplex = job.duplex and printer.duplex
    if job.duplex and not printer.duplex:
        notes.append(f"printed one-sided: {printer.name} has no duplex unit")
    usage = JobUsage(
        pages=job.pages,
        colour_pages=0 if grayscale else job.colour_pages,
        copies=job.copies,
        duplex=duplex,
        paper_size=job.paper_size,
    )
    return ReleasePlan(usage, grayscale, duplex, convert, tuple(notes))


def _check_paper(job: HeldSettings, printer: PrinterCapabilities) -> None:
    sizes = {size.lower() for size in printer.paper_sizes}
    if sizes and job.paper_size.lower() not in sizes:
        offered = ", ".join(sorted(printer.paper_sizes))
        raise Incompatible(f"{printer.name} has no {job.paper_size} paper (it has {offered})")


def _needs_conversion(job: HeldSettings, printer: PrinterCapabilities) -> bool:
    formats = printer.formats
    if not formats or job.document_format in formats:
        return False
    if job.document_format == "application/octet-stream":
        return False  # the provider announces what its analysis detected
    if job.document_format in CONVERTIBLE_TO_PDF and PDF in formats:
        return True
    raise Incompatible(f"{printer.name} cannot print {job.document_format} documents")
