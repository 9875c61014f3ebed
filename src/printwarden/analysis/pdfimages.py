"""How much colour ink a PDF image (XObject or inline) puts down, from its pixels.

Each image becomes an *ink band*: per pixel the colour ink on the 0-255 scale (see
:mod:`.pdfspaces`), computed with Pillow's per-band operations: the channel spread for
RGB, the largest of C, M, Y for CMYK, a lookup table for one-component spaces (Indexed
over any base, Separation), sRGB through littleCMS for Lab. ``/Decode`` arrays map the
samples first. Soft masks (``/SMask``), stencil masks and colour-key masks (``/Mask``)
scale each pixel's ink by its opacity: a hidden pixel paints nothing, a faint one little.

Before decoding, the colours the space can reach at all are checked: a grey space, or a
palette or tint transform with no colour entry, needs no pixels. Sample data comes from
qpdf's decoding, JPEG and JPEG 2000 through Pillow, CCITT through pikepdf; JBIG2 (and
anything else that cannot be decoded or judged here) is left to rendering (``None``).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Sequence

import pikepdf
from PIL import Image, ImageChops, ImageCms

from printwarden.analysis.pdfspaces import (
    CMYK,
    GREY,
    RGB,
    SLACK,
    Kind,
    Reader,
    Space,
    clamp,
    ink,
    palette_entry,
)

MAX_PIXELS = 40_000_000
MAX_DISTINCT = 4096
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "CMYK"}
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    TypeError,
    pikepdf.PdfError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)

Band = Image.Image


def quantised(amount: float) -> int:
    """An ink on the 0-255 scale as a byte that exceeds the tolerance exactly when the
    ink does (by more than the rounding slack)."""
    return min(255, max(0, math.ceil(amount - SLACK)))


class Unjudged(Exception):
    """The image cannot be judged here."""


def image_ink(image: pikepdf.Stream, named: pikepdf.Object | None, reader: Reader) -> float | None:
    """The largest colour ink (0-255) any pixel of an image paints; ``None`` if unknown.
    Stencil masks (``/ImageMask``) are the caller's: they paint the fill colour."""
    try:
        return _image_ink(image, named, reader)
    except (Unjudged, *_DECODE_ERRORS):
        return None


def inline_stream(scratch: pikepdf.Pdf, image: pikepdf.PdfInlineImage) -> pikepdf.Stream:
    """An inline image as an image XObject in ``scratch`` (which must outlive it)."""
    stream = scratch.make_stream(b"")
    meta = image.obj
    filters = meta.get("/Filter")
    parms = meta.get("/DecodeParms")
    stream.write(
        image.read_raw_bytes(),
        filter=filters if isinstance(filters, pikepdf.Name | pikepdf.Array) else None,
        decode_parms=parms if isinstance(parms, pikepdf.Dictionary | pikepdf.Array) else None,
    )
    for key, value in meta.items():
        if key not in ("/Filter", "/DecodeParms", "/Length"):
            stream[key] = value
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    return stream


def _image_ink(image: pikepdf.Stream, named: pikepdf.Object | None, reader: Reader) -> float:
    space_obj = image.get("/ColorSpace")
    last = _last_filter(image)
    if space_obj is None and last != "/JPXDecode":
        raise Unjudged("an image without a colour space")
    space = reader.resolve(space_obj, named) if space_obj is not None else None
    if space is not None:
        reachable = _reachable(space, image)
        if reachable is not None and reachable <= 0:
            return 0.0
    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise Unjudged("image size")
    bands, space = _bands(image, space, last, width, height)
    band, exact = _ink_band(bands, space, _decode(image, space, bands))
    alpha = _alpha(image, named, reader, band.size)
    if alpha is not None:
        if not exact and _highest(band) > 0:
            raise Unjudged("colours judged one by one under a mask")
        band = ImageChops.multiply(band, alpha)
    return float(_highest(band))


# -- what the colour space can reach -----------------------------------------------------


