"""Which pages of a job print, where, and what that costs: ``page-ranges``, ``number-up``,
``multiple-document-handling`` with several documents, and page ``overrides`` (pure).

A job's documents are numbered from 1, their pages from 1. :func:`plan` lays the selected
pages onto impressions (sides of sheets), ``number-up`` cells each; the provider imposes the
document exactly so (``analysis/imposition.py``) and charges what the plan prints:
impressions with at least one page, colour when one of its pages is.

Rules (RFC 8011 5.2.7, 5.2.4; PWG 5100.6 for overrides):

* ``page-ranges`` are ascending, non-overlapping ranges of page numbers; they select pages
  of each document, or of the whole job's page stream for ``single-document`` handling;
* ``separate-documents-*`` and ``single-document-new-sheet`` start each document on a new
  sheet (two-sided: an odd side is left blank); ``single-document`` runs on;
* ``separate-documents-uncollated-copies`` of several documents prints each document's
  copies together: the copies are laid out here and the printer makes one; otherwise the
  printer makes the copies of the whole set;
* an override applies its settings to the pages (of the documents) it names; the last
  override that names a page wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from printwarden.domain import formats

NUMBER_UP = (1, 2, 4, 6, 9, 16)
# number-up → (columns, rows) on a portrait sheet whose pages are turned to fit better.
GRIDS = {1: (1, 1), 2: (1, 2), 4: (2, 2), 6: (2, 3), 9: (3, 3), 16: (4, 4)}
SEPARATE_UNCOLLATED = "separate-documents-uncollated-copies"
SEPARATE_COLLATED = "separate-documents-collated-copies"
SINGLE = "single-document"
SINGLE_NEW_SHEET = "single-document-new-sheet"
HANDLINGS = (SEPARATE_UNCOLLATED, SEPARATE_COLLATED, SINGLE, SINGLE_NEW_SHEET)
# What a page override may change (PWG 5100.6 ``overrides`` members besides the selectors).
OVERRIDABLE = ("orientation-requested", "print-color-mode")
ORIENTATIONS = {3: 0, 4: 270, 5: 90, 6: 180}  # orientation-requested → clockwise turn

Range = tuple[int, int]


class PlanError(ValueError):
    """Page selection or layout attributes that cannot be honoured; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One page placed on an impression: document and page numbers (from 1)."""

    document: int
    page: int


@dataclass(frozen=True, slots=True)
class Override:
    """Settings for some pages: of the documents ``documents`` (empty: every document),
    the pages ``pages`` (empty: every page)."""

    documents: tuple[Range, ...] = ()
    pages: tuple[Range, ...] = ()
    settings: Mapping[str, object] = field(default_factory=dict)

    def names(self, cell: Cell) -> bool:
        return _within(cell.document, self.documents) and _within(cell.page, self.pages)


@dataclass(frozen=True, slots=True)
class Plan:
    """The impressions to print, each up to ``number_up`` cells (``None``: a blank side),
    and ``printer_copies``: the copies the printer makes of the whole (1 when they are laid
    out here)."""

    impressions: tuple[tuple[Cell, ...], ...]
    number_up: int
    printer_copies: int
    duplex: bool = False

    @property
    def printed(self) -> int:
        """Impressions with at least one page (a blank side left by a new sheet is free)."""
        return sum(1 for impression in self.impressions if impression)

    def colour_impressions(
        self, colour: Mapping[int, Iterable[int]], overrides: Sequence[Override] = ()
    ) -> int:
        """Printed impressions with a colour page, ``colour`` giving each document's colour
        page numbers (a page an override prints in monochrome is not colour)."""
        wanted = {(d, p) for d, pages in colour.items() for p in pages}

        def coloured(cell: Cell) -> bool:
            grey = settings_of(cell, overrides).get("print-color-mode") == "monochrome"
            return (cell.document, cell.page) in wanted and not grey

        return sum(1 for impression in self.impressions if any(map(coloured, impression)))

    @property
    def changes_document(self) -> bool:
        """Whether the document must be rewritten (else it is printed as it is)."""
        flat = [cell for impression in self.impressions for cell in impression]
        return self.number_up > 1 or len({c.document for c in flat}) > 1 or _reordered(flat)


def layable(document_format: str) -> bool:
    """Whether a format can be laid out (brought to PDF): page ranges, number-up, overrides
    and several documents need it. Raster and PCL cannot."""
    return (
        document_format == formats.PDF
        or formats.cheapest(document_format, frozenset({formats.PDF})) is not None
    )


def ranges(values: Iterable[Range]) -> tuple[Range, ...]:
    """``page-ranges`` checked: each ``lower <= upper`` from 1, ascending, not overlapping."""
    found = tuple(values)
    previous = 0
    for lower, upper in found:
        if lower < 1 or upper < lower:
            raise PlanError(f"page range {lower}-{upper} is not a range of page numbers")
        if lower <= previous:
            raise PlanError("page-ranges must be in ascending order and must not overlap")
        previous = upper
    return found


def number_up(value: int) -> int:
    if value not in NUMBER_UP:
        raise PlanError(f"number-up {value} is not one of {', '.join(map(str, NUMBER_UP))}")
    return value


def plan(
    page_counts: Sequence[int],
    *,
    page_ranges: Sequence[Range] = (),
    up: int = 1,
    handling: str = SEPARATE_COLLATED,
    copies: int = 1,
    duplex: bool = False,
) -> Plan:
    """Lay the selected pages of documents with ``page_counts`` pages onto impressions.
    :class:`PlanError` when nothing would print (ranges beyond every page)."""
    if handling not in HANDLINGS:
        raise PlanError(f"multiple-document-handling {handling!r} is not supported")
    number_up(up)
    checked = ranges(page_ranges)
    documents = _selected(page_counts, checked, handling)
    if not any(documents):
        total = sum(page_counts)
        raise PlanError(f"page-ranges select none of the {total} page(s) of the job")
    lay_copies = handling == SEPARATE_UNCOLLATED and len(page_counts) > 1 and copies > 1
    impressions: list[tuple[Cell, ...]] = []
    if handling == SINGLE:
        impressions = _impose([c for cells in documents for c in cells], up)
    else:
        for cells in documents:
            for _ in range(copies if lay_copies else 1):
                if cells:
                    impressions += _new_sheet(impressions, duplex) + _impose(cells, up)
    return Plan(tuple(impressions), up, 1 if lay_copies else copies, duplex)


def settings_of(cell: Cell, overrides: Sequence[Override]) -> dict[str, object]:
    """The overridden settings of one page (the last override naming it wins)."""
    chosen: dict[str, object] = {}
    for override in overrides:
        if override.names(cell):
            chosen.update(override.settings)
    return chosen


def grid(up: int, sheet: tuple[float, float], page: tuple[float, float]) -> tuple[int, int]:
    """(columns, rows) of ``up`` cells on a ``sheet`` (width, height): the arrangement of
    :data:`GRIDS` or its transpose, whichever fits ``page`` larger."""
    columns, rows = GRIDS[number_up(up)]
    if columns == rows:
        return columns, rows

    def scale(cols: int, lines: int) -> float:
        cell_w, cell_h = sheet[0] / cols, sheet[1] / lines
        upright = min(cell_w / page[0], cell_h / page[1])
        turned = min(cell_w / page[1], cell_h / page[0])
        return max(upright, turned)

    return (columns, rows) if scale(columns, rows) >= scale(rows, columns) else (rows, columns)


def _selected(
    page_counts: Sequence[int], checked: Sequence[Range], handling: str
) -> list[list[Cell]]:
    """The selected pages of each document, in order."""
    selected: list[list[Cell]] = []
    offset = 0
    stream = handling in (SINGLE, SINGLE_NEW_SHEET)
    for number, count in enumerate(page_counts, start=1):
        base = offset if stream else 0
        cells = [
            Cell(number, page)
            for page in range(1, count + 1)
            if not checked or _within(base + page, checked)
        ]
        selected.append(cells)
        offset += count
    return selected


def _impose(cells: list[Cell], up: int) -> list[tuple[Cell, ...]]:
    return [tuple(cells[start : start + up]) for start in range(0, len(cells), up)]


def _new_sheet(impressions: list[tuple[Cell, ...]], duplex: bool) -> list[tuple[Cell, ...]]:
    """A blank back side, when two-sided printing left the last sheet half used."""
    return [()] if duplex and len(impressions) % 2 else []


def _within(number: int, chosen: Sequence[Range]) -> bool:
    return not chosen or any(lower <= number <= upper for lower, upper in chosen)


def _reordered(cells: list[Cell]) -> bool:
    """Whether ``cells`` are not simply every page of one document in order."""
    return [c.page for c in cells] != list(range(1, len(cells) + 1))
