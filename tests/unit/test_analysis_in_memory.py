"""``analyze_bytes`` (a small spooled document, analysed without a file) answers exactly as
``analyze`` does on the same bytes in a file: every file of both generated corpora."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from corpus.session import colour_corpus_dir, corpus_dir
from printwarden.analysis import analyze, analyze_bytes, pdf, rendered
from printwarden.analysis.model import Analysis, Limits
from printwarden.testing.corpus.colours import CASES

FORMATS = {case.name: case.format for case in CASES}
# Where a damaged PDF's message names its source: the file, or the stream of its bytes.
SOURCE = re.compile(r"/[^\s:]+|stream <_io\.BytesIO object at 0x[0-9a-f]+>")


def _same(result: Analysis) -> Analysis:
    return replace(result, detail=SOURCE.sub("SOURCE", result.detail))


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    colour = colour_corpus_dir(tmp_path_factory)
    found = [(colour / name, fmt) for name, fmt in sorted(FORMATS.items())]
    formats = corpus_dir(tmp_path_factory)
    found += [(path, "application/octet-stream") for path in sorted(formats.iterdir())]
    return found


def test_every_corpus_file_gets_the_same_analysis_from_memory(
    documents: list[tuple[Path, str]],
) -> None:
    assert len(documents) > 60
    for path, declared in documents:
        in_memory, from_file = analyze_bytes(path.read_bytes(), declared), analyze(path, declared)
        assert _same(in_memory) == _same(from_file), path.name


def test_a_pdf_whose_pages_need_rendering_is_rendered_from_a_copy(
    documents: list[tuple[Path, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages the content scan cannot judge go to Ghostscript, which reads a file: a copy of
    the bytes, removed afterwards."""
    seen: list[tuple[Path, bytes]] = []
    real = rendered.colour_pages

    def recording(path: Path, pages: Sequence[int], *args: Any) -> frozenset[int]:
        seen.append((path, path.read_bytes()))
        return real(path, pages, *args)

    monkeypatch.setattr(pdf, "rendered_pages", recording)
    to_render = [p for p, _ in documents if p.name in ("transparency.pdf", "page-group.pdf")]
    assert len(to_render) == 2
    for path in to_render:
        data = path.read_bytes()
        seen.clear()
        result = analyze_bytes(data, "application/pdf")
        assert result == analyze(path, "application/pdf")
        assert result.colour_pages is not None
        assert len(seen) == 2  # once from memory, once from the file
        assert seen[0][1] == data
        assert not seen[0][0].exists()


def test_limits_and_unknown_formats_answer_without_reading_further() -> None:
    small = Limits(max_bytes=10)
    assert (
        "exceeds the 10-byte limit"
        in analyze_bytes(b"%PDF-1.4\n" + b"x" * 20, "", limits=small).detail
    )
    pcl = analyze_bytes(b"\x1bE\x1b%-12345X@PJL", "application/vnd.hp-pcl")
    assert pcl.pages is None
