"""The parts of the colour judgement: PDF functions, ICC headers, CIE maths, the output
profile, mesh data, image inks, rendered pages and the grey conversion's colorants."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageCms

from printwarden.analysis import icc, rendered
from printwarden.analysis.calculator import CalculatorError, compile_program, run
from printwarden.analysis.cie import lab_to_srgb, srgb_to_lab
from printwarden.analysis.functions import FunctionError, load
from printwarden.analysis.gcrprofile import gcr_profile
from printwarden.analysis.ghostscript import ToolError
from printwarden.analysis.greyspots import rename_process_colorants
from printwarden.analysis.pdfimages import image_ink
from printwarden.analysis.pdfmesh import MeshError, vertex_colours
from printwarden.analysis.pdfspaces import Reader

N = pikepdf.Name


@pytest.mark.parametrize(
    ("program", "inputs", "outputs"),
    [
        (b"{ 0 exch dup 0.8 mul exch 0 }", [0.5], [0, 0.4, 0.5, 0]),
        (b"{ dup 0.5 gt { 1 exch sub } { 2 mul } ifelse }", [0.75], [0.25]),
        (b"{ dup 0.5 gt { 1 exch sub } { 2 mul } ifelse }", [0.25], [0.5]),
        (b"{ 3 1 roll }", [1, 2, 3], [3, 1, 2]),
        (b"{ 2 copy add 1 index }", [1, 2], [1, 2, 3, 2]),
        (b"{ 7 2 idiv 7 2 mod 2 3 bitshift }", [], [3, 1, 16]),
        (b"{ 90 sin 0 cos 4 sqrt 1 0 atan 2.5 round -2.5 truncate }", [], [1, 1, 2, 90, 3, -2]),
        (b"{ 1 2 lt 3 3 eq and { 1 } if 1 2 gt not { 2 } if }", [], [1, 2]),
        (b"{ 5 cvr 2.7 cvi 2 3 exp 100 log 1 ln abs neg }", [], [5.0, 2, 8.0, 2.0, 0.0]),
    ],
)
def test_calculator(program: bytes, inputs: list[float], outputs: list[float]) -> None:
    assert run(compile_program(program), inputs) == pytest.approx(outputs)


@pytest.mark.parametrize(
    "program",
    [b"0 1 add", b"{ frobnicate }", b"{ { 1 } }", b"{ add }", b"{ 1 0 div }", b"{ 1 { dup } if"],
)
def test_calculator_refuses_what_is_not_a_calculator_program(program: bytes) -> None:
    with pytest.raises(CalculatorError):
        run(compile_program(program), [])


def test_calculator_stops_runaway_programs() -> None:
    doubling = b"{ " + b"dup " * 200 + b"}"
    with pytest.raises(CalculatorError):
        run(compile_program(doubling), [1])


def test_function_types() -> None:
    pdf = pikepdf.new()
    exponential = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0, 0], C1=[1, 0.5], N=2)
    f = load(exponential)
    assert f is not None
    assert f([0.5]) == pytest.approx((0.25, 0.125))
    assert f([2]) == pytest.approx((1, 0.5))  # clipped to the domain
    sampled = pdf.make_stream(
        bytes([0, 255, 128, 0]),
        FunctionType=0,
        Domain=[0, 1],
        Range=[0, 1, 0, 1],
        Size=[2],
        BitsPerSample=8,
    )
    f = load(sampled)
    assert f is not None
    assert f([0.5]) == pytest.approx((64 / 255, 127.5 / 255))
    assert f.bounds == (0.0, 1.0)
    stitching = pikepdf.Dictionary(
        FunctionType=3,
        Domain=[0, 1],
        Bounds=[0.25],
        Encode=[0, 1, 1, 0],
        Functions=[exponential, exponential],
    )
    f = load(stitching)
    assert f is not None
    assert f([0.25]) == pytest.approx((1, 0.5))
    assert f([1]) == pytest.approx((0, 0))
    calculator = pdf.make_stream(b"{ 2 mul }", FunctionType=4, Domain=[0, 1], Range=[0, 1])
    f = load(calculator)
    assert f is not None
    assert f([0.75]) == (1.0,)  # clipped to the range
    array = load(
        pikepdf.Array(
            [
                exponential["/C1"]
                and pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0], C1=[1], N=1)
            ]
            * 3
        )
    )
    assert array is not None
    assert array([0.5]) == (0.5, 0.5, 0.5)


def test_broken_functions() -> None:
    pdf = pikepdf.new()
    assert load(pikepdf.Dictionary(FunctionType=7, Domain=[0, 1])) is None
    assert load(pikepdf.Dictionary(FunctionType=2)) is None
    assert load(pdf.make_stream(b"{ dup", FunctionType=4, Domain=[0, 1], Range=[0, 1])) is None
    short = pdf.make_stream(
        b"\x00", FunctionType=0, Domain=[0, 1], Range=[0, 1], Size=[4], BitsPerSample=8
    )
    assert load(short) is None
    empty = load(pdf.make_stream(b"{ pop }", FunctionType=4, Domain=[0, 1], Range=[0, 1]))
    assert empty is not None
    with pytest.raises(FunctionError):
        empty([0.5])


def header(space: bytes, signature: bytes = b"acsp") -> bytes:
    data = bytearray(128)
    data[16:20] = space
    data[36:40] = signature
    return bytes(data)


def test_icc_header_colour_space() -> None:
    assert icc.data_space(header(b"Lab ")) == "Lab"
    assert icc.data_space(header(b"RGB ")) == "RGB"
    assert icc.data_space(header(b"GRAY", b"xxxx")) is None
    assert icc.data_space(b"short") is None
    assert (icc.components("Lab"), icc.components("CMYK"), icc.components("6CLR")) == (3, 4, 6)
    assert icc.components("what") is None


def test_lab_neutrals_are_neutral_and_round_trip() -> None:
    for lightness in (0, 20, 50, 75, 100):
        r, g, b = lab_to_srgb((lightness, 0, 0))
        assert max(r, g, b) - min(r, g, b) < 1e-6
    for lab in ((53, 80, 67), (60, -20, -20), (40, 4, 6)):
        back = srgb_to_lab(lab_to_srgb(lab))
        if lab == (53, 80, 67):  # out of gamut: clipped
            continue
        assert back == pytest.approx(lab, abs=0.05)


def test_output_profile_separates_through_srgb() -> None:
    """Through littleCMS (unoptimised, as exact as the tables), a neutral Lab grey is
    black ink alone and a warm one keeps its channel spread as C, M or Y ink."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(gcr_profile()))
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"),
        profile,
        "LAB",
        "CMYK",
        flags=ImageCms.Flags.NOOPTIMIZE,
    )
    pixels = Image.new("LAB", (2, 1))
    pixels.putpixel((0, 0), (128, 128, 128))
    pixels.putpixel((1, 0), (153, 153, 153))  # L 60, a 25, b 25
    out = ImageCms.applyTransform(pixels, transform)
    assert out is not None
    c, m, y, k = out.getpixel((0, 0))  # type: ignore[misc]
    assert max(c, m, y) <= 1
    assert k > 100
    c, m, y, _ = out.getpixel((1, 0))  # type: ignore[misc]
    rgb = lab_to_srgb((60, 25, 25))
    assert abs(max(c, m, y) - (max(rgb) - min(rgb)) * 255) <= 3


