"""The colour corpus: small PDFs and PostScript files, one per colour construct.

    .venv/bin/python -m printwarden.testing.corpus.colours [OUT]  # default: out-colour/ here

Every file has a few small pages, each painting one colour case; :data:`CASES` says, page
by page, whether it must count as colour (grey tolerance 8/255). Device colours sit at
the tolerance (7 and 8 in, 9 out); CIE-based ones (Lab) at least 4/255 from it, since
Ghostscript's colour management interpolates (see ``reference.py``). Everything is built
here with pikepdf and Pillow: nothing is downloaded. Takes about a second.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, TiffImagePlugin

DEFAULT_OUT = Path(__file__).resolve().parent / "out-colour"
SIZE = (144, 144)
BOX = b" 18 18 108 108 re f"
GS_PROFILES = Path("/usr/share/color/icc/ghostscript")
N = pikepdf.Name
Y, G = True, False
"""Page expectations: colour (Y) or grey (G)."""


@dataclass(frozen=True)
class Case:
    """One corpus file: its name, how it is built, and which of its pages are colour."""

    name: str
    build: Callable[[], bytes]
    pages: tuple[bool, ...]

    @property
    def colour_pages(self) -> tuple[int, ...]:
        return tuple(n for n, colour in enumerate(self.pages, 1) if colour)

    @property
    def format(self) -> str:
        return "application/postscript" if self.name.endswith(".ps") else "application/pdf"


# -- building blocks ---------------------------------------------------------------------


class Doc:
    """A PDF under construction: one small page per case."""

    def __init__(self) -> None:
        self.pdf = pikepdf.new()

    def page(self, content: bytes, **resources: object) -> pikepdf.Dictionary:
        page = self.pdf.add_blank_page(page_size=SIZE)
        page.obj.Resources = pikepdf.Dictionary({f"/{k}": v for k, v in resources.items()})
        page.obj.Contents = self.pdf.make_stream(content)
        return page.obj

    def fill(self, space: object, colour: str) -> pikepdf.Dictionary:
        """A page filled with ``colour`` in colour space ``space``."""
        spaces = pikepdf.Dictionary(C=space)
        return self.page(b"/C cs " + colour.encode() + b" sc" + BOX, ColorSpace=spaces)

    def stream(self, data: bytes, **entries: object) -> pikepdf.Stream:
        return self.pdf.make_stream(data, **entries)

    def calculator(self, program: bytes, inputs: int, outputs: int) -> pikepdf.Stream:
        return self.stream(program, FunctionType=4, Domain=[0, 1] * inputs, Range=[0, 1] * outputs)

    def image(self, data: bytes, size: tuple[int, int], space: object, **extra: object) -> bytes:
        """A page showing an image XObject (``data`` Flate-compressed unless a filter is
        given)."""
        entries: dict[str, object] = {"BitsPerComponent": 8, **extra}
        if "Filter" not in entries:
            data, entries["Filter"] = zlib.compress(data), N.FlateDecode
        if space is not None:
            entries["ColorSpace"] = space
        xobject = self.stream(
            data,
            Type=N.XObject,
            Subtype=N.Image,
            Width=size[0],
            Height=size[1],
            **entries,
        )
        self.page(b"q 108 0 0 108 18 18 cm /Im Do Q", XObject=pikepdf.Dictionary(Im=xobject))
        return data

    def form(self, content: bytes, **extra: object) -> pikepdf.Stream:
        return self.stream(content, Type=N.XObject, Subtype=N.Form, BBox=[0, 0, 144, 144], **extra)

    def bytes(self) -> bytes:
        out = io.BytesIO()
        self.pdf.save(out)
        return out.getvalue()


def rgb(r: int, g: int, b: int) -> str:
    return f"{r / 255:.6f} {g / 255:.6f} {b / 255:.6f}"


def lab_space(ranges: Sequence[float] = (-128, 127, -128, 127)) -> pikepdf.Array:
    return pikepdf.Array(
        [N.Lab, pikepdf.Dictionary(WhitePoint=[0.9505, 1.0, 1.089], Range=list(ranges))]
    )


def icc(doc: Doc, profile: str, n: int) -> pikepdf.Array:
    data = (GS_PROFILES / profile).read_bytes()
    return pikepdf.Array([N.ICCBased, doc.stream(data, N=n)])


def separation(doc: Doc, name: str, alternate: object, function: object) -> pikepdf.Array:
    return pikepdf.Array([N.Separation, N("/" + name), alternate, function])


def exponential(c0: Sequence[float], c1: Sequence[float], n: float = 1) -> pikepdf.Dictionary:
    return pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=list(c0), C1=list(c1), N=n)


def single(build: Callable[[Doc], None]) -> Callable[[], bytes]:
    def make() -> bytes:
        doc = Doc()
        build(doc)
        return doc.bytes()

    return make


def fills(space: Callable[[Doc], object], *colours: str) -> Callable[[], bytes]:
    """A file of one page per colour, all in one space."""

    def make() -> bytes:
        doc = Doc()
        chosen = space(doc)
        for colour in colours:
            doc.fill(chosen, colour)
        return doc.bytes()

    return make


# -- device colours ----------------------------------------------------------------------


def _device(doc: Doc) -> None:
    for colour in ("0.5 g", rgb(128, 135, 128) + " rg", rgb(128, 136, 128) + " rg"):
        doc.page(colour.encode() + BOX)
    for colour in (rgb(128, 137, 128), rgb(140, 135, 131), rgb(120, 124, 127), rgb(118, 124, 127)):
        doc.page(colour.encode() + b" rg" + BOX)


def _cmyk(doc: Doc) -> None:
    for colour in ("0 0 0 0.7", f"{7 / 255:.6f} 0 0 0.2", f"0 0 {9 / 255:.6f} 0", "0.3 0.3 0.3 1"):
        doc.page(colour.encode() + b" k" + BOX)
    doc.page(b"0 0.9 0.9 0 K 8 w 30 30 m 110 110 l S")


# -- colour spaces -----------------------------------------------------------------------


def _indexed(base: Callable[[Doc], object], table: bytes, hival: int) -> Callable[[Doc], object]:
    def make(doc: Doc) -> object:
        return pikepdf.Array([N.Indexed, base(doc), hival, pikepdf.String(table)])

    return make


def _orange_spot(doc: Doc) -> object:
    return separation(doc, "Orange", N.DeviceCMYK, exponential([0, 0, 0, 0], [0, 0.5, 1, 0]))


def _calculator_spot(doc: Doc) -> object:
    return separation(
        doc, "Teal", N.DeviceCMYK, doc.calculator(b"{ dup 0.8 mul exch 0 exch 0 }", 1, 4)
    )


def _grey_spot(doc: Doc) -> object:
    return separation(doc, "Warm Grey", N.DeviceCMYK, doc.calculator(b"{ 0 0 0 4 -1 roll }", 1, 4))


def _sampled_spot(doc: Doc) -> object:
    # 3 samples into RGB: white, mid grey, red (8 bits each)
    samples = bytes([255, 255, 255, 128, 128, 128, 230, 40, 40])
    function = doc.stream(
        samples, FunctionType=0, Domain=[0, 1], Range=[0, 1] * 3, Size=[3], BitsPerSample=8
    )
    return separation(doc, "Sampled", N.DeviceRGB, function)


def _stitched_spot(doc: Doc) -> object:
    function = pikepdf.Dictionary(
        FunctionType=3,
        Domain=[0, 1],
        Functions=[
            exponential([1, 1, 1], [0.5, 0.5, 0.5]),
            exponential([0.5, 0.5, 0.5], [0.1, 0.2, 0.9]),
        ],
        Bounds=[0.5],
        Encode=[0, 1, 0, 1],
    )
    return separation(doc, "Stitched", N.DeviceRGB, function)


def _lab_spot(doc: Doc) -> object:
    return separation(doc, "LabSpot", lab_space(), exponential([100, 0, 0], [55, 0, 0]))


def _process_separations(doc: Doc) -> None:
    for name, tint in (("Cyan", 0.5), ("Cyan", 0.02), ("Black", 1), ("All", 0.5), ("None", 1)):
        doc.fill(separation(doc, name, N.DeviceCMYK, exponential([0] * 4, [0, 0, 0, 1])), str(tint))


AVERAGE = b"{ 2 copy add 2 div }"
"""Two tints to RGB (a, b, mean): grey when they are equal."""


def _devicen(
    names: Sequence[str], program: bytes, alternate: object = N.DeviceCMYK
) -> Callable[[Doc], object]:
    def make(doc: Doc) -> object:
        outputs = 3 if alternate == N.DeviceRGB else 4
        function = doc.calculator(program, len(names), outputs)
        return pikepdf.Array([N.DeviceN, [N("/" + n) for n in names], alternate, function])

    return make


def _devicen_sampled(doc: Doc) -> object:
    # 2 x 2 samples of 2 inputs into RGB: grey at (0,0), colour elsewhere
    samples = bytes([200, 200, 200, 200, 60, 60, 60, 200, 60, 60, 60, 200])
    function = doc.stream(
        samples, FunctionType=0, Domain=[0, 1, 0, 1], Range=[0, 1] * 3, Size=[2, 2], BitsPerSample=8
    )
    return pikepdf.Array([N.DeviceN, [N("/Red"), N("/Blue")], N.DeviceRGB, function])


def _icc_lab(doc: Doc) -> object:
    return icc(doc, "lab.icc", 3)


def _cal_spaces(doc: Doc) -> None:
    white = pikepdf.Dictionary(WhitePoint=[0.9505, 1, 1.089], Gamma=[1.8, 1.8, 1.8])
    doc.fill(pikepdf.Array([N.CalRGB, white]), "0.4 0.4 0.4")
    doc.fill(pikepdf.Array([N.CalRGB, white]), "0.4 0.5 0.4")
    doc.fill(pikepdf.Array([N.CalGray, pikepdf.Dictionary(WhitePoint=[0.9505, 1, 1.089])]), "0.4")


# -- shadings and patterns ----------------------------------------------------------------


def _axial(space: object, function: object, kind: int = 2) -> pikepdf.Dictionary:
    coords = [18, 72, 126, 72] if kind == 2 else [72, 72, 0, 72, 72, 54]
    return pikepdf.Dictionary(
        ShadingType=kind, ColorSpace=space, Coords=coords, Function=function, Extend=[True, True]
    )


def _shadings(doc: Doc) -> None:
    pages: list[pikepdf.Object] = [
        _axial(N.DeviceGray, exponential([0.1], [0.9])),
        _axial(N.DeviceRGB, exponential([0.2, 0.2, 0.2], [0.8, 0.8, 0.8], 2.2)),
        _axial(N.DeviceRGB, exponential([1, 0.1, 0.1], [0.1, 0.1, 1]), kind=3),
        _axial(
            N.DeviceCMYK, doc.calculator(b"{ dup 0.5 gt { 0.6 } { 0 } ifelse 0 0 4 -1 roll }", 1, 4)
        ),
        _axial(N.DeviceRGB, doc.calculator(b"{ dup dup }", 1, 3)),
        _axial(lab_space(), exponential([30, 0, 0], [90, 0, 0])),
        _axial(lab_space(), exponential([60, 0, 0], [60, 30, -30])),
    ]
    sampled = doc.stream(
        bytes([250, 250, 250, 120, 120, 120, 128, 128, 160, 10, 10, 10]),
        FunctionType=0,
        Domain=[0, 1],
        Range=[0, 1] * 3,
        Size=[4],
        BitsPerSample=8,
    )
    pages.append(_axial(N.DeviceRGB, sampled))
    function_based = pikepdf.Dictionary(
        ShadingType=1,
        ColorSpace=N.DeviceRGB,
        Domain=[0, 1, 0, 1],
        Matrix=[108, 0, 0, 108, 18, 18],
        Function=doc.calculator(b"{ 2 copy mul 3 1 roll add 2 div dup }", 2, 3),
    )
    pages.append(function_based)
    grey_function_based = pikepdf.Dictionary(
        ShadingType=1,
        ColorSpace=N.DeviceRGB,
        Domain=[0, 1, 0, 1],
        Matrix=[108, 0, 0, 108, 18, 18],
        Function=doc.calculator(b"{ add 2 div dup dup }", 2, 3),
    )
    pages.append(grey_function_based)
    for shading in pages:
        doc.page(b"q 18 18 108 108 re W n /Sh sh Q", Shading=pikepdf.Dictionary(Sh=shading))


SHADINGS = (G, G, Y, Y, G, G, Y, Y, Y, G)


def _mesh_bits(values: Sequence[tuple[int, int]]) -> bytes:
    """Pack (value, bits) pairs most significant bit first, as mesh data is."""
    number, total = 0, 0
    for value, bits in values:
        number = (number << bits) | value
        total += bits
    pad = -total % 8
    return (number << pad).to_bytes((total + pad) // 8, "big")


def _mesh(
    doc: Doc,
    kind: int,
    colours: Sequence[Sequence[int]],
    space: object = N.DeviceRGB,
    function: object = None,
) -> pikepdf.Stream:
    components = 1 if function is not None else len(colours[0])
    decode = [0, 144, 0, 144] + [0, 1] * components
    entries: dict[str, object] = {
        "ShadingType": kind,
        "ColorSpace": space,
        "BitsPerCoordinate": 16,
        "BitsPerComponent": 8,
        "Decode": decode,
    }
    if function is not None:
        entries["Function"] = function
    if kind == 4:
        points = [(10, 10), (134, 10), (72, 134)]
        data = b"".join(
            _mesh_bits([(0, 8), (x * 455, 16), (y * 455, 16), *((c, 8) for c in colour)])
            for (x, y), colour in zip(points, colours, strict=True)
        )
    elif kind == 5:
        entries["VerticesPerRow"] = 2
        points = [(10, 10), (134, 10), (10, 134), (134, 134)]
        data = _mesh_bits(
            [
                v
                for (x, y), colour in zip(points, colours, strict=True)
                for v in [(x * 455, 16), (y * 455, 16), *((c, 8) for c in colour)]
            ]
        )
        entries.pop("BitsPerFlag", None)
    else:
        count = 12 if kind == 6 else 16
        corners = [
            (10, 10),
            (10, 50),
            (10, 90),
            (10, 134),
            (50, 134),
            (90, 134),
            (134, 134),
            (134, 90),
            (134, 50),
            (134, 10),
            (90, 10),
            (50, 10),
        ]
        inner = [(50, 50), (50, 90), (90, 90), (90, 50)]
        points = (corners + inner)[:count]
        data = _mesh_bits(
            [(0, 8)]
            + [v for x, y in points for v in ((x * 455, 16), (y * 455, 16))]
            + [(c, 8) for colour in colours for c in colour]
        )
    if kind != 5:
        entries["BitsPerFlag"] = 8
    return doc.stream(data, **entries)


def _meshes(doc: Doc) -> None:
    grey3 = [[90, 90, 90], [200, 200, 200], [140, 140, 140]]
    grey4 = [*grey3, [30, 30, 30]]
    colour4 = [[90, 90, 90], [200, 200, 200], [140, 140, 140], [30, 30, 200]]
    shadings = [
        _mesh(doc, 4, grey3),
        _mesh(doc, 4, [[90, 90, 90], [200, 40, 40], [140, 140, 140]]),
        _mesh(doc, 5, grey4),
        _mesh(doc, 5, colour4),
        _mesh(doc, 6, colour4),
        _mesh(doc, 7, grey4),
        _mesh(doc, 4, [[0], [128], [255]], function=exponential([0.3, 0.3, 0.3], [0.9, 0.2, 0.2])),
    ]
    for shading in shadings:
        doc.page(b"/Sh sh", Shading=pikepdf.Dictionary(Sh=shading))


MESHES = (G, Y, G, Y, Y, G, Y)


def _patterns(doc: Doc) -> None:
    def tiling(content: bytes, paint: int) -> pikepdf.Stream:
        return doc.stream(
            content,
            PatternType=1,
            PaintType=paint,
            TilingType=1,
            BBox=[0, 0, 12, 12],
            XStep=12,
            YStep=12,
            Resources=pikepdf.Dictionary(),
        )

    grey_tile = tiling(b"0.3 g 0 0 6 6 re f 0.7 0.7 0.7 rg 6 6 6 6 re f", 1)
    colour_tile = tiling(b"0.3 g 0 0 6 6 re f 0.2 0.5 0.9 rg 6 6 6 6 re f", 1)
    stencil = tiling(b"0 0 6 6 re f", 2)
    shading_pattern = pikepdf.Dictionary(
        PatternType=2, Shading=_axial(N.DeviceRGB, exponential([0.9, 0.9, 0.9], [0.9, 0.6, 0.1]))
    )
    grey_shading_pattern = pikepdf.Dictionary(
        PatternType=2, Shading=_axial(N.DeviceGray, exponential([0.9], [0.1]))
    )
    under = pikepdf.Array([N.Pattern, N.DeviceRGB])
    under_lab = pikepdf.Array([N.Pattern, lab_space()])
    patterns = pikepdf.Dictionary(
        Gt=grey_tile, Ct=colour_tile, U=stencil, S=shading_pattern, Gs=grey_shading_pattern
    )
    spaces = pikepdf.Dictionary(PU=under, PL=under_lab)
    for content in (
        b"/Pattern cs /Gt scn",
        b"/Pattern cs /Ct scn",
        b"/PU cs 0.4 0.4 0.4 /U scn",
        b"/PU cs 0.9 0.2 0.2 /U scn",
        b"/PL cs 50 0 0 /U scn",
        b"/PL cs 50 40 -30 /U scn",
        b"/Pattern cs /S scn",
        b"/Pattern cs /Gs scn",
    ):
        doc.page(content + BOX, Pattern=patterns, ColorSpace=spaces)
    stroke = b"0.5 g" + BOX + b" /Pattern CS /Ct SCN 4 w 30 30 m 100 100 l S"
    doc.page(stroke, Pattern=patterns, ColorSpace=spaces)


PATTERNS = (G, Y, G, Y, G, Y, Y, G, Y)


# -- images --------------------------------------------------------------------------------


def _gradient(colour: bool, size: int = 32) -> Image.Image:
    picture = Image.new("RGB", (size, size))
    for y in range(size):
        for x in range(size):
            v = 40 + 6 * x
            picture.putpixel((x, y), (v, 255 - v, 120 + 3 * y) if colour else (v, v, v))
    return picture


def _images(doc: Doc) -> None:
    doc.image(_gradient(False).tobytes(), (32, 32), N.DeviceRGB)
    doc.image(_gradient(True).tobytes(), (32, 32), N.DeviceRGB)
    sixteen = b"".join(
        struct.pack(">HHH", v * 257, v * 257, (v + 3) * 257) for v in range(0, 200, 2)
    )
    doc.image(sixteen, (10, 10), N.DeviceRGB, BitsPerComponent=16)
    four = bytes([0x88, 0x88, 0x88, 0x88, 0x80, 0x08] * 16)  # 4-bit RGB, 4 pixels a row
    doc.image(four, (4, 16), N.DeviceRGB, BitsPerComponent=4)
    cmyk = bytes([0, 0, 0, 200] * 63 + [200, 0, 0, 0])
    doc.image(cmyk, (8, 8), N.DeviceCMYK, Decode=[1, 0, 1, 0, 1, 0, 1, 0])
    doc.image(cmyk, (8, 8), N.DeviceCMYK)


IMAGES = (G, Y, G, Y, Y, Y)


def _space_images(doc: Doc) -> None:
    lab_pixels = bytes(v for i in range(64) for v in (40 + i, 128, 128))
    lab = lab_space((-128, 127, -128, 127))
    doc.image(lab_pixels, (8, 8), lab, Decode=[0, 100, -128, 127, -128, 127])
    warm = bytes(v for i in range(64) for v in (40 + i, 128 + (20 if i == 63 else 0), 150))
    doc.image(warm, (8, 8), lab, Decode=[0, 100, -128, 127, -128, 127])
    gradient = bytes(v for i in range(1024) for v in (i % 256, 100 + i % 50, 128))
    doc.image(gradient, (32, 32), lab, Decode=[0, 100, -128, 127, -128, 127])
    doc.image(bytes(range(256)) * 4, (32, 32), _grey_spot(doc))
    doc.image(bytes(range(256)) * 4, (32, 32), _calculator_spot(doc))
    doc.image(bytes([0] * 255 + [30]), (16, 16), _calculator_spot(doc))
    palette = bytes([0, 0, 0, 255, 255, 255, 200, 30, 30, 128, 128, 128])
    indexed = pikepdf.Array([N.Indexed, N.DeviceRGB, 3, pikepdf.String(palette)])
    doc.image(bytes([0, 1, 3, 1] * 16), (8, 8), indexed)
    doc.image(bytes([0x1B] * 16), (8, 8), indexed, BitsPerComponent=2)
    lab_palette = bytes([255, 128, 128, 128, 128, 128, 150, 200, 90])
    doc.image(
        bytes([0, 1] * 32), (8, 8), pikepdf.Array([N.Indexed, lab, 2, pikepdf.String(lab_palette)])
    )
    doc.image(
        bytes([0, 1, 2, 2] * 16),
        (8, 8),
        pikepdf.Array([N.Indexed, lab, 2, pikepdf.String(lab_palette)]),
    )
    devicen = _devicen(["Red", "Blue"], AVERAGE, N.DeviceRGB)(doc)
    doc.image(bytes([100, 100] * 64), (8, 8), devicen, BitsPerComponent=8)
    doc.image(bytes([100, 100] * 63 + [220, 20]), (8, 8), devicen)


SPACE_IMAGES = (G, Y, Y, G, Y, Y, G, Y, G, Y, G, Y)


def _encoded_images(doc: Doc) -> None:
    for colour in (False, True):
        out = io.BytesIO()
        _gradient(colour, 48).save(out, "JPEG2000")
        doc.image(out.getvalue(), (48, 48), N.DeviceRGB, Filter=N.JPXDecode)
    out = io.BytesIO()
    _gradient(True, 48).save(out, "JPEG2000")
    doc.image(out.getvalue(), (48, 48), None, Filter=N.JPXDecode)
    cmyk = Image.new("CMYK", (32, 32), (0, 0, 0, 120))
    cmyk.paste((0, 160, 160, 0), (8, 8, 24, 24))
    out = io.BytesIO()
    cmyk.save(out, "JPEG", quality=95)
    doc.image(out.getvalue(), (32, 32), N.DeviceCMYK, Filter=N.DCTDecode, Decode=[1, 0] * 4)
    bilevel = Image.new("1", (64, 32), 1)
    bilevel.paste(0, (10, 5, 50, 25))
    out = io.BytesIO()
    bilevel.save(out, "TIFF", compression="group4", tiffinfo={278: 32})
    parsed = TiffImagePlugin.TiffImageFile(io.BytesIO(out.getvalue()))
    start, length = parsed.tag_v2[273][0], parsed.tag_v2[279][0]
    fax = out.getvalue()[start : start + length]
    parms = pikepdf.Dictionary(K=-1, Columns=64, Rows=32, BlackIs1=False)
    doc.image(
        fax, (64, 32), N.DeviceGray, Filter=N.CCITTFaxDecode, DecodeParms=parms, BitsPerComponent=1
    )
    palette = pikepdf.Array(
        [N.Indexed, N.DeviceRGB, 1, pikepdf.String(bytes([200, 0, 0, 255, 255, 255]))]
    )
    doc.image(
        fax, (64, 32), palette, Filter=N.CCITTFaxDecode, DecodeParms=parms, BitsPerComponent=1
    )
    mask = doc.stream(
        fax,
        Type=N.XObject,
        Subtype=N.Image,
        Width=64,
        Height=32,
        ImageMask=True,
        BitsPerComponent=1,
        Filter=N.CCITTFaxDecode,
        DecodeParms=parms,
    )
    doc.page(b"q 0.1 0.6 0.2 rg 108 0 0 54 18 18 cm /M Do Q", XObject=pikepdf.Dictionary(M=mask))


ENCODED_IMAGES = (G, Y, Y, Y, G, Y, Y)


def _masked_images(doc: Doc) -> None:
    red = bytes([220, 30, 30] * 64)

    def soft(level: int) -> pikepdf.Stream:
        return doc.stream(
            zlib.compress(bytes([level] * 16)),
            Type=N.XObject,
            Subtype=N.Image,
            Width=4,
            Height=4,
            ColorSpace=N.DeviceGray,
            BitsPerComponent=8,
            Filter=N.FlateDecode,
        )

    doc.image(red, (8, 8), N.DeviceRGB, SMask=soft(0))
    doc.image(red, (8, 8), N.DeviceRGB, SMask=soft(128))
    doc.image(red, (8, 8), N.DeviceRGB, SMask=soft(8))
    stencil = doc.stream(
        bytes([0xFF] * 8),
        Type=N.XObject,
        Subtype=N.Image,
        Width=8,
        Height=8,
        ImageMask=True,
        BitsPerComponent=1,
    )
    doc.image(red, (8, 8), N.DeviceRGB, Mask=stencil)
    doc.image(red, (8, 8), N.DeviceRGB, Mask=[200, 230, 20, 40, 20, 40])
    mixed = bytes([220, 30, 30] * 32 + [128, 128, 128] * 32)
    doc.image(mixed, (8, 8), N.DeviceRGB, Mask=[200, 230, 20, 40, 20, 40])
    doc.image(mixed, (8, 8), N.DeviceRGB, Mask=[100, 130, 100, 130, 100, 130])


MASKED = (G, Y, G, G, G, G, Y)


def _inline(doc: Doc) -> None:
    for head, data in (
        (b"/W 2 /H 2 /CS /RGB /BPC 8", bytes([120, 120, 120] * 4)),
        (b"/W 2 /H 2 /CS /RGB /BPC 8", bytes([120, 120, 120] * 3 + [10, 200, 10])),
        (b"/W 2 /H 2 /CS /L /BPC 8", bytes([50, 128, 128] * 4)),
        (b"/W 2 /H 2 /CS /L /BPC 8", bytes([50, 128, 128] * 3 + [50, 170, 170])),
        (b"/W 4 /H 1 /CS [/I /RGB 1 <808080ff0000>] /BPC 8", bytes([0, 0, 0, 0])),
        (b"/W 4 /H 1 /CS [/I /RGB 1 <808080ff0000>] /BPC 8", bytes([0, 0, 1, 0])),
        (b"/W 2 /H 2 /CS /CMYK /BPC 8 /F /AHx", b"000000ff000000ff000000ff300000ff>"),
        (b"/W 8 /H 1 /IM true /BPC 1", bytes([0x55])),
    ):
        content = b"q 108 0 0 108 18 18 cm BI " + head + b" ID " + data + b" EI Q"
        if b"/IM" in head:
            content = b"0.9 0.1 0.1 rg " + content
        doc.page(content, ColorSpace=pikepdf.Dictionary(L=lab_space()))


INLINE = (G, Y, G, Y, G, Y, Y, Y)


# -- transparency, forms, annotations, text ---------------------------------------------


def _transparency(doc: Doc) -> None:
    def state(**entries: object) -> dict[str, object]:
        params = pikepdf.Dictionary({f"/{k}": v for k, v in entries.items()})
        return {"ExtGState": pikepdf.Dictionary(A=params)}

    red = rgb(220, 30, 30).encode() + b" rg"
    doc.page(b"/A gs " + red + BOX, **state(ca=0.02))
    doc.page(b"/A gs " + red + BOX, **state(ca=0.5))
    doc.page(
        b"/A gs " + red.upper().replace(b" RG", b" RG") + b" 6 w 30 30 m 110 110 l S",
        **state(CA=0.02),
    )
    for level in (0, 1):
        group = doc.form(
            f"{level} g 0 0 144 144 re f".encode(),
            Group=pikepdf.Dictionary(S=N.Transparency, CS=N.DeviceGray),
        )
        mask = pikepdf.Dictionary(Type=N.Mask, S=N.Luminosity, G=group)
        doc.page(b"/A gs " + red + BOX, **state(SMask=mask))
    inner = doc.form(red + BOX, Group=pikepdf.Dictionary(S=N.Transparency))
    for alpha in (0.02, 0.8):
        doc.page(b"/A gs /F Do", XObject=pikepdf.Dictionary(F=inner), **state(ca=alpha))
    doc.page(b"0.5 g 0 0 144 144 re f /A gs " + red + BOX, **state(BM=N.Luminosity))
    doc.page(b"/A gs " + red + BOX, **state(BM=N.Multiply))


TRANSPARENCY = (G, Y, G, G, Y, G, Y, Y, Y)
"""Page 8: a Luminosity blend over a grey that is black ink alone blends (in CMYK) the
colour's C, M and Y into a C = M = Y grey, which uses colour toner."""


