"""The document as its printer gets it: the policy's conversions, then the format chain.

Both run in the same place, just before a job is sent, so they compose:

1. a policy (or a release) that rewrites content (grey, N-up, fit to paper) needs a PDF or
   PostScript document: an image or text is first laid out as a PDF (the chain's first
   steps), so that these policies apply to every format the queue takes;
2. the policy conversion (:func:`printwarden.analysis.conversions.convert`);
3. the cheapest chain from what that left to a format the printer takes
   (:mod:`printwarden.domain.formats`): PostScript, images and text to PDF, and PDF to
   PostScript, PWG raster or URF only for a printer that takes nothing better.

The job is charged for what prints: a policy conversion analyses its output (as before);
the chain's steps keep the pages and colour the job's analysis found (text is laid out as
analysis counts it, an image prints a page per frame, PostScript was analysed through the
same Ghostscript conversion) and set the paper of a laid-out image or text; a raster
rendered grey for a printer or a job in monochrome has no colour page. Analysing the
output again would cost a photo's full decode (150 ms) for the same answer. A failed
policy conversion prints the document unconverted, as before; a document the chain cannot
bring to the printer, or a step that fails, is :class:`Undeliverable`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from printwarden.analysis import detect
from printwarden.analysis.chain import A4_POINTS, SUFFIXES, Setup, run_chain
from printwarden.analysis.conversions import (
    CONTENT_FORMATS,
    ConversionFailed,
    ConversionOrder,
    Converted,
    convert,
)
from printwarden.analysis.imposition import ImpositionFailed, impose, page_counts
from printwarden.analysis.papersize import from_points, from_pwg_name, pwg_points
from printwarden.domain import formats, imposition
from printwarden.domain.formats import Chain, Step
from printwarden.domain.imposition import PlanError
from printwarden.provider.capabilities import Capabilities
from printwarden.provider.job_template import layout_of
from printwarden.provider.submission_checks import paper_size_of

_PDF = frozenset({formats.PDF})
RASTER = frozenset({formats.PWG_RASTER, formats.URF})


class Undeliverable(Exception):
    """The document cannot be brought to the printer; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """The document to send (``path``: the source itself when nothing changed) and, when
    it changed (``changed``), what it prints: pages, colour pages and paper as analysed,
    and the IPP ``sides``, ``print-color-mode`` and ``media`` to send where they differ
    from the job's (``None``: as the job asked). ``note`` is for the job's message."""

    path: Path
    document_format: str
    changed: bool = False
    pages: int | None = None
    colour_pages: int | None = None
    paper_size: str | None = None
    sides: str | None = None
    colour_mode: str | None = None
    media: str | None = None
    note: str = ""


def prepare(
    source: Path,
    declared: str,
    attributes: dict[str, Any],
    conversion: ConversionOrder,
    printer: Capabilities,
    target: Path,
    *,
    scratch: Path,
    to_pdf: bool = False,
    fit_to_paper: bool = False,
    more: Sequence[tuple[Path, str]] = (),
) -> Prepared:
    """Make ``source`` (declared ``declared``) ready for ``printer``.

    ``more`` are the job's other documents (path, declared format); they and the layout the
    job asks for (page ranges, number-up, overrides: :func:`_lay_out`) make one PDF first.

    A new document is written to ``target`` plus the suffix of its format; intermediate
    files go to a directory made in ``scratch`` (removed before returning). ``to_pdf``: a
    release ordered a PDF; ``fit_to_paper``: a job on paper the printer lacks is fitted
    onto the printer's default paper.
    """
    try:
        found = detect.resolve(source, declared)
    except OSError as exc:
        raise Undeliverable(f"cannot read the document: {exc}") from exc
    media, conversion = _paper(attributes, conversion, printer, fit_to_paper)
    setup = _setup(attributes, conversion, printer, media)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="prepare-") as directory:
        work = Path(directory)
        current, current_format = source, found
        ran: list[Step] = []
        current, current_format, note = _lay_out(
            [(source, found), *_resolved(more)], attributes, work, setup, ran
        )
        if (to_pdf or _rewrites_content(conversion)) and current_format not in CONTENT_FORMATS:
            current, current_format = _run(current, current_format, _PDF, work / "pre", setup, ran)
        converted = None
        if not conversion.is_identity():
            try:
                converted = convert(current, current_format, conversion, work)
            except ConversionFailed as exc:
                note = f"conversion failed, printed as submitted: {exc}"
            else:
                current, current_format = converted.path, converted.document_format
        if to_pdf and current_format == formats.POSTSCRIPT:
            current, current_format = _run(current, current_format, _PDF, work / "ps", setup, ran)
        final, final_format = _run(
            current, current_format, printer.formats, work / "out", setup, ran
        )
        pages, colour_pages, paper = _what_prints(converted, ran, setup)
        if final != source:
            final = _keep(final, target, final_format)
    if final_format in RASTER and not (setup.raster.colour and not setup.raster.bilevel):
        colour_pages = 0  # rendered grey
    return Prepared(
        path=final,
        document_format=final_format,
        changed=final != source or converted is not None,
        pages=pages,
        colour_pages=colour_pages,
        paper_size=paper,
        sides=_sides(attributes, converted, printer),
        colour_mode=_colour_mode(attributes, converted, printer),
        media=media if media != attributes.get("media", "") else None,
        note=note,
    )


