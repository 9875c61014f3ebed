"""Releasing a held job at a printer: compatibility, conversions, and what it is costed as."""

from __future__ import annotations

import pytest

from printwarden.domain.costs import JobUsage
from printwarden.domain.release import (
    HeldSettings,
    Incompatible,
    PrinterCapabilities,
    plan_release,
)

COLOUR = PrinterCapabilities("colour", colour=True, duplex=True)
MONO = PrinterCapabilities("mono", colour=False, duplex=False, paper_sizes=frozenset({"A4"}))
PDF_ONLY = PrinterCapabilities("pdf-only", formats=frozenset({"application/pdf"}))


def test_a_colour_job_at_a_mono_printer_is_greyed_and_costed_grey() -> None:
    plan = plan_release(HeldSettings(pages=3, colour_pages=2, copies=2), MONO)
    assert plan.grayscale
    assert plan.usage == JobUsage(pages=3, colour_pages=0, copies=2, duplex=False)
    assert any("greyscale" in note for note in plan.notes)


def test_a_grey_job_at_a_mono_printer_needs_no_conversion() -> None:
    plan = plan_release(HeldSettings(pages=3, colour_pages=0), MONO)
    assert not plan.grayscale
    assert plan.notes == ()


def test_a_colour_job_at_a_colour_printer_stays_colour_unless_asked() -> None:
    assert not plan_release(HeldSettings(pages=1, colour_pages=1), COLOUR).grayscale
    asked = plan_release(HeldSettings(pages=1, colour_pages=1, grayscale=True), COLOUR)
    assert asked.grayscale
    assert asked.usage.colour_pages == 0


def test_two_sided_at_a_printer_without_duplex_prints_one_sided() -> None:
    plan = plan_release(HeldSettings(pages=4, duplex=True), MONO)
    assert not plan.duplex
    assert not plan.usage.duplex
    assert any("one-sided" in note for note in plan.notes)
    assert plan_release(HeldSettings(pages=4, duplex=True), COLOUR).duplex


def test_paper_the_printer_lacks_is_refused_with_the_reason() -> None:
    with pytest.raises(Incompatible, match="mono has no A3 paper"):
        plan_release(HeldSettings(pages=1, paper_size="A3"), MONO)
    plan_release(HeldSettings(pages=1, paper_size="a4"), MONO)  # names match in any case


def test_formats_are_converted_where_possible_else_refused() -> None:
    postscript = HeldSettings(pages=1, document_format="application/postscript")
    assert plan_release(postscript, PDF_ONLY).convert_to_pdf
    with pytest.raises(Incompatible, match="cannot print image/urf"):
        plan_release(HeldSettings(pages=1, document_format="image/urf"), PDF_ONLY)
    unknown = HeldSettings(pages=1, document_format="application/octet-stream")
    assert not plan_release(unknown, PDF_ONLY).convert_to_pdf
    assert not plan_release(postscript, COLOUR).convert_to_pdf  # no format list: any