OWNER = pikepdf.new()


def mesh(kind: int, data: bytes, **extra: object) -> pikepdf.Stream:
    return OWNER.make_stream(data, ShadingType=kind, ColorSpace=N.DeviceRGB, **extra)


def pack(fields: list[tuple[int, int]]) -> bytes:
    number, total = 0, 0
    for value, bits in fields:
        number, total = (number << bits) | value, total + bits
    pad = -total % 8
    return (number << pad).to_bytes((total + pad) // 8, "big")


def test_mesh_vertex_colours_at_odd_bit_widths() -> None:
    decode = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    vertices = [(1, 12), (2, 12), (15, 4), (0, 4), (7, 4)]  # no flags in a lattice
    lattice = mesh(
        5,
        pack(vertices * 4),
        BitsPerCoordinate=12,
        BitsPerComponent=4,
        VerticesPerRow=2,
        Decode=decode,
    )
    colours = vertex_colours(lattice, 3)
    assert len(colours) == 4
    assert colours[0] == pytest.approx((1, 0, 7 / 15))
    free = [(0, 2), (1, 12), (2, 12), (15, 4), (0, 4), (7, 4)]
    triangles = mesh(
        4, pack(free) * 3, BitsPerCoordinate=12, BitsPerComponent=4, BitsPerFlag=2, Decode=decode
    )
    assert vertex_colours(triangles, 3) == [pytest.approx((1, 0, 7 / 15))] * 3
    with pytest.raises(MeshError):
        vertex_colours(
            mesh(4, b"", BitsPerCoordinate=8, BitsPerComponent=8, BitsPerFlag=3, Decode=decode), 3
        )


def image(
    pdf: pikepdf.Pdf, data: bytes, size: tuple[int, int], space: object, **extra: object
) -> pikepdf.Stream:
    return pdf.make_stream(
        zlib.compress(data),
        Type=N.XObject,
        Subtype=N.Image,
        Width=size[0],
        Height=size[1],
        ColorSpace=space,
        BitsPerComponent=extra.pop("bits", 8),
        Filter=N.FlateDecode,
        **extra,
    )


def test_image_inks() -> None:
    pdf, reader = pikepdf.new(), Reader()
    grey_rgb = bytes([90, 90, 90, 200, 200, 200])
    assert image_ink(image(pdf, grey_rgb, (2, 1), N.DeviceRGB), None, reader) == 0
    inverted = image(pdf, grey_rgb, (2, 1), N.DeviceRGB, Decode=[1, 0, 0, 1, 1, 0])
    assert image_ink(inverted, None, reader) == 200 - 55  # (55, 200, 55) after Decode
    two_bit = bytes([0b00011011, 0b11100100, 0b01000000])  # (0,1,2) (3,3,2) (1,0,0) (1,0,0)
    assert image_ink(image(pdf, two_bit, (4, 1), N.DeviceRGB, bits=2), None, reader) == 170
    sixteen = struct.pack(">6H", 1000, 1000, 1000, 1000, 1000, 1000 + 9 * 257)
    assert image_ink(image(pdf, sixteen, (2, 1), N.DeviceRGB, bits=16), None, reader) == 9
    jbig2 = pdf.make_stream(
        b"\0" * 8,
        Type=N.XObject,
        Subtype=N.Image,
        Width=8,
        Height=8,
        ColorSpace=N.DeviceGray,
        BitsPerComponent=1,
        Filter=N.JBIG2Decode,
    )
    assert image_ink(jbig2, None, reader) == 0  # grey whatever its pixels: not decoded
    palette = pikepdf.Array([N.Indexed, N.DeviceRGB, 1, pikepdf.String(b"\0\0\0\xff\0\0")])
    jbig2.ColorSpace = palette
    assert image_ink(jbig2, None, reader) is None  # red in the palette: left to rendering
    too_short = image(pdf, b"\x80", (4, 4), N.DeviceRGB)
    assert image_ink(too_short, None, reader) is None


def pam(pages: list[tuple[int, int, bytes]]) -> bytes:
    out = b""
    for width, height, data in pages:
        out += f"P7\nWIDTH {width}\nHEIGHT {height}\nDEPTH 4\nMAXVAL 255\n".encode()
        out += b"TUPLTYPE CMYK\nENDHDR\n" + data
    return out


def test_rendered_pages_take_the_largest_colour_ink() -> None:
    grey = bytes([0, 0, 0, 200] * 4)
    faint = bytes([0, 0, 0, 200] * 3 + [0, 8, 0, 0])
    colour = bytes([0, 0, 0, 0] * 3 + [0, 0, 9, 0])
    stream = io.BytesIO(pam([(2, 2, grey), (2, 2, faint), (4, 1, colour)]))
    assert rendered.read_inks(stream) == [0, 8, 9]
    for broken in (b"P6\n", pam([(2, 2, grey)])[:-3], b"P7\nWIDTH 2\nENDHDR\n"):
        with pytest.raises(ToolError):
            rendered.read_inks(io.BytesIO(broken))


def test_grey_conversion_renames_process_colorants(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    grey = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[1], C1=[0.2], N=1)
    cyan = pikepdf.Array([N.Separation, N.Cyan, N.DeviceGray, grey])
    black = pikepdf.Array([N.Separation, N.Black, N.DeviceGray, grey])
    both = pikepdf.Array([N.DeviceN, [N.Magenta, N("/Spot")], N.DeviceGray, grey])
    page.obj.Resources = pikepdf.Dictionary(ColorSpace=pikepdf.Dictionary(C=cyan, K=black, D=both))
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    pdf.save(source)
    assert rename_process_colorants(source, target) == 2
    with pikepdf.open(target) as out:
        spaces = out.pages[0].Resources.ColorSpace
        assert str(spaces.C[1]) == "/Grey Cyan"
        assert str(spaces.K[1]) == "/Black"
        assert [str(n) for n in spaces.D[1]] == ["/Grey Magenta", "/Spot"]
