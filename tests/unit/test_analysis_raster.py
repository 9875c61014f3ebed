"""PWG raster and URF parsers: colour rules, bounds checks, and never raising on junk."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.analysis import DEFAULT_TOLERANCE, pwg, urf
from printwarden.analysis.model import Analysis
from printwarden.testing.corpus import rasters

TOL = DEFAULT_TOLERANCE
WHITE = bytes([255, 255, 255])


def rgb_rows(pixels: Sequence[Sequence[bytes]]) -> list[bytes]:
    return [b"".join(row) for row in pixels]


def pwg_page(
    rows: Sequence[bytes],
    width: int,
    *,
    colours: int = 3,
    space: int = 19,
    bits: int = 8,
    duplex: bool = False,
    size_name: str = "",
) -> tuple[bytes, bytes]:
    head = rasters.pwg_page_header(
        width,
        len(rows),
        bits_per_colour=bits,
        colours=colours,
        space=space,
        duplex=duplex,
        size_name=size_name,
    )
    return head, rasters.encode_page(rows, colours * bits // 8)


def urf_page(
    rows: Sequence[bytes], width: int, *, space: int = 1, bpp: int = 24, duplex: int = 1
) -> tuple[bytes, bytes]:
    head = rasters.urf_page_header(bpp, space, width, len(rows), 72, duplex=duplex)
    return head, rasters.encode_page(rows, bpp // 8)


def one_pixel_page(pixel: bytes, width: int = 4, height: int = 3) -> list[bytes]:
    rows = [WHITE * width] * height
    rows[1] = WHITE + pixel + WHITE * (width - 2)
    return rows


@pytest.mark.parametrize(
    ("pixel", "colour"),
    [
        (WHITE, False),
        (bytes([200, 0, 0]), True),
        (bytes([128, 129, 128]), False),
        (bytes([120, 128, 120]), False),
        (bytes([120, 129, 120]), True),
    ],
)
def test_srgb_pages_are_colour_only_with_a_colour_pixel(pixel: bytes, colour: bool) -> None:
    rows = one_pixel_page(pixel)
    expected = (1,) if colour else ()
    assert pwg.analyze(rasters.pwg_file([pwg_page(rows, 4)]), TOL).colour_pages == expected
    assert urf.analyze(rasters.urf_file([urf_page(rows, 4)]), TOL).colour_pages == expected


def test_grey_spaces_are_grey_without_looking() -> None:
    rows = [bytes([0, 255, 7, 9])] * 2
    page = pwg_page(rows, 4, colours=1, space=18)
    assert pwg.analyze(rasters.pwg_file([page]), TOL).colour_pages == ()
    assert (
        urf.analyze(rasters.urf_file([urf_page(rows, 4, space=0, bpp=8)]), TOL).colour_pages == ()
    )


@pytest.mark.parametrize(
    ("cmyk", "colour"), [((0, 0, 0, 255), False), ((8, 8, 8, 0), False), ((20, 0, 0, 0), True)]
)
def test_cmyk_pages_are_colour_with_colour_ink(cmyk: tuple[int, ...], colour: bool) -> None:
    rows = [bytes(cmyk) * 3] * 2
    result = pwg.analyze(rasters.pwg_file([pwg_page(rows, 3, colours=4, space=6)]), TOL)
    assert result.colour_pages == ((1,) if colour else ())
    urf_result = urf.analyze(rasters.urf_file([urf_page(rows, 3, space=6, bpp=32)]), TOL)
    assert urf_result.colour_pages == result.colour_pages


def test_sixteen_bit_colour_compares_high_bytes() -> None:
    grey = bytes([0x80, 0x00, 0x80, 0xFF, 0x80, 0x10])
    red = bytes([0xF0, 0x00, 0x10, 0x00, 0x10, 0x00])
    for pixel, expected in ((grey, ()), (red, (1,))):
        page = pwg_page([pixel * 2], 2, bits=16)
        assert pwg.analyze(rasters.pwg_file([page]), TOL).colour_pages == expected


def test_pwg_header_fields_reach_the_analysis() -> None:
    page = pwg_page([WHITE * 2], 2, duplex=True, size_name="iso_a4_210x297mm")
    result = pwg.analyze(rasters.pwg_file([page, page]), TOL)
    assert (result.pages, result.duplex, result.paper_size, result.copies) == (2, True, "A4", 1)


def test_fill_white_ends_a_line() -> None:
    data = bytes([1]) + bytes([0]) + bytes([200, 0, 0]) + bytes([128])
    head = rasters.pwg_page_header(5, 2)
    assert pwg.analyze(b"RaS2" + head + data, TOL).colour_pages == (1,)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (bytes([2, 2]) + WHITE, "line repeat"),
        (bytes([0, 5]) + WHITE, "overruns"),
        (bytes([0, 0]) + WHITE[:2], "truncated"),
        (bytes([0]), "truncated"),
    ],
)
def test_malformed_page_data_is_reported(data: bytes, problem: str) -> None:
    head = rasters.pwg_page_header(2, 2)
    result = pwg.analyze(b"RaS2" + head + data, TOL)
    assert result.pages is None
    assert problem in result.detail


def test_inconsistent_header_is_reported() -> None:
    head = bytearray(rasters.pwg_page_header(2, 2))
    head[392:396] = (99).to_bytes(4, "big")
    result = pwg.analyze(b"RaS2" + bytes(head), TOL)
    assert result.pages is None
    assert "bytes per line" in result.detail


def test_urf_declared_page_count_must_match() -> None:
    page = urf_page([WHITE], 1)
    good = rasters.urf_file([page, page])
    assert urf.analyze(good, TOL).pages == 2
    assert urf.analyze(rasters.urf_file([page, page], declare=False), TOL).pages == 2
    short = good[:8] + (3).to_bytes(4, "big") + good[12:]
    assert "declares 3 pages" in urf.analyze(short, TOL).detail


@pytest.mark.parametrize(("code", "duplex"), [(0, None), (1, False), (2, True), (3, True)])
def test_urf_duplex_modes(code: int, duplex: bool | None) -> None:
    result = urf.analyze(rasters.urf_file([urf_page([WHITE], 1, duplex=code)]), TOL)
    assert result.duplex is duplex


def test_every_truncation_is_caught() -> None:
    rows = one_pixel_page(bytes([200, 0, 0]), 6, 5)
    for stream in (
        rasters.pwg_file([pwg_page(rows, 6), pwg_page(rows, 6)]),
        rasters.urf_file([urf_page(rows, 6), urf_page(rows, 6)], declare=True),
    ):
        parser = pwg.analyze if stream.startswith(b"RaS2") else urf.analyze
        for cut in range(len(stream)):
            result = parser(stream[:cut], TOL)
            assert result.pages in (None, 0, 1), cut


PIXELS = st.sampled_from(
    [WHITE, bytes([0, 0, 0]), bytes([128, 129, 128]), bytes([130, 130, 138]), bytes([0, 90, 200])]
)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda w: st.lists(st.lists(PIXELS, min_size=w, max_size=w), min_size=1, max_size=6)
    )
)
def test_encoded_pages_round_trip_to_the_right_verdict(pixels: list[list[bytes]]) -> None:
    rows = rgb_rows(pixels)
    width = len(pixels[0])
    colour = any(max(p) - min(p) > TOL for row in pixels for p in row)
    expected = (1,) if colour else ()
    assert pwg.analyze(rasters.pwg_file([pwg_page(rows, width)]), TOL).colour_pages == expected
    assert urf.analyze(rasters.urf_file([urf_page(rows, width)]), TOL).colour_pages == expected


def _never_raises(result: Analysis) -> None:
    assert result.pages is None or result.pages >= 0
    assert result.pages is not None or result.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(blob: bytes) -> None:
    _never_raises(pwg.analyze(blob, TOL))
    _never_raises(urf.analyze(blob, TOL))
    _never_raises(pwg.analyze(b"RaS2" + blob, TOL))
    _never_raises(urf.analyze(b"UNIRAST\0" + blob, TOL))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 8, 24, 32]), st.binary(max_size=600)
)
def test_random_page_data_after_valid_headers_never_raises(
    width: int, height: int, bpp: int, blob: bytes
) -> None:
    colours = max(1, bpp // 8)
    bits = 1 if bpp == 1 else 8
    space = {1: 3, 8: 18, 24: 19, 32: 6}[bpp]
    head = rasters.pwg_page_header(
        width, height, bits_per_colour=bits, colours=colours, space=space
    )
    _never_raises(pwg.analyze(b"RaS2" + head + blob, TOL))
    urf_space = {1: 0, 8: 0, 24: 1, 32: 6}[bpp]
    urf_head = rasters.urf_page_header(bpp, urf_space, width, height, 72)
    _never_raises(urf.analyze(rasters.urf_file([(urf_head, blob)]), TOL))
