"""Generate the job-analysis test corpus (nothing is downloaded).

    .venv/bin/python -m printwarden.testing.corpus.generate [OUT]  # default: out/ here

PDFs are built with pikepdf, rasters and images rendered by Ghostscript, the object-stream
PDF written by qpdf, URF encoded here (Debian's Ghostscript ``urf`` device only writes
1-bit pages; its output is in the corpus too). ``manifest.json`` lists what each file
must analyse to; :data:`EXPECTED` is the same in Python. Takes a few seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path

import pikepdf
from PIL import Image

from printwarden.testing.corpus import rasters

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
A4 = (595, 842)
LETTER = (612, 792)
TEXT_LINES = 45
BIG_PAGES = 200


@dataclass(frozen=True)
class Expected:
    """What analysing one corpus file must report."""

    format: str
    pages: int | None
    colour_pages: tuple[int, ...] | None = None
    paper_size: str | None = None
    duplex: bool | None = None
    inkcov: bool = False
    """Whether the PDF reference check (tuned ``inkcov``) applies to this file."""


# -- PDF building ------------------------------------------------------------------------


class Builder:
    """Pages of one PDF under construction, with shared fonts and images."""

    def __init__(self) -> None:
        self.pdf = pikepdf.new()
        self.font = self.pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        self.xobjects: dict[str, pikepdf.Object] = {}
        self.shadings: dict[str, pikepdf.Object] = {}
        self.spaces = pikepdf.Dictionary(
            Spot=self._spot(b"PANTONE#20Orange", b"{ 0 exch dup 0.8 mul exch 0 }"),
            GreySpot=self._spot(b"Warm#20Grey", b"{ 0 0 0 4 -1 roll }"),
            Lab=pikepdf.Array(
                [
                    pikepdf.Name.Lab,
                    pikepdf.Dictionary(
                        WhitePoint=[0.9505, 1.0, 1.089], Range=[-128, 127, -128, 127]
                    ),
                ]
            ),
        )

    def _spot(self, name: bytes, calculator: bytes) -> pikepdf.Array:
        """A Separation space whose tint transform is a PostScript calculator function."""
        function = self.pdf.make_stream(
            calculator, FunctionType=4, Domain=[0, 1], Range=[0, 1, 0, 1, 0, 1, 0, 1]
        )
        colorant = pikepdf.Name("/" + name.decode())
        return pikepdf.Array([pikepdf.Name.Separation, colorant, pikepdf.Name.DeviceCMYK, function])

    def page(self, content: bytes, size: tuple[int, int] = A4) -> pikepdf.Dictionary:
        page = self.pdf.add_blank_page(page_size=size)
        page.obj.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=self.font),
            XObject=pikepdf.Dictionary({f"/{k}": v for k, v in self.xobjects.items()}),
            Shading=pikepdf.Dictionary({f"/{k}": v for k, v in self.shadings.items()}),
        )
        page.obj.Resources.ColorSpace = self.spaces
        page.obj.Contents = self.pdf.make_stream(content)
        return page.obj

    def add_image(self, name: str, image: Image.Image, *, jpeg: bool = False) -> None:
        if jpeg:
            out = BytesIO()
            image.save(out, "JPEG", quality=85)
            data, filt = out.getvalue(), pikepdf.Name.DCTDecode
        else:
            data, filt = zlib.compress(image.tobytes()), pikepdf.Name.FlateDecode
        space = pikepdf.Name.DeviceRGB if image.mode == "RGB" else pikepdf.Name.DeviceGray
        self.xobjects[name] = self._image_stream(data, image.size, space, filt)

    def add_indexed(self, name: str, indices: bytes, size: tuple[int, int], palette: bytes) -> None:
        hival = len(palette) // 3 - 1
        space = pikepdf.Array(
            [pikepdf.Name.Indexed, pikepdf.Name.DeviceRGB, hival, pikepdf.String(palette)]
        )
        stream = zlib.compress(indices)
        self.xobjects[name] = self._image_stream(stream, size, space, pikepdf.Name.FlateDecode)

    def add_stencil(self, name: str, bits: bytes, size: tuple[int, int]) -> None:
        self.xobjects[name] = self.pdf.make_stream(
            bits,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=size[0],
            Height=size[1],
            ImageMask=True,
            BitsPerComponent=1,
        )

    def add_form(self, name: str, content: bytes) -> None:
        self.xobjects[name] = self.pdf.make_stream(
            content,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 200, 200],
        )

    def add_shading(self, name: str, space: str, c0: list[float], c1: list[float]) -> None:
        function = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=c0, C1=c1, N=1)
        self.shadings[name] = self.pdf.make_indirect(
            pikepdf.Dictionary(
                ShadingType=2,
                ColorSpace=pikepdf.Name(space),
                Coords=[72, 0, 520, 0],
                Function=function,
                Extend=[True, True],
            )
        )

    def annotate(self, page: pikepdf.Dictionary, stroke: bytes) -> None:
        appearance = self.pdf.make_stream(
            stroke + b" RG 4 w 4 4 192 92 re S",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 200, 100],
        )
        annotation = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Square,
            Rect=[100, 100, 300, 200],
            F=4,
            AP=pikepdf.Dictionary(N=appearance),
        )
        page.Annots = pikepdf.Array([self.pdf.make_indirect(annotation)])

    def _image_stream(
        self, data: bytes, size: tuple[int, int], space: object, filt: pikepdf.Name
    ) -> pikepdf.Object:
        return self.pdf.make_stream(
            data,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=size[0],
            Height=size[1],
            ColorSpace=space,
            BitsPerComponent=8,
            Filter=filt,
        )


def text_block(lines: int, top: int = 770, seed: int = 0) -> bytes:
    """``lines`` lines of body text in black Helvetica."""
    words = ("print", "warden", "account", "quota", "toner", "duplex", "release", "queue")
    rng = random.Random(seed)
    rows = []
    for _ in range(lines):
        line = " ".join(rng.choice(words) for _ in range(12))
        rows.append(b"[(" + line.encode() + b") -20 (.)] TJ T*")
    return b"0 g BT /F1 10 Tf 13 TL 72 %d Td " % top + b" ".join(rows) + b" ET"


def gradient(colour: bool, size: int = 64) -> Image.Image:
    """A small test picture: a hue gradient, or a grey ramp stored as RGB."""
    image = Image.new("RGB", (size, size))
    step = 256 // size
    for y in range(size):
        for x in range(size):
            grey = (x + y) * step // 2
            pixel = (x * step, y * step, 255 - x * step) if colour else (grey, grey, grey)
            image.putpixel((x, y), pixel)
    return image


def rgb(r: int, g: int, b: int, op: str = "rg") -> bytes:
    """An RGB colour operator from 0-255 values."""
    return f"{r / 255:.6f} {g / 255:.6f} {b / 255:.6f} {op}".encode()


RECT = b" 72 420 450 250 re f "

# Each kind: (content before the text, colour?). Names index the images/forms/shadings.
KINDS: dict[str, tuple[bytes, bool]] = {
    "text": (b"", False),
    "grey-rect": (b"0.4 g" + RECT, False),
    "rgb-neutral": (rgb(128, 128, 128) + RECT, False),
    "red-rect": (rgb(204, 26, 26) + RECT, True),
    "near-grey": (rgb(128, 129, 128) + RECT, False),
    "near-white": (rgb(254, 255, 254) + RECT, False),
    "muted-colour": (rgb(228, 136, 117) + RECT, True),
    "cmyk-black": (b"0 0 0 0.7 k" + RECT, False),
    "cmyk-colour": (b"0 0.6 0.9 0 k" + RECT, True),
    "grey-image": (b"q 300 0 0 300 150 420 cm /Ig Do Q", False),
    "colour-image": (b"q 300 0 0 300 150 420 cm /Ic Do Q", True),
    "grey-photo": (b"q 300 0 0 225 150 420 cm /Pg Do Q", False),
    "colour-photo": (b"q 300 0 0 225 150 420 cm /Pc Do Q", True),
    "grey-indexed": (b"q 200 0 0 200 150 420 cm /Xg Do Q", False),
    "red-stencil": (b"q 0.9 0 0 rg 200 0 0 200 150 420 cm /St Do Q", True),
    "small-red-word": (b"BT /F1 9 Tf 0.9 0 0 rg 72 60 Td (urgent) Tj ET", True),
    "invisible-red": (b"BT 3 Tr /F1 30 Tf 1 0 0 rg 72 420 Td (hidden) Tj ET", False),
    "inline-colour": (
        b"q 100 0 0 100 150 420 cm BI /W 2 /H 2 /CS /RGB /BPC 8 ID "
        + bytes([255, 0, 0, 0, 0, 255, 0, 255, 0, 255, 255, 0])
        + b" EI Q",
        True,
    ),
    "grey-form": (b"q 1 0 0 1 150 420 cm /Fg Do Q", False),
    "colour-form": (b"q 1 0 0 1 150 420 cm /Fc Do Q", True),
    "grey-shading": (b"q 72 420 450 250 re W n /Sg sh Q", False),
    "colour-shading": (b"q 72 420 450 250 re W n /Sc sh Q", True),
    "grey-annotation": (b"", False),
    "colour-annotation": (b"", True),
    "spot-colour": (b"/Spot cs 0.9 sc" + RECT, True),
    "grey-spot": (b"/GreySpot cs 0.9 sc" + RECT, False),
    "lab-colour": (b"/Lab cs 50 60 40 sc" + RECT, True),
}
ANNOTATIONS = {"grey-annotation": b"0.3 0.3 0.3", "colour-annotation": b"0.9 0.1 0.1"}
MIXED = tuple(KINDS)


def builder_with_resources() -> Builder:
    """A builder holding every image, form and shading that :data:`KINDS` uses."""
    b = Builder()
    b.add_image("Ig", gradient(False))
    b.add_image("Ic", gradient(True))
    b.add_image("Pg", gradient(False, 200).resize((400, 300)), jpeg=True)
    b.add_image("Pc", gradient(True, 200).resize((400, 300)), jpeg=True)
    greys = bytes(v for g in (0, 90, 180, 255) for v in (g, g, g))
    b.add_indexed("Xg", bytes(i % 4 for i in range(16 * 16)), (16, 16), greys)
    b.add_stencil("St", bytes([0b10101010, 0b01010101] * 8), (16, 8))
    b.add_form("Fg", b"0.25 g 0 0 200 200 re f")
    b.add_form("Fc", b"0.1 0.6 0.2 rg 0 0 200 200 re f")
    b.add_shading("Sg", "/DeviceGray", [0.1], [0.9])
    b.add_shading("Sc", "/DeviceRGB", [1, 0, 0], [0, 0, 1])
    return b


def build_pdf(kinds: Sequence[str], size: tuple[int, int] = A4, lines: int = 20) -> pikepdf.Pdf:
    """A PDF with one page per kind: the kind's marks, then body text."""
    b = builder_with_resources()
    for number, kind in enumerate(kinds):
        marks, _ = KINDS[kind]
        page = b.page(marks + b" " + text_block(lines, seed=number), size)
        if kind in ANNOTATIONS:
            b.annotate(page, ANNOTATIONS[kind])
    return b.pdf


