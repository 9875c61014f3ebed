"""Colour verdicts on PDF images (XObjects and inline), from their decoded pixels."""

from __future__ import annotations

import pikepdf
from PIL import Image

from printwarden.analysis.colour import image_has_colour
from printwarden.analysis.pdfspaces import Kind, Space, Verdict, judge, resolve

MAX_PIXELS = 40_000_000


def image_verdict(
    image: pikepdf.PdfImage | pikepdf.PdfInlineImage,
    named: pikepdf.Object | None,
    fill: Verdict,
    tolerance: int,
) -> Verdict:
    """GREY/COLOUR from the pixels; RENDER when the image cannot be judged here.

    A stencil mask paints in the current fill colour (``fill``); masked-out pixels count
    as white.
    """
    meta = image.obj
    if bool(meta.get("/ImageMask", False)):
        return fill
    space = resolve(meta.get("/ColorSpace"), named)
    if space.kind is Kind.GREY:
        return Verdict.GREY
    if space.kind not in (Kind.RGB, Kind.CMYK, Kind.INDEXED):
        return Verdict.RENDER
    if space.kind is Kind.INDEXED and "/Decode" in meta:
        return Verdict.RENDER
    if image.width * image.height > MAX_PIXELS:
        return Verdict.RENDER
    try:
        pixels = _decode(image)
    except Exception:  # any decoding failure means "render it instead"
        return Verdict.RENDER
    with pixels:
        return _pixels_verdict(pixels, space, tolerance)


def _decode(image: pikepdf.PdfImage | pikepdf.PdfInlineImage) -> Image.Image:
    if not isinstance(image, pikepdf.PdfInlineImage):
        return image.as_pil_image()
    scratch = pikepdf.new()  # must outlive the decoding
    return pikepdf.PdfImage(_as_xobject(scratch, image)).as_pil_image()


def _as_xobject(scratch: pikepdf.Pdf, image: pikepdf.PdfInlineImage) -> pikepdf.Stream:
    """The inline image as an image XObject in ``scratch``.

    pikepdf's own inline-image decoding cannot handle images under 3 pixels a side.
    """
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


def _pixels_verdict(pixels: Image.Image, space: Space, tolerance: int) -> Verdict:
    if space.kind is Kind.INDEXED and pixels.mode == "P":
        used = pixels.getcolors(maxcolors=1 << 16) or []
        indices = [index for _, index in used if isinstance(index, int)]
        return max((judge(space, (index,), tolerance) for index in indices), default=Verdict.GREY)
    return Verdict.COLOUR if image_has_colour(pixels, tolerance) else Verdict.GREY
