"""Judge a PDF page's colour from its content stream, without rendering.

The scan follows the colour state (``g rg k cs sc``… with ``q``/``Q``) into forms,
patterns and printable annotation appearances, and marks the page colour as soon as
something is painted - a fill, a stroke, shown text, an image pixel, a shading - in a
colour (see :mod:`.colour`). What it cannot judge (Lab, DeviceN and spot colours with
non-exponential tint transforms, mesh and sampled shadings, coloured Type 3 glyphs,
appearance-less annotations, undecodable images) makes the page ``RENDER``: rendering
decides. Clipping and overpainting are not
modelled: colour painted but hidden still counts.
"""

from __future__ import annotations

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
from printwarden.analysis.pdfimages import image_verdict
from printwarden.analysis.pdfpaint import shading_verdict, uncoloured_pattern
from printwarden.analysis.pdfspaces import (
    CMYK,
    GREY,
    RGB,
    Kind,
    Space,
    Verdict,
    initial,
    judge,
)
from printwarden.analysis.pdfspaces import resolve as resolve_space

PRINT_FLAG = 4
HIDDEN_FLAG = 2
_FILL = frozenset({"f", "F", "f*"})
_STROKE = frozenset({"S", "s"})
_BOTH = frozenset({"B", "B*", "b", "b*"})
_TEXT = frozenset({"Tj", "TJ", "'", '"'})
_DEVICE = {"g": GREY, "G": GREY, "rg": RGB, "RG": RGB, "k": CMYK, "K": CMYK}
_OPERATORS = " ".join(
    [*_FILL, *_STROKE, *_BOTH, *_TEXT, *_DEVICE, "q Q cs CS sc scn SC SCN Tr Tf Do sh BI ID EI"]
)
_FILL_MODES = frozenset({0, 2, 4, 6})
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
_STROKE_MODES = frozenset({1, 2, 5, 6})


@dataclass(frozen=True, slots=True)
class GState:
    """The part of the graphics state that decides what colour gets painted."""

    fill_space: Space = GREY
    stroke_space: Space = GREY
    fill: Verdict = Verdict.GREY
    stroke: Verdict = Verdict.GREY
    render_mode: int = 0
    type3: Verdict | None = None
    """For a Type 3 font: GREY when its glyphs take the text colour, else RENDER."""