def _resolved(documents: Sequence[tuple[Path, str]]) -> list[tuple[Path, str]]:
    try:
        return [(path, detect.resolve(path, declared)) for path, declared in documents]
    except OSError as exc:
        raise Undeliverable(f"cannot read a document of the job: {exc}") from exc


def _lay_out(
    documents: list[tuple[Path, str]],
    attributes: dict[str, Any],
    work: Path,
    setup: Setup,
    ran: list[Step],
) -> tuple[Path, str, str]:
    """The job's documents as one document laid out as the job asks (page ranges,
    number-up, overrides: :mod:`printwarden.domain.imposition`), each brought to PDF
    first; the first document as it is when nothing asks for a layout. Also a note for
    the job's message. A layout of a document that cannot be laid out (raster, PCL) is not
    done (it prints whole, as charged); several such documents cannot be printed."""
    layout = layout_of(attributes)
    (source, found), *others = documents
    if not others and layout.is_plain:
        return source, found, ""
    if not all(imposition.layable(f) for _, f in documents):
        if others:
            kinds = ", ".join(sorted({f for _, f in documents}))
            raise Undeliverable(f"documents of these formats cannot be printed together: {kinds}")
        return source, found, f"page ranges, number-up and overrides cannot apply to {found}"
    pdfs = [
        _run(path, document_format, _PDF, work / f"document-{number}", setup, ran)[0]
        for number, (path, document_format) in enumerate(documents, start=1)
    ]
    try:
        plan = imposition.plan(
            page_counts(pdfs),
            page_ranges=layout.page_ranges,
            up=layout.number_up,
            handling=layout.handling,
            copies=int(attributes.get("copies", 1)),
            duplex=str(attributes.get("sides", "one-sided")) != "one-sided",
        )
        if not plan.changes_document and not layout.overrides:
            return pdfs[0], formats.PDF, ""
        target = work / "laid-out.pdf"
        impose(pdfs, plan, target, overrides=layout.overrides, scratch=work)
    except (PlanError, ImpositionFailed) as exc:
        raise Undeliverable(str(exc)) from exc
    return target, formats.PDF, ""


def clear_scratch(scratch: Path) -> None:
    """Remove what conversions interrupted by a crash left in ``scratch``."""
    for leftover in scratch.glob("prepare-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _run(
    source: Path,
    source_format: str,
    accepted: frozenset[str] | None,
    work: Path,
    setup: Setup,
    ran: list[Step],
) -> tuple[Path, str]:
    """The cheapest chain from ``source_format`` into ``accepted``: its last output and
    that output's format (its steps added to ``ran``); :class:`Undeliverable` if there is
    none or a step fails."""
    chain = formats.cheapest(source_format, accepted)
    if chain is None:
        raise Undeliverable(_no_chain(source_format, accepted))
    if not chain.steps:
        return source, source_format
    work.mkdir()
    try:
        outputs = run_chain(source, chain, work, setup)
    except ConversionFailed as exc:
        raise Undeliverable(f"could not convert the document: {exc}") from exc
    ran.extend(chain.steps)
    return outputs[-1], chain.target


