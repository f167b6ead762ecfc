"""Vector drawing: fills, strokes, per-feature styles, rules and scales, markers, reprojection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
import skia

from ogcserve.rendering import MapView, Renderer, VectorLayerData
from ogcserve.rendering.geometry import decompose
from ogcserve.rendering.paths import serialize

RED, GREEN, BLUE = (255, 0, 0, 255), (0, 170, 0, 255), (0, 0, 255, 255)


def view(size: int = 100, crs: str = "EPSG:3857", **kwargs: Any) -> MapView:
    return MapView((0.0, 0.0, 100.0, 100.0), crs, size, size, **kwargs)


def layer(
    style: dict[str, Any],
    geoms: list[Any],
    crs: str = "EPSG:3857",
    gtype: str | None = None,
    **columns: list[Any],
) -> VectorLayerData:
    return VectorLayerData("l", "L", style, crs, np.array(geoms, dtype=object), columns, gtype)


def px(image: np.ndarray, x: float, y: float) -> tuple[int, ...]:
    """The pixel at map coordinates (x, y) of the 0..100 view."""
    h, w = image.shape[:2]
    return tuple(int(v) for v in image[int((100 - y) * h / 100), int(x * w / 100)])


def test_polygon_fill_inside_and_transparent_outside() -> None:
    image = Renderer().render(view(), [layer({"fill": "#ff0000"}, [shapely.box(20, 20, 60, 60)])])
    assert image.shape == (100, 100, 4) and image.dtype == np.uint8
    assert px(image, 40, 40) == RED
    assert px(image, 80, 80) == (0, 0, 0, 0)


def test_background_is_drawn_under_layers() -> None:
    image = Renderer().render(view(background=(10, 20, 30, 255)), [])
    assert (image == (10, 20, 30, 255)).all()


def test_stroke_is_drawn_on_the_outline_only() -> None:
    style = {"fill": "none", "stroke": "#0000ff", "stroke_width": 3}
    image = Renderer().render(view(), [layer(style, [shapely.box(20, 20, 60, 60)])])
    assert px(image, 40, 20) == BLUE
    assert px(image, 40, 40)[3] == 0


def test_polygon_hole_is_not_filled() -> None:
    donut = shapely.box(10, 10, 90, 90).difference(shapely.box(40, 40, 60, 60))
    image = Renderer().render(view(), [layer({"fill": "#ff0000"}, [donut])])
    assert px(image, 50, 50)[3] == 0
    assert px(image, 20, 20) == RED


def test_layer_opacity_scales_alpha() -> None:
    image = Renderer().render(
        view(), [layer({"fill": "#ff0000", "opacity": 0.5}, [shapely.box(0, 0, 100, 100)])]
    )
    assert px(image, 50, 50)[:3] == (255, 0, 0)
    assert px(image, 50, 50)[3] == pytest.approx(128, abs=1)


def test_lines_are_stroked_not_filled() -> None:
    zigzag = shapely.LineString([(10, 50), (50, 90), (90, 50)])
    style = {"fill": "#ff0000", "stroke": "#0000ff", "stroke_width": 4}
    image = Renderer().render(view(), [layer(style, [zigzag])])
    assert px(image, 50, 89) == BLUE
    assert px(image, 50, 60)[3] == 0


def test_categorized_colours_each_feature_by_its_value() -> None:
    style = {
        "categorized": {
            "field": "kind",
            "categories": [{"value": "a", "fill": "#ff0000"}, {"value": "b", "fill": "#00aa00"}],
            "default": {"fill": "#0000ff"},
        }
    }
    boxes = [
        shapely.box(0, 0, 30, 30),
        shapely.box(35, 0, 65, 30),
        shapely.box(70, 0, 100, 30),
        shapely.box(0, 70, 30, 100),
    ]
    image = Renderer().render(view(), [layer(style, boxes, kind=["a", "b", "zzz", None])])
    assert px(image, 15, 15) == RED
    assert px(image, 50, 15) == GREEN
    assert px(image, 85, 15) == BLUE
    assert px(image, 15, 85) == BLUE  # NULL falls to the default too


def test_symbol_keys_beside_categories_are_defaults_of_each_entry() -> None:
    style = {
        "stroke": "#0000ff",
        "stroke_width": 4,
        "categorized": {
            "field": "k",
            "categories": [
                {"value": 1, "fill": "#ff0000"},
                {"value": 2, "fill": "#00aa00", "stroke": "none"},
            ],
        },
    }
    boxes = [shapely.box(10, 10, 40, 40), shapely.box(60, 10, 90, 40)]
    image = Renderer().render(view(), [layer(style, boxes, k=[1, 2])])
    assert px(image, 25, 25) == RED and px(image, 25, 10) == BLUE
    assert px(image, 75, 25) == GREEN and px(image, 75, 12) == GREEN


def test_categorized_without_default_skips_other_values() -> None:
    style = {"categorized": {"field": "kind", "categories": [{"value": 1, "fill": "#ff0000"}]}}
    boxes = [shapely.box(0, 0, 30, 30), shapely.box(50, 0, 80, 30)]
    image = Renderer().render(view(), [layer(style, boxes, kind=["1", 2])])
    assert px(image, 15, 15) == RED  # "1" matches 1: values compare as text when types differ
    assert px(image, 65, 15)[3] == 0


def test_graduated_colours_by_range() -> None:
    style = {
        "graduated": {
            "field": "pop",
            "classes": [
                {"min": 0, "max": 10, "fill": "#ff0000"},
                {"min": 10, "max": 20, "fill": "#00aa00"},
            ],
        }
    }
    boxes = [
        shapely.box(0, 0, 20, 20),
        shapely.box(25, 0, 45, 20),
        shapely.box(50, 0, 70, 20),
        shapely.box(75, 0, 95, 20),
    ]
    image = Renderer().render(view(), [layer(style, boxes, pop=[3, 10, 20, 25])])
    assert px(image, 10, 10) == RED
    assert px(image, 35, 10) == GREEN  # min is inclusive
    assert px(image, 60, 10) == GREEN  # the last class includes its max
    assert px(image, 85, 10)[3] == 0


def test_rules_choose_symbols_by_filter_and_else() -> None:
    style = {
        "rules": [
            {"filter": "pop > 100", "fill": "#ff0000"},
            {"filter": "name = 'b'", "fill": "#00aa00"},
            {"else": True, "fill": "#0000ff"},
        ]
    }
    boxes = [shapely.box(0, 0, 30, 30), shapely.box(35, 0, 65, 30), shapely.box(70, 0, 100, 30)]
    image = Renderer().render(view(), [layer(style, boxes, pop=[500, 5, 5], name=["a", "b", "c"])])
    assert px(image, 15, 15) == RED
    assert px(image, 50, 15) == GREEN
    assert px(image, 85, 15) == BLUE


def test_rules_apply_their_scale_ranges() -> None:
    style = {
        "rules": [
            {"max_scale": 5000, "fill": "#ff0000"},  # close up
            {"min_scale": 5000, "fill": "#0000ff"},  # far away
        ]
    }
    box = [shapely.box(0, 0, 100, 100)]
    near = MapView((0, 0, 100, 100), "EPSG:3857", 100, 100)  # 100 m over 100 px: 1:3571
    far = MapView((0, 0, 1000, 1000), "EPSG:3857", 100, 100)  # 1:35714
    assert near.scale_denominator == pytest.approx(3571.43, rel=1e-3)
    renderer = Renderer()
    assert px(renderer.render(near, [layer(style, box)]), 50, 50) == RED
    assert tuple(renderer.render(far, [layer(style, box)])[95, 5]) == BLUE


def test_scale_denominator_of_a_geographic_view_uses_degrees_at_the_equator() -> None:
    v = MapView((-180, -90, 180, 90), "EPSG:4326", 360, 180)
    assert v.scale_denominator == pytest.approx(6378137 * 2 * np.pi / 360 / 0.00028)


@pytest.mark.parametrize("shape", ["circle", "square", "triangle", "star", "cross"])
def test_marker_is_centred_on_the_point_with_its_size(shape: str) -> None:
    style = {"marker": {"shape": shape, "size": 20}, "fill": "#ff0000"}
    image = Renderer().render(view(), [layer(style, [shapely.Point(50, 50)], gtype="POINT")])
    assert tuple(image[50, 50]) == RED
    ys, xs = np.nonzero(image[..., 3] > 128)
    assert 14 <= xs.max() - xs.min() + 1 <= 21
    assert abs((xs.max() + xs.min()) / 2 - 50) <= 1.5
    assert ys.max() - ys.min() + 1 <= 21
    assert image[:, :30, 3].max() == 0 and image[:, 71:, 3].max() == 0


def test_marker_short_form_of_the_demo_project() -> None:
    style = {
        "marker": "circle",
        "size": 6,
        "fill": "#e8553e",
        "stroke": "#ffffff",
        "stroke_width": 1,
    }
    points = [shapely.Point(20, 20), shapely.MultiPoint([(70, 70), (80, 30)])]
    image = Renderer().render(view(), [layer(style, points, gtype="POINT")])
    for x, y in [(20, 20), (70, 70), (80, 30)]:
        assert px(image, x, y) == (0xE8, 0x55, 0x3E, 255)
    assert (image[..., 3] > 0).sum() < 3 * 9 * 9


def test_marker_rotation_field_turns_each_marker() -> None:
    style = {
        "marker": {"shape": "triangle", "size": 30, "rotation_field": "heading"},
        "fill": "#ff0000",
    }
    image = Renderer().render(
        view(), [layer(style, [shapely.Point(50, 50)], gtype="POINT", heading=[180])]
    )
    # Pointing down: the tip (15 px from the centre) below, the wide base (7.5 px) above.
    assert image[62, 50, 3] > 0 and image[68, 50, 3] == 0
    assert image[44, 40, 3] > 0 and image[56, 40, 3] == 0


def test_feature_in_4326_lands_at_its_pixel_of_a_3857_view() -> None:
    # Paris, 2.35E 48.85N, is (261600, 6250700) in web Mercator.
    mx, my = 261600.0, 6250700.0
    v = MapView((mx - 5000, my - 5000, mx + 5000, my + 5000), "EPSG:3857", 100, 100)
    dot = shapely.Point(2.3522, 48.8566).buffer(0.001)
    image = Renderer().render(v, [layer({"fill": "#ff0000"}, [dot], crs="EPSG:4326")])
    ys, xs = np.nonzero(image[..., 3] > 128)
    assert len(xs) > 0
    import pyproj

    x, y = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(2.3522, 48.8566)
    assert abs(xs.mean() - (x - (mx - 5000)) / 100) < 1
    assert abs(ys.mean() - ((my + 5000) - y) / 100) < 1


def test_features_outside_the_view_are_skipped_and_huge_ones_clipped() -> None:
    # A polygon far larger than the view (deep zoom) still fills it exactly.
    huge = shapely.box(-1e9, -1e9, 1e9, 1e9)
    far = shapely.box(1e6, 1e6, 1e6 + 10, 1e6 + 10)
    image = Renderer().render(view(), [layer({"fill": "#ff0000"}, [huge, far, None])])
    assert (image == RED).all()


def test_path_serialization_round_trips_through_skia() -> None:
    # The numpy-built records depend on SkPath's format (skia-python 144.1): keep this check.
    donut = shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4))
    line = shapely.LineString([(0, 0), (5, 5), (9, 1)])
    subs = decompose(np.array([donut, line], dtype=object), lambda xy: xy)
    batch = serialize(subs)
    (_, p0), (_, p1) = batch.paths()
    assert p0.countPoints() == 8 and p0.getFillType() == skia.PathFillType.kEvenOdd
    assert p0.getBounds() == skia.Rect.MakeLTRB(0, 0, 10, 10)
    assert [p1.getPoint(i) for i in range(3)] == [
        skia.Point(0, 0),
        skia.Point(5, 5),
        skia.Point(9, 1),
    ]
    assert p0.contains(1, 1) and not p0.contains(3, 3)


def test_merged_path_joins_the_chosen_records_in_order() -> None:
    squares = [shapely.box(i * 10, 0, i * 10 + 5, 5) for i in range(3)]
    batch = serialize(decompose(np.array(squares, dtype=object), lambda xy: xy))
    for records, xs in ((np.arange(3), [0, 10, 20]), (np.array([0, 2]), [0, 20])):
        path = skia.Path()
        assert path.readFromMemory(batch.merged(records)) > 0
        assert path.countPoints() == 4 * len(xs)
        # shapely.box rings start at their lower right corner
        assert [path.getPoint(4 * k).x() for k in range(len(xs))] == [x + 5 for x in xs]
        assert path.getBounds() == skia.Rect.MakeLTRB(xs[0], 0, xs[-1] + 5, 5)


def test_grouped_records_join_consecutive_records_as_merged_does() -> None:
    shapes = [shapely.box(i * 10, 0, i * 10 + 5, 5) for i in range(3)]
    shapes.append(shapely.LineString([(40, 0), (42, 3), (45, 1)]))
    batch = serialize(decompose(np.array(shapes, dtype=object), lambda xy: xy))
    records, size = np.array([0, 2, 3, 1]), np.array([3, 1])
    joined, start, length = batch.grouped(records, size)
    for k, chosen in enumerate((records[:3], records[3:])):
        path, expected = skia.Path(), skia.Path()
        assert path.readFromMemory(joined[start[k] : start[k] + length[k]]) == length[k]
        expected.readFromMemory(batch.merged(chosen))
        assert path == expected


def test_tiny_lines_are_stroked_in_groups_that_look_as_one_draw_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ogcserve.rendering import vector

    # Lines of ~3 px (tiny for a 2 px stroke) that do not touch, among longer ones.
    rng = np.random.default_rng(2)
    lines = [
        shapely.LineString([(x + 0.5, y + 0.5), (x + 1.5, y + 2.0), (x + 1.0, y + 3.5)])
        if (x + y) % 7
        else shapely.LineString([(x, y), (x + 6, y + 9)])
        for x in range(0, 100, 10)
        for y in range(0, 100, 10)
    ]
    rng.shuffle(lines)
    style = {"stroke": "#08519c", "stroke_width": 2}
    grouped = Renderer().render(view(), [layer(style, lines)])
    monkeypatch.setattr(vector, "_TINY", 0.0)
    alone = Renderer().render(view(), [layer(style, lines)])

    def premultiplied(image: np.ndarray) -> np.ndarray:
        return image.astype(int) * image[..., 3:].astype(int) // 255

    diff = np.abs(premultiplied(grouped) - premultiplied(alone)).max(axis=2)
    # Skia anti-aliases a path of many subpaths a little differently at their edges (up to
    # 13 levels of 255 here, in ~9 % of the inked pixels); nothing else changes.
    assert diff.max() <= 16
    assert ((grouped[..., 3] > 0) != (alone[..., 3] > 0)).sum() <= 0.01 * (alone[..., 3] > 0).sum()


def test_line_groups_are_runs_of_tiny_lines_cut_every_32() -> None:
    from ogcserve.rendering.vector import _groups

    tiny = np.array([True] * 40 + [False, False] + [True] + [False] + [True] * 3)
    first, size = _groups(tiny)
    assert first.tolist() == [0, 32, 40, 41, 42, 43, 44]
    assert size.tolist() == [32, 8, 1, 1, 1, 1, 3]


def test_reach_is_how_far_symbols_draw_beyond_their_geometry() -> None:
    renderer = Renderer()
    assert renderer.reach({"fill": "#fff", "stroke": "#000", "stroke_width": 0.5}) == 1.25
    assert renderer.reach({"stroke": "#000", "stroke_width": 2, "line_join": "miter"}) == 5.0
    assert renderer.reach({"fill": "#fff", "stroke": "none"}) == 1.0
    marker = renderer.reach({"marker": "square", "size": 10, "stroke": "#000", "stroke_width": 2})
    assert marker == pytest.approx(10 * 2**0.5 / 2 + 1 + 1)
    assert renderer.reach({"fill": "#fff", "label": {"field": "name"}}) == 128.0


def test_style_fields_lists_every_attribute_read() -> None:
    style = {
        "rules": [
            {
                "filter": "pop > 1 AND kind = 'x'",
                "marker": {"shape": "circle", "rotation_field": "angle"},
            }
        ],
        "label": {"expression": "{name} ({pop})"},
    }
    assert Renderer().style_fields(style) == {"pop", "kind", "angle", "name"}
    assert Renderer().style_fields(
        {
            "categorized": {"field": "c", "categories": [{"value": 1, "fill": "red"}]},
            "label": {"field": "n", "priority_field": "rank"},
        }
    ) == {"c", "n", "rank"}


@pytest.mark.parametrize("bbox", [(0.0, 0.0, 100.0, 100.0), (40.0, 40.0, 40.5, 40.5)])
def test_layer_given_as_wkb_draws_the_same_pixels_as_shapely_objects(
    bbox: tuple[float, float, float, float],
) -> None:
    from ogcserve.geo.wkb import WKBColumn

    islands = shapely.MultiPolygon([shapely.box(60 + i, 5, 60.6 + i, 9) for i in range(30)])
    geoms = [
        shapely.box(10, 10, 50, 50).difference(shapely.box(20, 20, 30, 30)),  # with a hole
        shapely.MultiPolygon([shapely.box(35, 35, 80, 80), shapely.box(0, 60, 20, 95)]),
        islands,  # many parts: left to shapely inside the WKB path
        shapely.LineString([(0, 0), (100, 90)]),
        shapely.Point(70, 30),
        None,
        shapely.Polygon(),
    ]
    style = {
        "fill": "#3366cc",
        "opacity": 0.6,
        "stroke": "#000000",
        "stroke_width": 2,
        "marker": "circle",
        "size": 8,
        "label": {"field": "name"},
    }
    names = [f"n{i}" for i in range(len(geoms))]
    deep = MapView(bbox, "EPSG:3857", 120, 120)
    objects = VectorLayerData(
        "l", "L", style, "EPSG:3857", np.array(geoms, dtype=object), {"name": names}
    )
    packed = WKBColumn.pack(
        [None if g is None else bytes(shapely.to_wkb(g, byte_order=1)) for g in geoms]
    )
    as_wkb = VectorLayerData("l", "L", style, "EPSG:3857", packed, {"name": names})
    expected = Renderer().render(deep, [objects])
    assert (expected[..., 3] > 0).any()
    np.testing.assert_array_equal(Renderer().render(deep, [as_wkb]), expected)
