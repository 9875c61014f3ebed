"""Every conversion of every colour corpus file is charged as what prints.

Each file of the colour corpus (``corpus/colours.py``) goes through each conversion a
job policy can order (grey, fit to A4, 2-up, duplex); the colour pages ``convert``
reports for the output, and a fresh analysis of it, must equal Ghostscript's judgement
of that output (``corpus/reference.py``, one run per conversion for all outputs).

A grey conversion may be refused when the output would still print colour: Ghostscript's
grey output keeps the colours of uncoloured tiling patterns. The refusal must then be
right: Ghostscript's own grey output of that file prints colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest

from corpus.session import colour_corpus_dir
from printwarden.analysis import analyze
from printwarden.analysis.conversions import ConversionFailed, ConversionOrder, Converted, convert
from printwarden.analysis.pdfwrite import to_pdf
from printwarden.testing.corpus import reference
from printwarden.testing.corpus.colours import CASES

PDF = "application/pdf"
CONVERSIONS = {
    "grey": ConversionOrder(grayscale=True),
    "fit": ConversionOrder(fit_to="A4"),
    "2-up": ConversionOrder(nup=2),
    "duplex": ConversionOrder(duplex=True),
}


@dataclass(frozen=True)
class Outcome:
    """One file through one conversion: what ``convert`` said and what prints."""

    converted: Converted | None
    failure: str = ""
    printed: tuple[int, ...] = ()


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    corpus = colour_corpus_dir(tmp_path_factory)
    out = tmp_path_factory.mktemp("converted")
    found: dict[tuple[str, str], Outcome] = {}
    for label, conversion in CONVERSIONS.items():
        done: dict[str, Converted] = {}
        for case in CASES:
            workdir = out / label / case.name
            workdir.mkdir(parents=True)
            try:
                done[case.name] = convert(corpus / case.name, case.format, conversion, workdir)
            except ConversionFailed as exc:
                printed = _grey_output(corpus / case.name, case.format, workdir)
                found[(case.name, label)] = Outcome(None, str(exc), printed)
        found.update(_judged(label, done))
    return found


def _grey_output(source: Path, document_format: str, workdir: Path) -> tuple[int, ...]:
    """Ghostscript's colour pages of its own grey conversion of ``source``."""
    target = workdir / "ghostscript-grey.pdf"
    to_pdf(source, target, grayscale=True, postscript=document_format != PDF)
    return reference.colour_pages(target)


def _judged(label: str, done: dict[str, Converted]) -> dict[tuple[str, str], Outcome]:
    """Ghostscript's colour pages of every output, from one run over all the PDFs."""
    judged = {}
    for name, converted in list(done.items()):
        if converted.document_format != PDF:  # sent as it was (PostScript and duplex)
            printed = reference.colour_pages(converted.path)
            judged[(name, label)] = Outcome(converted, printed=printed)
            del done[name]
    inks = reference.inks(*(converted.path for converted in done.values()))
    start = 0
    for name, converted in done.items():
        with pikepdf.open(converted.path) as pdf:
            count = len(pdf.pages)
        pages = inks[start : start + count]
        start += count
        printed = tuple(n for n, ink in enumerate(pages, 1) if ink > reference.TOLERANCE)
        judged[(name, label)] = Outcome(converted, printed=printed)
    assert start == len(inks), "Ghostscript rendered another number of pages"
    return judged


@pytest.mark.parametrize("label", sorted(CONVERSIONS))
@pytest.mark.parametrize("name", sorted(case.name for case in CASES))
def test_converted_output_is_charged_as_it_prints(
    outcomes: dict[tuple[str, str], Outcome], name: str, label: str
) -> None:
    outcome = outcomes[(name, label)]
    if outcome.converted is None and label == "grey":
        assert "still in colour after greyscale conversion" in outcome.failure
        assert outcome.printed, "a grey conversion refused although its output is grey"
        return
    assert outcome.converted is not None, outcome.failure
    converted = outcome.converted
    assert converted.colour_pages == len(outcome.printed)
    again = analyze(converted.path, converted.document_format)
    assert again.colour_pages == outcome.printed
    if label == "grey":
        assert outcome.printed == ()


def test_the_lab_pages_of_issue_17_stay_colour(
    outcomes: dict[tuple[str, str], Outcome],
) -> None:
    assert outcomes[("lab-red-a3.pdf", "grey")].printed == ()
    for label, pages in (("fit", (1, 2, 3)), ("2-up", (1, 2)), ("duplex", (1, 2, 3))):
        assert outcomes[("lab-red-a3.pdf", label)].printed == pages
        converted = outcomes[("lab-red-a3.pdf", label)].converted
        assert converted is not None
        assert converted.colour_pages == len(pages)


def test_only_patterns_make_grey_conversions_fail(
    outcomes: dict[tuple[str, str], Outcome],
) -> None:
    refused = sorted(name for (name, label), o in outcomes.items() if o.converted is None)
    assert refused == ["patterns.pdf"]