def colour_of(kinds: Sequence[str]) -> tuple[int, ...]:
    return tuple(n for n, kind in enumerate(kinds, 1) if KINDS[kind][1])


RENDERED = frozenset({"spot-colour", "grey-spot", "lab-colour"})
"""Kinds that the content scan leaves to Ghostscript."""


def big_kinds(pages: int = BIG_PAGES, seed: int = 7, *, rendered: bool = True) -> list[str]:
    """A deterministic, text-heavy mix of page kinds for the benchmark document
    (without the :data:`RENDERED` kinds unless ``rendered``)."""
    rng = random.Random(seed)
    common = ["text"] * 10 + ["grey-rect", "rgb-neutral", "cmyk-black", "grey-photo"] * 2
    rare = [k for k in KINDS if k not in common and (rendered or k not in RENDERED)]
    return [rng.choice(rare) if rng.random() < 0.35 else rng.choice(common) for _ in range(pages)]


# -- other formats -----------------------------------------------------------------------

POSTSCRIPT = b"""%!PS-Adobe-3.0
%%Pages: 3
%%EndComments
<< /PageSize [612 792] >> setpagedevice
/Helvetica findfont 12 scalefont setfont
%%Page: 1 1
0 setgray 72 700 moveto (Grey page) show 72 600 200 50 rectfill showpage
%%Page: 2 2
0.8 0.1 0.1 setrgbcolor 72 600 200 50 rectfill
0 setgray 72 700 moveto (Colour page) show showpage
%%Page: 3 3
0.50196 0.50588 0.50196 setrgbcolor 72 400 400 300 rectfill
0 setgray 72 720 moveto (Near-grey page) show showpage
%%EOF
"""
PS_COLOUR = (2,)


