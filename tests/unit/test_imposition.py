"""Page selection and layout planning (``domain/imposition.py``), the pikepdf imposition
that follows the plan (``analysis/imposition.py``), and the job template attributes that
ask for them (``provider/job_template.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from printwarden.analysis import analyze
from printwarden.analysis.imposition import impose, page_counts
from printwarden.domain import imposition
from printwarden.domain.imposition import Cell, Override, PlanError, grid, plan, ranges
from printwarden.provider import job_template
from printwarden.provider.ipp import Attribute, Collection, IntRange
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.printed_pages import printed, stale

SINGLE = imposition.SINGLE
UNCOLLATED = imposition.SEPARATE_UNCOLLATED


def cells(p: imposition.Plan) -> list[list[tuple[int, int]]]:
    return [[(c.document, c.page) for c in side] for side in p.impressions]


# --- page-ranges --------------------------------------------------------------------------


def test_page_ranges_must_ascend_without_overlapping() -> None:
    assert ranges([(1, 3), (5, 5), (7, 9)]) == ((1, 3), (5, 5), (7, 9))
    for wrong in ([(3, 1)], [(0, 2)], [(1, 3), (3, 4)], [(5, 6), (1, 2)]):
        with pytest.raises(PlanError):
            ranges(wrong)


def test_page_ranges_select_pages_of_each_document() -> None:
    chosen = plan([5, 3], page_ranges=[(2, 3), (5, 9)])
    assert cells(chosen) == [[(1, 2)], [(1, 3)], [(1, 5)], [(2, 2)], [(2, 3)]]
    assert chosen.printed == 5


def test_single_document_handling_numbers_pages_across_documents() -> None:
    chosen = plan([2, 3], page_ranges=[(2, 4)], handling=SINGLE)
    assert cells(chosen) == [[(1, 2)], [(2, 1)], [(2, 2)]]


def test_ranges_beyond_every_page_print_nothing_and_say_so() -> None:
    with pytest.raises(PlanError, match="select none of the 4"):
        plan([4], page_ranges=[(5, 8)])


# --- number-up, sheets, copies ----------------------------------------------------------------


def test_number_up_puts_that_many_pages_on_each_side() -> None:
    assert cells(plan([5], up=2)) == [[(1, 1), (1, 2)], [(1, 3), (1, 4)], [(1, 5)]]
    assert plan([9], up=4).printed == 3
    assert plan([16], up=16).printed == 1
    with pytest.raises(PlanError):
        plan([3], up=3)


def test_each_document_starts_a_new_sheet_and_two_sided_leaves_a_blank_back() -> None:
    chosen = plan([3, 2], duplex=True)
    assert cells(chosen) == [[(1, 1)], [(1, 2)], [(1, 3)], [], [(2, 1)], [(2, 2)]]
    assert chosen.printed == 5  # the blank back is not charged
    assert cells(plan([1, 1], handling=SINGLE, up=2)) == [[(1, 1), (2, 1)]]


def test_uncollated_copies_of_several_documents_are_laid_out_here() -> None:
    chosen = plan([1, 2], copies=2, handling=UNCOLLATED)
    assert cells(chosen) == [[(1, 1)], [(1, 1)], [(2, 1)], [(2, 2)], [(2, 1)], [(2, 2)]]
    assert chosen.printer_copies == 1
    collated = plan([1, 2], copies=2)
    assert collated.printer_copies == 2
    assert collated.printed == 3


def test_colour_impressions_count_sides_with_a_colour_page_not_overridden_to_grey() -> None:
    chosen = plan([4], up=2)
    assert chosen.colour_impressions({1: [1, 3]}) == 2
    assert chosen.colour_impressions({1: [1, 2]}) == 1
    grey = [Override(pages=((3, 4),), settings={"print-color-mode": "monochrome"})]
    assert chosen.colour_impressions({1: [1, 3]}, grey) == 1


def test_overrides_name_pages_of_documents_and_the_last_one_wins() -> None:
    overrides = [
        Override(pages=((1, 2),), settings={"orientation-requested": 4}),
        Override(documents=((2, 2),), pages=((2, 2),), settings={"orientation-requested": 6}),
    ]
    assert imposition.settings_of(Cell(1, 2), overrides) == {"orientation-requested": 4}
    assert imposition.settings_of(Cell(2, 2), overrides) == {"orientation-requested": 6}
    assert imposition.settings_of(Cell(1, 3), overrides) == {}


def test_a_document_is_rewritten_only_when_the_plan_changes_it() -> None:
    assert not plan([3]).changes_document
    assert plan([3], page_ranges=[(2, 3)]).changes_document
    assert plan([3], up=2).changes_document
    assert plan([1, 1]).changes_document


def test_the_grid_turns_to_fit_pages_larger() -> None:
    portrait = (595.0, 842.0)
    assert grid(2, portrait, portrait) == (1, 2)  # two turned pages, one above the other
    assert grid(6, portrait, portrait) == (2, 3)
    assert grid(4, portrait, portrait) == (2, 2)
    assert imposition.layable("application/pdf")
    assert imposition.layable("image/jpeg")
    assert not imposition.layable("image/pwg-raster")


# --- the job template attributes ------------------------------------------------------------


def test_job_template_values_are_kept_as_json_or_refused() -> None:
    assert job_template.parse(Attribute("job-priority", T.INTEGER, [80])) == 80
    assert job_template.parse(Attribute("job-priority", T.INTEGER, [101])) is None
    assert job_template.parse(Attribute("job-sheets", T.KEYWORD, ["none"])) == "none"
    assert job_template.parse(Attribute("job-sheets", T.KEYWORD, ["standard"])) is None
    assert job_template.parse(Attribute("number-up", T.INTEGER, [4])) == 4
    ranges_attribute = Attribute(
        "page-ranges", T.RANGE_OF_INTEGER, [IntRange(1, 2), IntRange(4, 4)]
    )
    assert job_template.parse(ranges_attribute) == [[1, 2], [4, 4]]
    bad = Attribute("page-ranges", T.RANGE_OF_INTEGER, [IntRange(4, 4), IntRange(1, 2)])
    assert job_template.parse(bad) is None
    override = Collection(
        [
            Attribute("pages", T.RANGE_OF_INTEGER, [IntRange(1, 1)]),
            Attribute("print-color-mode", T.KEYWORD, ["monochrome"]),
        ]
    )
    parsed = job_template.parse(Attribute("overrides", T.BEG_COLLECTION, [override]))
    assert parsed == [{"documents": [], "pages": [[1, 1]],
                       "settings": {"print-color-mode": "monochrome"}}]  # fmt: skip
    stapled = Collection([Attribute("finishings", T.ENUM, [4])])
    assert job_template.parse(Attribute("overrides", T.BEG_COLLECTION, [stapled])) is None
    layout = job_template.layout_of({"page-ranges": [[2, 3]], "number-up": 2, "overrides": parsed})
    assert layout.page_ranges == ((2, 3),)
    assert layout.number_up == 2
    assert layout.overrides[0].settings == {"print-color-mode": "monochrome"}


# --- imposing real PDFs, and what is charged ---------------------------------------------------


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A five-page PDF whose pages 2 and 4 are colour, and a two-page grey one."""
    folder = tmp_path_factory.mktemp("imposition")
    grey = "/Helvetica findfont 40 scalefont setfont 72 600 moveto (page) show showpage"
    colour = "1 0 0 setrgbcolor 72 72 200 200 rectfill showpage"
    made = []
    for name, pages in (("five", [grey, colour, grey, colour, grey]), ("two", [grey, grey])):
        path = folder / f"{name}.pdf"
        command = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
                   "-sPAPERSIZE=a4", f"-sOutputFile={path}", "-c", " ".join(pages)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        made.append(path)
    return made[0], made[1]


