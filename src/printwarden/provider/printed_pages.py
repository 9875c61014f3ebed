"""What a job prints, from the analysis of its documents and the layout it asks for: the
figures the server decides on and charges (``pages`` are impressions with a page on them,
``colour_pages`` those with a colour page).

A job asking for page ranges, number-up or overrides, or made of several documents, is
planned (:func:`printwarden.domain.imposition.plan`) exactly as the provider will lay it
out before sending it; its copies are the printer's unless the plan lays them out
(``printer_copies``). Documents that cannot be laid out (raster, PCL) print whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from printwarden.analysis.model import Analysis
from printwarden.domain import imposition
from printwarden.domain.imposition import PlanError
from printwarden.provider.job_template import layout_of

PLANNED_COPIES = "planned_copies"  # the copies a laid-out job's figures were planned for


def printed(results: Sequence[Analysis], attributes: Mapping[str, Any]) -> dict[str, object]:
    """The analysis figures of a job whose documents analysed as ``results``."""
    first = results[0]
    summary: dict[str, object] = {
        "format": first.format,
        "paper_size": first.paper_size,
        "duplex": first.duplex,
        "detail": "; ".join(r.detail for r in results if r.detail),
    }
    counts = [r.pages for r in results]
    if any(count is None for count in counts):
        return {**summary, "pages": None, "colour_pages": 0}
    pages = [int(count or 0) for count in counts]
    colour = {
        number: r.colour_pages if r.colour_pages is not None else range(1, (r.pages or 0) + 1)
        for number, r in enumerate(results, start=1)
    }  # colour not judged: charged as colour rather than undercharged
    layout = layout_of(attributes)
    laid_out = len(results) > 1 or not layout.is_plain
    if not laid_out or not all(imposition.layable(r.format) for r in results):
        return {
            **summary,
            "pages": sum(pages),
            "colour_pages": sum(len(c) for c in colour.values()),
        }
    copies = int(attributes.get("copies", 1))
    summary[PLANNED_COPIES] = copies
    try:
        plan = imposition.plan(
            pages,
            page_ranges=layout.page_ranges,
            up=layout.number_up,
            handling=layout.handling,
            copies=copies,
            duplex=str(attributes.get("sides", "one-sided")) != "one-sided",
        )
    except PlanError as exc:
        return {**summary, "pages": 0, "colour_pages": 0, "detail": str(exc)}
    figures = {
        "pages": plan.printed,
        "colour_pages": plan.colour_impressions(colour, layout.overrides),
    }
    if plan.printer_copies != copies:  # the copies are laid out: the printer makes one
        figures["printer_copies"] = plan.printer_copies
    return {**summary, **figures}


def stale(analysis: Mapping[str, object], attributes: Mapping[str, Any]) -> bool:
    """Whether a job's figures were planned for other copies than it now asks (a release
    changed them): they must be planned again."""
    planned = analysis.get(PLANNED_COPIES)
    return planned is not None and planned != int(attributes.get("copies", 1))