class Scanner:
    """Judges pages one by one; caches image and Type 3 font verdicts across pages."""

    def __init__(self, tolerance: int) -> None:
        self.tolerance = tolerance
        self._images: dict[tuple[int, int], Verdict] = {}
        self._fonts: dict[tuple[int, int], Verdict] = {}

    def page(self, page: pikepdf.Page) -> Verdict:
        """GREY, COLOUR, or RENDER when only rendering can tell."""
        obj = page.obj
        scope = Scope(inherited(obj, "/Resources"))
        try:
            found = self._walk(obj, scope, GState())
            if found is not Verdict.COLOUR:
                found = max(found, self._annotations(obj, scope))
        except _BROKEN:
            return Verdict.RENDER
        return found

    def _annotations(self, page: pikepdf.Dictionary, scope: Scope) -> Verdict:
        annotations = page.get("/Annots")
        if not isinstance(annotations, pikepdf.Array):
            return Verdict.GREY
        found = Verdict.GREY
        for annotation in annotations:
            if not isinstance(annotation, pikepdf.Dictionary):
                continue
            flags = int(annotation.get("/F", 0))
            if not flags & PRINT_FLAG or flags & HIDDEN_FLAG:
                continue
            found = max(found, self._appearance(annotation, scope))
        return found

    def _appearance(self, annotation: pikepdf.Dictionary, scope: Scope) -> Verdict:
        appearances = annotation.get("/AP")
        normal = appearances.get("/N") if isinstance(appearances, pikepdf.Dictionary) else None
        if isinstance(normal, pikepdf.Dictionary) and not isinstance(normal, pikepdf.Stream):
            state = annotation.get("/AS")
            normal = normal.get(str(state)) if state is not None else None
        if not isinstance(normal, pikepdf.Stream):
            return Verdict.RENDER
        return self._form(normal, Scope(None), GState())

    def _walk(self, target: pikepdf.Object, scope: Scope, state: GState) -> Verdict:
        if _grey(state) and plainly_grey(target, scope):
            return Verdict.GREY
        stack: list[GState] = []
        found = Verdict.GREY
        for instruction in pikepdf.parse_content_stream(target, _OPERATORS):
            op = str(instruction.operator)
            if op == "q":
                stack.append(state)
            elif op == "Q":
                state = stack.pop() if stack else state
            elif op in _TEXT and _grey_text(state):
                continue
            else:
                state, painted = self._step(op, list(instruction.operands), scope, state)
                found = max(found, painted)
                if found is Verdict.COLOUR:
                    break
        return found

    def _step(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> tuple[GState, Verdict]:
        if op in _TEXT:
            return state, _text(state, operands)
        if op in _FILL:
            return state, state.fill
        if op in _STROKE:
            return state, state.stroke
        if op in _BOTH:
            return state, max(state.fill, state.stroke)
        if op in ("Do", "INLINE IMAGE"):
            return state, self._draw(op, operands, scope, state)
        if op == "sh":
            shading = scope.entry("/Shading", operands[0] if operands else None)
            return state, shading_verdict(shading, scope.get("/ColorSpace"), self.tolerance)
        if op in ("Tr", "Tf"):
            return self._text_state(op, operands, scope, state), Verdict.GREY
        return self._colour_op(op, operands, scope, state), Verdict.GREY

    def _colour_op(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> GState:
        fill = op.islower()
        if op in _DEVICE:
            space = _DEVICE[op]
            verdict = _judge_operands(space, operands, self.tolerance)
        elif op in ("cs", "CS"):
            space = resolve_space(operands[0] if operands else None, scope.get("/ColorSpace"))
            verdict = judge(space, initial(space), self.tolerance)
        else:
            space = state.fill_space if fill else state.stroke_space
            verdict = self._set_colour(space, operands, scope)
        if fill:
            return replace(state, fill_space=space, fill=verdict)
        return replace(state, stroke_space=space, stroke=verdict)

    def _set_colour(self, space: Space, operands: Sequence[object], scope: Scope) -> Verdict:
        if space.kind is not Kind.PATTERN:
            return _judge_operands(space, operands, self.tolerance)
        name = operands[-1] if operands else None
        pattern = scope.entry("/Pattern", name)
        if not isinstance(pattern, pikepdf.Dictionary | pikepdf.Stream):
            return Verdict.GREY
        if pattern.get("/PatternType") == 2:
            return shading_verdict(pattern.get("/Shading"), None, self.tolerance)
        if pattern.get("/PaintType") == 2:
            values = numbers(operands[:-1])
            if values is None:
                return Verdict.RENDER
            return uncoloured_pattern(space, values, self.tolerance)
        if not isinstance(pattern, pikepdf.Stream):
            return Verdict.RENDER
        return self._form(pattern, scope, GState())

    def _draw(self, op: str, operands: Sequence[object], scope: Scope, state: GState) -> Verdict:
        if op == "INLINE IMAGE":
            image = operands[0] if operands else None
            if not isinstance(image, pikepdf.PdfInlineImage):
                return Verdict.RENDER
            return image_verdict(image, scope.get("/ColorSpace"), state.fill, self.tolerance)
        target = scope.entry("/XObject", operands[0] if operands else None)
        if not isinstance(target, pikepdf.Stream):
            return Verdict.GREY
        subtype = target.get("/Subtype")
        if subtype == pikepdf.Name.Image:
            return self._image(target, scope, state)
        if subtype == pikepdf.Name.Form:
            return self._form(target, scope, state)
        return Verdict.GREY

    def _image(self, target: pikepdf.Stream, scope: Scope, state: GState) -> Verdict:
        if bool(target.get("/ImageMask", False)):
            return state.fill
        key = target.objgen
        if key not in self._images:
            image = pikepdf.PdfImage(target)
            named = scope.get("/ColorSpace")
            self._images[key] = image_verdict(image, named, state.fill, self.tolerance)
        return self._images[key]

    def _form(self, target: pikepdf.Stream, scope: Scope, state: GState) -> Verdict:
        inner = scope.enter(target, target.get("/Resources"))
        return Verdict.RENDER if inner is None else self._walk(target, inner, state)

    def _text_state(
        self, op: str, operands: Sequence[object], scope: Scope, state: GState
    ) -> GState:
        if op == "Tr":
            values = numbers(operands)
            return replace(state, render_mode=int(values[0])) if values else state
        font = scope.entry("/Font", operands[0] if operands else None)
        return replace(state, type3=self._type3(font))

    def _type3(self, font: pikepdf.Object | None) -> Verdict | None:
        if not isinstance(font, pikepdf.Dictionary) or font.get("/Subtype") != pikepdf.Name.Type3:
            return None
        key = font.objgen
        if key not in self._fonts:
            self._fonts[key] = type3_verdict(font)
        return self._fonts[key]


def _judge_operands(space: Space, operands: Sequence[object], tolerance: int) -> Verdict:
    values = numbers(operands)
    return Verdict.RENDER if values is None else judge(space, values, tolerance)


def _grey(state: GState) -> bool:
    return state.fill is Verdict.GREY and state.stroke is Verdict.GREY


def _grey_text(state: GState) -> bool:
    return _grey(state) and state.type3 in (None, Verdict.GREY)


def _text(state: GState, operands: Sequence[object]) -> Verdict:
    """What showing text paints. Render modes 3 (invisible) and 7 (clip) paint nothing;
    Type 3 glyphs ignore the other modes and paint in the fill colour."""
    mode = state.render_mode
    if mode in (3, 7):
        return Verdict.GREY
    if state.type3 is not None:
        painted = max(state.fill, state.type3)
    else:
        fill = state.fill if mode in _FILL_MODES else Verdict.GREY
        stroke = state.stroke if mode in _STROKE_MODES else Verdict.GREY
        painted = max(fill, stroke)
    if painted is Verdict.GREY or not shows_something(operands):
        return Verdict.GREY
    return painted
