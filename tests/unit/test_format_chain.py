"""The conversion chain planner: cheapest path from a document's format to a printer's."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain import formats as f
from printwarden.domain.formats import Chain, Step

PROPERTY = settings(max_examples=300, deadline=None, database=None)
DEMO_PRINTER = frozenset({f.PDF, f.PWG_RASTER, f.TEXT})
PCL = "application/vnd.hp-pcl"
TARGETS = (f.PDF, f.POSTSCRIPT, f.PWG_RASTER, f.URF, f.JPEG, f.PNG, f.TEXT, PCL)


def route(source: str, accepted: frozenset[str] | None) -> list[str]:
    chain = f.cheapest(source, accepted)
    assert chain is not None
    return [source, *(step.target for step in chain.steps)]


def test_a_format_the_printer_takes_goes_as_it_is() -> None:
    for source in (f.PDF, f.PWG_RASTER, f.TEXT):
        chain = f.cheapest(source, DEMO_PRINTER)
        assert chain == Chain(source)
        assert chain.cost == 0
        assert chain.target == source


def test_postscript_and_images_become_pdf_for_a_pdf_printer() -> None:
    assert route(f.POSTSCRIPT, DEMO_PRINTER) == [f.POSTSCRIPT, f.PDF]
    for image in (f.JPEG, f.PNG, f.TIFF, f.GIF):
        assert route(image, DEMO_PRINTER) == [image, f.PDF]


def test_text_goes_as_text_where_the_printer_takes_it_else_as_pdf() -> None:
    assert route(f.TEXT, DEMO_PRINTER) == [f.TEXT]
    assert route(f.TEXT, frozenset({f.PDF})) == [f.TEXT, f.PDF]


def test_raster_only_when_the_printer_takes_nothing_else() -> None:
    assert route(f.PDF, frozenset({f.PDF, f.PWG_RASTER})) == [f.PDF]
    assert route(f.PDF, frozenset({f.PWG_RASTER, f.URF})) == [f.PDF, f.PWG_RASTER]
    assert route(f.PDF, frozenset({f.URF})) == [f.PDF, f.URF]
    assert route(f.JPEG, frozenset({f.PWG_RASTER})) == [f.JPEG, f.PDF, f.PWG_RASTER]
    assert route(f.POSTSCRIPT, frozenset({f.URF})) == [f.POSTSCRIPT, f.PDF, f.URF]


def test_a_postscript_printer_gets_postscript_rather_than_raster() -> None:
    ps_and_raster = frozenset({f.POSTSCRIPT, f.PWG_RASTER})
    assert route(f.PDF, ps_and_raster) == [f.PDF, f.POSTSCRIPT]
    assert route(f.PNG, ps_and_raster) == [f.PNG, f.PDF, f.POSTSCRIPT]


def test_what_no_chain_reaches_has_no_plan() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert f.cheapest(docx, DEMO_PRINTER) is None
    assert f.cheapest(f.URF, DEMO_PRINTER) is None  # raster is never turned back into PDF
    assert f.cheapest(f.PDF, frozenset()) is None
    assert f.cheapest(f.PDF, frozenset({"application/vnd.hp-pcl"})) is None


def test_a_printer_of_unknown_formats_is_sent_everything_as_it_is() -> None:
    assert f.cheapest("application/vnd.hp-pcl", None) == Chain("application/vnd.hp-pcl")
    assert f.cheapest(f.JPEG, None) == Chain(f.JPEG)


def test_octet_stream_is_never_a_target() -> None:
    sniffing = f.printer_formats([f.OCTET_STREAM, f.PDF])
    assert sniffing == frozenset({f.PDF})
    assert f.cheapest(f.JPEG, sniffing) is not None
    assert f.cheapest("application/x-unknown", f.printer_formats([f.OCTET_STREAM])) is None
    assert f.printer_formats(None) is None


def test_deliverable_formats_of_the_demo_printer() -> None:
    assert f.deliverable(DEMO_PRINTER) == frozenset(
        {f.PDF, f.POSTSCRIPT, f.PWG_RASTER, f.JPEG, f.PNG, f.TIFF, f.GIF, f.TEXT}
    )


def test_a_format_the_printer_takes_natively_is_deliverable_too() -> None:
    pcl_printer = frozenset({"application/vnd.hp-pcl"})
    assert f.deliverable(pcl_printer) == frozenset({"application/vnd.hp-pcl"})


def test_find_me_offers_what_every_printer_can_be_sent() -> None:
    pdf_printer = f.deliverable(frozenset({f.PDF}))
    urf_printer = f.deliverable(frozenset({f.URF}))
    both = f.common([pdf_printer, urf_printer])
    assert f.URF not in both  # the PDF printer cannot take URF
    assert f.PWG_RASTER not in both
    assert {f.PDF, f.POSTSCRIPT, f.JPEG, f.TEXT} <= both
    assert f.common([]) == frozenset()


def test_through_pdf_for_a_policy_that_rewrites_content() -> None:
    chain = f.through(f.JPEG, f.PDF, frozenset({f.JPEG, f.PWG_RASTER}))
    assert chain is not None
    assert [s.target for s in chain.steps] == [f.PDF, f.PWG_RASTER]
    assert f.through(f.PDF, f.PDF, None) == Chain(f.PDF)
    assert f.through(f.URF, f.PDF, DEMO_PRINTER) is None


def test_chains_compose_only_end_to_start() -> None:
    with pytest.raises(ValueError, match="does not follow"):
        Chain(f.JPEG, (Step(f.JPEG, f.PDF, 1, "x"),)).then(Chain(f.TEXT))


def test_equal_costs_are_broken_by_the_order_of_the_steps() -> None:
    steps = (Step("a", "c", 5, "first"), Step("a", "b", 2, "x"), Step("b", "c", 3, "second"))
    chain = f.cheapest("a", frozenset({"c"}), steps)
    assert chain is not None
    assert [s.tool for s in chain.steps] == ["first"]


def test_advertised_order_puts_octet_stream_last() -> None:
    listed = f.advertised({f.TEXT, f.PDF, "application/vnd.hp-pcl", f.OCTET_STREAM})
    assert listed == [f.PDF, f.TEXT, "application/vnd.hp-pcl", f.OCTET_STREAM]


def _brute_force(source: str, accepted: frozenset[str]) -> int | None:
    """The cheapest cost over every simple path (the graph is small)."""
    best: int | None = None
    for length in range(len(f.STEPS) + 1):
        for path in itertools.permutations(f.STEPS, length):
            current, cost, seen = source, 0, {source}
            for step in path:
                if step.source != current or step.target in seen:
                    break
                current, cost = step.target, cost + step.cost
                seen.add(current)
            else:
                if current in accepted and (best is None or cost < best):
                    best = cost
        if length >= 3:  # no useful path here is longer than three steps
            break
    return best


@PROPERTY
@given(source=st.sampled_from((*f.INPUTS, "application/x-unknown")),
       accepted=st.frozensets(st.sampled_from(TARGETS)))  # fmt: skip
def test_the_plan_is_a_cheapest_connected_chain_into_the_printer(
    source: str, accepted: frozenset[str]
) -> None:
    chain = f.cheapest(source, accepted)
    best = _brute_force(source, accepted)
    assert (chain is None) == (best is None)
    assert (source in f.deliverable(accepted)) == (chain is not None)
    if chain is None:
        return
    assert chain.cost == best
    assert chain.target in accepted
    current = source
    for step in chain.steps:
        assert step.source == current
        current = step.target
    if chain.steps:
        assert source not in accepted
