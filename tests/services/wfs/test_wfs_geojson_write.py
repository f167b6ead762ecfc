"""GeoJSON geometries of a batch: the same as GEOS writes them, for every geometry type."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from ogcserve.services.wfs.geojson_write import geojson_texts

DONUT = shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4))
BATCHES = {
    "points": [shapely.Point(1.5, -2.25), shapely.Point(1000091.0957239944, 6000050)],
    "lines": [shapely.LineString([(0, 0), (1, 1)]), shapely.LineString([(2, 2), (3, 3), (4, 5)])],
    "polygons": [shapely.box(0, 0, 1, 1), DONUT, shapely.box(5, 5, 7.125, 8)],
    "single-ring polygons": [shapely.box(0, 0, 1, 1), shapely.box(5, 5, 7.125, 8)],
    "multipoints": [shapely.MultiPoint([(0, 0), (1, 1)]), shapely.MultiPoint([(5, 6)])],
    "multilines": [
        shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
        shapely.MultiLineString([[(9, 9), (8, 8)]]),
    ],
    "multipolygons": [
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), DONUT]),
        shapely.MultiPolygon([shapely.box(20, 20, 21, 21)]),
    ],
    "mixed": [shapely.Point(0, 0), shapely.box(0, 0, 1, 1)],
    "missing and empty": [shapely.box(0, 0, 1, 1), None, shapely.Polygon()],
    "3d": [shapely.Point(1, 2, 3)],
    "one": [shapely.box(-180, -90, 180, 90)],
}


@pytest.mark.parametrize("name", list(BATCHES))
def test_batch_writes_what_geos_writes(name: str) -> None:
    geometries = np.array(BATCHES[name], dtype=object)
    expected = list(shapely.to_geojson(geometries))
    assert geojson_texts(geometries) == expected
    for text, geometry in zip(geojson_texts(geometries), BATCHES[name], strict=True):
        if geometry is not None:
            assert shapely.from_geojson(text).equals(geometry)
            assert json.loads(text)["type"] == geometry.geom_type


def test_empty_batch() -> None:
    assert geojson_texts(np.array([], dtype=object)) == []


@pytest.mark.parametrize("name", ["single-ring polygons", "polygons", "mixed", "3d"])
def test_precision_rounds_every_coordinate(name: str) -> None:
    geometries = np.array(BATCHES[name], dtype=object)
    for text, geometry in zip(geojson_texts(geometries, precision=2), BATCHES[name], strict=True):
        rounded = shapely.transform(geometry, lambda xy: np.round(xy, 2), include_z=True)
        assert shapely.from_geojson(text).equals_exact(rounded, 1e-12)
        numbers = text.replace("[", ",").replace("]", ",").split(",")
        decimals = [n.partition(".")[2] for n in numbers if "." in n and "type" not in n]
        assert decimals and all(len(d) <= 2 for d in decimals)