def _forms_and_text(doc: Doc) -> None:
    leaf_grey = doc.form(b"0.4 g 20 20 40 40 re f")
    leaf_colour = doc.form(rgb(30, 160, 60).encode() + b" rg 20 20 40 40 re f")
    middle = doc.form(
        b"/L Do", Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(L=leaf_grey))
    )
    outer = doc.form(b"/M Do", Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(M=middle)))
    uncoloured = doc.form(b"20 20 40 40 re f")
    xobjects = pikepdf.Dictionary(O=outer, C=leaf_colour, U=uncoloured)
    font = pikepdf.Dictionary(Type=N.Font, Subtype=N.Type1, BaseFont=N.Helvetica)
    fonts = pikepdf.Dictionary(F=font)
    for content in (
        b"/O Do",
        b"/C Do",
        b"0 0 1 rg /U Do",
        b"BT /F 40 Tf 1 0 0 rg 3 Tr 20 60 Td (Hidden) Tj ET",
        b"BT /F 40 Tf 1 0 0 RG 0 g 20 60 Td (Fill) Tj ET",
        b"BT /F 40 Tf 1 0 0 RG 0 g 1 Tr 20 60 Td (Line) Tj ET",
        b"BT /F 12 Tf 0 0 0.8 rg 20 60 Td (Blue text) Tj ET",
    ):
        doc.page(content, XObject=xobjects, Font=fonts)


