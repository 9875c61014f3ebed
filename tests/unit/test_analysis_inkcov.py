"""Per-page colour answers equal Ghostscript's ``inkcov`` device on every corpus PDF.

The reference run (``corpus/reference.py``) is built independently of the code under
test. Plain ``inkcov`` is also checked, to pin down why it needs tuning.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.session import corpus_dir
from printwarden.analysis import DEFAULT_TOLERANCE, analyze
from printwarden.testing.corpus.generate import EXPECTED, MIXED
from printwarden.testing.corpus.reference import TOLERANCE, colour_pages, inkcov

PDFS = sorted(name for name, expected in EXPECTED.items() if expected.inkcov)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus_dir(tmp_path_factory)


@pytest.mark.parametrize("name", PDFS)
def test_colour_pages_equal_tuned_inkcov(corpus: Path, name: str) -> None:
    result = analyze(corpus / name, "application/pdf")
    assert result.colour_pages == colour_pages(corpus / name)
    assert result.colour_pages == EXPECTED[name].colour_pages


def test_postscript_colour_pages_equal_tuned_inkcov(corpus: Path) -> None:
    result = analyze(corpus / "doc.ps", "application/postscript")
    assert result.colour_pages == colour_pages(corpus / "doc.ps")


def test_plain_inkcov_cannot_tell_colour_from_grey(corpus: Path) -> None:
    rows = inkcov(corpus / "mixed.pdf", tuned=False)
    c, m, y, _ = rows[MIXED.index("rgb-neutral")]
    assert min(c, m, y) > 0, "a neutral RGB grey becomes C, M and Y ink"
    c, m, y, _ = rows[MIXED.index("muted-colour")]
    assert c == m == y, "a muted colour covers C, M and Y equally"


def test_reference_uses_the_default_tolerance() -> None:
    assert TOLERANCE == DEFAULT_TOLERANCE
