"""Job analysis over the generated corpus: every format's pages, colour pages and sizes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.session import corpus_dir
from printwarden.analysis import PAGES_UNKNOWN, Analysis, Limits, analyze
from printwarden.testing.corpus.generate import EXPECTED, MIXED, Expected

NAMES = sorted(EXPECTED)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus_dir(tmp_path_factory)


def _summary(result: Analysis) -> tuple[object, ...]:
    return (result.format, result.pages, result.colour_pages, result.paper_size, result.duplex)


def _expected(expected: Expected) -> tuple[object, ...]:
    return (
        expected.format,
        expected.pages,
        expected.colour_pages,
        expected.paper_size,
        expected.duplex,
    )


@pytest.mark.parametrize("name", NAMES)
def test_declared_format_gives_the_generated_answers(corpus: Path, name: str) -> None:
    expected = EXPECTED[name]
    result = analyze(corpus / name, expected.format)
    assert _summary(result) == _expected(expected), result.detail
    assert (result.detail == "") == (expected.pages is not None)


@pytest.mark.parametrize("name", NAMES)
def test_octet_stream_is_sniffed_to_the_same_answers(corpus: Path, name: str) -> None:
    result = analyze(corpus / name, "application/octet-stream")
    assert _summary(result) == _expected(EXPECTED[name])


@pytest.mark.parametrize(
    "name",
    ["mixed.pdf", "objstm.pdf", "encrypted.pdf", "doc.ps", "colour.pwg", "colour.urf", "doc.txt"],
)
def test_pages_only_skips_colour(corpus: Path, name: str) -> None:
    result = analyze(corpus / name, EXPECTED[name].format, colour=False)
    assert result.pages == EXPECTED[name].pages
    assert result.colour_pages is None
    assert result.colour_page_count is None


def test_colour_page_count_is_derived(corpus: Path) -> None:
    result = analyze(corpus / "mixed.pdf", "application/pdf")
    assert result.colour_page_count == len(EXPECTED["mixed.pdf"].colour_pages or ())


@pytest.mark.parametrize(
    "kind", ["near-grey", "near-white", "rgb-neutral", "cmyk-black", "grey-photo"]
)
def test_near_grey_pages_count_as_grey(corpus: Path, kind: str) -> None:
    result = analyze(corpus / "mixed.pdf", "application/pdf")
    assert result.colour_pages is not None
    assert MIXED.index(kind) + 1 not in result.colour_pages


@pytest.mark.parametrize("name", ["doc.pcl", "random.bin"])
def test_pcl_and_unknown_have_pages_unknown(corpus: Path, name: str) -> None:
    result = analyze(corpus / name, "application/octet-stream")
    assert result.pages is None
    assert result.detail == PAGES_UNKNOWN


def test_magic_bytes_win_over_a_wrong_declared_type(corpus: Path) -> None:
    result = analyze(corpus / "doc.ps", "application/pdf")
    assert (result.format, result.pages) == ("application/postscript", 3)


def test_mime_parameters_and_aliases_are_normalized(corpus: Path) -> None:
    result = analyze(corpus / "doc.txt", "Text/Plain; charset=utf-8")
    assert (result.format, result.pages) == ("text/plain", 4)
    assert analyze(corpus / "colour.jpg", "image/jpg").format == "image/jpeg"


@pytest.mark.parametrize("name", ["truncated.pdf", "truncated.pwg", "truncated.urf"])
def test_truncated_files_explain_why_pages_are_unknown(corpus: Path, name: str) -> None:
    result = analyze(corpus / name, EXPECTED[name].format)
    assert result.pages is None
    assert "truncated" in result.detail or "damaged" in result.detail


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    result = analyze(tmp_path / "gone.pdf", "application/pdf")
    assert result.pages is None
    assert "cannot read" in result.detail


def test_size_limit_refuses_large_files(corpus: Path) -> None:
    result = analyze(corpus / "big.pdf", "application/pdf", limits=Limits(max_bytes=1000))
    assert result.pages is None
    assert "limit" in result.detail


def test_ghostscript_timeout_gives_a_detail_not_an_exception(corpus: Path) -> None:
    result = analyze(corpus / "doc.ps", "application/postscript", limits=Limits(timeout=0.001))
    assert result.pages is None
    assert "Ghostscript" in result.detail


def test_render_timeout_keeps_the_page_count(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    group = pdf.make_stream(
        b"1 g 0 0 200 200 re f",
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Form,
        BBox=[0, 0, 200, 200],
        Group=pikepdf.Dictionary(S=pikepdf.Name.Transparency),
    )
    mask = pikepdf.Dictionary(S=pikepdf.Name.Luminosity, G=group)
    page.obj.Resources = pikepdf.Dictionary(
        ExtGState=pikepdf.Dictionary(M=pikepdf.Dictionary(SMask=mask))
    )
    page.obj.Contents = pdf.make_stream(b"/M gs 1 0 0 rg 0 0 200 200 re f")
    path = tmp_path / "masked.pdf"
    pdf.save(path)
    assert analyze(path, "application/pdf").colour_pages == (1,)
    result = analyze(path, "application/pdf", limits=Limits(timeout=0.001))
    assert result.pages == 1
    assert result.colour_pages is None
    assert result.detail.startswith("colour unknown")


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert analyze(empty, "text/plain").pages == 0
    assert analyze(empty, "application/octet-stream").detail == PAGES_UNKNOWN
    for document_format in ("application/pdf", "image/pwg-raster", "image/urf", "image/png"):
        assert analyze(empty, document_format).pages is None


MUTABLE = ["grey.pdf", "objstm.pdf", "colour.pwg", "colour.urf", "colour.png", "colour.jpg"]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(MUTABLE),
    cuts=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=4),
    keep=st.floats(0.05, 1),
)
def test_damaged_files_are_handled_by_each_format(
    corpus: Path, name: str, cuts: list[tuple[float, bytes]], keep: float
) -> None:
    data = bytearray((corpus / name).read_bytes())
    for where, junk in cuts:
        at = int(where * (len(data) - 1))
        data[at : at + len(junk)] = junk
    with tempfile.TemporaryDirectory() as tmp:
        damaged = Path(tmp) / name
        damaged.write_bytes(bytes(data[: max(1, int(len(data) * keep))]))
        result = analyze(damaged, EXPECTED[name].format, limits=Limits(timeout=20))
    assert "analysis failed" not in result.detail
    assert result.pages is not None or result.detail


def test_pdf_needing_a_user_password_has_pages_unknown(corpus: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(corpus / "grey.pdf") as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="secret", R=6))
    result = analyze(locked, "application/pdf")
    assert result.pages is None
    assert "password" in result.detail