FORMS = (G, Y, Y, G, G, Y, Y)


def _annotations(doc: Doc) -> None:
    def annotated(flags: int, stroke: str, *, states: bool = False, opacity: float = 1.0) -> None:
        page = doc.page(b"0.5 g 30 30 20 20 re f")
        appearance = doc.form(stroke.encode() + b" RG 6 w 10 10 100 100 re S")
        normal: object = appearance
        annotation = pikepdf.Dictionary(
            Type=N.Annot,
            Subtype=N.Square,
            Rect=[10, 10, 134, 134],
            F=flags,
            CA=opacity,
        )
        if states:
            off = doc.form(b"0.2 G 6 w 10 10 100 100 re S")
            normal = pikepdf.Dictionary(On=appearance, Off=off)
            annotation.AS = N.Off
        annotation.AP = pikepdf.Dictionary(N=normal)
        page.Annots = pikepdf.Array([doc.pdf.make_indirect(annotation)])

    annotated(4, "0.9 0.1 0.1")
    annotated(0, "0.9 0.1 0.1")
    annotated(4 | 2, "0.9 0.1 0.1")
    annotated(4, "0.3 0.3 0.3")
    annotated(4, "0.9 0.1 0.1", states=True)
    annotated(4, "0.9 0.1 0.1", opacity=0.02)


