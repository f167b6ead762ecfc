"""Drawing a vector layer's passes on a Skia canvas: paths (one fill per feature, then each
pass's outlines in one stroke; many wide opaque lines stroked by AGG, agg.py), point markers,
and the candidates for label placement."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from .agg import AggStrokes, strokes_with_agg
from .api import MapView, VectorLayerData
from .geometry import Shapes, clip_far, point_coords
from .labels import Candidate, anchors, label_texts
from .passes import IntArray, Pass, column, numbers
from .paths import MOVE, PathBatch, serialize
from .styles import LineCap, LineJoin, Marker, Placement, Style, Symbol, geometry_family
from .symbols import Sprite, fill_paint, stroke_paint
from .thinning import TINY_TOLERANCE, TOLERANCE, thin

POINT_TYPES = (shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOINT)
# A line no longer than this many stroke widths is mostly its stroke's blob: consecutive such
# lines are stroked together, up to _GROUP a draw (200,000 lines of ~4 px: one Python call and
# one Skia draw per feature cost more than stroking them; docs/performance.md, sixth pass).
# Only where two lines of one group overlap do their anti-aliased edges add up differently.
# Such a line is also thinned harder (thinning.TINY_TOLERANCE, at most half the stroke width):
# its vertices move by less than the stroke's half width, inside its blob (the 200,000 lines:
# stroking 1.3 -> 0.6 s; docs/performance.md, PostGIS, seventh pass).
_TINY = 2.0
_GROUP = 32
# AGG strokes a pass's lines from this many vertices: its composite costs ~10-20 ms a map (a
# straight-RGBA image drawn over the canvas), what Skia spends stroking ~20,000 vertices
# (the sparse line window, ~50 lines: 7 -> 18 ms with AGG; docs/decisions/0009-agg-strokes.md).
_AGG_LEAST = 20_000


def draw_paths(
    canvas: skia.Canvas,
    view: MapView,
    shapes: Shapes,
    rows: IntArray,
    passes: list[Pass],
    to_pixels: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
) -> None:
    subpaths = shapes.subpaths(rows, to_pixels)
    subpaths = clip_far(
        lambda k: shapes.objects(rows[k]), subpaths, to_pixels, view.width, view.height
    )
    # Vertices within half a pixel of the last kept one change no more than anti-aliased
    # edge pixels, and cost most of a small-scale map of many short lines (thinning.py).
    extent, tiny_tolerance = tiny_lines(p.symbol for p in passes)
    batch: PathBatch = serialize(thin(subpaths, TOLERANCE, extent, tiny_tolerance))
    if len(batch.feature) == 0:
        return
    record_of_row = np.full(len(rows), -1, dtype=np.intp)
    record_of_row[batch.feature] = np.arange(len(batch.feature))
    is_area = np.isin(
        shapes.kinds[rows], (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
    )
    path = skia.Path()  # one path, re-read per feature: no allocation in the loop
    read, draw = path.readFromMemory, canvas.drawPath
    extents: npt.NDArray[np.float32] | None = None  # of the records, once a pass strokes lines
    # Opaque wide strokes of lines go to AGG (agg.py), composited before Skia's next draw.
    agg = AggStrokes(view.width, view.height)
    for p in passes:
        local = np.searchsorted(rows, p.rows)  # `rows` is sorted; a pass may hold points
        ok = local < len(rows)
        ok[ok] = rows[local[ok]] == p.rows[ok]
        local = local[ok]
        records = record_of_row[local]
        keep = records >= 0
        records, local = records[keep], local[keep]
        fill = fill_paint(p.symbol)
        stroke = stroke_paint(p.symbol)
        if fill is not None:
            areas = records[is_area[local]]
            if len(areas):
                agg.flush(canvas)
                starts, ends = batch.start[areas], batch.start[areas] + batch.size[areas]
                raw = batch.raw
                # One draw per feature: each feature is its own even-odd path (holes stay
                # holes, and overlapping translucent features add up as in QGIS).
                for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                    read(raw[start:end])
                    draw(path, fill)
        if stroke is not None and len(records):
            # Outlines go on top of every fill of the pass (a shared border is not
            # half-covered by the neighbour's fill). Polygon outlines in one path: one draw
            # call instead of one per feature. Lines one draw each, as QGIS draws them: Skia
            # strokes many short paths faster than one path of all of them (10,000 lines
            # 0.37 -> 0.20 s; docs/performance.md, PostGIS, the lines), but for tiny ones.
            outlines = np.sort(records[is_area[local]])
            if len(outlines):
                agg.flush(canvas)
                path.readFromMemory(batch.merged(outlines))
                draw(path, stroke)
            lines = np.sort(records[~is_area[local]])
            if not len(lines):
                continue
            if strokes_with_agg(p.symbol):
                points, verbs = batch.runs(lines)
                if len(points) >= _AGG_LEAST and len(points) == len(verbs):  # (no ring)
                    agg.stroke(points, np.flatnonzero(verbs == MOVE), p.symbol)
                    continue
            agg.flush(canvas)
            if extents is None:
                extents = batch.extents()
            tiny = extents[lines] <= _TINY * p.symbol.stroke_width
            first, size = _groups(tiny)
            # Groups of one are read from the batch; the others from records made for them.
            alone = size == 1
            starts = np.where(alone, batch.start[lines[first]], -1)
            ends = starts + batch.size[lines[first]]
            several = ~alone
            if several.any():
                joined, g_start, g_size = batch.grouped(
                    lines[np.repeat(several, size)], size[several]
                )
                starts[several] = g_start
                ends[several] = g_start + g_size
            raw = batch.raw if alone.any() else b""
            for start, end, one in zip(starts.tolist(), ends.tolist(), alone.tolist(), strict=True):
                read(raw[start:end] if one else joined[start:end])
                draw(path, stroke)
    agg.flush(canvas)


def tiny_lines(symbols: Iterable[Symbol]) -> tuple[float, float]:
    """Which lines `symbols` draw as little more than their strokes' blobs, and how hard those
    may be thinned: (extent, tolerance) in pixels, (0.0, 0.0) for none. A source may thin a
    drawing's lines no longer than `extent` at `tolerance` (`FeatureQuery.tiny_lines`)."""
    width = _least_width(symbols)
    tolerance = min(TINY_TOLERANCE, width / 2)
    if tolerance <= TOLERANCE:  # (strokes of 1 px or less: no line is thinned harder)
        return 0.0, 0.0
    return _TINY * width, tolerance