def _reachable(space: Space, image: pikepdf.Stream) -> float | None:
    """The largest ink any sample value could give, when cheap to know (else ``None``)."""
    if space.kind is Kind.GREY:
        return 0.0
    if space.kind is Kind.INDEXED and space.base is not None:
        amounts = [ink(space.base, palette_entry(space, i)) for i in range(space.hival + 1)]
        return None if None in amounts else max(a for a in amounts if a is not None)
    if space.kind is Kind.SEPARATION and space.n == 1:
        low, high = _decode_pair(image, 0, (0.0, 1.0))
        amounts = [ink(space, [low + (high - low) * i / 255]) for i in range(256)]
        return None if None in amounts else max(a for a in amounts if a is not None)
    return None


# -- samples ----------------------------------------------------------------------------


def _last_filter(image: pikepdf.Stream) -> str:
    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        return str(filters[-1]) if len(filters) else ""
    return str(filters) if filters is not None else ""


def _bands(
    image: pikepdf.Stream, space: Space | None, last: str, width: int, height: int
) -> tuple[list[Band], Space]:
    """The decoded samples as 8-bit bands (value = sample fraction x 255)."""
    if last == "/JBIG2Decode":
        raise Unjudged("JBIG2 images are left to rendering")
    if last in ("/DCTDecode", "/JPXDecode"):
        picture = _picture(image, last)
        if space is None:
            space = _space_of(picture)
        bands = list(picture.split())[: max(space.n, 1)]
        if len(bands) != space.n:
            raise Unjudged("the decoded image does not match its colour space")
        return bands, space
    if space is None:
        raise Unjudged("no colour space")
    if last == "/CCITTFaxDecode":
        picture = pikepdf.PdfImage(image).as_pil_image().convert("L")
        return [picture], space
    bits = int(image.get("/BitsPerComponent", 8))
    return _unpack(image.read_bytes(), width, height, space.n, bits), space


def _picture(image: pikepdf.Stream, last: str) -> Image.Image:
    if last == "/JPXDecode" and "/SMaskInData" in image and int(image.SMaskInData) != 0:
        raise Unjudged("JPEG 2000 with its own alpha")
    picture: Image.Image = Image.open(io.BytesIO(_encoded(image)))
    picture.load()
    if picture.mode == "CMYK" and "adobe" in picture.info:
        picture = ImageChops.invert(picture)  # the samples as stored: Decode says the rest
    if picture.mode not in ("L", "RGB", "CMYK"):
        picture = picture.convert("RGB")
    return picture


def _encoded(image: pikepdf.Stream) -> bytes:
    """The JPEG or JPEG 2000 data of an image, any filters before that one undone."""
    filters = image.get("/Filter")
    if not isinstance(filters, pikepdf.Array) or len(filters) < 2:
        return image.read_raw_bytes()
    scratch = pikepdf.new()
    before = pikepdf.Array(list(filters)[:-1])
    parms = image.get("/DecodeParms")
    stream = scratch.make_stream(image.read_raw_bytes())
    stream.Filter = before
    if isinstance(parms, pikepdf.Array):
        stream.DecodeParms = pikepdf.Array(list(parms)[:-1])
    return stream.read_bytes()


def _space_of(picture: Image.Image) -> Space:
    return {"L": GREY, "RGB": RGB, "CMYK": CMYK}[picture.mode]


def _unpack(data: bytes, width: int, height: int, n: int, bits: int) -> list[Band]:
    if n not in _MODES:
        raise Unjudged(f"{n}-component images are left to rendering")
    if bits == 16:
        data = data[0::2]
        bits = 8
    if bits == 8:
        needed = width * height * n
        if len(data) < needed:
            raise Unjudged("too little image data")
        picture = Image.frombytes(_MODES[n], (width, height), data[:needed])
        return list(picture.split())
    if bits in (1, 2, 4) and n == 1:
        rawmode = {1: "1", 2: "L;2", 4: "L;4"}[bits]
        row = (width * bits + 7) // 8
        if len(data) < row * height:
            raise Unjudged("too little image data")
        mode = "1" if bits == 1 else "L"
        picture = Image.frombytes(mode, (width, height), data[: row * height], "raw", rawmode)
        return [picture.convert("L")]
    if bits in (1, 2, 4) and width * height * n <= 1 << 20:
        return _unpack_small(data, width, height, n, bits)
    raise Unjudged(f"{bits}-bit samples")