ANNOTATIONS = (Y, G, G, G, G, Y)
"""Page 6: Ghostscript draws annotations opaque, whatever their ``/CA``."""


def _type3(doc: Doc) -> None:
    def font(glyph: bytes) -> pikepdf.Dictionary:
        return pikepdf.Dictionary(
            Type=N.Font,
            Subtype=N.Type3,
            FontBBox=[0, 0, 10, 10],
            FontMatrix=[0.1, 0, 0, 0.1, 0, 0],
            CharProcs=pikepdf.Dictionary(a=doc.stream(glyph)),
            Encoding=pikepdf.Dictionary(Differences=[97, N.a]),
            FirstChar=97,
            LastChar=97,
            Widths=[10],
        )

    fonts = pikepdf.Dictionary(
        U=font(b"10 0 0 0 10 10 d1 0 0 10 10 re f"),
        C=font(b"10 0 d0 0.9 0.1 0.1 rg 0 0 10 10 re f"),
        K=font(b"10 0 d0 0.2 g 0 0 10 10 re f"),
    )
    for content in (
        b"/U 60 Tf (a) Tj",
        b"/U 60 Tf 0 0 1 rg (a) Tj",
        b"/C 60 Tf (a) Tj",
        b"/K 60 Tf (a) Tj",
    ):
        doc.page(b"BT 30 40 Td " + content + b" ET", Font=fonts)


