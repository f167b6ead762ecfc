"""Labels (placement, collisions), raster ramps and legends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely

from ogcserve.rendering import MapView, RasterLayerData, Renderer, VectorLayerData

VIEW = MapView((0.0, 0.0, 200.0, 100.0), "EPSG:3857", 200, 100)


def points(
    style: dict[str, Any], xy: list[tuple[float, float]], **columns: list[Any]
) -> VectorLayerData:
    geoms = np.array([shapely.Point(x, y) for x, y in xy], dtype=object)
    return VectorLayerData("p", "P", style, "EPSG:3857", geoms, columns, "POINT")


def dark_columns(image: np.ndarray) -> np.ndarray:
    """x of the columns holding dark (text) pixels."""
    ink = (image[..., 3] > 100) & (image[..., :3].max(axis=2) < 120)
    return np.flatnonzero(ink.any(axis=0))


def test_point_label_is_drawn_beside_the_point() -> None:
    style = {
        "marker": "circle",
        "size": 6,
        "fill": "#ff0000",
        "label": {"field": "name", "size": 12, "halo": None},
    }
    image = Renderer().render(VIEW, [points(style, [(50, 50)], name=["Lyon"])])
    cols = dark_columns(image)
    assert len(cols) > 10
    assert cols.min() > 50 + 3  # to the right of the marker, clear of it


def test_overlapping_label_candidates_draw_only_one() -> None:
    style = {"label": {"field": "name", "size": 12, "halo": None, "placement": "centroid"}}
    one = Renderer().render(VIEW, [points(style, [(100, 50)], name=["Alpha"])])
    two = Renderer().render(VIEW, [points(style, [(100, 50), (103, 52)], name=["Alpha", "Alpha"])])
    assert len(dark_columns(one)) > 10
    assert (dark_columns(one) == dark_columns(two)).all()  # the second one is dropped
    far = Renderer().render(VIEW, [points(style, [(30, 50), (150, 50)], name=["Alpha", "Alpha"])])
    assert len(dark_columns(far)) == 2 * len(dark_columns(one))


def test_point_label_moves_to_a_free_side() -> None:
    style = {"label": {"field": "name", "size": 12, "halo": None}}
    image = Renderer().render(VIEW, [points(style, [(100, 50), (101, 50)], name=["Ab", "Ab"])])
    cols = dark_columns(image)
    assert cols.min() < 100 < cols.max()  # one on the right of its point, one on the left


def test_label_priority_field_wins_the_collision() -> None:
    style = {"label": {"field": "name", "size": 12, "halo": None, "priority_field": "rank"}}
    layer = points(style, [(100, 50), (101, 50)], name=["ii", "WWWWWW"], rank=[1, 9])
    image = Renderer().render(VIEW, [layer])
    assert len(dark_columns(image)) > 40  # the long, high-priority one


def test_label_leaving_the_image_is_not_drawn() -> None:
    style = {"label": {"field": "name", "size": 12, "placement": "centroid"}}
    image = Renderer().render(VIEW, [points(style, [(1, 50)], name=["Cut off"])])
    assert image[..., 3].max() == 0


def test_polygon_label_is_centred_with_a_halo() -> None:
    style = {
        "fill": "#ffffff",
        "label": {"expression": "{name}!", "size": 14, "halo": {"color": "#ffff00", "width": 2}},
    }
    layer = VectorLayerData(
        "a",
        "A",
        style,
        "EPSG:3857",
        np.array([shapely.box(50, 0, 150, 100)], dtype=object),
        {"name": ["Here"]},
        "POLYGON",
    )
    image = Renderer().render(VIEW, [layer])
    cols = dark_columns(image)
    assert abs((cols.min() + cols.max()) / 2 - 100) < 3
    yellow = (image[..., 0] > 200) & (image[..., 1] > 200) & (image[..., 2] < 80)
    assert yellow.sum() > 20


RAMP = {"ramp": [[0, "#000000"], [100, "#ff0000"], [200, "#ffffff"]]}


def test_raster_ramp_interpolates_and_nodata_is_transparent() -> None:
    data = np.ma.masked_array(
        np.array([[[0.0, 50.0, 100.0, 150.0], [200.0, 300.0, -9, np.nan]]]),
        mask=[[[False, False, False, False], [False, False, True, False]]],
    )
    view = MapView((0, 0, 4, 2), "EPSG:3857", 4, 2)
    image = Renderer().render(view, [RasterLayerData("r", "R", RAMP, data)])
    assert tuple(image[0, 0]) == (0, 0, 0, 255)
    assert np.abs(image[0, 1].astype(int) - (128, 0, 0, 255)).max() <= 1
    assert tuple(image[0, 2]) == (255, 0, 0, 255)
    assert np.abs(image[0, 3].astype(int) - (255, 128, 128, 255)).max() <= 1
    assert tuple(image[1, 1]) == (255, 255, 255, 255)  # beyond the last stop: clamped
    assert image[1, 2, 3] == 0 and image[1, 3, 3] == 0  # masked, NaN


def test_raster_opacity() -> None:
    data = np.ma.masked_array(np.full((1, 2, 2), 100.0))
    view = MapView((0, 0, 2, 2), "EPSG:3857", 2, 2)
    image = Renderer().render(view, [RasterLayerData("r", "R", {**RAMP, "opacity": 0.5}, data)])
    assert tuple(image[0, 0]) == (255, 0, 0, 128)


class StoppedError(Exception):
    pass


def stop_after(calls: int) -> tuple[list[int], Any]:
    """A deadline check that raises on its `calls`-th call; the list counts the calls."""
    seen = [0]

    def check() -> None:
        seen[0] += 1
        if seen[0] >= calls:
            raise StoppedError

    return seen, check


def test_a_large_raster_is_coloured_between_deadline_checks() -> None:
    """Colouring a 4096 x 4096 map takes seconds on a busy machine: the deadline is checked
    between blocks of rows, so a request past its budget stops inside it (it used to be
    checked only before the layer, and a GetMap ran seconds past its budget)."""
    data = np.ma.masked_array(np.full((1, 2048, 2048), 100.0))
    view = MapView((0, 0, 2048, 2048), "EPSG:3857", 2048, 2048)
    seen, check = stop_after(3)  # the first check is the layer's
    with pytest.raises(StoppedError):
        Renderer().render(view, [RasterLayerData("r", "R", RAMP, data)], check)
    assert seen == [3]


def test_blocks_are_coloured_with_the_whole_rasters_range() -> None:
    """Without a ramp, grey runs from the raster's minimum to its maximum, whatever block a
    pixel falls in."""
    rows = 1100  # more than one block of a million pixels at this width
    values = np.concatenate([np.zeros((rows // 2, 1000)), np.full((rows - rows // 2, 1000), 10.0)])
    values[0, 0], values[-1, -1] = 5.0, 20.0
    data = np.ma.masked_array(values[np.newaxis])
    view = MapView((0, 0, 1000, rows), "EPSG:3857", 1000, rows)
    calls, check = stop_after(10**6)
    image = Renderer().render(view, [RasterLayerData("r", "R", {}, data)], check)
    assert calls[0] > 3  # the layer, two blocks at least, the end
    assert tuple(image[1, 1]) == (0, 0, 0, 255)  # the minimum, 0
    assert tuple(image[-1, -1]) == (255, 255, 255, 255)  # the maximum, 20
    assert tuple(image[-2, -2]) == (128, 128, 128, 255)  # 10, half way, in the last block
    assert tuple(image[0, 0]) == (64, 64, 64, 255)  # 5, a quarter, in the first block


def test_a_raster_masked_everywhere_is_not_coloured() -> None:
    """A view far from the raster (the 1e15 m GetMap of issue 11) reads every pixel as nodata:
    nothing to colour, nothing drawn, no check inside."""
    data = np.ma.masked_array(np.zeros((1, 512, 512)), mask=True)
    view = MapView((0, 0, 512, 512), "EPSG:3857", 512, 512)
    calls, check = stop_after(10**6)
    image = Renderer().render(view, [RasterLayerData("r", "R", RAMP, data)], check)
    assert calls == [2] and not image[..., 3].any()  # before the layer, before reading back


def test_legend_has_one_entry_per_category() -> None:
    style = {
        "categorized": {
            "field": "k",
            "categories": [
                {"value": v, "fill": c}
                for v, c in [("a", "#ff0000"), ("b", "#00ff00"), ("c", "#0000ff")]
            ],
        }
    }
    legend = Renderer().legend("Kinds", style, "POLYGON")
    assert legend.ndim == 3 and legend.shape[2] == 4
    swatch_column = legend[:, 8]
    for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]:
        rows = np.flatnonzero(
            (swatch_column[:, :3] == colour).all(axis=1) & (swatch_column[:, 3] == 255)
        )
        assert len(rows) > 8, colour
    title_rows = np.flatnonzero(legend[:20, 20:, 3].max(axis=1) > 0)
    assert len(title_rows) > 0  # the title is on top


def test_legend_of_rules_lists_only_those_visible_at_the_scale() -> None:
    style = {"rules": [{"max_scale": 1000, "fill": "#ff0000"}, {"fill": "#0000ff"}]}
    renderer = Renderer()
    everything = renderer.legend("R", style, "POLYGON")
    far = renderer.legend("R", style, "POLYGON", scale_denominator=50_000)
    assert far.shape[0] < everything.shape[0]
    assert not ((far[..., 0] == 255) & (far[..., 2] == 0) & (far[..., 3] == 255)).any()


@pytest.mark.parametrize(
    "gtype, style",
    [
        ("POINT", {"marker": "star", "size": 12, "fill": "#ff0000"}),
        ("LINESTRING", {"stroke": "#ff0000", "stroke_width": 3}),
        ("RASTER", RAMP),
    ],
)
def test_legend_draws_the_real_symbol(gtype: str, style: dict[str, Any]) -> None:
    legend = Renderer().legend("Layer", style, gtype)
    red = (legend[..., 0] > 200) & (legend[..., 1] < 60) & (legend[..., 3] > 200)
    assert red.sum() > 5
