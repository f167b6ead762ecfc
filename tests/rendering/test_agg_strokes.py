"""Lines stroked by AGG (rendering/agg.py) against the same lines stroked by Skia: each join,
cap and width, what stays Skia's (dashes, miters, hairlines, translucent strokes), painter's
order with polygons above and below and between a layer's passes, layer opacity, transparent
and opaque backgrounds, and AGG's buffer read as straight RGBA."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import shapely
import skia

import ogcserve.rendering.vector as vector
from ogcserve.rendering import MapView, Renderer, VectorLayerData
from ogcserve.rendering.agg import AggStrokes, strokes_with_agg
from ogcserve.rendering.styles import Symbol

VIEW = MapView((0.0, 0.0, 200.0, 150.0), "EPSG:3857", 200, 150, (255, 255, 255, 255))
CLEAR = MapView((0.0, 0.0, 200.0, 150.0), "EPSG:3857", 200, 150, (255, 255, 255, 0))
BLUE = "#08519c"


def roads(n: int = 60, seed: int = 5) -> np.ndarray:
    """`n` random walks of 5-40 vertices, steps of up to 6 px, crossing one another."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(5, 41))
        start = rng.uniform((10, 10), (190, 140))
        out.append(shapely.LineString(start + np.cumsum(rng.uniform(-6, 6, (k, 2)), axis=0)))
    return np.array(out)


def line_layer(style: dict[str, Any], geometries: np.ndarray | None = None) -> VectorLayerData:
    geoms = roads() if geometries is None else geometries
    return VectorLayerData("l", "L", style, "EPSG:3857", geoms, {"k": list(range(len(geoms)))})


def polygon_layer(fill: str, box: tuple[float, float, float, float]) -> VectorLayerData:
    return VectorLayerData(
        "p", "P", {"fill": fill, "stroke": "none"}, "EPSG:3857", np.array([shapely.box(*box)]), {}
    )


def both(
    view: MapView, layers: list[VectorLayerData], monkeypatch: pytest.MonkeyPatch
) -> tuple[np.ndarray, np.ndarray]:
    """The map as drawn (AGG strokes the lines it can, however few), and with Skia stroking
    every line."""
    with monkeypatch.context() as patch:
        patch.setattr(vector, "_AGG_LEAST", 0)
        drawn = np.asarray(Renderer().render(view, layers))
    with monkeypatch.context() as patch:
        patch.setattr(vector, "strokes_with_agg", lambda _: False)
        skia_only = np.asarray(Renderer().render(view, layers))
    return drawn, skia_only


def differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).max(axis=2)