def _optional_content(doc: Doc) -> None:
    hidden = doc.pdf.make_indirect(pikepdf.Dictionary(Type=N.OCG, Name=pikepdf.String("Hidden")))
    shown = doc.pdf.make_indirect(pikepdf.Dictionary(Type=N.OCG, Name=pikepdf.String("Shown")))
    doc.pdf.Root.OCProperties = pikepdf.Dictionary(
        OCGs=[hidden, shown], D=pikepdf.Dictionary(OFF=[hidden], ON=[shown], Order=[hidden, shown])
    )
    properties = pikepdf.Dictionary(H=hidden, S=shown)
    doc.page(
        b"0.5 g 30 30 20 20 re f /OC /H BDC 0.9 0.1 0.1 rg" + BOX + b" EMC", Properties=properties
    )
    doc.page(b"/OC /S BDC 0.9 0.1 0.1 rg" + BOX + b" EMC", Properties=properties)


def _unannotated(doc: Doc) -> None:
    for colour, flags in (([0.9, 0.1, 0.1], 4), ([0.3, 0.3, 0.3], 4)):
        page = doc.page(b"0.5 g 30 30 20 20 re f")
        annotation = pikepdf.Dictionary(
            Type=N.Annot,
            Subtype=N.Square,
            Rect=[20, 20, 124, 124],
            F=flags,
            C=colour,
            BS=pikepdf.Dictionary(W=4),
        )
        page.Annots = pikepdf.Array([doc.pdf.make_indirect(annotation)])