def gs(*args: str) -> None:
    """Run Ghostscript quietly; raise on failure."""
    command = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def ppm_pages(source: Path, out: Path, dpi: int, device: str = "ppmraw") -> list[Image.Image]:
    """Render every page of ``source`` into Pillow images (plain colour conversion)."""
    pattern = out / f"page-%d.{device[:3]}"
    gs(f"-sDEVICE={device}", f"-r{dpi}", "-dUseFastColor", f"-sOutputFile={pattern}", str(source))
    files = sorted(out.glob(f"page-*.{device[:3]}"), key=lambda p: int(p.stem.split("-")[1]))
    images = []
    for file in files:
        with Image.open(file) as image:
            images.append(image.copy())
        file.unlink()
    return images


def urf_from(images: Sequence[Image.Image], dpi: int, *, duplex: int) -> bytes:
    """URF pages (8-bit sGray for L images, 24-bit sRGB otherwise)."""
    pages = []
    for image in images:
        grey = image.mode == "L"
        unit, space = (1, 0) if grey else (3, 1)
        raw = image.tobytes()
        stride = image.width * unit
        rows = [raw[i : i + stride] for i in range(0, len(raw), stride)]
        header = rasters.urf_page_header(
            unit * 8, space, image.width, image.height, dpi, duplex=duplex
        )
        pages.append((header, rasters.encode_page(rows, unit)))
    return rasters.urf_file(pages)


