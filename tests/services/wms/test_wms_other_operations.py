"""GetLegendGraphic, DescribeLayer, GetStyles, the watermark example and the geo helpers."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image
from wms_helpers import EXAMPLES, SCHEMAS, get, image

from ogcserve.geo import (
    from_xy,
    in_scale_range,
    is_north_first,
    normalize_crs,
    parse_bbox,
    scale_denominator,
    scale_hint,
    to_xy,
    transform_bbox,
)
from ogcserve.geo.crs import UnknownCRSError
from ogcserve.server import Server
from ogcserve.testing import make_server

LEGEND = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=image/png&LAYER="


def test_legend_graphic(wms: Server) -> None:
    picture = image(get(wms, LEGEND + "countries"))
    assert picture.size[0] > 20 and picture.size[1] > 10
    colors = {c for _, c in picture.convert("RGB").getcolors(100000) or []}
    assert any(abs(c[0] - 207) < 10 and abs(c[1] - 227) < 10 for c in colors)


def test_legend_of_a_group_and_errors(role_wms: Server) -> None:
    assert image(get(role_wms, LEGEND + "places", "user")).size[1] > 10
    assert get(role_wms, LEGEND + "nc_counties", "user").status == 403
    assert b"LayerNotDefined" in get(role_wms, LEGEND + "nope").body
    assert b"StyleNotDefined" in get(role_wms, LEGEND + "countries&STYLE=x").body
    blank = get(role_wms, LEGEND + "nope&EXCEPTIONS=BLANK")
    assert blank.status == 200 and blank.headers["Content-Type"] == "image/png"


def test_legend_and_feature_info_without_version_as_qgis_server(wms: Server) -> None:
    # QGIS Server 3.22 answers these two without VERSION (web pages write legend URLs so), in
    # WMS 1.3.0; GetMap without VERSION it refuses, and so does ogcserve.
    legend = get(wms, LEGEND.replace("VERSION=1.3.0&", "") + "countries")
    assert legend.status == 200 and image(legend).size[1] > 10
    info = get(
        wms,
        "SERVICE=WMS&REQUEST=GetFeatureInfo&LAYERS=countries&QUERY_LAYERS=countries&STYLES="
        "&CRS=EPSG:4326&BBOX=40,0,50,10&WIDTH=200&HEIGHT=200&I=100&J=100"
        "&INFO_FORMAT=application/json",
    )
    assert info.status == 200, info.body[:300]
    assert [f["properties"]["name"] for f in json.loads(info.body)["features"]] == ["France"]
    no_map = get(
        wms,
        "SERVICE=WMS&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326"
        "&BBOX=-90,-180,90,180&WIDTH=20&HEIGHT=10&FORMAT=image/png",
    )
    assert no_map.status == 400 and b'locator="VERSION"' in no_map.body
    wrong = get(wms, LEGEND.replace("1.3.0", "1.2.0") + "countries")
    assert wrong.status == 400 and b'locator="VERSION"' in wrong.body


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_describe_layer(wms: Server, version: str) -> None:
    result = get(
        wms, f"SERVICE=WMS&VERSION={version}&REQUEST=DescribeLayer&LAYERS=countries,elevation"
    )
    assert result.status == 200
    doc = etree.fromstring(result.body)
    if version == "1.1.1":
        assert etree.DTD(str(SCHEMAS / "wms/1.1.1/WMS_DescribeLayerResponse.dtd")).validate(doc)
        assert doc.xpath("//LayerDescription/@owsType") == ["WFS", "WCS"]
    else:
        assert doc.xpath("//*[local-name()='owsType']/text()") == ["wfs", "wcs"]


def test_describe_layer_respects_access(role_wms: Server) -> None:
    query = "SERVICE=WMS&VERSION=1.3.0&REQUEST=DescribeLayer&LAYERS=nc_counties"
    assert get(role_wms, query, "user").status == 403


def test_get_styles_is_sld(wms: Server) -> None:
    result = get(wms, "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetStyles&LAYERS=countries,elevation")
    assert result.status == 200 and "sld" in result.headers["Content-Type"]
    doc = etree.fromstring(result.body)
    assert doc.xpath("//*[local-name()='SvgParameter'][@name='fill']/text()")[0] == "#cfe3c4"
    assert len(doc.xpath("//*[local-name()='InterpolationPoint']")) == 5


def test_watermark_stamps_maps_and_leaves_errors_alone(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    os.symlink(EXAMPLES / "watermark", folder / "watermark")
    server = make_server(plugin_paths=[folder])
    base = (
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326"
        "&BBOX=-90,-180,90,180&WIDTH=360&HEIGHT=180&TRANSPARENT=TRUE&FORMAT="
    )
    for fmt, mode in [
        ("image/png", "RGBA"),
        ("image/jpeg", "RGB"),
        ("image/webp", "RGBA"),
        ("image/png;%20mode=8bit", "P"),
    ]:
        result = get(server, base + fmt)
        picture = image(result)
        assert (
            picture.format
            == {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}[
                result.headers["Content-Type"].split(";")[0]
            ]
        )
        assert picture.mode == mode
        red = picture.convert("RGB").getpixel((40, 40))
        assert red[0] > 150 and red[1] < 80, fmt
    error = get(server, base.replace("countries", "nope") + "image/png")
    assert error.status == 400 and b"ServiceExceptionReport" in error.body
    blank = get(server, base.replace("countries", "nope") + "image/png&EXCEPTIONS=BLANK")
    assert Image.open(io.BytesIO(blank.body)).convert("RGBA").getextrema()[3] == (0, 0)


# --- geo: pure functions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("EPSG:4326", "EPSG:4326"),
        ("epsg:3857", "EPSG:3857"),
        ("CRS:84", "CRS:84"),
        ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326"),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "CRS:84"),
        ("http://www.opengis.net/def/crs/EPSG/0/2056", "EPSG:2056"),
    ],
)
def test_normalize_crs(text: str, code: str) -> None:
    assert normalize_crs(text) == code


@pytest.mark.parametrize("text", ["FOO:1", "EPSG:abc", "AUTO:42001", ""])
def test_normalize_crs_refuses(text: str) -> None:
    with pytest.raises(UnknownCRSError):
        normalize_crs(text)


@pytest.mark.parametrize(
    ("code", "north_first"),
    [
        ("EPSG:4326", True),
        ("CRS:84", False),
        ("EPSG:3857", False),
        ("EPSG:4258", True),
        ("EPSG:3035", True),
        ("EPSG:2056", False),
    ],
)
def test_axis_order(code: str, north_first: bool) -> None:
    assert is_north_first(code) is north_first


def test_wms_1_3_0_swaps_lat_lon_and_1_1_1_never() -> None:
    # WMS 1.3.0 §6.7.3.3
    assert to_xy((40, -75, 41, -73), "EPSG:4326", "1.3.0") == (-75, 40, -73, 41)
    assert to_xy((-75, 40, -73, 41), "CRS:84", "1.3.0") == (-75, 40, -73, 41)
    assert to_xy((-75, 40, -73, 41), "EPSG:4326", "1.1.1") == (-75, 40, -73, 41)
    assert from_xy((-75, 40, -73, 41), "EPSG:4326", "1.3.0") == (40, -75, 41, -73)


@pytest.mark.parametrize(
    "text", ["1,2,3", "1,2,0,4", "1,2,3,1", "a,b,c,d", "nan,0,1,1", "0,0,inf,1"]
)
def test_parse_bbox_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bbox(text)


def test_transform_bbox_clips_to_the_area_of_use() -> None:
    box = transform_bbox((-180, -90, 180, 90), "EPSG:4326", "EPSG:3857")
    assert box[2] == pytest.approx(20037508.34, rel=1e-6) and box[3] < 2.1e7


def test_scale() -> None:
    assert scale_denominator((0, 0, 2800, 2800), "EPSG:3857", 10000) == pytest.approx(1000)
    assert scale_denominator((-180, -90, 180, 90), "EPSG:4326", 360) == pytest.approx(
        397569610, rel=1e-6
    )
    assert scale_hint(1000) == pytest.approx(0.396, rel=1e-2)
    assert in_scale_range(1000, 1000, 2000) and not in_scale_range(2000, 1000, 2000)
