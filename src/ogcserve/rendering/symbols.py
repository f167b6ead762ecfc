"""Skia paints for symbols, and marker sprites (drawn once, then blitted per point)."""

from __future__ import annotations

import math

import numpy as np
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from .styles import RGBA, LineCap, LineJoin, Marker, MarkerShape, Symbol

_JOINS = {
    LineJoin.MITER: skia.Paint.kMiter_Join,
    LineJoin.ROUND: skia.Paint.kRound_Join,
    LineJoin.BEVEL: skia.Paint.kBevel_Join,
}
_CAPS = {
    LineCap.BUTT: skia.Paint.kButt_Cap,
    LineCap.ROUND: skia.Paint.kRound_Cap,
    LineCap.SQUARE: skia.Paint.kSquare_Cap,
}


def color(rgba: RGBA, opacity: float = 1.0) -> int:
    """A Skia ARGB colour int, with the alpha scaled by `opacity`."""
    r, g, b, a = rgba
    return int(skia.ColorSetARGB(round(a * opacity), r, g, b))


def fill_paint(symbol: Symbol) -> skia.Paint | None:
    """The anti-aliased fill paint of a symbol (None: no fill)."""
    if symbol.fill is None:
        return None
    return skia.Paint(AntiAlias=True, Color=color(symbol.fill, symbol.opacity))


def stroke_paint(symbol: Symbol) -> skia.Paint | None:
    """The stroke paint of a symbol (None: no stroke).

    Widths up to 1 px are drawn by Skia as hairlines with coverage scaled by the width, which is
    both the fast path and the look of a thin cartographic outline.
    """
    if symbol.stroke is None or symbol.stroke_width <= 0:
        return None
    paint = skia.Paint(
        AntiAlias=True,
        Color=color(symbol.stroke, symbol.opacity),
        Style=skia.Paint.kStroke_Style,
        StrokeWidth=symbol.stroke_width,
    )
    paint.setStrokeJoin(_JOINS[symbol.line_join])
    paint.setStrokeCap(_CAPS[symbol.line_cap])
    if symbol.dash is not None:
        intervals = list(symbol.dash) + (list(symbol.dash) if len(symbol.dash) % 2 else [])
        # Dash lengths are multiples of the line width, as in QGIS and SVG conventions for maps.
        scale = max(symbol.stroke_width, 1.0)
        paint.setPathEffect(skia.DashPathEffect.Make([v * scale for v in intervals], 0))
    return paint


def marker_path(shape: MarkerShape, size: float) -> skia.Path:
    """The outline of a marker shape of `size` pixels, centred on (0, 0)."""
    r = size / 2
    if shape is MarkerShape.CIRCLE:
        return skia.Path.Circle(0, 0, r)
    if shape is MarkerShape.SQUARE:
        return skia.Path.Rect(skia.Rect.MakeLTRB(-r, -r, r, r))
    if shape is MarkerShape.TRIANGLE:
        # Equilateral, pointing up, centred on its centroid.
        pts = [(0.0, -r), (r * math.sqrt(3) / 2, r / 2), (-r * math.sqrt(3) / 2, r / 2)]
        return skia.Path.Polygon([skia.Point(x, y) for x, y in pts], True)
    if shape is MarkerShape.STAR:
        inner = r * 0.382  # a regular five-pointed star
        pts = []
        for i in range(10):
            radius = r if i % 2 == 0 else inner
            angle = -math.pi / 2 + i * math.pi / 5
            pts.append(skia.Point(radius * math.cos(angle), radius * math.sin(angle)))
        return skia.Path.Polygon(pts, True)
    arm = r * 0.3  # cross: a plus sign made of two bars, drawn as one outline
    pts = [
        (-arm, -r),
        (arm, -r),
        (arm, -arm),
        (r, -arm),
        (r, arm),
        (arm, arm),
        (arm, r),
        (-arm, r),
        (-arm, arm),
        (-r, arm),
        (-r, -arm),
        (-arm, -arm),
    ]
    return skia.Path.Polygon([skia.Point(x, y) for x, y in pts], True)


class Sprite:
    """A marker rasterised once; `anchor` is the pixel offset of the marker's centre."""

    def __init__(self, marker: Marker, opacity: float = 1.0) -> None:
        stroke_width = marker.stroke_width or 0.0
        has_stroke = marker.stroke is not None and stroke_width > 0
        extent = marker.size + (stroke_width if has_stroke else 0.0) + 2
        side = math.ceil(extent)
        if marker.rotation:
            side = math.ceil(extent * math.sqrt(2))
        self.anchor = side / 2
        surface = skia.Surface(side, side)
        canvas = surface.getCanvas()
        canvas.clear(skia.ColorTRANSPARENT)
        canvas.translate(self.anchor, self.anchor)
        canvas.rotate(marker.rotation)
        self.path = marker_path(marker.shape, marker.size)
        self.paints: list[skia.Paint] = []
        if marker.fill is not None:
            self.paints.append(skia.Paint(AntiAlias=True, Color=color(marker.fill, opacity)))
        if has_stroke and marker.stroke is not None:
            self.paints.append(
                skia.Paint(
                    AntiAlias=True,
                    Color=color(marker.stroke, opacity),
                    Style=skia.Paint.kStroke_Style,
                    StrokeWidth=stroke_width,
                    StrokeJoin=skia.Paint.kMiter_Join,
                )
            )
        for paint in self.paints:
            canvas.drawPath(self.path, paint)
        self.image: skia.Image = surface.makeImageSnapshot()
        self.marker = marker

    def blit(self, canvas: skia.Canvas, xy: np.ndarray, rotations: np.ndarray | None) -> None:
        """Draw the sprite centred on each (x, y); per-point rotations in degrees if given.

        Centres snap to whole pixels (unrotated case): invisible on maps, and 1.7x faster than
        resampling (render_bench §3).
        """
        image, anchor = self.image, self.anchor
        if rotations is None:
            origins = np.rint(xy - anchor)
            draw = canvas.drawImage
            for x, y in origins.tolist():
                draw(image, x, y)
            return
        # Rotated per point: draw the shape itself (a resampled sprite would blur).
        base = self.marker.rotation
        for (x, y), angle in zip(xy.tolist(), rotations.tolist(), strict=True):
            canvas.save()
            canvas.translate(x, y)
            canvas.rotate(base + (angle if math.isfinite(angle) else 0.0))
            for paint in self.paints:
                canvas.drawPath(self.path, paint)
            canvas.restore()
