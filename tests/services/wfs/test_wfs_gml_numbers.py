"""The GML writer's batch path (coordinates formatted by orjson for the whole batch) writes
the bytes of the WKT path (GEOS's writer), whatever the geometries and numbers."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
import shapely

from ogcserve.services.wfs.formats import OutputFormat
from ogcserve.services.wfs.gml_numbers import sequences_text
from ogcserve.services.wfs.gml_write import GeometryTexts, GeometryWriter

RNG = np.random.default_rng(14)
PRECISIONS = (None, 8, 6, 3, 0, 12)


def _values(kind: str, size: int) -> npt.NDArray[np.float64]:
    signs = RNG.choice([-1.0, 1.0], size)
    if kind == "3857":
        return RNG.uniform(-2.0e7, 2.0e7, size)
    if kind == "4326":  # both signs, some under 1 (GEOS's own forms: the WKT path's)
        return RNG.uniform(-180, 180, size)
    if kind == "binary":  # exact binary fractions: midpoints of every decimal rank
        return np.round(RNG.uniform(-2.0e7, 2.0e7, size) * 1024) / 1024
    if kind == "decimal":
        return np.round(RNG.uniform(-2.0e7, 2.0e7, size), int(RNG.integers(0, 9)))
    if kind == "integral":
        return RNG.integers(-10_000_000, 10_000_000, size).astype(np.float64)
    return signs * 10 ** RNG.uniform(0, 17, size)  # every magnitude


@pytest.mark.parametrize("kind", ["3857", "4326", "binary", "decimal", "integral", "wide"])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_sequences_are_geos_text(kind: str, precision: int | None) -> None:
    coords = _values(kind, 40_000).reshape(-1, 2)
    ends = np.cumsum(RNG.integers(2, 21, len(coords)))
    bounds = np.concatenate([[0], ends[ends < len(coords) - 1], [len(coords)]])
    texts = sequences_text(coords, bounds, precision)
    if texts is None:  # left to GEOS: only where its text could differ
        assert kind in ("4326", "wide") or precision in (0, 12)
        return
    lines = shapely.linestrings(
        coords, indices=np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    )
    wkts = shapely.to_wkt(
        lines, rounding_precision=-1 if precision is None else precision, trim=True
    )
    assert texts == [w[len("LINESTRING (") : -1].replace(",", "") for w in wkts]


def test_numbers_left_to_geos() -> None:
    one = np.array([0]), np.array([0, 1])
    for value in (0.5, -0.0, np.nan, 1e15, -1e-7):
        assert sequences_text(np.array([[value, 2.0]]), one[1], None) is None
    assert sequences_text(np.array([[0.0, 2.0]]), one[1], None) == ["0 2"]
    assert sequences_text(np.array([[5.0e7, 2.0]]), one[1], 8) is None  # doubles too sparse


def _line(x: float, y: float, n: int) -> shapely.LineString:
    steps = RNG.uniform(-50, 50, (n, 2))
    return shapely.LineString(np.cumsum(steps, axis=0) + np.array([x, y]))


def _batches(scale: float) -> dict[str, list[shapely.Geometry | None]]:
    def xy() -> tuple[float, float]:
        return float(RNG.uniform(-scale, scale)), float(RNG.uniform(-scale, scale))

    def box(x: float, y: float) -> shapely.Polygon:
        return shapely.box(x, y, x + 80.123456789, y + 60.987654321)

    lines = [_line(*xy(), int(RNG.integers(5, 21))) for _ in range(300)]
    boxes = [box(*xy()) for _ in range(300)]
    holed = shapely.box(0, 0, 100, 100).difference(shapely.box(10.5, 10.5, 20.25, 20.25))
    return {
        "lines": lines,
        "points": [shapely.Point(*xy()) for _ in range(300)],
        "polygons": boxes,
        "multipolygons": [shapely.MultiPolygon([b]) for b in boxes],
        "multipolygons with holes": [shapely.MultiPolygon([b]) for b in boxes] + [holed],
        "polygons with holes": [*boxes, holed],
        "multilines": [shapely.MultiLineString([a, b]) for a, b in pairwise(lines)],
        "mixed": [*lines[:50], *boxes[:50]],
        "empty and null": [*lines[:50], None, shapely.LineString(), *lines[50:60]],
        "all empty": [shapely.LineString(), shapely.LineString()],
        "none": [],
        "3d": [shapely.LineString([(1, 2, 3), (4, 5, 6)]), *lines[:5]],
        "integral": [shapely.LineString([(1, 2), (300, 400), (-5, -6)])] * 3,
    }


@pytest.mark.parametrize("fmt", [OutputFormat.GML32, OutputFormat.GML31, OutputFormat.GML2])
@pytest.mark.parametrize("scale", [2.0e7, 170.0])  # EPSG:3857; degrees, in either axis order
@pytest.mark.parametrize("precision", [None, 8, 3])
def test_batches_are_written_as_from_wkt(
    fmt: OutputFormat, scale: float, precision: int | None
) -> None:
    writer = GeometryWriter(fmt, "urn:ogc:def:crs:EPSG::3857")
    for name, batch in _batches(scale).items():
        geometries = np.array(batch, dtype=object)
        gids = [f"layer.{i}.g" for i in range(len(batch))]
        expected = writer.write_many(GeometryTexts.wkt(geometries, precision), gids)
        assert writer.write_batch(geometries, precision, gids) == expected, name
