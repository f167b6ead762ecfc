"""GetFeatureInfo in every format; hidden attributes never appear; bad points and layers."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from lxml import etree
from wms_helpers import get, validate_exception

from ogcserve.server import Server

FORMATS = [
    "text/plain",
    "text/html",
    "text/xml",
    "application/vnd.ogc.gml",
    "application/vnd.ogc.gml/3.1.1",
    "application/json",
]


def _info(
    fmt: str,
    layers: str = "countries",
    i: int = 182,
    j: int = 44,
    version: str = "1.3.0",
    extra: str = "",
) -> str:
    where = (
        "CRS=EPSG:4326&BBOX=-90,-180,90,180"
        if version == "1.3.0"
        else "SRS=EPSG:4326&BBOX=-180,-90,180,90"
    )
    pixel = f"I={i}&J={j}" if version == "1.3.0" else f"X={i}&Y={j}"
    return (
        f"SERVICE=WMS&VERSION={version}&REQUEST=GetFeatureInfo&LAYERS={layers}&STYLES=&"
        f"{where}&WIDTH=360&HEIGHT=180&FORMAT=image/png&QUERY_LAYERS={layers}&"
        f"INFO_FORMAT={quote(fmt)}&{pixel}{extra}"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_finds_france(wms: Server, fmt: str) -> None:
    result = get(wms, _info(fmt))
    assert result.status == 200, result.body
    assert result.headers["Content-Type"].startswith(fmt)
    assert b"France" in result.body and b"Germany" not in result.body
    assert b"pop_est" in result.body
    if fmt == "application/json":
        doc = json.loads(result.body)
        [feature] = doc["features"]
        assert feature["properties"]["name"] == "France"
        assert feature["geometry"] is None  # only with WITH_GEOMETRY=TRUE, as in QGIS
    elif "xml" in fmt or "gml" in fmt:
        etree.fromstring(result.body)


@pytest.mark.parametrize(
    "fmt", ["application/json", "application/vnd.ogc.gml", "application/vnd.ogc.gml/3.1.1"]
)
def test_geometries_only_with_with_geometry(wms: Server, fmt: str) -> None:
    without = get(wms, _info(fmt)).body
    with_geometry = get(wms, _info(fmt, extra="&WITH_GEOMETRY=TRUE")).body
    assert b"France" in without and b"France" in with_geometry
    if fmt == "application/json":
        assert json.loads(without)["features"][0]["geometry"] is None
        assert json.loads(with_geometry)["features"][0]["geometry"]["type"] == "MultiPolygon"
    else:
        assert b"<gml:Polygon" not in without and b"<gml:Polygon" in with_geometry


@pytest.mark.parametrize("fmt", FORMATS)
def test_hidden_attribute_appears_in_no_format(role_wms: Server, fmt: str) -> None:
    result = get(role_wms, _info(fmt), "user")
    assert result.status == 200
    assert b"France" in result.body and b"pop_est" not in result.body


def test_access_rules_hide_filtered_rows(role_wms: Server) -> None:
    brazil = _info("application/json", i=128, j=100)
    assert json.loads(get(role_wms, brazil, "user").body)["features"] == []
    assert len(json.loads(get(role_wms, brazil, "admin").body)["features"]) == 1


def test_1_1_1_uses_x_y(wms: Server) -> None:
    result = get(wms, _info("application/json", version="1.1.1"))
    assert json.loads(result.body)["features"][0]["properties"]["name"] == "France"


def test_points_are_found_within_the_tolerance(wms: Server) -> None:
    # Paris (2.35E 48.86N) is pixel (135, 114) of this 0.01-degree map: found 5 px away,
    # not 12 px away (points: 8 px)
    query = (
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=cities&QUERY_LAYERS=cities"
        "&CRS=EPSG:4326&BBOX=48,1,50,4&WIDTH=300&HEIGHT=200&INFO_FORMAT=application/json"
    )
    near = json.loads(get(wms, query + "&I=140&J=114").body)["features"]
    assert [f["properties"]["name"] for f in near] == ["Paris"]
    assert json.loads(get(wms, query + "&I=147&J=114").body)["features"] == []


def test_feature_count_and_filter(wms: Server) -> None:
    flt = quote("countries:name <> 'France'")
    result = get(wms, _info("application/json", extra=f"&FILTER={flt}"))
    assert json.loads(result.body)["features"] == []


def test_group_queries_its_members(wms: Server) -> None:
    result = get(wms, _info("application/json", "places", i=185, j=41))
    assert json.loads(result.body)["features"]


def test_raster_value(wms: Server) -> None:
    query = (
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=elevation&"
        "QUERY_LAYERS=elevation&CRS=EPSG:4326&BBOX=49.45,5.75,50.15,6.5&WIDTH=100&"
        "HEIGHT=100&I=50&J=50&INFO_FORMAT=application/json"
    )
    [feature] = json.loads(get(wms, query).body)["features"]
    assert 141 <= feature["properties"]["band_1"] <= 547


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ("&I=400", "InvalidPoint"),
        ("&J=-1", "InvalidPoint"),
        ("&I=x", "InvalidParameterValue"),
    ],
)
def test_bad_points(wms: Server, extra: str, code: str) -> None:
    query = _info("text/plain").replace(
        "I=182&J=44", extra.lstrip("&") + ("&J=44" if "I=" in extra else "&I=182")
    )
    result = get(wms, query)
    assert result.status == 400
    assert f'code="{code}"'.encode() in result.body
    validate_exception(result.body, "1.3.0")


def test_not_queryable_layer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wms_projects import scaled_project

    from ogcserve.testing import make_server

    server = make_server([scaled_project(tmp_path)])
    result = get(server, _info("text/plain", "cities"))
    assert result.status == 400 and b'code="LayerNotQueryable"' in result.body


def test_unknown_info_format_and_forbidden_layer(role_wms: Server) -> None:
    result = get(role_wms, _info("image/gif"), "user")
    assert result.status == 400 and b"InvalidFormat" in result.body
    assert get(role_wms, _info("text/plain", "nc_counties"), "user").status == 403
