"""The map renderer: layers in, straight RGBA pixels out (Skia, anti-aliased).

For each vector layer: cull features by bbox in the layer's CRS, decide which symbol draws which
feature (one "pass" per symbol), reproject all coordinates at once, build every feature's path
from numpy, then draw per feature, fill then stroke, so painter's order is the features' order.
Labels of all layers are placed last, over everything, without overlaps.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from ogcserve.expressions import to_predicate
from ogcserve.features import Feature

from .api import LayerData, MapView, RasterLayerData, VectorLayerData
from .geometry import (
    PathBatch,
    Projector,
    Shapes,
    clip_far,
    cull,
    point_coords,
    serialize,
)
from .labels import Candidate, Fonts, anchors, draw_labels, label_texts
from .legend import draw_legend
from .raster import colorize
from .styles import Marker, Placement, Style, Symbol, geometry_family, parse_style
from .symbols import Sprite, color, fill_paint, stroke_paint

IntArray = npt.NDArray[np.intp]
Image = npt.NDArray[np.uint8]

_STYLE_CACHE_SIZE = 512
_POINT_TYPES = (shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOINT)


@dataclass(frozen=True, slots=True)
class Pass:
    """A symbol and the rows (indices into the layer's arrays) it draws, in drawing order."""

    symbol: Symbol
    rows: IntArray


class Renderer:
    """Draws maps and legends. Build one per server; it is safe to share between threads.

    It keeps only caches (parsed styles, compiled rule filters, marker sprites, per-thread
    coordinate transformers and fonts); every `render` call is independent.
    """

    def __init__(self) -> None:
        self._projector = Projector()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._styles: dict[int, tuple[Mapping[str, Any], Style]] = {}
        self._predicates: dict[str, Callable[[Feature], bool]] = {}
        self._sprites: dict[tuple[Marker, float], Sprite] = {}

    # --- public API -------------------------------------------------------------------------

    def style_fields(self, style: Mapping[str, Any]) -> set[str]:
        """The attributes a style reads: categorized/graduated field, rule filters' properties,
        label field or template fields, label priority and marker rotation fields."""
        return self.parsed(style).fields()

    def reach(self, style: Mapping[str, Any]) -> float:
        """How many pixels beyond the view a feature may lie and still be seen (wide strokes,
        markers, labels): callers read features from `view.grown(reach)`."""
        return self.parsed(style).reach()

    def parsed(self, style: Mapping[str, Any]) -> Style:
        """The validated `Style` of a style block (cached; raises `ValueError` if invalid)."""
        key = id(style)
        with self._lock:
            found = self._styles.get(key)
        if found is not None and found[0] is style:
            return found[1]
        parsed = parse_style(style)
        with self._lock:
            if len(self._styles) >= _STYLE_CACHE_SIZE:
                self._styles.clear()
            self._styles[key] = (style, parsed)  # holding `style` keeps its id from being reused
        return parsed

    def render(
        self,
        view: MapView,
        layers: Sequence[LayerData],
        check: Callable[[], None] = lambda: None,
    ) -> Image:
        """Draw `layers` bottom first; (height, width, 4) uint8 RGBA, not premultiplied.

        `check` is called before each layer and before the labels; it raises to stop drawing
        (the request's deadline)."""
        surface = skia.Surface(view.width, view.height)
        canvas = surface.getCanvas()
        canvas.clear(color(view.background))
        scale = view.scale_denominator
        candidates: list[tuple[tuple[float, ...], Candidate]] = []
        for depth, layer in enumerate(layers):
            check()
            if isinstance(layer, RasterLayerData):
                self._draw_raster(canvas, view, layer)
            else:
                for order, cand in self._draw_vector(canvas, view, layer, scale):
                    candidates.append(((-depth, *order), cand))
        if candidates:
            check()
            candidates.sort(key=lambda item: item[0])
            draw_labels(canvas, [c for _, c in candidates], self._fonts(), view.width, view.height)
        out = np.empty((view.height, view.width, 4), dtype=np.uint8)
        # On an opaque background every pixel is opaque: premultiplied and straight RGBA are
        # the same bytes, and reading them back needs no division.
        alpha_type = (
            skia.kPremul_AlphaType if view.background[3] == 255 else skia.kUnpremul_AlphaType
        )
        info = skia.ImageInfo.Make(view.width, view.height, skia.kRGBA_8888_ColorType, alpha_type)
        surface.readPixels(info, out)
        return out

    def legend(
        self,
        title: str,
        style: Mapping[str, Any],
        geometry_type: str | None,
        scale_denominator: float | None = None,
        hidden: Set[str] = frozenset(),
    ) -> Image:
        """A legend: `title`, then one entry per rule (visible at the scale, if given),
        category, class or ramp stop, each with a swatch drawn with its real symbol; without
        what reads the `hidden` attributes (`Style.without`)."""
        parsed = self.parsed(style).without(hidden)
        return draw_legend(
            title, parsed, geometry_type, scale_denominator, self._fonts(), self._sprite
        )

    # --- vector layers ----------------------------------------------------------------------

    def _draw_vector(
        self, canvas: skia.Canvas, view: MapView, layer: VectorLayerData, scale: float
    ) -> list[tuple[tuple[float, ...], Candidate]]:
        style = self.parsed(layer.style)
        shapes = Shapes(layer.geometries)
        bounds = self._projector.view_bounds_in(view, layer.crs, style.reach())
        rows = cull(shapes.bounds, bounds)
        passes = self._passes(style, layer, rows, scale) if len(rows) else []
        labelled_only = style.kind == "single" and style.label is not None and len(rows) > 0
        if not passes and not labelled_only:
            return []
        to_pixels = self._projector.to_pixels(view, layer.crs)
        # A labels-only style (no symbol) labels every feature in view.
        drawn = np.unique(np.concatenate([p.rows for p in passes])) if passes else rows
        is_point = np.isin(shapes.kinds[drawn], _POINT_TYPES)

        layer_alpha = style.opacity < 1
        if layer_alpha:
            canvas.saveLayerAlpha(None, round(255 * style.opacity))
        if (~is_point).any():
            self._draw_paths(canvas, view, shapes, drawn[~is_point], passes, to_pixels)
        if is_point.any():
            self._draw_markers(canvas, view, layer, shapes, drawn[is_point], passes, to_pixels)
        if layer_alpha:
            canvas.restore()
        if style.label is None:
            return []
        return self._label_candidates(style, layer, shapes, drawn, passes, to_pixels)

    def _passes(
        self, style: Style, layer: VectorLayerData, rows: IntArray, scale: float
    ) -> list[Pass]:
        columns = layer.columns
        if style.categorized is not None:
            spec = style.categorized
            values = _column(columns, spec.field, len(layer.geometries))
            exact: dict[Any, int] = {}
            loose: dict[str, int] = {}
            for k, category in enumerate(spec.categories):
                exact.setdefault(_hashable(category.value), k)
                loose.setdefault(str(category.value), k)
            default = len(spec.categories)
            chosen = np.array(
                [_category(values[i], exact, loose, default) for i in rows.tolist()],
                dtype=np.intp,
            )
            symbols = [c.symbol for c in spec.categories]
            return _grouped(rows, chosen, symbols, spec.default)
        if style.graduated is not None:
            grad = style.graduated
            numbers = _numbers(_column(columns, grad.field, len(layer.geometries)), rows)
            chosen = np.full(len(rows), len(grad.classes), dtype=np.intp)
            last = len(grad.classes) - 1
            with np.errstate(invalid="ignore"):
                for k in reversed(range(len(grad.classes))):  # first matching class wins
                    c = grad.classes[k]
                    inside = (numbers >= c.min) & (
                        (numbers <= c.max) if k == last else (numbers < c.max)
                    )
                    chosen[inside] = k
            return _grouped(rows, chosen, [c.symbol for c in grad.classes], grad.default)
        if style.rules is not None:
            return self._rule_passes(style, layer, rows, scale)
        if style.symbol is not None and style.symbol.draws_anything:
            return [Pass(style.symbol, rows)]
        return []

    def _rule_passes(
        self, style: Style, layer: VectorLayerData, rows: IntArray, scale: float
    ) -> list[Pass]:
        visible = [r for r in style.rules or () if r.visible_at(scale)]
        if not visible:
            return []
        features: list[Feature] | None = None
        matched_any = np.zeros(len(rows), dtype=bool)
        masks: list[npt.NDArray[np.bool_] | None] = []
        for rule in visible:
            if rule.else_:
                masks.append(None)
                continue
            if rule.filter is None:
                mask = np.ones(len(rows), dtype=bool)
            else:
                if features is None:  # built once per layer, only when a rule filters
                    features = _features(layer, rows, style.fields())
                predicate = self._predicate(rule.filter)
                mask = np.fromiter((predicate(f) for f in features), bool, len(features))
            matched_any |= mask
            masks.append(mask)
        passes = []
        for rule, maybe_mask in zip(visible, masks, strict=True):
            mask = ~matched_any if maybe_mask is None else maybe_mask
            if mask.any() and rule.symbol.draws_anything:
                passes.append(Pass(rule.symbol, rows[mask]))
        return passes

    def _predicate(self, text: str) -> Callable[[Feature], bool]:
        found = self._predicates.get(text)
        if found is None:
            from ogcserve.expressions import parse

            found = to_predicate(parse(text))
            with self._lock:
                self._predicates[text] = found
        return found

    def _draw_paths(
        self,
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
        batch: PathBatch = serialize(subpaths)
        if len(batch.feature) == 0:
            return
        record_of_row = np.full(len(rows), -1, dtype=np.intp)
        record_of_row[batch.feature] = np.arange(len(batch.feature))
        is_area = np.isin(
            shapes.kinds[rows], (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
        )
        raw = batch.buffer.tobytes()
        path = skia.Path()  # one path, re-read per feature: no allocation in the loop
        read, draw = path.readFromMemory, canvas.drawPath
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
                starts, ends = batch.start[areas], batch.start[areas] + batch.size[areas]
                # One draw per feature: each feature is its own even-odd path (holes stay
                # holes, and overlapping translucent features add up as in QGIS).
                for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                    read(raw[start:end])
                    draw(path, fill)
            if stroke is not None and len(records):
                # Outlines go on top of every fill of the pass, in one path: one draw call
                # instead of one per feature, and a shared border is not half-covered by the
                # neighbour's fill.
                path.readFromMemory(batch.merged(np.sort(records)))
                draw(path, stroke)

    def _draw_markers(
        self,
        canvas: skia.Canvas,
        view: MapView,
        layer: VectorLayerData,
        shapes: Shapes,
        rows: IntArray,
        passes: list[Pass],
        to_pixels: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    ) -> None:
        xy, part_of = point_coords(shapes.objects(rows), to_pixels)
        row_of_part = rows[part_of]
        for p in passes:
            marker = p.symbol.marker
            if marker is None:
                continue
            sprite = self._sprite(marker, p.symbol.opacity)
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
                values = _column(layer.columns, marker.rotation_field, len(shapes))
                rotations = _numbers(values, row_of_part[inside])
            sprite.blit(canvas, xy[inside], rotations)

    def _sprite(self, marker: Marker, opacity: float) -> Sprite:
        key = (marker, opacity)
        found = self._sprites.get(key)
        if found is None:
            found = Sprite(marker, opacity)
            with self._lock:
                if len(self._sprites) >= _STYLE_CACHE_SIZE:
                    self._sprites.clear()
                self._sprites[key] = found
        return found

    def _label_candidates(
        self,
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
            _numbers(_column(layer.columns, spec.priority_field, len(shapes)), rows)
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
            cand = Candidate(
                texts[k], x, y, float(angles[k]), spec, gap, placement, float(priority[k])
            )
            out.append(((-float(priority[k]), -float(sizes[k]), float(k)), cand))
        return out

    # --- rasters ----------------------------------------------------------------------------

    def _draw_raster(self, canvas: skia.Canvas, view: MapView, layer: RasterLayerData) -> None:
        style = self.parsed(layer.style)
        rgba = colorize(layer.array, style)
        image = skia.Image.fromarray(
            np.ascontiguousarray(rgba),
            colorType=skia.kRGBA_8888_ColorType,
            alphaType=skia.kUnpremul_AlphaType,
        )
        height, width = rgba.shape[:2]
        if (width, height) == (view.width, view.height):
            canvas.drawImage(image, 0, 0)
        else:  # not on the view grid: stretch it over the view, pixels kept sharp
            canvas.drawImageRect(
                image,
                skia.Rect.MakeWH(view.width, view.height),
                skia.SamplingOptions(skia.FilterMode.kNearest),
            )

    def _fonts(self) -> Fonts:
        fonts: Fonts | None = getattr(self._local, "fonts", None)
        if fonts is None:
            fonts = self._local.fonts = Fonts()
        return fonts


# --- helpers for choosing symbols ----------------------------------------------------------------


def _column(columns: Mapping[str, Sequence[Any]], name: str, n: int) -> Sequence[Any]:
    """A column by name; a missing one reads as all NULL."""
    found = columns.get(name)
    return found if found is not None else [None] * n


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _category(value: Any, exact: dict[Any, int], loose: dict[str, int], default: int) -> int:
    try:
        found = exact.get(value)
    except TypeError:
        found = None
    if found is None and value is not None:
        found = loose.get(str(value))
    return default if found is None else found


def _numbers(values: Sequence[Any], rows: IntArray) -> npt.NDArray[np.float64]:
    """Floats for the given rows; NULL and non-numbers become NaN."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values[rows].astype(np.float64)
    out = np.full(len(rows), np.nan)
    for k, i in enumerate(rows.tolist()):
        v = values[i]
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = v
        elif isinstance(v, str):
            with contextlib.suppress(ValueError):
                out[k] = float(v)
    return out


def _grouped(
    rows: IntArray, chosen: IntArray, symbols: list[Symbol], default: Symbol | None
) -> list[Pass]:
    """One pass per symbol: the default (other values) first, then each symbol in order."""
    passes = []
    if default is not None and default.draws_anything:
        others = rows[chosen == len(symbols)]
        if len(others):
            passes.append(Pass(default, others))
    for k, symbol in enumerate(symbols):
        mine = rows[chosen == k]
        if len(mine) and symbol.draws_anything:
            passes.append(Pass(symbol, mine))
    return passes


def _features(layer: VectorLayerData, rows: IntArray, fields: set[str]) -> list[Feature]:
    """Features with the style's attributes, for evaluating rule filters once per feature."""
    columns = {name: layer.columns[name] for name in fields if name in layer.columns}
    return [
        Feature(i, None, {name: col[i] for name, col in columns.items()}) for i in rows.tolist()
    ]


def _family_of(geometry: Any) -> str:
    kind = shapely.get_type_id(geometry)
    if kind in _POINT_TYPES:
        return "point"
    if kind in (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING):
        return "line"
    return "polygon"
