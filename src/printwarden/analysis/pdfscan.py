"""Judge a PDF page's colour from its content stream, without rendering.

The scan follows the graphics state that decides what gets painted - fill and stroke
colours with their spaces (:mod:`.pdfspaces`), the alpha constants, soft masks and blend
modes (``gs``), ``q``/``Q`` - into forms, transparency groups, patterns and printable
annotation appearances, and marks the page colour as soon as something is painted - a
fill, a stroke, shown text, an image pixel (:mod:`.pdfimages`), a shading
(:mod:`.pdfpaint`) - in a colour whose ink, times its opacity, exceeds the tolerance.

Type 3 glyphs that set their own colours are walked glyph by glyph; content in hidden
layers (:mod:`.pdflayers`) paints nothing. Annotations are taken as opaque (Ghostscript
ignores their ``/CA``); one without an appearance is judged by its ``/C`` and ``/IC``
colours when it is of a kind Ghostscript draws from them.

A colour painted through a soft mask or a blend mode other than Normal may show less
than its ink, and CMYK ink blended in an RGB or grey transparency group is converted
there and back: when such a colour would be colour at full strength the page is left to
rendering (``RENDER``), as are colours, images and shadings this scan cannot read and
other annotations without an appearance. Clipping and overpainting are not modelled:
colour painted but hidden still counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pikepdf

from printwarden.analysis.pdfcontent import (
    Scope,
    inherited,
    numbers,
    plainly_grey,
    shows_something,
    type3_verdict,
)
from printwarden.analysis.pdfimages import image_ink, inline_stream
from printwarden.analysis.pdflayers import Layers, Undecided
from printwarden.analysis.pdfpaint import shading_ink
from printwarden.analysis.pdfspaces import (
    CMYK,
    GREY,
    RGB,
    SLACK,
    ColourStatus,
    Kind,
    Reader,
    Space,
    additive,
    initial,
    ink,
    subtractive,
)

PRINT_FLAG = 4
HIDDEN_FLAG = 2
_FILL = frozenset({"f", "F", "f*"})
_STROKE = frozenset({"S", "s"})
_BOTH = frozenset({"B", "B*", "b", "b*"})
_TEXT = frozenset({"Tj", "TJ", "'", '"'})
_DEVICE = {"g": GREY, "G": GREY, "rg": RGB, "RG": RGB, "k": CMYK, "K": CMYK}
_OPERATORS = " ".join(
    [
        *_FILL,
        *_STROKE,
        *_BOTH,
        *_TEXT,
        *_DEVICE,
        "q Q cs CS sc scn SC SCN Tr Tf Do sh gs BI ID EI BDC BMC EMC",
    ]
)
_DRAWN = frozenset(
    pikepdf.Name(n)
    for n in (
        "/Square",
        "/Circle",
        "/Line",
        "/Polygon",
        "/PolyLine",
        "/Ink",
        "/Highlight",
        "/Underline",
        "/Squiggly",
        "/StrikeOut",
    )
)
"""Annotation kinds Ghostscript draws from their colours when they have no appearance."""
_BY_COUNT = {1: GREY, 3: RGB, 4: CMYK}
_PAINT = frozenset({*_FILL, *_STROKE, *_BOTH, *_TEXT, "Do", "INLINE IMAGE", "sh"})
_FILL_MODES = frozenset({0, 2, 4, 6})
_STROKE_MODES = frozenset({1, 2, 5, 6})
_NORMAL_BLEND = frozenset({"/Normal", "/Compatible"})
_SEPARATION_KEYS = ("/BG", "/BG2", "/UCR", "/UCR2")
_BROKEN = (
    pikepdf.PikepdfError,
    RuntimeError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)
"""Failures of malformed content: the page is then left to rendering."""

Ink = float | None
"""A colour's ink on the 0-255 scale (``math.inf``: some colour of unknown strength;
``None``: unknown)."""


@dataclass(frozen=True, slots=True)
class GState:
    """The part of the graphics state that decides what colour gets painted."""

    fill_space: Space = GREY
    stroke_space: Space = GREY
    fill: Ink = 0.0
    stroke: Ink = 0.0
    fill_alpha: float = 1.0
    stroke_alpha: float = 1.0
    outer_alpha: float = 1.0
    """Opacity of the enclosing transparency groups and annotation."""
    soft_mask: bool = False
    blend: bool = False
    """A blend mode other than Normal is in force."""
    outer_masked: bool = False
    """An enclosing group is painted through a soft mask or a blend mode."""
    additive_group: bool = False
    """Inside a transparency group that blends in RGB or grey."""
    own_separation: bool = False
    """The document set its own black generation or undercolour removal (``/BG``,
    ``/UCR``): an RGB colour, even a neutral one, may then print with C, M and Y."""
    render_mode: int = 0
    type3: ColourStatus | None = None
    """For a Type 3 font: GREY when its glyphs take the text colour, else RENDER."""
    glyphs: pikepdf.Dictionary | None = None
    """The Type 3 font whose glyphs set their own colours (walked glyph by glyph)."""

    @property
    def masked(self) -> bool:
        return self.soft_mask or self.blend or self.outer_masked


class Scanner:
    """Judges the pages of one document one by one; caches what pages share."""

    def __init__(self, tolerance: int, shown: Layers | None = None) -> None:
        self.tolerance = tolerance
        self.layers = shown if shown is not None else Layers(frozenset(), True, frozenset())
        self.spaces = Reader()
        self._inks: dict[tuple[str, tuple[int, int]], Ink] = {}
        self._fonts: dict[tuple[int, int], ColourStatus] = {}
        self._scratch_pdf: pikepdf.Pdf | None = None

    def page(self, page: pikepdf.Page) -> ColourStatus:
        """GREY, COLOUR, or RENDER when only rendering can tell."""
        obj = page.obj
        scope = Scope(inherited(obj, "/Resources"))
        try:
            start = GState(additive_group=self._additive(obj.get("/Group"), scope))
            found = self._walk(obj, scope, start)
            if found is not ColourStatus.COLOUR:
                found = max(found, self._annotations(obj))
        except _BROKEN:
            return ColourStatus.RENDER
        return found

    def _scratch(self) -> pikepdf.Pdf:
        """A PDF to hold inline images as streams, made on the first one (most pages
        have none, and making it costs as much as scanning a short page)."""
        if self._scratch_pdf is None:
            self._scratch_pdf = pikepdf.new()
        return self._scratch_pdf

    def painted(
        self, amount: Ink, alpha: float, state: GState, space: Space = GREY
    ) -> ColourStatus:
        """What painting a colour of ``amount`` ink from ``space`` at opacity ``alpha``
        does to a page."""
        tolerance = self.tolerance + SLACK
        if amount is None:
            return ColourStatus.RENDER
        if alpha <= 0:
            return ColourStatus.GREY
        if state.own_separation and additive(space):
            return ColourStatus.RENDER
        if amount <= tolerance:
            return ColourStatus.GREY
        unsure = state.masked or (state.additive_group and subtractive(space))
        if math.isinf(amount):
            return ColourStatus.COLOUR if alpha >= 1 and not unsure else ColourStatus.RENDER
        if amount * min(alpha, 1.0) <= tolerance:
            return ColourStatus.GREY
        return ColourStatus.RENDER if unsure else ColourStatus.COLOUR

    def _fill(self, state: GState) -> ColourStatus:
        return self._fill_with(state, state.fill, state.fill_space)

    def _fill_with(self, state: GState, amount: Ink, space: Space) -> ColourStatus:
        """Painting ``amount`` of ``space`` as the fill colour is painted (images too)."""
        return self.painted(amount, state.fill_alpha * state.outer_alpha, state, space)

    def _stroke(self, state: GState) -> ColourStatus:
        alpha = state.stroke_alpha * state.outer_alpha
        return self.painted(state.stroke, alpha, state, state.stroke_space)

    def _additive(self, group: object, scope: Scope) -> bool:
        """Whether a transparency group dictionary blends in RGB or grey."""
        if not isinstance(group, pikepdf.Dictionary) or "/CS" not in group:
            return False
        space = self.spaces.resolve(group.CS, scope.get("/ColorSpace"))
        return space.kind in (Kind.RGB, Kind.GREY, Kind.LAB)

    def _annotations(self, page: pikepdf.Dictionary) -> ColourStatus:
        annotations = page.get("/Annots")
        if not isinstance(annotations, pikepdf.Array):
            return ColourStatus.GREY
        found = ColourStatus.GREY
        for annotation in annotations:
            if not isinstance(annotation, pikepdf.Dictionary):
                continue
            flags = int(annotation.get("/F", 0))
            if not flags & PRINT_FLAG or flags & HIDDEN_FLAG:
                continue
            shows, sure = self._shows(annotation.get("/OC"))
            if not sure:
                return ColourStatus.RENDER
            if shows:
                found = max(found, self._appearance(annotation))
        return found

    def _appearance(self, annotation: pikepdf.Dictionary) -> ColourStatus:
        appearances = annotation.get("/AP")
        normal = appearances.get("/N") if isinstance(appearances, pikepdf.Dictionary) else None
        if isinstance(normal, pikepdf.Dictionary) and not isinstance(normal, pikepdf.Stream):
            state = annotation.get("/AS")
            normal = normal.get(str(state)) if state is not None else None
        if not isinstance(normal, pikepdf.Stream):
            return self._drawn(annotation)
        return self._form(normal, Scope(None), GState())

    def _drawn(self, annotation: pikepdf.Dictionary) -> ColourStatus:
        """An annotation without an appearance, of a kind that Ghostscript draws in its
        colours ``/C`` (lines) and ``/IC`` (interior), else rendering decides."""
        if annotation.get("/Subtype") not in _DRAWN:
            return ColourStatus.RENDER
        found = ColourStatus.GREY
        for key in ("/C", "/IC"):
            values = annotation.get(key)
            if not isinstance(values, pikepdf.Array) or len(values) not in _BY_COUNT:
                continue
            amount = _operand_ink(_BY_COUNT[len(values)], list(values))
            found = max(found, self.painted(amount, 1.0, GState()))
        return found

    def _walk(self, target: pikepdf.Object, scope: Scope, state: GState) -> ColourStatus:
        if self._grey(state) and plainly_grey(target, scope):
            return ColourStatus.GREY
        stack: list[GState] = []
        hidden: list[bool] = []
        found = ColourStatus.GREY
        for instruction in pikepdf.parse_content_stream(target, _OPERATORS):
            op = str(instruction.operator)
            if op in ("BDC", "BMC", "EMC"):
                if not self._marked(op, list(instruction.operands), scope, hidden):
                    found = max(found, ColourStatus.RENDER)
                continue
            if any(hidden) and op in _PAINT:
                continue
            if op == "q":
                stack.append(state)
            elif op == "Q":
                state = stack.pop() if stack else state
            elif op in _TEXT and self._grey_text(state):
                continue
            else:
                state, painted = self._step(op, list(instruction.operands), scope, state)
                found = max(found, painted)
                if found is ColourStatus.COLOUR:
                    break
        return found

    def _marked(
        self, op: str, operands: Sequence[object], scope: Scope, hidden: list[bool]
    ) -> bool:
        """Track marked content and whether it is hidden optional content; ``False``
        when whether it shows is not known here."""
        if op == "EMC":
            if hidden:
                hidden.pop()
            return True
        if op == "BMC" or not operands or operands[0] != pikepdf.Name.OC:
            hidden.append(False)
            return True
        member = operands[1] if len(operands) > 1 else None
        if isinstance(member, pikepdf.Name):
            member = scope.entry("/Properties", member)
        shows, sure = self._shows(member)
        hidden.append(not shows)
        return sure

    def _shows(self, member: object) -> tuple[bool, bool]:
        try:
            return self.layers.shows(member), True
        except Undecided:
            return True, False

    def _step(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> tuple[GState, ColourStatus]:
        if op in _TEXT:
            return state, self._text(state, operands, scope)
        if op in _FILL:
            return state, self._fill(state)
        if op in _STROKE:
            return state, self._stroke(state)
        if op in _BOTH:
            return state, max(self._fill(state), self._stroke(state))
        if op in ("Do", "INLINE IMAGE"):
            return state, self._draw(op, operands, scope, state)
        if op == "sh":
            shading = scope.entry("/Shading", operands[0] if operands else None)
            space = self._shading_space(shading, scope)
            return state, self._fill_with(state, self._shading(shading, scope), space)
        if op == "gs":
            return self._extgstate(scope.entry("/ExtGState", operands[0]), state), ColourStatus.GREY
        if op in ("Tr", "Tf"):
            return self._text_state(op, operands, scope, state), ColourStatus.GREY
        return self._colour_op(op, operands, scope, state), ColourStatus.GREY

    def _colour_op(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> GState:
        fill = op.islower()
        if op in _DEVICE:
            space = _DEVICE[op]
            amount = _operand_ink(space, operands)
        elif op in ("cs", "CS"):
            named = scope.get("/ColorSpace")
            space = self.spaces.resolve(operands[0] if operands else None, named)
            amount = 0.0 if space.kind is Kind.PATTERN else ink(space, initial(space))
        else:
            space = state.fill_space if fill else state.stroke_space
            amount = self._set_colour(space, operands, scope)
        if fill:
            return replace(state, fill_space=space, fill=amount)
        return replace(state, stroke_space=space, stroke=amount)

    def _set_colour(self, space: Space, operands: Sequence[object], scope: Scope) -> Ink:
        if space.kind is not Kind.PATTERN:
            return _operand_ink(space, operands)
        name = operands[-1] if operands else None
        pattern = scope.entry("/Pattern", name)
        if not isinstance(pattern, pikepdf.Dictionary | pikepdf.Stream):
            return 0.0
        if pattern.get("/PatternType") == 2:
            return self._shading(pattern.get("/Shading"), scope)
        if pattern.get("/PaintType") == 2:
            if space.base is None:
                return None
            return _operand_ink(space.base, operands[:-1])
        if not isinstance(pattern, pikepdf.Stream):
            return None
        key = ("pattern", pattern.objgen)
        if key not in self._inks:
            found = self._form(pattern, scope, GState())
            self._inks[key] = {ColourStatus.GREY: 0.0, ColourStatus.COLOUR: math.inf}.get(found)
        return self._inks[key]

    def _shading(self, shading: object, scope: Scope) -> Ink:
        if not isinstance(shading, pikepdf.Object):
            return None
        key = ("shading", shading.objgen)
        if key[1] != (0, 0) and key in self._inks:
            return self._inks[key]
        named = scope.get("/ColorSpace")
        amount = shading_ink(shading, named, self.spaces, self.tolerance + SLACK)
        if key[1] != (0, 0):
            self._inks[key] = amount
        return amount

    def _shading_space(self, shading: object, scope: Scope) -> Space:
        if not isinstance(shading, pikepdf.Dictionary | pikepdf.Stream):
            return GREY
        return self.spaces.resolve(shading.get("/ColorSpace"), scope.get("/ColorSpace"))

    def _extgstate(self, params: object, state: GState) -> GState:
        if not isinstance(params, pikepdf.Dictionary):
            return state
        changes: dict[str, object] = {}
        if "/ca" in params:
            changes["fill_alpha"] = float(params.ca)
        if "/CA" in params:
            changes["stroke_alpha"] = float(params.CA)
        if "/SMask" in params:
            changes["soft_mask"] = params.SMask != pikepdf.Name.None_
        if any(key in params for key in _SEPARATION_KEYS):
            changes["own_separation"] = any(
                params.get(key) not in (None, pikepdf.Name.Default) for key in _SEPARATION_KEYS
            )
        if "/BM" in params:
            mode = params.BM
            first = mode[0] if isinstance(mode, pikepdf.Array) and len(mode) else mode
            changes["blend"] = str(first) not in _NORMAL_BLEND
        return replace(state, **changes)  # type: ignore[arg-type]

    def _draw(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> ColourStatus:
        named = scope.get("/ColorSpace")
        if op == "INLINE IMAGE":
            image = operands[0] if operands else None
            if not isinstance(image, pikepdf.PdfInlineImage):
                return ColourStatus.RENDER
            stream = inline_stream(self._scratch(), image)
            if bool(stream.get("/ImageMask", False)):
                return self._fill(state)
            space = self.spaces.resolve(stream.get("/ColorSpace"), named)
            return self._fill_with(state, image_ink(stream, named, self.spaces), space)
        target = scope.entry("/XObject", operands[0] if operands else None)
        if not isinstance(target, pikepdf.Stream):
            return ColourStatus.GREY
        shows, sure = self._shows(target.get("/OC"))
        if not shows:
            return ColourStatus.GREY
        if not sure:
            return ColourStatus.RENDER
        subtype = target.get("/Subtype")
        if subtype == pikepdf.Name.Image:
            if bool(target.get("/ImageMask", False)):
                return self._fill(state)
            key = ("image", target.objgen)
            if key not in self._inks:
                self._inks[key] = image_ink(target, named, self.spaces)
            space = self.spaces.resolve(target.get("/ColorSpace"), named)
            return self._fill_with(state, self._inks[key], space)
        if subtype == pikepdf.Name.Form:
            entered = _group_entry(target, state)
            if entered is not state and not entered.additive_group:
                additive = self._additive(target.get("/Group"), scope)
                entered = replace(entered, additive_group=additive)
            return self._form(target, scope, entered)
        return ColourStatus.GREY

    def _form(self, target: pikepdf.Stream, scope: Scope, state: GState) -> ColourStatus:
        inner = scope.enter(target, target.get("/Resources"))
        return ColourStatus.RENDER if inner is None else self._walk(target, inner, state)

    def _text_state(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> GState:
        if op == "Tr":
            values = numbers(operands)
            return replace(state, render_mode=int(values[0])) if values else state
        font = scope.entry("/Font", operands[0] if operands else None)
        verdict = self._type3(font)
        coloured = (
            font
            if verdict is ColourStatus.RENDER and isinstance(font, pikepdf.Dictionary)
            else None
        )
        return replace(state, type3=verdict, glyphs=coloured)

    def _type3(self, font: pikepdf.Object | None) -> ColourStatus | None:
        if not isinstance(font, pikepdf.Dictionary) or font.get("/Subtype") != pikepdf.Name.Type3:
            return None
        key = font.objgen
        if key == (0, 0):
            return type3_verdict(font)
        if key not in self._fonts:
            self._fonts[key] = type3_verdict(font)
        return self._fonts[key]

    def _grey(self, state: GState) -> bool:
        """Whether the current colours are grey at full strength."""
        limit = self.tolerance + SLACK
        return (
            not state.own_separation
            and state.fill is not None
            and state.stroke is not None
            and state.fill <= limit
            and state.stroke <= limit
        )

    def _grey_text(self, state: GState) -> bool:
        return self._grey(state) and state.type3 in (None, ColourStatus.GREY)

    def _text(self, state: GState, operands: Sequence[object], scope: Scope) -> ColourStatus:
        """What showing text paints. Render modes 3 (invisible) and 7 (clip) paint
        nothing; Type 3 glyphs ignore the other modes and paint in the fill colour, or
        in their own colours (each glyph shown is then walked)."""
        mode = state.render_mode
        if mode in (3, 7):
            return ColourStatus.GREY
        if state.glyphs is not None:
            return self._glyphs(state.glyphs, operands, scope, state)
        if state.type3 is not None:
            painted = max(self._fill(state), state.type3)
        else:
            fill = self._fill(state) if mode in _FILL_MODES else ColourStatus.GREY
            stroke = self._stroke(state) if mode in _STROKE_MODES else ColourStatus.GREY
            painted = max(fill, stroke)
        if painted is ColourStatus.GREY or not shows_something(operands):
            return ColourStatus.GREY
        return painted

    def _glyphs(
        self, font: pikepdf.Dictionary, operands: Sequence[object], scope: Scope, state: GState
    ) -> ColourStatus:
        procs = font.get("/CharProcs")
        if not isinstance(procs, pikepdf.Dictionary):
            return ColourStatus.RENDER
        names = glyph_names(font)
        inner = Scope(font.get("/Resources", scope.resources), scope.forms)
        found = ColourStatus.GREY
        for code in sorted(set(codes(operands))):
            glyph = procs.get(names.get(code, ""))
            if isinstance(glyph, pikepdf.Stream):
                found = max(found, self._form(glyph, inner, replace(state, glyphs=None)))
            if found is ColourStatus.COLOUR:
                break
        return found


def codes(operands: Sequence[object]) -> list[int]:
    """The character codes that text-showing operands show (one byte each)."""
    found: list[int] = []
    for operand in operands:
        if isinstance(operand, pikepdf.String):
            found.extend(bytes(operand))
        elif isinstance(operand, pikepdf.Array):
            found.extend(codes(list(operand)))
    return found


def glyph_names(font: pikepdf.Dictionary) -> dict[int, str]:
    """A Type 3 font's codes mapped to glyph names, from its ``/Differences``."""
    encoding = font.get("/Encoding")
    differences = encoding.get("/Differences") if isinstance(encoding, pikepdf.Dictionary) else None
    names: dict[int, str] = {}
    code = 0
    for item in differences if isinstance(differences, pikepdf.Array) else []:
        if isinstance(item, pikepdf.Name):
            names[code] = str(item)
            code += 1
        else:
            code = int(item)
    return names


def _group_entry(form: pikepdf.Stream, state: GState) -> GState:
    """The state inside a form: a transparency group is composited as a whole with the
    opacity, soft mask and blend mode in force, which start afresh inside it."""
    group = form.get("/Group")
    if not isinstance(group, pikepdf.Dictionary) or group.get("/S") != pikepdf.Name.Transparency:
        return state
    return replace(
        state,
        outer_alpha=state.outer_alpha * state.fill_alpha,
        outer_masked=state.masked,
        fill_alpha=1.0,
        stroke_alpha=1.0,
        soft_mask=False,
        blend=False,
    )


def _operand_ink(space: Space, operands: Sequence[object]) -> Ink:
    values = numbers(operands)
    return None if values is None else ink(space, values)
