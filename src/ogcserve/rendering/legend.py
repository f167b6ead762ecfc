"""Legend images: a title, then one row per rule, category, class or ramp stop.

Each swatch is drawn with the entry's real symbol (fill and stroke, line or marker sprite), so
the legend looks like the map.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from .labels import Fonts
from .styles import RGBA, Marker, Style, Symbol, geometry_family
from .symbols import Sprite, color, fill_paint, stroke_paint

_PAD = 4
_SWATCH_W, _SWATCH_H = 20, 16
_ROW_H = 22
_GAP = 6
_TEXT = (34, 34, 34, 255)
_TITLE_SIZE, _TEXT_SIZE = 12.0, 11.0

Entry = tuple[str, Symbol | RGBA]


def entries(style: Style, scale_denominator: float | None) -> list[Entry]:
    """(text, symbol or ramp colour) per legend row, in the style's order."""
    if style.categorized is not None:
        rows: list[Entry] = [(c.title, c.symbol) for c in style.categorized.categories]
        if style.categorized.default is not None:
            rows.append(("Other", style.categorized.default))
        return rows
    if style.graduated is not None:
        rows = [(c.title, c.symbol) for c in style.graduated.classes]
        if style.graduated.default is not None:
            rows.append(("Other", style.graduated.default))
        return rows
    if style.rules is not None:
        return [(r.title, r.symbol) for r in style.rules if r.visible_at(scale_denominator)]
    if style.ramp is not None:
        return [(f"{value:g}", rgba) for value, rgba in style.ramp]
    return [("", style.symbol)] if style.symbol is not None else []


def draw_legend(
    title: str,
    style: Style,
    geometry_type: str | None,
    scale_denominator: float | None,
    fonts: Fonts,
    sprite_of: Callable[[Marker, float], Sprite],
) -> npt.NDArray[np.uint8]:
    """The legend as (height, width, 4) straight RGBA on a transparent background.

    A single-symbol style is one row: its swatch and the title.
    """
    rows = entries(style, scale_denominator)
    single = style.kind == "single"
    if single:
        rows = [(title, rows[0][1])] if rows else []
    title_font = fonts.font(_TITLE_SIZE, True)
    text_font = fonts.font(_TEXT_SIZE, False)
    widths = [text_font.measureText(text) for text, _ in rows]
    title_w = 0.0 if single else title_font.measureText(title)
    width = math.ceil(
        max(title_w + 2 * _PAD, _PAD * 2 + _SWATCH_W + _GAP + max(widths, default=0.0))
    )
    title_h = 0 if single else _ROW_H
    height = title_h + _ROW_H * len(rows) + (_PAD if rows else 0)
    height = max(height, _ROW_H)

    surface = skia.Surface(width, height)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    ink = skia.Paint(AntiAlias=True, Color=color(_TEXT))
    if not single:
        canvas.drawString(title, _PAD, _baseline(0, title_font), title_font, ink)
    family = geometry_family(geometry_type)
    for k, (text, what) in enumerate(rows):
        top = title_h + k * _ROW_H
        box = skia.Rect.MakeXYWH(_PAD, top + (_ROW_H - _SWATCH_H) / 2, _SWATCH_W, _SWATCH_H)
        if isinstance(what, Symbol):
            _swatch(canvas, box, what, family, sprite_of)
        else:
            canvas.drawRect(box, skia.Paint(AntiAlias=True, Color=color(what)))
            # A thin grey frame keeps light stops (white, pale yellow) visible.
            frame = skia.Paint(
                AntiAlias=True,
                Color=color((150, 150, 150, 255)),
                Style=skia.Paint.kStroke_Style,
                StrokeWidth=1,
            )
            canvas.drawRect(box.makeInset(0.5, 0.5), frame)
        x = _PAD + _SWATCH_W + _GAP
        canvas.drawString(text, x, _baseline(top, text_font), text_font, ink)

    out = np.empty((height, width, 4), dtype=np.uint8)
    info = skia.ImageInfo.Make(width, height, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    surface.readPixels(info, out)
    return out


def _baseline(top: float, font: skia.Font) -> float:
    metrics = font.getMetrics()
    return top + (_ROW_H - float(metrics.fAscent) - float(metrics.fDescent)) / 2


def _swatch(
    canvas: skia.Canvas,
    box: skia.Rect,
    symbol: Symbol,
    family: str | None,
    sprite_of: Callable[[Marker, float], Sprite],
) -> None:
    if symbol.marker is not None:
        sprite = sprite_of(symbol.marker, symbol.opacity)
        sprite.blit(canvas, np.array([[box.centerX(), box.centerY()]]), None)
        return
    stroke = stroke_paint(symbol)
    if stroke is not None:  # keep wide strokes inside the swatch
        stroke.setStrokeWidth(min(stroke.getStrokeWidth(), 4.0))
    if family == "line" or (family is None and symbol.fill is None):
        path = skia.Path()
        path.moveTo(box.left() + 1, box.bottom() - 3)
        path.cubicTo(
            box.centerX(),
            box.top() - 2,
            box.centerX(),
            box.bottom() + 2,
            box.right() - 1,
            box.top() + 3,
        )
        if stroke is not None:
            canvas.drawPath(path, stroke)
        return
    inset = box.makeInset(1, 1)
    fill = fill_paint(symbol)
    if fill is not None:
        canvas.drawRect(inset, fill)
    if stroke is not None:
        canvas.drawRect(inset, stroke)
