"""Vertex thinning in pixel space: the rule, the ends, large scales untouched, and maps of real
coastlines and of many short lines that look the same with and without it. Lines no longer than
two stroke widths are thinned at up to a pixel, never more than half the stroke width: the rule
per line, which strokes take it (widths, dashes, joins, caps), maps with and without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

import ogcserve.rendering.vector as vector
from ogcserve.geo.wkb import starts_of
from ogcserve.rendering import MapView, Renderer, VectorLayerData
from ogcserve.rendering.geometry import Subpaths
from ogcserve.rendering.passes import Pass
from ogcserve.rendering.styles import Symbol
from ogcserve.rendering.thinning import TINY_TOLERANCE, TOLERANCE, thin

DEMO = Path(__file__).parents[2] / "src" / "ogcserve" / "demo" / "natural_earth.gpkg"


def subpaths(lines: list[np.ndarray], closed: list[bool] | None = None) -> Subpaths:
    counts = np.array([len(c) for c in lines], dtype=np.intp)
    return Subpaths(
        np.concatenate(lines).astype(np.float64),
        counts,
        np.arange(len(lines), dtype=np.intp),
        np.array(closed or [False] * len(lines)),
    )


def parts(sp: Subpaths) -> list[np.ndarray]:
    return np.split(sp.coords, starts_of(sp.counts)[1:])


def sequential(line: np.ndarray, tolerance: float, piece: int = 32) -> np.ndarray:
    """The rule one vertex at a time: drop a vertex nearer than `tolerance` to the last one
    kept; keep the ends, and every `piece`-th vertex (where the vectorised rule restarts)."""
    kept = [line[0]]
    for rank, point in enumerate(line[1:-1], start=1):
        if rank % piece == 0 or np.hypot(*(point - kept[-1])) >= tolerance:
            kept.append(point)
    return np.array([*kept, line[-1]])


def wiggles(rng: np.random.Generator, n: int, step: float) -> list[np.ndarray]:
    """`n` random walks of 2-200 vertices, steps up to `step` pixels."""
    return [
        np.cumsum(rng.uniform(-step, step, (int(rng.integers(2, 200)), 2)), axis=0) + 50
        for _ in range(n)
    ]


def test_keeps_each_lines_ends_and_follows_the_rule_vertex_by_vertex() -> None:
    lines = wiggles(np.random.default_rng(3), 300, 0.4)
    out = thin(subpaths(lines))
    assert out.counts.sum() < sum(len(c) for c in lines) / 2
    for before, after in zip(lines, parts(out), strict=True):
        np.testing.assert_array_equal(after[0], before[0])
        np.testing.assert_array_equal(after[-1], before[-1])
    for before, after in zip(lines, parts(out), strict=True):
        np.testing.assert_array_equal(after, sequential(before, TOLERANCE))


def test_drawn_outline_moves_less_than_the_tolerance() -> None:
    lines = wiggles(np.random.default_rng(5), 100, 0.3)
    for before, after in zip(lines, parts(thin(subpaths(lines))), strict=True):
        dropped = shapely.points(before)
        assert shapely.distance(dropped, shapely.LineString(after)).max() < TOLERANCE


def test_does_nothing_where_vertices_are_a_pixel_apart() -> None:
    rng = np.random.default_rng(7)
    lines = [np.cumsum(rng.choice([-1.0, 1.0], (50, 2)), axis=0) for _ in range(20)]
    rings = [np.array([(0, 0), (3, 0), (3, 3), (0, 0)], dtype=float)]
    sp = subpaths(lines + rings, [False] * 20 + [True])
    assert thin(sp) is sp


def test_subpaths_of_one_vertex_or_none_are_left_as_they_are() -> None:
    line = np.array([(0, 0), (0.1, 0), (0.2, 0), (3, 0)], dtype=float)
    dot = np.array([(0.3, 0)], dtype=float)
    empty = np.zeros((0, 2))
    out = thin(subpaths([dot, line, empty, dot, dot, line, empty]))
    assert out.counts.tolist() == [1, 2, 0, 1, 1, 2, 0]


def test_a_ring_smaller_than_the_tolerance_keeps_its_vertices() -> None:
    tiny = np.array([(0, 0), (0.1, 0), (0.1, 0.1), (0, 0.1), (0, 0)])
    big = np.array([(0, 0), (0.1, 0), (5, 0), (5, 5), (0, 0)])
    out = thin(subpaths([tiny, big], [True, True]))
    assert out.counts.tolist() == [5, 4]


def render(view: MapView, layers: list[VectorLayerData], monkeypatch: pytest.MonkeyPatch) -> tuple:
    """The map with thinning, and without it."""
    thinned = Renderer().render(view, layers)
    with monkeypatch.context() as patch:
        patch.setattr(vector, "thin", lambda subpaths, *_: subpaths)
        full = Renderer().render(view, layers)
    return thinned, full


def differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).max(axis=2)


def test_world_coastlines_look_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio

    _, _, wkb, _ = pyogrio.raw.read(DEMO, layer="countries")
    outlines = np.array(shapely.boundary(shapely.from_wkb(wkb)), dtype=object)
    layer = VectorLayerData(
        "c", "C", {"stroke": "#000000", "stroke_width": 1}, "EPSG:4326", outlines, {}
    )
    view = MapView((-180.0, -90.0, 180.0, 90.0), "EPSG:4326", 720, 360)
    thinned, full = render(view, [layer], monkeypatch)
    diff = differences(thinned, full)
    # Anti-aliased edge pixels only: half a pixel of movement is at most half a pixel's ink.
    assert diff.max() <= 128
    assert (diff > 16).mean() < 0.002
    assert diff.mean() < 0.1


def test_many_short_lines_at_a_small_scale_look_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bench's layer seen whole: lines of 5-20 vertices, ~1 x 4 pixels each.
    rng = np.random.default_rng(11)
    lines = []
    for i in range(4000):
        k = int(rng.integers(5, 21))
        x0, y0 = (i % 100) * 1.0, (i // 100) * 2.5
        lines.append(
            shapely.LineString(
                np.column_stack((x0 + rng.uniform(0.1, 0.9, k), y0 + np.linspace(0.25, 2.25, k)))
            )
        )
    layer = VectorLayerData(
        "r", "R", {"stroke": "#08519c", "stroke_width": 2}, "EPSG:3857", np.array(lines), {}
    )
    view = MapView((0.0, 0.0, 100.0, 100.0), "EPSG:3857", 100, 100)
    thinned, full = render(view, [layer], monkeypatch)
    diff = differences(thinned, full)
    assert diff.max() <= 128
    assert diff.mean() < 1.0


@pytest.mark.parametrize(
    ("style", "outlines"),
    [
        ({"stroke": "#000000"}, True),
        ({"fill": "#ff0000", "stroke": "#000000"}, True),
        ({"stroke": "#000000", "label": {"field": "name"}}, False),
        ({"fill": "#ff0000", "marker": {"size": 6}}, False),
        (
            {
                "categorized": {
                    "field": "kind",
                    "categories": [
                        {"value": "a", "stroke": "#000000"},
                        {"value": "b", "marker": {"size": 4}},
                    ],
                }
            },
            False,
        ),
    ],
)
def test_only_styles_of_outlines_may_take_thinned_geometries(
    style: dict[str, object], outlines: bool
) -> None:
    # A label's anchor and angle and a marker's point on the surface follow every vertex.
    assert Renderer().outlines_only(style) is outlines


def test_tiny_lines_follow_the_rule_at_the_larger_tolerance_and_others_do_not() -> None:
    rng = np.random.default_rng(21)
    small = [w for w in wiggles(rng, 400, 0.45) if np.ptp(w, axis=0).max() <= 4.0][:60]
    # The same steps, then one far vertex: no longer tiny.
    large = [np.vstack((w, w[-1] + 10.0)) for w in small]
    assert len(small) == 60
    out = thin(subpaths(small + large), TOLERANCE, 4.0, TINY_TOLERANCE)
    for before, after in zip(small + large, parts(out), strict=True):
        tiny = np.ptp(before, axis=0).max() <= 4.0
        tolerance = TINY_TOLERANCE if tiny and len(before) > 2 else TOLERANCE
        np.testing.assert_array_equal(after, sequential(before, tolerance))


def test_rings_are_never_thinned_as_tiny_lines() -> None:
    ring = np.array([(0, 0), (0.7, 0), (1.4, 0), (1.4, 1.4), (0, 1.4), (0, 0)], dtype=float)
    out = thin(subpaths([ring], [True]), TOLERANCE, 4.0, TINY_TOLERANCE)
    assert out.counts.tolist() == [6]


def symbol(**style: Any) -> Symbol:
    return Symbol.model_validate({"stroke": "#08519c", **style})


@pytest.mark.parametrize(
    ("styles", "width"),
    [
        ([{"stroke_width": 2}], 2.0),
        ([{"stroke_width": 3}, {"stroke_width": 2.5}], 2.5),  # tiny for every pass
        ([{"stroke_width": 2}, {"stroke_width": 4, "dash": [2, 1]}], 0.0),  # dashes move
        ([{"stroke_width": 2, "line_join": "miter"}], 0.0),  # spikes follow the angles
        ([{"stroke_width": 2, "line_cap": "butt"}], 0.0),  # butt ends turn with the segment
        ([{"stroke": "none", "fill": "#ff0000"}], 0.0),  # nothing stroked
    ],
)
def test_which_width_makes_a_line_tiny(styles: list[dict[str, Any]], width: float) -> None:
    passes = [Pass(symbol(**s), np.arange(3)) for s in styles]
    assert vector._least_width(p.symbol for p in passes) == width


@pytest.mark.parametrize(
    ("style", "tiny"),
    [
        ({"stroke": "#000000", "stroke_width": 2}, (4.0, 1.0)),
        ({"stroke": "#000000", "stroke_width": 1.5}, (3.0, 0.75)),
        ({"stroke": "#000000", "stroke_width": 6}, (12.0, 1.0)),  # at most QGIS's 1 px
        ({"stroke": "#000000", "stroke_width": 1}, (0.0, 0.0)),  # no harder than usual
        ({"stroke": "#000000", "stroke_width": 2, "dash": [2, 1]}, (0.0, 0.0)),
        (
            {
                "categorized": {
                    "field": "kind",
                    "categories": [
                        {"value": "a", "stroke": "#000000", "stroke_width": 3},
                        {"value": "b", "stroke": "#000000", "stroke_width": 2},
                    ],
                }
            },
            (4.0, 1.0),  # the least width of every symbol the style may draw with
        ),
        ({"fill": "#ff0000", "stroke": "none"}, (0.0, 0.0)),
    ],
)
def test_a_style_tells_sources_which_lines_are_tiny(
    style: dict[str, Any], tiny: tuple[float, float]
) -> None:
    # A source may thin those as the renderer would (FeatureQuery.tiny_lines).
    assert Renderer().tiny_lines(style) == tiny


def short_lines(n: int = 4000) -> np.ndarray:
    """The bench's layer seen whole: lines of 5-20 vertices, ~1 x 4 pixels each."""
    rng = np.random.default_rng(11)
    lines = []
    for i in range(n):
        k = int(rng.integers(5, 21))
        x0, y0 = (i % 100) * 1.0, (i // 100) * 2.5
        xs = x0 + rng.uniform(0.1, 0.9, k)
        lines.append(shapely.LineString(np.column_stack((xs, y0 + np.linspace(0.25, 2.25, k)))))
    return np.array(lines)


def draw_both(style: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The map of short lines as drawn, and with every line thinned at the usual tolerance."""
    layer = VectorLayerData("r", "R", style, "EPSG:3857", short_lines(), {})
    view = MapView((0.0, 0.0, 100.0, 100.0), "EPSG:3857", 100, 100)
    drawn = Renderer().render(view, [layer])
    with monkeypatch.context() as patch:
        patch.setattr(vector, "thin", lambda subpaths, tolerance, *_: thin(subpaths, tolerance))
        usual = Renderer().render(view, [layer])
    return drawn, usual


@pytest.mark.parametrize(
    "line",
    [
        {"line_join": "bevel", "line_cap": "square"},
        {"line_join": "round", "line_cap": "round"},
        {"line_join": "bevel", "line_cap": "round"},
    ],
)
def test_tiny_lines_thinned_harder_look_the_same(
    line: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn, usual = draw_both({"stroke": "#08519c", "stroke_width": 2, **line}, monkeypatch)
    diff = differences(drawn, usual)
    inked = (np.asarray(usual)[..., :3] < 250).any(axis=2).sum()
    # Vertices move by less than the stroke's half width, inside the blobs (measured: at most
    # 7 levels of 255 here; butt caps would change 4,111 of the 10,000 pixels by more than 16).
    assert inked > 5000
    assert diff.max() <= 32
    assert diff.mean() < 1.0


@pytest.mark.parametrize(
    "style",
    [
        {"stroke_width": 1},  # half the width is the usual tolerance: nothing more goes
        {"stroke_width": 2, "dash": [2, 1]},  # dashes would move along the lines
        {"stroke_width": 2, "line_join": "miter"},  # a miter's spike follows the angle
        {"stroke_width": 2, "line_cap": "butt"},  # a butt end turns with the last segment
    ],
)
def test_thin_dashed_mitred_and_butt_strokes_are_not_thinned_harder(
    style: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn, usual = draw_both({"stroke": "#08519c", **style}, monkeypatch)
    np.testing.assert_array_equal(np.asarray(drawn), np.asarray(usual))