def _icc_lab_images(doc: Doc) -> None:
    space = _icc_lab(doc)
    doc.image(bytes(v for i in range(64) for v in (30 + i, 128, 128)), (8, 8), space)
    doc.image(bytes(v for i in range(64) for v in (30 + i, 160, 100)), (8, 8), space)


def _page_group(doc: Doc) -> None:
    states = pikepdf.Dictionary(A=pikepdf.Dictionary(ca=0.5))
    for colour in (b"0.3 0.3 0.3 1 k", b"0 0 0 0.8 k", b"0.6 0.2 0.2 rg"):
        page = doc.page(b"/A gs " + colour + BOX, ExtGState=states)
        page.Group = pikepdf.Dictionary(S=N.Transparency, CS=N.DeviceRGB)


PAGE_GROUP = (G, G, Y)
"""Page 1: CMYK rich black blended in the page's RGB group comes out as RGB grey."""


# -- PostScript ---------------------------------------------------------------------------

_PS_HEAD = b"%!PS-Adobe-3.0\n<< /PageSize [144 144] >> setpagedevice\n"


def _ps(*pages: bytes) -> Callable[[], bytes]:
    def make() -> bytes:
        body = b"".join(page + b"\nshowpage\n" for page in pages)
        return _PS_HEAD + body + b"%%EOF\n"

    return make