def _unpack_small(data: bytes, width: int, height: int, n: int, bits: int) -> list[Band]:
    row = (width * n * bits + 7) // 8
    top = (1 << bits) - 1
    values: list[list[int]] = [[] for _ in range(n)]
    for y in range(height):
        number = int.from_bytes(data[y * row : (y + 1) * row], "big")
        total = row * 8
        for i in range(width * n):
            sample = (number >> (total - (i + 1) * bits)) & top
            values[i % n].append(sample * 255 // top)
    return [Image.frombytes("L", (width, height), bytes(v)) for v in values]


# -- from samples to ink ------------------------------------------------------------------


def _decode_pair(
    image: pikepdf.Stream, index: int, default: tuple[float, float]
) -> tuple[float, float]:
    decode = image.get("/Decode")
    if isinstance(decode, pikepdf.Array) and len(decode) >= 2 * index + 2:
        return float(decode[2 * index]), float(decode[2 * index + 1])
    return default


def _decode(
    image: pikepdf.Stream, space: Space, bands: Sequence[Band]
) -> list[tuple[float, float]]:
    """Per component, the values that samples 0 and the maximum map to."""
    if space.kind is Kind.INDEXED:
        top = float((1 << int(image.get("/BitsPerComponent", 8))) - 1)
        return [_decode_pair(image, 0, (0.0, top))]
    return [_decode_pair(image, i, space.ranges[i]) for i in range(len(bands))]


def _table(low: float, high: float, value: Callable[[float], int]) -> list[int]:
    return [value(low + (high - low) * b / 255) for b in range(256)]


def _ink_band(
    bands: list[Band], space: Space, decode: list[tuple[float, float]]
) -> tuple[Band, bool]:
    """The ink band, and whether it is per pixel (else every pixel has the largest)."""
    kind = space.kind
    if kind is Kind.GREY:
        return Image.new("L", bands[0].size, 0), True
    if kind in (Kind.RGB, Kind.CMYK):
        mapped = [
            band if (lo, hi) == (0.0, 1.0) else band.point(_table(lo, hi, _unit))
            for band, (lo, hi) in zip(bands, decode, strict=True)
        ]
        if kind is Kind.CMYK:
            return ImageChops.lighter(ImageChops.lighter(mapped[0], mapped[1]), mapped[2]), True
        return _spread(mapped), True
    if kind is Kind.LAB:
        return _lab_band(bands, space, decode)
    if space.n == 1 and kind in (Kind.INDEXED, Kind.SEPARATION):
        low, high = decode[0]
        rounding = round if kind is Kind.INDEXED else float
        amounts = _table(low, high, lambda v: _quantised_ink(space, [rounding(v)]))
        return bands[0].point(amounts), True
    return _distinct_band(bands, space, decode)


def _unit(value: float) -> int:
    return round(min(max(value, 0.0), 1.0) * 255)


def _quantised_ink(space: Space, values: Sequence[float]) -> int:
    amount = ink(space, values)
    if amount is None:
        raise Unjudged("a colour that cannot be judged here")
    return quantised(amount)


def _spread(bands: Sequence[Band]) -> Band:
    a, b, c = bands[:3]
    return ImageChops.lighter(
        ImageChops.lighter(ImageChops.difference(a, b), ImageChops.difference(b, c)),
        ImageChops.difference(a, c),
    )


def _lab_band(
    bands: list[Band], space: Space, decode: list[tuple[float, float]]
) -> tuple[Band, bool]:
    """Lab pixels through littleCMS to sRGB; exact maths when there are few colours."""
    merged = Image.merge("RGB", bands)
    colours = merged.getcolors(MAX_DISTINCT)
    if colours is not None and len(colours) <= MAX_DISTINCT // 16:
        return _distinct_band(bands, space, decode)
    (l0, l1), (a0, a1), (b0, b1) = decode
    tables = [
        _table(l0, l1, lambda v: round(min(max(v, 0.0), 100.0) * 255 / 100)),
        _table(a0, a1, lambda v: round(min(max(v, -128.0), 127.0)) + 128),
        _table(b0, b1, lambda v: round(min(max(v, -128.0), 127.0)) + 128),
    ]
    encoded = Image.merge("LAB", [band.point(t) for band, t in zip(bands, tables, strict=True)])
    rgb = ImageCms.applyTransform(encoded, _lab_to_srgb())
    assert rgb is not None
    return _spread(rgb.split()), True


@functools.cache
def _lab_to_srgb() -> ImageCms.ImageCmsTransform:
    return ImageCms.buildTransform(
        ImageCms.createProfile("LAB"),
        ImageCms.createProfile("sRGB"),
        "LAB",
        "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


def _distinct_band(
    bands: list[Band], space: Space, decode: list[tuple[float, float]]
) -> tuple[Band, bool]:
    """Spaces judged colour by colour: a uniform band of the largest ink (exact when the
    image has one colour)."""
    if len(bands) not in _MODES:
        raise Unjudged("too many components")
    merged = bands[0] if len(bands) == 1 else Image.merge(_MODES[len(bands)], bands)
    colours = merged.getcolors(MAX_DISTINCT)
    if colours is None:
        raise Unjudged("too many distinct colours")
    largest = 0
    for _, colour in colours:
        samples = (colour,) if isinstance(colour, int | float) else colour
        values = [lo + (hi - lo) * s / 255 for s, (lo, hi) in zip(samples, decode, strict=True)]
        largest = max(largest, _quantised_ink(space, clamp(space, values)))
    return Image.new("L", bands[0].size, largest), largest == 0 or len(colours) == 1


def _highest(band: Band) -> int:
    high = band.getextrema()[1]
    return int(high) if isinstance(high, int | float) else 0


# -- masks --------------------------------------------------------------------------------


def _alpha(
    image: pikepdf.Stream, named: pikepdf.Object | None, reader: Reader, size: tuple[int, int]
) -> Band | None:
    """Per-pixel opacity (255 opaque), or ``None`` when the image has no mask."""
    soft = image.get("/SMask")
    if isinstance(soft, pikepdf.Stream):
        return _resized(_grey_band(soft), size)
    mask = image.get("/Mask")
    if isinstance(mask, pikepdf.Stream):
        stencil = _grey_band(mask, stencil=True)
        return _resized(stencil, size)
    if isinstance(mask, pikepdf.Array):
        return _colour_key(image, [int(v) for v in mask], named, reader, size)
    return None


def _grey_band(stream: pikepdf.Stream, *, stencil: bool = False) -> Band:
    width, height = int(stream.get("/Width", 0)), int(stream.get("/Height", 0))
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise Unjudged("mask size")
    last = _last_filter(stream)
    if last in ("/DCTDecode", "/JPXDecode"):
        band = _picture(stream, last).convert("L")
    elif last == "/CCITTFaxDecode":
        band = pikepdf.PdfImage(stream).as_pil_image().convert("L")
    elif last == "/JBIG2Decode":
        raise Unjudged("JBIG2 masks are left to rendering")
    else:
        bits = 1 if stencil else int(stream.get("/BitsPerComponent", 8))
        band = _unpack(stream.read_bytes(), width, height, 1, bits)[0]
    low, high = _decode_pair(stream, 0, (0.0, 1.0))
    if stencil:  # sample 1 (after Decode) masks the pixel out
        low, high = 1 - low, 1 - high
    return band.point(_table(low, high, lambda v: round(min(max(v, 0.0), 1.0) * 255)))


def _resized(band: Band, size: tuple[int, int]) -> Band:
    return band if band.size == size else band.resize(size, Image.Resampling.NEAREST)


def _colour_key(
    image: pikepdf.Stream,
    ranges: list[int],
    named: pikepdf.Object | None,
    reader: Reader,
    size: tuple[int, int],
) -> Band:
    """Opacity from a colour-key mask: pixels whose every sample is in range are hidden."""
    bits = int(image.get("/BitsPerComponent", 8))
    if bits != 8 or _last_filter(image) in ("/DCTDecode", "/JPXDecode", "/CCITTFaxDecode"):
        raise Unjudged("colour-key masks on packed or lossy samples")
    space = reader.resolve(image.get("/ColorSpace"), named)
    bands = _unpack(image.read_bytes(), size[0], size[1], space.n, 8)
    if len(ranges) < 2 * len(bands):
        raise Unjudged("a colour-key mask with too few ranges")
    hidden = Image.new("L", size, 255)
    for i, band in enumerate(bands):
        low, high = ranges[2 * i], ranges[2 * i + 1]
        inside = band.point([255 if low <= v <= high else 0 for v in range(256)])
        hidden = ImageChops.multiply(hidden, inside)
    return ImageChops.invert(hidden)