def test_the_imposed_document_has_the_planned_sides_and_the_planned_colour(
    pdfs: tuple[Path, Path], tmp_path: Path
) -> None:
    five, two = pdfs
    chosen = plan(page_counts([five, two]), page_ranges=[(2, 4)], up=2)
    out = impose([five, two], chosen, tmp_path / "out.pdf", scratch=tmp_path)
    found = analyze(out, "application/pdf")
    assert cells(chosen) == [[(1, 2), (1, 3)], [(1, 4)], [(2, 2)]]
    assert found.pages == chosen.printed == 3
    assert found.colour_page_count == chosen.colour_impressions({1: [2, 4]}) == 2


def test_an_override_to_grey_prints_those_pages_grey_and_they_are_not_charged_colour(
    pdfs: tuple[Path, Path], tmp_path: Path
) -> None:
    five, _ = pdfs
    grey = [Override(pages=((4, 4),), settings={"print-color-mode": "monochrome"})]
    chosen = plan([5])
    out = impose([five], chosen, tmp_path / "out.pdf", overrides=grey, scratch=tmp_path)
    found = analyze(out, "application/pdf")
    assert found.pages == 5
    assert found.colour_pages == (2,)
    assert chosen.colour_impressions({1: [2, 4]}, grey) == 1


def test_what_a_job_prints_is_planned_from_its_documents_analyses(pdfs: tuple[Path, Path]) -> None:
    five, two = pdfs
    results = [analyze(five, "application/pdf"), analyze(two, "application/pdf")]
    plain = printed(results[:1], {})
    assert (plain["pages"], plain["colour_pages"]) == (5, 2)
    laid = printed(results, {"number-up": 2, "copies": 3})
    assert (laid["pages"], laid["colour_pages"]) == (4, 2)
    assert "printer_copies" not in laid  # the printer makes the 3 copies of the set
    apart = printed(results, {"copies": 2, "multiple-document-handling": UNCOLLATED})
    assert (apart["pages"], apart["printer_copies"]) == (14, 1)  # each document twice, here
    assert not stale(apart, {"copies": 2, "multiple-document-handling": UNCOLLATED})
    assert stale(apart, {"copies": 3, "multiple-document-handling": UNCOLLATED})
    ranged = printed(results[:1], {"page-ranges": [[3, 5]]})
    assert (ranged["pages"], ranged["colour_pages"]) == (3, 1)
    nothing = printed(results[:1], {"page-ranges": [[9, 9]]})
    assert nothing["pages"] == 0
    assert "select none" in str(nothing["detail"])
