"""Labels: anchors from geometries, greedy placement without overlaps, drawing with halos.

Candidates are placed in priority order (layers top first, then the label's `priority_field`
descending, then bigger features first); a label whose box meets an already placed box, or
leaves the image, is tried at its next position and dropped when none fits. Boxes are kept in a
grid of cells so that a test costs the few boxes nearby, not all of them.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from .styles import Label, Placement
from .symbols import color

FloatArray = npt.NDArray[np.float64]
Box = tuple[float, float, float, float]

_CELL = 64.0  # pixels per grid cell of the collision index
_PAD = 1.0  # pixels kept free around each label


@dataclass(frozen=True, slots=True)
class Candidate:
    """One label to place: text, anchor (pixels), angle (degrees) and where it may go."""

    text: str
    x: float
    y: float
    angle: float
    spec: Label
    gap: float  # distance from a point anchor (e.g. the marker's radius)
    placement: Placement
    priority: float


class Fonts:
    """Typefaces and fonts, made once per renderer."""

    def __init__(self) -> None:
        self._faces: dict[bool, skia.Typeface] = {}
        self._fonts: dict[tuple[bool, float], skia.Font] = {}

    def font(self, size: float, bold: bool) -> skia.Font:
        """DejaVu Sans (the default sans-serif face if it is missing) at `size` pixels."""
        found = self._fonts.get((bold, size))
        if found is None:
            face = self._faces.get(bold)
            if face is None:
                style = skia.FontStyle.Bold() if bold else skia.FontStyle.Normal()
                face = skia.Typeface("DejaVu Sans", style) or skia.Typeface.MakeDefault()
                self._faces[bold] = face
            found = skia.Font(face, size)
            found.setEdging(skia.Font.Edging.kAntiAlias)
            found.setSubpixel(True)
            self._fonts[(bold, size)] = found
        return found


def label_texts(spec: Label, columns: Mapping[str, Sequence[Any]], rows: np.ndarray) -> list[str]:
    """The label text of each row (empty when the value is missing)."""
    if spec.field is not None:
        values = columns.get(spec.field)
        if values is None:
            return [""] * len(rows)
        return [_as_text(values[i]) for i in rows.tolist()]
    template = spec.expression or ""
    names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
    out = []
    for i in rows.tolist():
        values_of = {n: columns[n][i] if n in columns else None for n in names}
        if any(v is None for v in values_of.values()):
            out.append("")
            continue
        try:
            out.append(template.format(**values_of))
        except (ValueError, TypeError):
            out.append("")
    return out


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:g}"
    return str(value)


def anchors(
    geometries: npt.NDArray[np.object_],
    placement: Placement,
    to_pixels: Callable[[FloatArray], FloatArray],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(xy pixels, angle degrees, size) of each geometry's label anchor.

    `size` orders candidates: area for polygons, length for lines, 0 for points.
    """
    n = len(geometries)
    angles = np.zeros(n)
    if placement is Placement.LINE:
        mid = shapely.line_interpolate_point(geometries, 0.5, normalized=True)
        before = shapely.line_interpolate_point(geometries, 0.45, normalized=True)
        after = shapely.line_interpolate_point(geometries, 0.55, normalized=True)
        xy = to_pixels(shapely.get_coordinates(mid))
        a = to_pixels(shapely.get_coordinates(before))
        b = to_pixels(shapely.get_coordinates(after))
        angles = np.degrees(np.arctan2(b[:, 1] - a[:, 1], b[:, 0] - a[:, 0]))
        # Keep text upright: never more than a quarter turn either way.
        angles = np.where(angles > 90, angles - 180, np.where(angles < -90, angles + 180, angles))
        size = shapely.length(geometries)
    elif placement is Placement.CENTROID:
        xy = to_pixels(shapely.get_coordinates(shapely.point_on_surface(geometries)))
        size = shapely.area(geometries)
    else:
        xy = to_pixels(shapely.get_coordinates(shapely.point_on_surface(geometries)))
        size = np.zeros(n)
    return xy, angles, np.asarray(size, dtype=np.float64)


