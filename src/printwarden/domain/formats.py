"""Document formats and the conversion chain: which formats can reach a printer, and how.

Pure rules, no I/O. A conversion is a :class:`Step` from one MIME type to another with a
cost, as in CUPS' ``mime.convs``; a :class:`Chain` is the cheapest run of steps from a
document's format to one the printer accepts (Dijkstra over a graph of a dozen edges). A
format the printer takes as it is needs no step (cost 0), so a document is converted only
when it must be, and to raster (PWG, URF) only when the printer takes nothing cheaper.

``accepted`` is the set of formats a printer takes, or ``None`` for "any": a printer whose
formats are not known (a ``socket://`` or ``file://`` printer that declares none) is sent
every document as it came. ``application/octet-stream`` in a printer's list says only that
the printer sniffs; it is never a target, since the provider always names the format.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

PDF = "application/pdf"
POSTSCRIPT = "application/postscript"
PWG_RASTER = "image/pwg-raster"
URF = "image/urf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
GIF = "image/gif"
TEXT = "text/plain"
PCL = "application/vnd.hp-pcl"
OCTET_STREAM = "application/octet-stream"

# How each kind of step is done (the provider maps these to code).
GHOSTSCRIPT = "ghostscript"  # PostScript/EPS -> PDF (pdfwrite), PDF -> PostScript (ps2write)
IMAGE = "image"  # an image on a page of the job's paper
TEXT_LAYOUT = "text"  # monospace text on pages of the job's paper
RASTER = "raster"  # PDF rendered to PWG raster or Apple raster (Ghostscript)


@dataclass(frozen=True, slots=True)
class Step:
    """One conversion: ``source`` to ``target`` by ``tool``, at a relative ``cost``."""

    source: str
    target: str
    cost: int
    tool: str


# Costs are relative: an image or text page is cheap to lay out, a PostScript program must be
# interpreted, and rendering to raster is dearest (and makes the biggest files).
STEPS: tuple[Step, ...] = (
    Step(JPEG, PDF, 10, IMAGE),
    Step(PNG, PDF, 10, IMAGE),
    Step(TIFF, PDF, 10, IMAGE),
    Step(GIF, PDF, 10, IMAGE),
    Step(TEXT, PDF, 20, TEXT_LAYOUT),
    Step(POSTSCRIPT, PDF, 30, GHOSTSCRIPT),
    Step(PDF, POSTSCRIPT, 40, GHOSTSCRIPT),
    Step(PDF, PWG_RASTER, 100, RASTER),
    Step(PDF, URF, 110, RASTER),
)

# Formats the provider recognises by their bytes; what a queue may take. PCL (printers'
# own language, what many Windows drivers send) is never converted: it reaches a printer
# that takes it, or one whose formats are not known.
INPUTS: tuple[str, ...] = (PDF, POSTSCRIPT, PWG_RASTER, URF, JPEG, PNG, TIFF, GIF, TEXT, PCL)


@dataclass(frozen=True, slots=True)
class Chain:
    """The steps from ``source`` to a format the printer takes (none: send it as it is)."""

    source: str
    steps: tuple[Step, ...] = ()

    @property
    def target(self) -> str:
        return self.steps[-1].target if self.steps else self.source

    @property
    def cost(self) -> int:
        return sum(step.cost for step in self.steps)

    def then(self, other: Chain) -> Chain:
        """This chain followed by ``other`` (which must start where this one ends)."""
        if other.source != self.target:
            raise ValueError(f"{other.source} does not follow {self.target}")
        return Chain(self.source, self.steps + other.steps)


def printer_formats(formats: Iterable[str] | None) -> frozenset[str] | None:
    """A printer's ``document-format-supported`` as targets: octet-stream dropped; ``None``
    (nothing declared) stays ``None``, "any"."""
    if formats is None:
        return None
    return frozenset(f for f in formats if f != OCTET_STREAM)


def cheapest(
    source: str, accepted: frozenset[str] | None, steps: Iterable[Step] = STEPS
) -> Chain | None:
    """The cheapest chain from ``source`` to a format in ``accepted``; ``None`` if there is
    none. Ties go to the step listed first, so the answer is always the same."""
    if accepted is None or source in accepted:
        return Chain(source)
    edges: dict[str, list[tuple[int, Step]]] = {}
    for position, step in enumerate(steps):
        edges.setdefault(step.source, []).append((position, step))
    # (cost, tie-break by the steps' list positions, format, steps so far)
    frontier: list[tuple[int, tuple[int, ...], str, tuple[Step, ...]]] = [(0, (), source, ())]
    settled: set[str] = set()
    while frontier:
        cost, positions, current, path = heapq.heappop(frontier)
        if current in settled:
            continue
        settled.add(current)
        if current in accepted:
            return Chain(source, path)
        for position, step in edges.get(current, ()):
            if step.target not in settled:
                entry = (cost + step.cost, (*positions, position), step.target, (*path, step))
                heapq.heappush(frontier, entry)
    return None


def through(
    source: str, via: str, accepted: frozenset[str] | None, steps: Iterable[Step] = STEPS
) -> Chain | None:
    """The cheapest chain from ``source`` to ``accepted`` that passes through ``via`` (a
    policy that rewrites content needs a PDF); ``None`` if there is none."""
    listed = tuple(steps)
    first = cheapest(source, frozenset({via}), listed)
    second = cheapest(via, accepted, listed) if accepted is not None else Chain(via)
    if first is None or second is None:
        return None
    return first.then(second)


def deliverable(
    accepted: frozenset[str] | None, inputs: Iterable[str] = INPUTS, steps: Iterable[Step] = STEPS
) -> frozenset[str]:
    """Every format of ``inputs`` (and each one the printer takes itself) that some chain
    brings to the printer."""
    listed = tuple(steps)
    candidates = set(inputs) | set(accepted or ())
    return frozenset(f for f in candidates if cheapest(f, accepted, listed) is not None)


def common(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    """The formats every printer can be sent (a Find-Me queue's job may go to any of them)."""
    result: frozenset[str] | None = None
    for formats in sets:
        result = formats if result is None else result & formats
    return result or frozenset()


def advertised(formats: Iterable[str]) -> list[str]:
    """``formats`` in the order a queue lists them: the common ones first (as :data:`INPUTS`),
    then others alphabetically, then ``application/octet-stream`` (sniffed on arrival)."""
    known = [f for f in INPUTS if f in formats]
    others = sorted(set(formats) - set(INPUTS) - {OCTET_STREAM})
    return [*known, *others, OCTET_STREAM]
