"""The map renderer: layers in, straight RGBA pixels out (Skia, anti-aliased; AGG strokes
passes of many wide opaque lines, composited in order: agg.py).

For each vector layer: cull features by bbox in the layer's CRS, decide which symbol draws which
feature (one "pass" per symbol), reproject all coordinates at once, build every feature's path
from numpy, then draw per feature, fill then stroke, so painter's order is the features' order.
Labels of all layers are placed last, over everything, without overlaps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

import numpy as np
import numpy.typing as npt
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from ogcserve.expressions import to_predicate
from ogcserve.features import Feature

from .api import LayerData, MapView, RasterLayerData, VectorLayerData
from .geometry import IntArray, Projector, Shapes, cull
from .labels import Candidate, Fonts, draw_labels
from .legend import draw_legend
from .passes import choose_passes
from .raster import colorize
from .styles import Marker, Style, parse_style
from .symbols import Sprite, color
from .vector import POINT_TYPES, draw_markers, draw_paths, label_candidates, tiny_lines

Image = npt.NDArray[np.uint8]

_STYLE_CACHE_SIZE = 512


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

    def outlines_only(self, style: Mapping[str, Any]) -> bool:
        """Whether the style draws nothing but strokes and fills of the geometries' outlines
        (no label, no marker): its features may come thinned (`FeatureQuery.pixel_size`)."""
        return self.parsed(style).outlines_only()

    def tiny_lines(self, style: Mapping[str, Any]) -> tuple[float, float]:
        """The lines the style draws as little more than their strokes' blobs and how hard
        they may be thinned: (extent, tolerance) in pixels (`FeatureQuery.tiny_lines`)."""
        return tiny_lines(self.parsed(style).symbols())

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
                self._draw_raster(canvas, view, layer, check)
            else:
                for order, cand in self._draw_vector(canvas, view, layer, scale):
                    candidates.append(((-depth, *order), cand))
        if candidates:
            check()
            candidates.sort(key=lambda item: item[0])
            draw_labels(canvas, [c for _, c in candidates], self._fonts(), view.width, view.height)
        check()
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
        passes = choose_passes(style, layer, rows, scale, self._predicate) if len(rows) else []
        labelled_only = style.kind == "single" and style.label is not None and len(rows) > 0
        if not passes and not labelled_only:
            return []
        to_pixels = self._projector.to_pixels(view, layer.crs)
        # A labels-only style (no symbol) labels every feature in view.
        drawn = _union([p.rows for p in passes]) if passes else rows
        is_point = np.isin(shapes.kinds[drawn], POINT_TYPES)

        layer_alpha = style.opacity < 1
        if layer_alpha:
            canvas.saveLayerAlpha(None, round(255 * style.opacity))
        if (~is_point).any():
            draw_paths(canvas, view, shapes, drawn[~is_point], passes, to_pixels)
        if is_point.any():
            draw_markers(
                canvas, view, layer, shapes, drawn[is_point], passes, to_pixels, self._sprite
            )
        if layer_alpha:
            canvas.restore()
        if style.label is None:
            return []
        return label_candidates(style, layer, shapes, drawn, passes, to_pixels)

    def _predicate(self, text: str) -> Callable[[Feature], bool]:
        found = self._predicates.get(text)
        if found is None:
            from ogcserve.expressions import parse

            found = to_predicate(parse(text))
            with self._lock:
                self._predicates[text] = found
        return found

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

    # --- rasters ----------------------------------------------------------------------------

    def _draw_raster(
        self,
        canvas: skia.Canvas,
        view: MapView,
        layer: RasterLayerData,
        check: Callable[[], None],
    ) -> None:
        mask = np.ma.getmask(layer.array)
        if mask is not np.ma.nomask and bool(mask.all()):
            return  # nothing to draw (a view far from the raster: every pixel is nodata)
        style = self.parsed(layer.style)
        rgba = colorize(layer.array, style, check)
        check()
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


def _union(rows: list[IntArray]) -> IntArray:
    """The sorted distinct rows of every pass (one pass's rows, when sorted, as they are)."""
    if len(rows) == 1 and not (np.diff(rows[0]) <= 0).any():
        return rows[0]
    result: IntArray = np.unique(np.concatenate(rows))
    return result