PS_RECT = b" 18 18 108 108 rectfill"
PS_F = b"/F {dup 6 29 div ge {dup dup mul mul} {4 29 div sub 108 841 div mul} ifelse} bind def "
"""The inverse of CIE's f, for a Lab CIEBasedABC space."""
PS_LAB = PS_F + (
    b"[/CIEBasedABC << /RangeABC [0 100 -128 127 -128 127] "
    b"/DecodeABC [{16 add 116 div} bind {500 div} bind {200 div} bind] "
    b"/MatrixABC [1 1 1 1 0 0 0 0 -1] "
    b"/DecodeLMN [{F 0.9505 mul} bind {F} bind {F 1.089 mul} bind] "
    b"/WhitePoint [0.9505 1 1.089] >>] setcolorspace"
)


PS_GOLD = b"[/DeviceN [/Gold /Silver] /DeviceRGB {2 copy add 2 div}] setcolorspace"
PS_PLACE = b"18 18 translate 108 108 scale "


def _ps_axial(end: bytes) -> bytes:
    function = b"<< /FunctionType 2 /Domain [0 1] /C0 [0.2 0.2 0.2] /C1 " + end + b" /N 1 >>"
    return (
        b"<< /ShadingType 2 /ColorSpace /DeviceRGB /Coords [18 0 126 0] /Function "
        + function
        + b" >> shfill"
    )


def _ps_tiling(colour: bytes) -> bytes:
    return (
        b"<< /PatternType 1 /PaintType 1 /TilingType 1 /BBox [0 0 12 12] /XStep 12 /YStep 12"
        b" /PaintProc { pop " + colour + b" 0 0 6 6 rectfill } >> matrix makepattern"
        b" setpattern" + PS_RECT
    )