class Placer:
    """Greedy label placement on one image; `place` returns where a label went, or None."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._boxes: list[Box] = []
        self._grid: dict[tuple[int, int], list[int]] = {}

    def _cells(self, box: Box) -> list[tuple[int, int]]:
        x0, y0, x1, y1 = (int(v // _CELL) for v in box)
        return [(i, j) for i in range(x0, x1 + 1) for j in range(y0, y1 + 1)]

    def is_free(self, box: Box) -> bool:
        """Whether `box` lies inside the image and meets no placed box."""
        x0, y0, x1, y1 = box
        if x0 < 0 or y0 < 0 or x1 > self.width or y1 > self.height:
            return False
        boxes = self._boxes
        for cell in self._cells(box):
            for k in self._grid.get(cell, ()):
                bx0, by0, bx1, by1 = boxes[k]
                if x0 < bx1 and bx0 < x1 and y0 < by1 and by0 < y1:
                    return False
        return True

    def take(self, box: Box) -> None:
        """Reserve `box`."""
        self._boxes.append(box)
        k = len(self._boxes) - 1
        for cell in self._cells(box):
            self._grid.setdefault(cell, []).append(k)


def draw_labels(
    canvas: skia.Canvas, candidates: Sequence[Candidate], fonts: Fonts, width: int, height: int
) -> int:
    """Place candidates greedily in the given order and draw those that fit; return how many."""
    placer = Placer(width, height)
    drawn = 0
    for cand in candidates:
        spec = cand.spec
        font = fonts.font(spec.size, spec.bold)
        text_w = font.measureText(cand.text)
        metrics = font.getMetrics()
        ascent, descent = -metrics.fAscent, metrics.fDescent
        text_h = ascent + descent
        halo = spec.halo.width if spec.halo is not None else 0.0
        ox, oy = spec.offset
        for cx, cy in _positions(cand, text_w, text_h):
            cx, cy = cx + ox, cy + oy
            box = _box(cx, cy, text_w + 2 * halo, text_h + 2 * halo, cand.angle)
            if placer.is_free(box):
                padded = (box[0] - _PAD, box[1] - _PAD, box[2] + _PAD, box[3] + _PAD)
                placer.take(padded)
                _draw(canvas, cand, font, cx, cy, text_w, ascent, descent)
                drawn += 1
                break
    return drawn


def _positions(cand: Candidate, w: float, h: float) -> list[tuple[float, float]]:
    """Centres to try: around a point (right, left, above, below), else the anchor itself."""
    if cand.placement is not Placement.POINT:
        return [(cand.x, cand.y)]
    g = cand.gap + 2
    return [
        (cand.x + g + w / 2, cand.y),
        (cand.x - g - w / 2, cand.y),
        (cand.x, cand.y - g - h / 2),
        (cand.x, cand.y + g + h / 2),
    ]


def _box(cx: float, cy: float, w: float, h: float, angle: float) -> Box:
    """The axis-aligned box around a w x h rectangle centred on (cx, cy), rotated by angle."""
    if angle:
        a = math.radians(angle)
        w, h = (
            abs(w * math.cos(a)) + abs(h * math.sin(a)),
            abs(w * math.sin(a)) + abs(h * math.cos(a)),
        )
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _draw(
    canvas: skia.Canvas,
    cand: Candidate,
    font: skia.Font,
    cx: float,
    cy: float,
    text_w: float,
    ascent: float,
    descent: float,
) -> None:
    spec = cand.spec
    blob = skia.TextBlob.MakeFromString(cand.text, font)
    if blob is None:
        return
    canvas.save()
    canvas.translate(cx, cy)
    if cand.angle:
        canvas.rotate(cand.angle)
    x, y = -text_w / 2, (ascent - descent) / 2  # baseline that centres the text vertically
    if spec.halo is not None and spec.halo.width > 0:
        halo = skia.Paint(
            AntiAlias=True,
            Color=color(spec.halo.color),
            Style=skia.Paint.kStroke_Style,
            StrokeWidth=2 * spec.halo.width,
            StrokeJoin=skia.Paint.kRound_Join,
        )
        canvas.drawTextBlob(blob, x, y, halo)
    canvas.drawTextBlob(blob, x, y, skia.Paint(AntiAlias=True, Color=color(spec.color)))
    canvas.restore()