def text_document() -> str:
    """130 lines, a form feed, then 10 lines: 3 + 1 pages."""
    first = "\n".join(f"line {n} of the first section" for n in range(130))
    return first + "\n\f" + "\n".join(f"line {n} after the form feed" for n in range(10)) + "\n"


# -- the corpus --------------------------------------------------------------------------

PDF = "application/pdf"
MIXED_COLOUR = colour_of(MIXED)
EXPECTED: dict[str, Expected] = {
    "grey.pdf": Expected(PDF, 1, (), "A4", inkcov=True),
    "mixed.pdf": Expected(PDF, len(MIXED), MIXED_COLOUR, "A4", inkcov=True),
    "objstm.pdf": Expected(PDF, len(MIXED), MIXED_COLOUR, "A4", inkcov=True),
    "encrypted.pdf": Expected(PDF, len(MIXED), MIXED_COLOUR, "A4", inkcov=True),
    "big.pdf": Expected(PDF, BIG_PAGES, colour_of(big_kinds()), "letter", inkcov=True),
    "truncated.pdf": Expected(PDF, None),
    "doc.ps": Expected("application/postscript", 3, PS_COLOUR, "letter"),
    "mono.pwg": Expected("image/pwg-raster", 3, (), "letter", duplex=True),
    "colour.pwg": Expected("image/pwg-raster", 3, PS_COLOUR, "letter", duplex=False),
    "truncated.pwg": Expected("image/pwg-raster", None),
    "colour.urf": Expected("image/urf", 3, PS_COLOUR, "letter", duplex=True),
    "mono.urf": Expected("image/urf", 3, (), "letter", duplex=False),
    "gs-1bit.urf": Expected("image/urf", 3, (), "letter", duplex=False),
    "truncated.urf": Expected("image/urf", None),
    "colour.jpg": Expected("image/jpeg", 1, (1,)),
    "grey.jpg": Expected("image/jpeg", 1, ()),
    "grey.png": Expected("image/png", 1, ()),
    "colour.png": Expected("image/png", 1, (1,)),
    "truncated.png": Expected("image/png", None),
    "doc.txt": Expected("text/plain", 4, ()),
    "doc.pcl": Expected("application/vnd.hp-pcl", None),
    "random.bin": Expected("application/octet-stream", None),
}


