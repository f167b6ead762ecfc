"""GeoJSON features of a batch, column by column: the bytes orjson writes for their dicts."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import numpy as np
import orjson
import pytest
import shapely

from ogcserve.services.wfs.crs import coordinate_function, parse_srs
from ogcserve.services.wfs.geojson_features import (
    feature_texts,
    features_text,
    json_column,
    json_default,
    prefixed_ids,
)
from ogcserve.services.wfs.geojson_write import TextColumn, geojson_column, geojson_texts

COLUMNS: dict[str, list[Any]] = {
    "numbers": [1, -2.5, None, True, float("nan"), 2**63 - 1, 1e300, -0.0],
    "plain strings": ["a", "Zürich", "日本", "", "x y\u00a0z", "tab-free", "€", "'"],
    "plain strings and nulls": ["a", None, "b", None, "Côte d'Ivoire", "c", "d", "e"],
    "strings to escape": ['say "hi"', "back\\slash", "line\nbreak", "\x00", "\x1f", "a", "b", "c"],
    "other values": [
        b"\x00\xff",
        decimal.Decimal("1.10"),
        datetime.date(2026, 12, 6),
        datetime.datetime(2026, 12, 6, 23, 30),
        uuid.UUID(int=7),
        {"nested": [1, 2]},
        [1, "two"],
        None,
    ],
    "numpy scalars": [np.float64(1.5), np.int64(3), 1, 2, 3, 4, 5, 6],
}


def _dumped(values: list[Any]) -> list[str]:
    return [orjson.dumps(v, default=json_default).decode() for v in values]


def _whole(column: TextColumn) -> list[str]:
    return [f"{column.open}{t}{column.close}" for t in column.texts]


@pytest.mark.parametrize("name", list(COLUMNS))
def test_column_is_what_orjson_writes(name: str) -> None:
    assert _whole(json_column(COLUMNS[name])) == _dumped(COLUMNS[name])


def test_prefixed_ids_are_strings() -> None:
    for ids in ([1, 2, 30], ["a", 'b"c'], [1, "x"], [None, 2]):
        expected = _dumped([f"layer.{fid}" for fid in ids])
        assert _whole(prefixed_ids("layer.", ids)) == expected
    assert _whole(prefixed_ids('la"yer.', [1, 2])) == _dumped(['la"yer.1', 'la"yer.2'])


def test_features_are_orjson_dicts() -> None:
    geometries = np.array([shapely.box(0, 0, 1, 1), None, shapely.box(2, 2, 3, 3.5)] * 3)
    ids = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    names = ["numbers", "strings to escape", "plain strings and nulls"]
    columns = {name: [*COLUMNS[name][: len(ids) - 1], None] for name in names}
    texts = geojson_texts(geometries)
    expected = [
        orjson.dumps(
            {
                "type": "Feature",
                "id": fid,
                "geometry": orjson.Fragment(text) if text is not None else None,
                "properties": {n: columns[n][i] for n in names},
            },
            default=json_default,
        ).decode()
        for i, (fid, text) in enumerate(zip(ids, texts, strict=True))
    ]
    parts = (
        json_column(ids),
        geojson_column(geometries),
        [(n, json_column(columns[n])) for n in names],
    )
    assert feature_texts(*parts) == expected
    assert features_text(*parts) == ",".join(expected)
    no_geometry = feature_texts(json_column(ids[:1]), None, [])
    assert no_geometry == ['{"type":"Feature","id":1,"geometry":null,"properties":{}}']


@pytest.mark.parametrize(
    "geometries",
    [
        [shapely.box(1e6, 6e6, 1.1e6, 6.1e6), shapely.box(0, 0, 10, 10)],
        [shapely.Point(1e6, 6e6), shapely.Point(0, 0)],
        [shapely.LineString([(0, 0), (1e6, 6e6)])],
        [shapely.box(0, 0, 1e6, 1e6).difference(shapely.box(1, 1, 2, 2))],
        [shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]), shapely.Point(3, 4)],
        [shapely.Point(1e6, 6e6, 7)],
    ],
)
def test_convert_is_shapely_transform(geometries: list[Any]) -> None:
    batch = np.array(geometries, dtype=object)
    for target in ("OGC:CRS84", "EPSG:4326"):
        convert = coordinate_function("EPSG:3857", parse_srs(target, "2.0.0"))
        assert convert is not None
        expected = geojson_texts(shapely.transform(batch, convert), precision=8)
        assert geojson_texts(batch, precision=8, convert=convert) == expected
