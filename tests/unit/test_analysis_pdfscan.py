"""The PDF content scan: which constructs make a page grey, colour, or need rendering."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from printwarden.analysis import analyze
from printwarden.analysis.pdf import scan
from printwarden.analysis.pdfspaces import ColourStatus
from printwarden.testing.corpus import reference

GREY, COLOUR, RENDER = ColourStatus.GREY, ColourStatus.COLOUR, ColourStatus.RENDER
TOL = 8
BOX = b" 10 10 100 100 re f"


def one_page(content: bytes, **resources: object) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    page.obj.Resources = pikepdf.Dictionary({f"/{k}": v for k, v in resources.items()})
    page.obj.Contents = pdf.make_stream(content)
    return pdf


def verdict(pdf: pikepdf.Pdf) -> ColourStatus:
    return scan(pdf, TOL)[0]


def form(pdf: pikepdf.Pdf, content: bytes, **extra: object) -> pikepdf.Stream:
    return pdf.make_stream(
        content,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Form,
        BBox=[0, 0, 100, 100],
        **extra,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"0.5 g" + BOX, GREY),
        (b"1 0 0 rg" + BOX, COLOUR),
        (b"1 0 0 RG" + BOX, GREY),
        (b"1 0 0 RG 10 10 m 50 50 l S", COLOUR),
        (b"q 1 0 0 rg Q" + BOX, GREY),
        (b"0.2 0.2 0.2 1 k" + BOX, COLOUR),
        (b"0 0 0 0.6 k" + BOX, GREY),
        (b"0.02 0 0 0 k" + BOX, GREY),
        (b"BT /F1 12 Tf 1 0 0 rg 10 10 Td () Tj ET", GREY),
        (b"BT /F1 12 Tf 1 0 0 rg 3 Tr 10 10 Td (x) Tj ET", GREY),
        (b"BT /F1 12 Tf 1 0 0 rg 10 10 Td [(x)] TJ ET", COLOUR),
        (b"BT /F1 12 Tf 1 0 0 RG 1 Tr 10 10 Td (x) Tj ET", COLOUR),
        (b"BT /F1 12 Tf 10 10 Td (1 0 0 rg 10 10 re f) Tj ET", GREY),
    ],
)
def test_operators(content: bytes, expected: ColourStatus) -> None:
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    assert verdict(one_page(content, Font=pikepdf.Dictionary(F1=font))) is expected


def separation(name: str) -> pikepdf.Array:
    """A Separation space whose alternate is that ink alone in DeviceCMYK."""
    ink = {"/Cyan": 0, "/Magenta": 1, "/Yellow": 2, "/Black": 3}
    c1 = [1.0] * 4 if name == "/All" else [float(i == ink.get(name, 3)) for i in range(4)]
    fn = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0, 0, 0, 0], C1=c1, N=1)
    return pikepdf.Array([pikepdf.Name.Separation, pikepdf.Name(name), pikepdf.Name.DeviceCMYK, fn])


@pytest.mark.parametrize(
    ("space", "tint", "expected"),
    [
        ("/Black", 1, GREY),
        ("/None", 1, GREY),
        ("/Cyan", 0.5, COLOUR),
        ("/All", 0.5, COLOUR),
        ("/Cyan", 0.02, GREY),
    ],
)
def test_process_separations(space: str, tint: float, expected: ColourStatus) -> None:
    pdf = one_page(
        b"/S cs %.2f sc" % tint + BOX, ColorSpace=pikepdf.Dictionary(S=separation(space))
    )
    assert verdict(pdf) is expected


def test_spot_colour_with_exponential_tint_is_judged_through_its_alternate() -> None:
    fn = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0, 0, 0, 0], C1=[0, 0.5, 1, 0], N=1)
    sep = pikepdf.Array(
        [pikepdf.Name.Separation, pikepdf.Name("/Orange"), pikepdf.Name.DeviceCMYK, fn]
    )
    spaces = pikepdf.Dictionary(S=sep)
    assert verdict(one_page(b"/S cs 1 sc" + BOX, ColorSpace=spaces)) is COLOUR
    assert verdict(one_page(b"/S cs 0 sc" + BOX, ColorSpace=spaces)) is GREY


def test_devicen_of_process_inks_paints_them() -> None:
    pdf = one_page(b"")
    to_black = pdf.make_stream(
        b"{ pop pop 0 0 0 1 }", FunctionType=4, Domain=[0, 1, 0, 1], Range=[0, 1] * 4
    )
    page = pdf.pages[0].obj
    for names, content, expected in (
        ([pikepdf.Name.Cyan, pikepdf.Name.Magenta], b"0.5 0", COLOUR),
        ([pikepdf.Name.Cyan, pikepdf.Name.Magenta], b"0.02 0.03", GREY),
        ([pikepdf.Name.Yellow, pikepdf.Name.Black], b"0 1", GREY),
        ([pikepdf.Name.Cyan, pikepdf.Name("/Spot")], b"0.5 0", GREY),
    ):
        devicen = pikepdf.Array([pikepdf.Name.DeviceN, names, pikepdf.Name.DeviceCMYK, to_black])
        page.Resources = pikepdf.Dictionary(ColorSpace=pikepdf.Dictionary(D=devicen))
        page.Contents = pdf.make_stream(b"/D cs " + content + b" sc" + BOX)
        assert verdict(pdf) is expected, (names, content)


LAB = pikepdf.Array(
    [pikepdf.Name.Lab, pikepdf.Dictionary(WhitePoint=[0.9505, 1.0, 1.089], Range=[-128, 127] * 2)]
)


@pytest.mark.parametrize(
    ("lab", "expected"),
    [
        ("50 0 0", GREY),
        ("95 0 0", GREY),
        ("53 80 67", COLOUR),
        ("60 25 25", COLOUR),
        ("50 1 -1", GREY),
        ("70 -6 -6", COLOUR),
    ],
)
def test_lab_is_judged_through_srgb(lab: str, expected: ColourStatus) -> None:
    content = b"/L cs " + lab.encode() + b" sc" + BOX
    assert verdict(one_page(content, ColorSpace=pikepdf.Dictionary(L=LAB))) is expected


def icc_space(pdf: pikepdf.Pdf, header_space: bytes, n: int) -> pikepdf.Array:
    """An ICC-based space whose (header-only) profile declares ``header_space``."""
    header = bytearray(128)
    header[16:20] = header_space
    header[36:40] = b"acsp"
    profile = pdf.make_stream(bytes(header), N=n)
    return pikepdf.Array([pikepdf.Name.ICCBased, profile])


@pytest.mark.parametrize(
    ("header", "n", "colour", "expected"),
    [
        (b"Lab ", 3, "53 80 67", COLOUR),
        (b"Lab ", 3, "50 0 0", GREY),
        (b"Lab ", 3, "1 1 1", GREY),
        (b"RGB ", 3, "1 1 1", GREY),
        (b"RGB ", 3, "1 0 0", COLOUR),
        (b"GRAY", 1, "0.5", GREY),
        (b"CMYK", 4, "0 0 0 1", GREY),
        (b"CMYK", 4, "0.5 0 0 0", COLOUR),
        (b"XYZ ", 3, "0.5 0.5 0.5", RENDER),
        (b"RGB ", 4, "0 0 0 1", RENDER),
    ],
)
def test_icc_spaces_are_what_their_header_says(
    header: bytes, n: int, colour: str, expected: ColourStatus
) -> None:
    pdf = one_page(b"/P cs " + colour.encode() + b" sc" + BOX)
    spaces = pikepdf.Dictionary(P=icc_space(pdf, header, n))
    pdf.pages[0].obj.Resources = pikepdf.Dictionary(ColorSpace=spaces)
    assert verdict(pdf) is expected


def test_indexed_fill_uses_the_palette_entry() -> None:
    indexed = pikepdf.Array(
        [
            pikepdf.Name.Indexed,
            pikepdf.Name.DeviceRGB,
            1,
            pikepdf.String(b"\x80\x80\x80\xff\x00\x00"),
        ]
    )
    spaces = pikepdf.Dictionary(I=indexed)
    assert verdict(one_page(b"/I cs 0 sc" + BOX, ColorSpace=spaces)) is GREY
    assert verdict(one_page(b"/I cs 1 sc" + BOX, ColorSpace=spaces)) is COLOUR


def shading(space: str, c0: list[float], c1: list[float], kind: int = 2) -> pikepdf.Dictionary:
    fn = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=c0, C1=c1, N=1)
    return pikepdf.Dictionary(
        ShadingType=kind, ColorSpace=pikepdf.Name(space), Coords=[0, 0, 100, 0], Function=fn
    )


@pytest.mark.parametrize(
    ("sh", "expected"),
    [
        (shading("/DeviceGray", [0], [1]), GREY),
        (shading("/DeviceRGB", [0.2, 0.2, 0.2], [0.9, 0.9, 0.9]), GREY),
        (shading("/DeviceRGB", [1, 0, 0], [0, 0, 1]), COLOUR),
        (shading("/DeviceRGB", [0, 0, 0], [1, 1, 1], kind=4), RENDER),
    ],
)
def test_shadings(sh: pikepdf.Dictionary, expected: ColourStatus) -> None:
    assert verdict(one_page(b"/Sh sh", Shading=pikepdf.Dictionary(Sh=sh))) is expected
    pattern = pikepdf.Dictionary(PatternType=2, Shading=sh)
    pdf = one_page(b"/Pattern cs /P scn" + BOX, Pattern=pikepdf.Dictionary(P=pattern))
    assert verdict(pdf) is expected


def test_tiling_patterns() -> None:
    pdf = one_page(b"")
    coloured = form(
        pdf, b"1 0 0 rg 0 0 5 5 re f", PatternType=1, PaintType=1, TilingType=1, XStep=5, YStep=5
    )
    uncoloured = form(
        pdf, b"0 0 5 5 re f", PatternType=1, PaintType=2, TilingType=1, XStep=5, YStep=5
    )
    patterns = pikepdf.Dictionary(C=coloured, U=uncoloured)
    base = pikepdf.Array([pikepdf.Name.Pattern, pikepdf.Name.DeviceRGB])
    spaces = pikepdf.Dictionary(PU=base)
    page = pdf.pages[0].obj
    page.Resources = pikepdf.Dictionary(Pattern=patterns, ColorSpace=spaces)
    for content, expected in (
        (b"/Pattern cs /C scn", COLOUR),
        (b"/PU cs 0.3 0.3 0.3 /U scn", GREY),
        (b"/PU cs 0 0 1 /U scn", COLOUR),
    ):
        page.Contents = pdf.make_stream(content + BOX)
        assert verdict(pdf) is expected, content


def test_forms_inherit_the_colour_and_cycles_are_caught() -> None:
    pdf = one_page(b"")
    plain = form(pdf, b"0 0 10 10 re f")
    cyclic = form(pdf, b"/Self Do")
    cyclic.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Self=cyclic))
    page = pdf.pages[0].obj
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(F=plain, C=cyclic))
    for content, expected in ((b"/F Do", GREY), (b"1 0 0 rg /F Do", COLOUR), (b"/C Do", RENDER)):
        page.Contents = pdf.make_stream(content)
        assert verdict(pdf) is expected, content


def type3_font(pdf: pikepdf.Pdf, glyph: bytes) -> pikepdf.Dictionary:
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type3,
        FontBBox=[0, 0, 10, 10],
        FontMatrix=[0.1, 0, 0, 0.1, 0, 0],
        CharProcs=pikepdf.Dictionary(a=pdf.make_stream(glyph)),
        Encoding=pikepdf.Dictionary(Differences=[97, pikepdf.Name.a]),
        FirstChar=97,
        LastChar=97,
        Widths=[10],
    )


def test_type3_glyphs() -> None:
    pdf = one_page(b"")
    page = pdf.pages[0].obj
    uncoloured = type3_font(pdf, b"10 0 0 0 10 10 d1 0 0 10 10 re f")
    coloured = type3_font(pdf, b"10 0 d0 1 0 0 rg 0 0 10 10 re f")
    grey = type3_font(pdf, b"10 0 d0 0.3 g 0 0 10 10 re f")
    fonts = pikepdf.Dictionary(U=uncoloured, C=coloured, G=grey)
    page.Resources = pikepdf.Dictionary(Font=fonts)
    for content, expected in (
        (b"BT /U 12 Tf (a) Tj ET", GREY),
        (b"BT /U 12 Tf 0 0 1 rg (a) Tj ET", COLOUR),
        (b"BT /C 12 Tf (a) Tj ET", COLOUR),
        (b"BT /C 12 Tf (b) Tj ET", GREY),
        (b"BT /G 12 Tf 0 0 1 rg (a) Tj ET", GREY),
    ):
        page.Contents = pdf.make_stream(content)
        assert verdict(pdf) is expected, content


def annotated(
    flags: int, appearance: bool, subtype: str = "/Square", colour: list[float] | None = None
) -> pikepdf.Pdf:
    pdf = one_page(b"0 g" + BOX)
    annotation = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name(subtype), Rect=[0, 0, 50, 50], F=flags
    )
    if colour is not None:
        annotation.C = colour
    if appearance:
        normal = form(pdf, b"1 0 0 RG 0 0 50 50 re S")
        annotation.AP = pikepdf.Dictionary(N=pikepdf.Dictionary(On=normal))
        annotation.AS = pikepdf.Name.On
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(annotation)])
    return pdf


@pytest.mark.parametrize(
    ("flags", "appearance", "expected"),
    [(4, True, COLOUR), (0, True, GREY), (4 | 2, True, GREY), (4, False, GREY), (0, False, GREY)],
)
def test_annotations_count_when_printable(
    flags: int, appearance: bool, expected: ColourStatus
) -> None:
    assert verdict(annotated(flags, appearance)) is expected


def test_annotations_without_appearance_are_judged_by_their_colours() -> None:
    assert verdict(annotated(4, False, colour=[0.9, 0.1, 0.1])) is COLOUR
    assert verdict(annotated(4, False, colour=[0.5])) is GREY
    assert verdict(annotated(4, False, "/Highlight", [1, 1, 0])) is COLOUR
    assert verdict(annotated(4, False, "/FreeText", [0.5])) is RENDER


def layered(content: bytes, config: pikepdf.Dictionary) -> pikepdf.Pdf:
    pdf = one_page(content)
    hidden = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name="Hidden"))
    shown = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name="Shown"))
    config.OFF = [hidden]
    pdf.Root.OCProperties = pikepdf.Dictionary(OCGs=[hidden, shown], D=config)
    both = pikepdf.Dictionary(Type=pikepdf.Name.OCMD, OCGs=[hidden, shown], P=pikepdf.Name.AllOn)
    pdf.pages[0].obj.Resources.Properties = pikepdf.Dictionary(H=hidden, S=shown, M=both)
    return pdf


def test_optional_content_in_hidden_layers_does_not_count() -> None:
    config = pikepdf.Dictionary
    red = b"1 0 0 rg" + BOX
    assert verdict(layered(b"/OC /H BDC " + red + b" EMC", config())) is GREY
    assert verdict(layered(b"/OC /S BDC " + red + b" EMC", config())) is COLOUR
    assert verdict(layered(b"/OC /M BDC " + red + b" EMC", config())) is GREY
    assert verdict(layered(b"/OC /H BDC EMC " + red, config())) is COLOUR
    assert verdict(layered(b"/OC /H BDC " + red + b" EMC", config(AS=[]))) is RENDER


def test_stencil_masks_paint_in_the_fill_colour() -> None:
    pdf = one_page(b"")
    mask = pdf.make_stream(
        b"\xaa\x55" * 4,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=8,
        Height=8,
        ImageMask=True,
        BitsPerComponent=1,
    )
    page = pdf.pages[0].obj
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(M=mask))
    for content, expected in ((b"0.3 g /M Do", GREY), (b"0 1 0 rg /M Do", COLOUR)):
        page.Contents = pdf.make_stream(content)
        assert verdict(pdf) is expected


def test_tricky_pages_agree_with_tuned_inkcov(tmp_path: Path) -> None:
    contents = [
        b"0.2 0.2 0.2 1 k" + BOX,
        b"0.3 0.3 0.3 0 k" + BOX,
        b"/C cs 0.5 sc" + BOX,
        b"/A cs 0.5 sc" + BOX,
        b"/K cs 1 sc" + BOX,
        b"0.5 0.53 0.5 rg" + BOX,
        b"0.5 0.52 0.5 rg" + BOX,
    ]
    pdf = pikepdf.new()
    spaces = pikepdf.Dictionary(C=separation("/Cyan"), A=separation("/All"), K=separation("/Black"))
    for content in contents:
        page = pdf.add_blank_page(page_size=(200, 200))
        page.obj.Resources = pikepdf.Dictionary(ColorSpace=spaces)
        page.obj.Contents = pdf.make_stream(content)
    path = tmp_path / "tricky.pdf"
    pdf.save(path)
    result = analyze(path, "application/pdf")
    assert result.colour_pages == reference.colour_pages(path) == (1, 2, 3, 4)