def write_pdfs(out: Path) -> None:
    build_pdf(["text"], lines=TEXT_LINES).save(out / "grey.pdf")
    build_pdf(MIXED).save(out / "mixed.pdf")
    build_pdf(big_kinds(), LETTER, TEXT_LINES).save(out / "big.pdf")
    subprocess.run(
        ["qpdf", "--object-streams=generate", str(out / "mixed.pdf"), str(out / "objstm.pdf")],
        check=True,
        timeout=60,
    )
    with pikepdf.open(out / "mixed.pdf") as pdf:
        encryption = pikepdf.Encryption(owner="owner-secret", user="", R=6)
        pdf.save(out / "encrypted.pdf", encryption=encryption)
    data = (out / "mixed.pdf").read_bytes()
    (out / "truncated.pdf").write_bytes(data[: len(data) * 6 // 10])


def write_rasters(out: Path) -> None:
    source = out / "doc.ps"
    common = ["-sDEVICE=pwgraster", "-r30", "-dUseFastColor", "-dcupsBitsPerColor=8"]
    letter = "-scupsPageSizeName=na_letter_8.5x11in"
    gs(
        *common,
        "-dcupsColorSpace=18",
        "-dDuplex",
        letter,
        f"-sOutputFile={out / 'mono.pwg'}",
        str(source),
    )
    gs(*common, "-dcupsColorSpace=19", f"-sOutputFile={out / 'colour.pwg'}", str(source))
    data = (out / "colour.pwg").read_bytes()
    (out / "truncated.pwg").write_bytes(data[: len(data) - 50])
    (out / "colour.urf").write_bytes(urf_from(ppm_pages(source, out, 30), 30, duplex=3))
    (out / "mono.urf").write_bytes(urf_from(ppm_pages(source, out, 30, "pgmraw"), 30, duplex=1))
    data = (out / "colour.urf").read_bytes()
    (out / "truncated.urf").write_bytes(data[: len(data) * 2 // 3])
    gs("-sDEVICE=urf", "-r30", f"-sOutputFile={out / 'gs-1bit.urf'}", str(source))


def write_images(out: Path) -> None:
    source = out / "doc.ps"
    colour, grey = (["-dFirstPage=2", "-dLastPage=2"], ["-dFirstPage=1", "-dLastPage=1"])
    for name, device, pages in (
        ("colour.jpg", "jpeg", colour),
        ("grey.jpg", "jpeg", grey),
        ("grey.png", "png16m", grey),
        ("colour.png", "png16m", colour),
    ):
        gs(f"-sDEVICE={device}", "-r40", *pages, f"-sOutputFile={out / name}", str(source))
    data = (out / "colour.png").read_bytes()
    (out / "truncated.png").write_bytes(data[: len(data) // 2])


def write_others(out: Path) -> None:
    (out / "doc.txt").write_text(text_document(), encoding="utf-8")
    gs("-sDEVICE=ljet4", "-r75", f"-sOutputFile={out / 'doc.pcl'}", str(out / "doc.ps"))
    (out / "random.bin").write_bytes(random.Random(3).randbytes(4096))


STEPS: tuple[Callable[[Path], None], ...] = (write_pdfs, write_rasters, write_images, write_others)


def generate(out: Path = DEFAULT_OUT) -> dict[str, Expected]:
    """Write the whole corpus and its manifest into ``out``; return what it expects."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "doc.ps").write_bytes(POSTSCRIPT)
    for step in STEPS:
        step(out)
    manifest = {name: asdict(expected) for name, expected in EXPECTED.items()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return EXPECTED


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0]) if args else DEFAULT_OUT
    generate(out)
    print(f"corpus written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