def _no_chain(source_format: str, accepted: frozenset[str] | None) -> str:
    takes = ", ".join(sorted(accepted or ())) or "nothing known"
    return f"the printer takes {takes}; {source_format} cannot be converted to any of them"


def _what_prints(
    converted: Converted | None, ran: list[Step], setup: Setup
) -> tuple[int | None, int | None, str | None]:
    """Pages, colour pages and paper of what prints where they differ from the job's
    analysis (``None``: as it says). A policy conversion analysed its output. The chain's
    steps keep pages and colour: text is laid out as analysis counts it, an image prints
    one page per frame analysed, PostScript was analysed through the very same Ghostscript
    conversion, and a raster renders the PDF page for page (colour: see :func:`prepare`).
    Only the paper of a laid-out image or text is new: the job's, chosen here."""
    if converted is not None:
        return converted.pages, converted.colour_pages, converted.paper_size
    laid_out = any(step.tool in (formats.IMAGE, formats.TEXT_LAYOUT) for step in ran)
    return None, None, from_points(*setup.paper) if laid_out else None


def _keep(final: Path, target: Path, final_format: str) -> Path:
    kept = target.with_name(f"{target.name}{SUFFIXES.get(final_format, '.out')}")
    os.replace(final, kept)
    return kept


def _rewrites_content(conversion: ConversionOrder) -> bool:
    return conversion.grayscale or conversion.nup > 1 or bool(conversion.fit_to)


def _paper(
    attributes: dict[str, Any], conversion: ConversionOrder, printer: Capabilities, fit: bool
) -> tuple[str, ConversionOrder]:
    """The media to print on, and the conversion with a fit onto it where the job's paper
    is one the printer lacks and the queue fits jobs to its paper."""
    asked = attributes.get("media")
    media = asked if isinstance(asked, str) and asked else ""
    size = paper_size_of(media) if media else None
    offered = {s.lower() for s in printer.paper_sizes}
    if fit and media and offered and (size is None or size.lower() not in offered):
        default = printer.default_media
        fit_to = from_pwg_name(default) or "A4"
        return default, replace(conversion, fit_to=conversion.fit_to or fit_to)
    return media, conversion


def _setup(
    attributes: dict[str, Any], conversion: ConversionOrder, printer: Capabilities, media: str
) -> Setup:
    """Paper for images, text and EPS: the job's media, else the printer's default."""
    paper = (pwg_points(media) if media else None) or pwg_points(printer.default_media)
    sides = str(attributes.get("sides", "one-sided"))
    colour = attributes.get("print-color-mode") != "monochrome" and not conversion.grayscale
    raster_format = _raster_target(printer)
    raster = printer.raster(
        raster_format,
        colour=colour,
        duplex=sides != "one-sided",
        tumble=sides == "two-sided-short-edge",
    )
    return Setup(paper=paper or A4_POINTS, raster=raster)


def _raster_target(printer: Capabilities) -> str:
    chain: Chain | None = formats.cheapest(formats.PDF, printer.formats)
    return chain.target if chain is not None else formats.PWG_RASTER


def _sides(
    attributes: dict[str, Any], converted: Converted | None, printer: Capabilities
) -> str | None:
    """One-sided at a printer without duplex; the policy's sides where it set them."""
    sides = converted.sides if converted is not None and converted.sides else None
    wanted = sides or str(attributes.get("sides", "one-sided"))
    if wanted != "one-sided" and not printer.duplex:
        return "one-sided"
    return sides


def _colour_mode(
    attributes: dict[str, Any], converted: Converted | None, printer: Capabilities
) -> str | None:
    """Never ask a monochrome printer for colour; the policy's mode where it set one."""
    mode = converted.colour_mode if converted is not None else None
    if not printer.colour and (mode or attributes.get("print-color-mode")) == "color":
        return "auto"
    return mode