CASES: tuple[Case, ...] = (
    Case("device-rgb-tolerance.pdf", single(_device), (G, G, G, Y, Y, G, Y)),
    Case("device-cmyk.pdf", single(_cmyk), (G, G, Y, Y, Y)),
    Case(
        "lab-warm.pdf",
        fills(lambda d: lab_space(), "60 0.6 0.9", "60 3 4", "60 25 25", "40 4 6"),
        (G, Y, Y, Y),
    ),
    Case(
        "lab-cool.pdf",
        fills(lambda d: lab_space(), "75 -0.5 -0.8", "75 -3 -4", "60 -20 -20", "85 -4 -5"),
        (G, Y, Y, Y),
    ),
    Case(
        "lab-neutral.pdf",
        fills(lambda d: lab_space(), "5 0 0", "50 0 0", "95 0 0", "100 0 0"),
        (G, G, G, G),
    ),
    Case(
        "lab-range.pdf",
        fills(lambda d: lab_space((-10, 10, -10, 10)), "60 50 50", "60 0.2 0.3", "60 -200 -200"),
        (Y, G, Y),
    ),
    Case(
        "lab-red-a3.pdf",
        fills(lambda d: lab_space(), "53 80 67", "53 80 67", "53 80 67"),
        (Y, Y, Y),
    ),
    Case(
        "icc-lab.pdf",
        fills(_icc_lab, "53 80 67", "50 0 0", "90 0 0", "60 0.6 0.9", "60 3 4", "70 -20 -20"),
        (Y, G, G, G, Y, Y),
    ),
    Case(
        "icc-rgb.pdf",
        fills(
            lambda d: icc(d, "srgb.icc", 3), rgb(128, 135, 128), rgb(128, 137, 128), "0.9 0.1 0.1"
        ),
        (G, Y, Y),
    ),
    Case("icc-gray.pdf", fills(lambda d: icc(d, "sgray.icc", 1), "0.2", "0.8"), (G, G)),
    Case(
        "icc-cmyk.pdf",
        fills(lambda d: icc(d, "ps_cmyk.icc", 4), "0 0 0 0.8", "0.5 0 0 0", f"{7 / 255:.5f} 0 0 0"),
        (G, Y, G),
    ),
    Case("cal-spaces.pdf", single(_cal_spaces), (G, Y, G)),
    Case(
        "indexed-rgb.pdf",
        fills(
            _indexed(lambda d: N.DeviceRGB, bytes([128, 128, 128, 200, 40, 40]), 1), "0", "1", "7"
        ),
        (G, Y, Y),
    ),
    Case(
        "indexed-cmyk.pdf",
        fills(_indexed(lambda d: N.DeviceCMYK, bytes([0, 0, 0, 200, 90, 0, 0, 0]), 1), "0", "1"),
        (G, Y),
    ),
    Case(
        "indexed-lab.pdf",
        fills(_indexed(lambda d: lab_space(), bytes([128, 128, 128, 150, 200, 90]), 1), "0", "1"),
        (G, Y),
    ),
    Case(
        "indexed-icc.pdf",
        fills(
            _indexed(lambda d: icc(d, "srgb.icc", 3), bytes([90, 90, 90, 90, 140, 90]), 1), "0", "1"
        ),
        (G, Y),
    ),
    Case(
        "indexed-spot.pdf", fills(_indexed(_calculator_spot, bytes([0, 200]), 1), "0", "1"), (G, Y)
    ),
    Case("separation-exponential.pdf", fills(_orange_spot, "0.9", "0.01", "0"), (Y, G, G)),
    Case("separation-calculator.pdf", fills(_calculator_spot, "0.9", "0.02", "0.05"), (Y, G, Y)),
    Case("separation-grey.pdf", fills(_grey_spot, "0.9", "0.3"), (G, G)),
    Case("separation-sampled.pdf", fills(_sampled_spot, "0", "0.5", "1", "0.25"), (G, G, Y, G)),
    Case("separation-stitched.pdf", fills(_stitched_spot, "0.25", "0.5", "0.9"), (G, G, Y)),
    Case("separation-lab.pdf", fills(_lab_spot, "1", "0.5"), (G, G)),
    Case("separation-process.pdf", single(_process_separations), (Y, G, G, Y, G)),
    Case(
        "devicen-process.pdf",
        fills(_devicen(["Cyan", "Black"], b"{ 0 0 0 4 -1 roll add }"), "0.5 0.5", "0.02 1", "0 1"),
        (Y, G, G),
    ),
    Case(
        "devicen-spots.pdf",
        fills(_devicen(["Gold", "Silver"], AVERAGE, N.DeviceRGB), "0.6 0.6", "0.9 0.1", "0.1 0.6"),
        (G, Y, Y),
    ),
    Case("devicen-sampled.pdf", fills(_devicen_sampled, "0 0", "1 0", "0 1"), (G, Y, Y)),
    Case("shadings.pdf", single(_shadings), SHADINGS),
    Case("meshes.pdf", single(_meshes), MESHES),
    Case("patterns.pdf", single(_patterns), PATTERNS),
    Case("images.pdf", single(_images), IMAGES),
    Case("images-spaces.pdf", single(_space_images), SPACE_IMAGES),
    Case("images-encoded.pdf", single(_encoded_images), ENCODED_IMAGES),
    Case("images-masked.pdf", single(_masked_images), MASKED),
    Case("inline-images.pdf", single(_inline), INLINE),
    Case("transparency.pdf", single(_transparency), TRANSPARENCY),
    Case("forms-text.pdf", single(_forms_and_text), FORMS),
    Case("annotations.pdf", single(_annotations), ANNOTATIONS),
    Case("type3.pdf", single(_type3), (G, Y, Y, G)),
    Case("optional-content.pdf", single(_optional_content), (G, Y)),
    Case("annotations-no-appearance.pdf", single(_unannotated), (Y, G)),
    Case("icc-lab-images.pdf", single(_icc_lab_images), (G, Y)),
    Case("page-group.pdf", single(_page_group), PAGE_GROUP),
    Case(
        "gray.ps",
        _ps(b"0.2 setgray" + PS_RECT, b"0.8 setgray 0 0 moveto 144 144 lineto stroke"),
        (G, G),
    ),
    Case(
        "rgb.ps",
        _ps(
            b"0.5 setgray" + PS_RECT,
            b"0.5 0.52 0.5 setrgbcolor" + PS_RECT,
            b"0.5 0.54 0.5 setrgbcolor" + PS_RECT,
        ),
        (G, G, Y),
    ),
    Case(
        "cmyk.ps",
        _ps(
            b"0 0 0 0.6 setcmykcolor" + PS_RECT,
            b"0.3 0.3 0.3 1 setcmykcolor" + PS_RECT,
            b"0.02 0 0 0 setcmykcolor" + PS_RECT,
        ),
        (G, Y, G),
    ),
    Case(
        "hsb.ps",
        _ps(b"0.3 0 0.5 sethsbcolor" + PS_RECT, b"0.3 0.6 0.5 sethsbcolor" + PS_RECT),
        (G, Y),
    ),
    Case(
        "lab.ps",
        _ps(
            PS_LAB + b" 50 0 0 setcolor" + PS_RECT,
            PS_LAB + b" 60 25 25 setcolor" + PS_RECT,
            PS_LAB + b" 75 -3 -4 setcolor" + PS_RECT,
        ),
        (G, Y, Y),
    ),
    Case(
        "separation.ps",
        _ps(
            b"[/Separation /Spot /DeviceCMYK {dup 0.8 mul exch 0 exch 0}] setcolorspace"
            b" 0.9 setcolor" + PS_RECT,
            b"[/Separation /Grey /DeviceCMYK {0 0 0 4 -1 roll}] setcolorspace 0.9 setcolor"
            + PS_RECT,
            b"[/Separation /Cyan /DeviceCMYK {0 0 0 4 -1 roll}] setcolorspace 0.5 setcolor"
            + PS_RECT,
        ),
        (Y, G, Y),
    ),
    Case(
        "devicen.ps",
        _ps(
            PS_GOLD + b" 0.6 0.6 setcolor" + PS_RECT,
            PS_GOLD + b" 0.9 0.1 setcolor" + PS_RECT,
        ),
        (G, Y),
    ),
    Case(
        "indexed.ps",
        _ps(
            b"[/Indexed /DeviceRGB 1 <808080c82828>] setcolorspace 0 setcolor" + PS_RECT,
            b"[/Indexed /DeviceRGB 1 <808080c82828>] setcolorspace 1 setcolor" + PS_RECT,
        ),
        (G, Y),
    ),
    Case(
        "images.ps",
        _ps(
            PS_PLACE + b"2 2 8 [2 0 0 2 0 0] <8080808080808080808080ff> false 3 colorimage",
            PS_PLACE + b"2 2 8 [2 0 0 2 0 0] <808080808080808080808080> false 3 colorimage",
            PS_PLACE + b"2 2 8 [2 0 0 2 0 0] <00000080000000ff00000040ff000000> false 4 colorimage",
            b"0.8 0.1 0.1 setrgbcolor " + PS_PLACE + b"8 1 true [8 0 0 1 0 0] <55> imagemask",
        ),
        (Y, G, Y, Y),
    ),
    Case(
        "shfill.ps",
        _ps(
            _ps_axial(b"[0.9 0.9 0.9]"),
            _ps_axial(b"[0.9 0.5 0.1]"),
        ),
        (G, Y),
    ),
    Case(
        "pattern.ps",
        _ps(
            _ps_tiling(b"0.3 setgray"),
            _ps_tiling(b"0.1 0.4 0.9 setrgbcolor"),
        ),
        (G, Y),
    ),
)


def generate(out: Path = DEFAULT_OUT) -> dict[str, Case]:
    """Write every corpus file into ``out``; return the cases by file name."""
    out.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        (out / case.name).write_bytes(case.build())
    return {case.name: case for case in CASES}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0]) if args else DEFAULT_OUT
    generate(out)
    print(f"{len(CASES)} files written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
