"""Every colour construct, page by page: the analysis, Ghostscript and the corpus agree.

The colour corpus (``corpus/colours.py``, 50+ small PDF and PostScript files) is
generated once per session. For each file the colour pages found by ``analyze`` must
equal Ghostscript's (``corpus/reference.py``: its 72 dpi CMYK rendering with the tuned
conversion, a page colour when a pixel has more C, M or Y ink than the tolerance) and
what the corpus says each page is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.session import colour_corpus_dir
from printwarden.analysis import analyze
from printwarden.testing.corpus import reference
from printwarden.testing.corpus.colours import CASES, Case

BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="session")
def colour_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return colour_corpus_dir(tmp_path_factory)


def test_the_corpus_covers_enough() -> None:
    assert len(CASES) >= 50
    assert sum(case.name.endswith(".ps") for case in CASES) >= 10
    pages = [colour for case in CASES for colour in case.pages]
    assert pages.count(True) >= 60
    assert pages.count(False) >= 60


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_colour_pages_equal_ghostscript_page_by_page(colour_corpus: Path, name: str) -> None:
    case: Case = BY_NAME[name]
    path = colour_corpus / name
    result = analyze(path, case.format)
    assert result.pages == len(case.pages), result.detail
    wanted = reference.colour_pages(path)
    assert wanted == case.colour_pages, "the corpus and Ghostscript disagree"
    assert result.colour_pages == wanted, result.detail


VECTOR_ONLY = sorted(
    case.name
    for case in CASES
    if not case.name.startswith(
        ("images", "inline", "icc-lab-images", "transparency", "page-group")
    )
)


@pytest.mark.parametrize("name", VECTOR_ONLY)
def test_tuned_inkcov_agrees_where_its_tolerance_applies(colour_corpus: Path, name: str) -> None:
    """``gs -sDEVICE=inkcov`` with the tolerance as a C/M/Y transfer function gives the same
    pages wherever Ghostscript applies transfer functions: everywhere but images and
    transparency, which is why the reference thresholds the rendered pixels instead."""
    rows = reference.inkcov(colour_corpus / name)
    pages = tuple(n for n, (c, m, y, _) in enumerate(rows, 1) if max(c, m, y) > 0)
    assert pages == BY_NAME[name].colour_pages