def _least_width(symbols: Iterable[Symbol]) -> float:
    """The least width of the symbols that stroke; 0 when none does, or one dashes (its dashes
    would move along the line), joins in miters (a miter's spike follows the angle between two
    segments) or ends in butt caps (a butt end turns with the last segment:
    tests/rendering/test_thinning.py)."""
    strokes = [s for s in symbols if stroke_paint(s) is not None]
    if not strokes or any(_moves(s) for s in strokes):
        return 0.0
    return min(s.stroke_width for s in strokes)


def _moves(symbol: Symbol) -> bool:
    """Whether the stroke's shape follows a line's vertices beyond its blob (see _least_width)."""
    return (
        symbol.dash is not None
        or symbol.line_join is LineJoin.MITER
        or symbol.line_cap is LineCap.BUTT
    )


def _groups(tiny: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """Where each draw starts among the lines and how many lines it strokes: runs of
    consecutive tiny lines, cut every _GROUP lines; every other line alone."""
    n = len(tiny)
    new = np.ones(n, dtype=bool)
    new[1:] = ~(tiny[1:] & tiny[:-1])
    run_start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    new |= (np.arange(n) - run_start) % _GROUP == 0
    first = np.flatnonzero(new)
    return first, np.diff(np.append(first, n))


def draw_markers(
    canvas: skia.Canvas,
    view: MapView,
    layer: VectorLayerData,
    shapes: Shapes,
    rows: IntArray,
    passes: list[Pass],
    to_pixels: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    sprite_of: Callable[[Marker, float], Sprite],
) -> None:
    xy, part_of = point_coords(shapes.objects(rows), to_pixels)
    row_of_part = rows[part_of]
    for p in passes:
        marker = p.symbol.marker
        if marker is None:
            continue
        sprite = sprite_of(marker, p.symbol.opacity)
        reach = sprite.anchor
        with np.errstate(invalid="ignore"):
            inside = (
                np.isin(row_of_part, p.rows)
                & (xy[:, 0] > -reach)
                & (xy[:, 0] < view.width + reach)
                & (xy[:, 1] > -reach)
                & (xy[:, 1] < view.height + reach)
            )
        if not inside.any():
            continue
        rotations = None
        if marker.rotation_field:
            values = column(layer.columns, marker.rotation_field, len(shapes))
            rotations = numbers(values, row_of_part[inside])
        sprite.blit(canvas, xy[inside], rotations)


def label_candidates(
    style: Style,
    layer: VectorLayerData,
    shapes: Shapes,
    rows: IntArray,
    passes: list[Pass],
    to_pixels: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
) -> list[tuple[tuple[float, ...], Candidate]]:
    spec = style.label
    assert spec is not None
    texts = label_texts(spec, layer.columns, rows)
    has_text = np.array([bool(t) for t in texts], dtype=bool)
    if not has_text.any():
        return []
    rows = rows[has_text]
    texts = [t for t, keep in zip(texts, has_text.tolist(), strict=True) if keep]
    geometries = shapes.objects(rows)
    family = geometry_family(layer.geometry_type) or _family_of(geometries[0])
    placement = spec.placement or {"point": Placement.POINT, "line": Placement.LINE}.get(
        family, Placement.CENTROID
    )
    xy, angles, sizes = anchors(geometries, placement, to_pixels)
    priority = (
        numbers(column(layer.columns, spec.priority_field, len(shapes)), rows)
        if spec.priority_field
        else np.zeros(len(rows))
    )
    priority = np.nan_to_num(priority, nan=-math.inf)
    gap = max(
        ((p.symbol.marker.size / 2) for p in passes if p.symbol.marker is not None),
        default=0.0,
    )
    out: list[tuple[tuple[float, ...], Candidate]] = []
    for k in range(len(rows)):
        x, y = float(xy[k, 0]), float(xy[k, 1])
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        cand = Candidate(texts[k], x, y, float(angles[k]), spec, gap, placement, float(priority[k]))
        out.append(((-float(priority[k]), -float(sizes[k]), float(k)), cand))
    return out


def _family_of(geometry: Any) -> str:
    kind = shapely.get_type_id(geometry)
    if kind in POINT_TYPES:
        return "point"
    if kind in (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING):
        return "line"
    return "polygon"
