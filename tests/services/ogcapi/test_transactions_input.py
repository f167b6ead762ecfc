"""Bad bodies for OGC API - Features Part 4 writes: each one a 400 (415 for a wrong media type)
with nothing written, checked in the GeoPackage file; and the GeoJSON reading itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from transactions_support import build, context, edit_folder, layer, parcels

from ogcserve.errors import InvalidCRSError, ServiceError, UnsupportedMediaTypeError
from ogcserve.server import Server
from ogcserve.services.ogcapi.geojson_in import (
    check_content_type,
    check_geometry_type,
    merge_patch,
    read_crs,
    read_feature,
    read_geometry,
    write_geometry,
)
from ogcserve.services.ogcapi.transactions import create_item, replace_item, update_item


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    edit_folder(tmp_path)
    return tmp_path


@pytest.fixture
def server(folder: Path) -> Iterator[Server]:
    srv = build(folder / "edit.yaml")
    yield srv
    srv.close()


def point(*coordinates: object) -> dict[str, object]:
    return {"type": "Point", "coordinates": list(coordinates)}


def body(geometry: object = None, **properties: object) -> bytes:
    props = {"role": "a", "name": "n", **properties}
    return json.dumps({"type": "Feature", "geometry": geometry, "properties": props}).encode()


DEEP = b'{"type": "Feature", "properties": {"name": ' + b"[" * 5000 + b"]" * 5000 + b"}}"

BAD_FEATURES = {
    "not JSON": b'{"type": "Feature",',
    "not UTF-8": '{"type": "Feature", "properties": {"name": "é"}}'.encode("latin-1"),
    "NaN": b'{"type": "Feature", "properties": {"value": NaN}}',
    "an array": b"[]",
    "not a Feature": b'{"type": "Point", "coordinates": [1, 2]}',
    "a collection": b'{"type": "FeatureCollection", "features": []}',
    "properties an array": b'{"type": "Feature", "properties": []}',
    "geometry a string": b'{"type": "Feature", "geometry": "POINT (1 2)"}',
    "nested too deep": DEEP,
    "unknown property": body(point(1, 2), colour="red"),
    "object value": body(point(1, 2), value={"a": 1}),
    "array value": body(point(1, 2), value=[1]),
    "integer too large": body(point(1, 2), value=2**70),
    "infinite number": b'{"type": "Feature", "properties": {"value": 1e400}}',
    "text in an integer column": body(point(1, 2), value="ten"),
    "lone surrogate": b'{"type": "Feature", "properties": {"role": "a", "name": "\\ud800"}}',
    "wrong geometry type": body({"type": "LineString", "coordinates": [[1, 2], [3, 4]]}),
    "unknown geometry type": body({"type": "Circle", "coordinates": [1, 2]}),
    "position of one number": body(point(1)),
    "position of four numbers": body(point(1, 2, 3, 4)),
    "position of text": body(point("1", "2")),
    "position of booleans": body(point(True, False)),
    "empty geometry": body({"type": "MultiPoint", "coordinates": []}),
    "nested collection": body(
        {
            "type": "GeometryCollection",
            "geometries": [{"type": "GeometryCollection", "geometries": [point(1, 2)]}],
        }
    ),
    "ring too short": body({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
}


@pytest.mark.parametrize("name", list(BAD_FEATURES))
def test_a_bad_feature_is_400_and_writes_nothing(server: Server, folder: Path, name: str) -> None:
    before = parcels(folder / "data.gpkg")
    with context(server) as ctx:
        for call in (
            lambda: create_item(ctx, layer(ctx), BAD_FEATURES[name], None),
            lambda: replace_item(ctx, layer(ctx), "1", BAD_FEATURES[name], None, None),
        ):
            with pytest.raises(ServiceError) as raised:
                call()
            assert raised.value.status == 400, raised.value
    assert parcels(folder / "data.gpkg") == before


@pytest.mark.parametrize(
    "patch",
    [
        b"not json",
        b"[1]",
        b'{"properties": {"value": "ten"}}',
        b'{"properties": {"value": {"a": 1}}}',
        b'{"properties": {"colour": "red"}}',
        b'{"geometry": {"type": "Point", "coordinates": [1]}}',
        b'{"geometry": {"coordinates": [[1, 2], [3, 4]]}}',
        b'{"geometry": [1, 2]}',
    ],
)
def test_a_bad_patch_is_400_and_writes_nothing(server: Server, folder: Path, patch: bytes) -> None:
    before = parcels(folder / "data.gpkg")
    with context(server) as ctx, pytest.raises(ServiceError) as raised:
        update_item(ctx, layer(ctx), "1", patch, None, None)
    assert raised.value.status == 400, raised.value
    assert parcels(folder / "data.gpkg") == before


def test_an_unknown_content_crs_is_400_and_writes_nothing(server: Server, folder: Path) -> None:
    before = parcels(folder / "data.gpkg")
    with context(server) as ctx:
        for crs in ("http://www.opengis.net/def/crs/EPSG/0/999999", "nonsense"):
            with pytest.raises(InvalidCRSError) as raised:
                create_item(ctx, layer(ctx), body(point(1, 2)), crs)
            assert raised.value.status == 400
    assert parcels(folder / "data.gpkg") == before


# --- the pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/geo+json", False),
        ("application/json; charset=utf-8", False),
        ("Application/GEO+JSON", True),
        ("application/merge-patch+json", True),
    ],
)
def test_content_types_read(content_type: str, patch: bool) -> None:
    check_content_type(content_type, patch=patch)


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [(None, False), ("text/xml", False), ("application/merge-patch+json", False), ("", True)],
)
def test_other_content_types_are_415(content_type: str | None, patch: bool) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as raised:
        check_content_type(content_type, patch=patch)
    assert raised.value.status == 415


def test_crs_axis_order_follows_the_authority() -> None:
    assert read_crs(None) == read_crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84")
    assert not read_crs(None).north_first
    assert read_crs("<http://www.opengis.net/def/crs/EPSG/0/4326>").north_first
    assert not read_crs("http://www.opengis.net/def/crs/EPSG/0/3857").north_first


def test_geometry_round_trips_through_a_content_crs() -> None:
    crs = read_crs("http://www.opengis.net/def/crs/EPSG/0/4326")
    geometry = read_geometry(point(50, 10, 3), crs, "EPSG:3857")
    assert shapely.has_z(geometry)
    back = write_geometry(geometry, crs, "EPSG:3857")
    assert back["type"] == "Point"
    assert back["coordinates"] == pytest.approx([50, 10, 3])


def test_a_position_the_layers_crs_cannot_hold_is_400() -> None:
    with pytest.raises(ServiceError) as raised:
        read_geometry(point(10, 95), read_crs(None), "EPSG:3857")
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("layer_type", "kind", "fits"),
    [
        (None, "LineString", True),
        ("POINT", "Point", True),
        ("POINT Z", "Point", True),
        ("MULTIPOINT", "Point", True),
        ("MULTIPOLYGON", "Polygon", True),
        ("POINT", "MultiPoint", False),
        ("POLYGON", "LineString", False),
        ("GEOMETRY", "Polygon", True),
    ],
)
def test_geometry_types_that_fit_a_column(layer_type: str | None, kind: str, fits: bool) -> None:
    shapes = {
        "Point": shapely.Point(0, 0),
        "MultiPoint": shapely.MultiPoint([(0, 0)]),
        "LineString": shapely.LineString([(0, 0), (1, 1)]),
        "Polygon": shapely.box(0, 0, 1, 1),
    }
    if fits:
        check_geometry_type(shapes[kind], layer_type, "l")
    else:
        with pytest.raises(ServiceError):
            check_geometry_type(shapes[kind], layer_type, "l")


def test_merge_patch_follows_rfc_7396_examples() -> None:
    # RFC 7396 Appendix A, a selection.
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch(["a", "b"], {"a": "b"}) == {"a": "b"}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert merge_patch({"a": "foo"}, None) is None


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["Point", "Polygon", "MultiPolygon", "GeometryCollection", "Feature"]),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(["type", "coordinates", "geometries", "geometry", "properties", "id"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@given(value=JSON)
def test_any_json_is_read_or_refused_with_400(value: object) -> None:
    crs = read_crs("http://www.opengis.net/def/crs/EPSG/0/4326")
    for read in (
        lambda: read_geometry(value, crs, "EPSG:3857"),
        lambda: read_feature(json.dumps(value).encode()),
    ):
        try:
            read()
        except ServiceError as error:
            assert error.status == 400