@pytest.mark.parametrize("join", ["bevel", "round"])
@pytest.mark.parametrize("cap", ["butt", "square", "round"])
@pytest.mark.parametrize("width", [1.5, 2, 4])
def test_strokes_look_like_skias(
    join: str, cap: str, width: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    style = {"stroke": BLUE, "stroke_width": width, "line_join": join, "line_cap": cap}
    assert strokes_with_agg(Symbol.model_validate(style))
    drawn, skia_only = both(VIEW, [line_layer(style)], monkeypatch)
    diff = differences(drawn, skia_only)
    inked = int((skia_only[..., :3] < 250).any(axis=2).sum())
    assert inked > 3000
    # Both anti-alias by coverage; they differ where outlines overlap within a pixel (joins,
    # crossings: AGG fills the union of a path's lines, Skia adds up each line's edges) and
    # on slanted edges (Skia covers a diagonal ~2 % short: test_a_stroke_covers_its_area).
    # Measured on these crossing random walks: 12-18 % of the inked pixels by more than 16
    # levels in some channel, 1.3-2.3 % by more than 64 (the bench's dense window: 10 %, 0.4 %).
    assert (diff > 16).sum() < 0.2 * inked
    assert (diff > 64).sum() < 0.03 * inked
    assert diff.mean() < 3.0


@pytest.mark.parametrize(
    "coords",
    [[(20, 75.3), (180, 75.3)], [(20, 20.2), (180, 130.7)], [(20.5, 20), (180.2, 41)]],
)
def test_a_stroke_covers_its_area(coords: list[tuple[float, float]]) -> None:
    """A straight 2 px stroke with square caps covers (length + 2) x 2 pixels: AGG's coverage
    adds up to that within 1 % (Skia's own to within 3 %: 383.7 of 392.9 on the diagonal)."""
    style = {"stroke": "#000000", "stroke_width": 2, "line_join": "bevel", "line_cap": "square"}
    layer = line_layer(style, np.array([shapely.LineString(coords)]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vector, "_AGG_LEAST", 0)
        drawn = np.asarray(Renderer().render(CLEAR, [layer]))
    (x0, y0), (x1, y1) = coords
    area = (np.hypot(x1 - x0, y1 - y0) + 2) * 2
    assert drawn[..., 3].astype(int).sum() / 255 == pytest.approx(area, rel=0.01)


@pytest.mark.parametrize(
    "style",
    [
        {"stroke_width": 2, "dash": [2, 1]},  # dashes: Skia's
        {"stroke_width": 2, "line_join": "miter"},  # miter limits differ
        {"stroke_width": 1},  # Skia's hairline
        {"stroke_width": 0.5},
        {"stroke": "#08519c80", "stroke_width": 2},  # translucent: crossings darken
    ],
)
def test_what_agg_cannot_draw_alike_stays_skias(
    style: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    style = {"stroke": BLUE, **style}
    assert not strokes_with_agg(Symbol.model_validate(style))
    drawn, skia_only = both(VIEW, [line_layer(style)], monkeypatch)
    np.testing.assert_array_equal(drawn, skia_only)


def test_a_few_lines_stay_skias() -> None:
    """Below vector._AGG_LEAST vertices a pass is Skia's (AGG's composite would cost more)."""
    style = {"stroke": BLUE, "stroke_width": 2, "line_join": "bevel", "line_cap": "square"}
    drawn = np.asarray(Renderer().render(VIEW, [line_layer(style)]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vector, "strokes_with_agg", lambda _: False)
        skia_only = np.asarray(Renderer().render(VIEW, [line_layer(style)]))
    np.testing.assert_array_equal(drawn, skia_only)


def test_polygon_layers_above_and_below_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    below = polygon_layer("#ff0000", (0, 0, 100, 150))
    lines = line_layer({"stroke": BLUE, "stroke_width": 3, "line_join": "bevel"})
    above = polygon_layer("#00ff00", (120, 0, 200, 150))
    drawn, skia_only = both(VIEW, [below, lines, above], monkeypatch)
    # Above: every pixel of the upper polygon (beyond its edge) is its colour, lines or not.
    assert (drawn[2:-2, 122:198] == (0, 255, 0, 255)).all()
    # Below: the lines cover the lower polygon (line colour inside strokes there).
    left = drawn[:, :98]
    assert ((left == (8, 81, 156, 255)).all(axis=2)).sum() > 500
    assert ((left == (255, 0, 0, 255)).all(axis=2)).sum() > 5000
    assert (differences(drawn, skia_only) > 64).sum() < 0.01 * drawn.shape[0] * drawn.shape[1]


def test_passes_of_a_layer_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AGG pass, a Skia pass (mitred) above it, then an AGG pass above both: the three
    lines cross at pixel (100, 75)."""
    cross = np.array(
        [
            shapely.LineString([(20, 75), (180, 75)]),  # AGG, wide
            shapely.LineString([(100, 10), (100, 140)]),  # mitred: Skia, over the first
            shapely.LineString([(20, 20), (180, 130)]),  # AGG, over both
        ]
    )
    base = {"line_join": "bevel", "line_cap": "butt"}
    style = {
        "categorized": {
            "field": "k",
            "categories": [
                {"value": 0, "symbol": {"stroke": "#ff0000", "stroke_width": 12, **base}},
                {
                    "value": 1,
                    "symbol": {"stroke": "#00ff00", "stroke_width": 6, "line_join": "miter"},
                },
                {"value": 2, "symbol": {"stroke": "#0000ff", "stroke_width": 4, **base}},
            ],
        }
    }
    drawn, skia_only = both(VIEW, [line_layer(style, cross)], monkeypatch)
    assert tuple(drawn[75, 100]) == (0, 0, 255, 255)  # the third pass over the others
    assert tuple(drawn[70, 100]) == (0, 255, 0, 255)  # the second over the first
    assert tuple(drawn[75, 40]) == (255, 0, 0, 255)  # the first alone
    np.testing.assert_array_equal(differences(drawn, skia_only) > 64, False)


def test_layer_opacity_applies_to_agg_strokes(monkeypatch: pytest.MonkeyPatch) -> None:
    style = {"stroke": BLUE, "stroke_width": 4, "opacity": 1.0}
    layer = line_layer({**style}, np.array([shapely.LineString([(20, 75), (180, 75)])]))
    layered = VectorLayerData(
        "l", "L", {"symbol": style, "opacity": 0.5}, "EPSG:3857", layer.geometries, {}
    )
    drawn, skia_only = both(
        VIEW, [polygon_layer("#ff0000", (0, 0, 200, 150)), layered], monkeypatch
    )
    # Half of the line over the red: (8 + 255) / 2, 81 / 2, 156 / 2.
    assert np.abs(drawn[75, 100].astype(int) - (132, 40, 78, 255)).max() <= 3
    assert differences(drawn, skia_only).max() <= 16


@pytest.mark.parametrize("view", [VIEW, CLEAR], ids=["opaque", "transparent"])
def test_backgrounds(view: MapView, monkeypatch: pytest.MonkeyPatch) -> None:
    style = {"stroke": BLUE, "stroke_width": 2, "line_join": "round", "line_cap": "round"}
    drawn, skia_only = both(view, [line_layer(style)], monkeypatch)
    alpha = drawn[..., 3]
    if view.background[3] == 0:
        edge = (alpha >= 32) & (alpha < 255)  # (fainter ones round their colour coarsely)
        assert edge.sum() > 500
        # Straight RGBA: the edges keep the line's colour, only their alpha falls.
        assert np.abs(drawn[edge][:, :3].astype(int) - (8, 81, 156)).max() <= 6
        assert (alpha == 0).sum() > 10000
    else:
        assert (alpha == 255).all()
    # Coverage compared as alpha on the transparent one (a faint edge's straight colour is
    # coarse), as colour on the opaque one: as bounded in test_strokes_look_like_skias.
    transparent = view.background[3] == 0
    diff = (
        differences(drawn[..., 3:], skia_only[..., 3:])
        if transparent
        else differences(drawn, skia_only)
    )
    inked = (skia_only[..., 3] > 0).sum() if transparent else (skia_only[..., 0] < 250).sum()
    assert (diff > 64).sum() < 0.03 * inked


def test_the_agg_buffer_is_straight_rgba() -> None:
    strokes = AggStrokes(40, 20)
    symbol = Symbol.model_validate({"stroke": "#336699", "stroke_width": 3, "line_join": "bevel"})
    points = np.array([[5.0, 10.3], [35.0, 10.3]], dtype=np.float32)
    strokes.stroke(points, np.array([0]), symbol)
    surface = skia.Surface(40, 20)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    strokes.flush(canvas)
    out = np.empty((20, 40, 4), dtype=np.uint8)
    info = skia.ImageInfo.Make(40, 20, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    surface.readPixels(info, out)
    column = out[:, 20]
    assert tuple(column[10]) == (0x33, 0x66, 0x99, 255)
    partial = column[(column[:, 3] > 0) & (column[:, 3] < 255)]
    assert len(partial) == 2  # the stroke's two anti-aliased edges, from 8.8 to 11.8
    assert np.abs(partial[:, :3].astype(int) - (0x33, 0x66, 0x99)).max() <= 2
    assert abs(int(partial[0, 3]) + int(partial[1, 3]) - 255) <= 3  # 0.2 + 0.8 of a pixel
    strokes.flush(canvas)  # nothing new: draws nothing


def test_importing_the_renderer_leaves_matplotlib_alone() -> None:
    """matplotlib's backends load its font list when imported: only the first AGG stroke
    imports them."""
    code = "import sys, ogcserve.rendering; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
