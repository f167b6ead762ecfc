"""WMS and the feature key: GetFeatureInfo shows it in every format, FILTER (CQL2 or QGIS
expressions, `$id` included) selects on it in GetFeatureInfo and GetMap, and style rules name
it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from lxml import etree
from wms_helpers import get, image

from ogcserve.server import Server
from ogcserve.testing import make_server

DEMO_GPKG = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo" / "natural_earth.gpkg"

FORMATS = [
    "text/plain",
    "text/html",
    "text/xml",
    "application/vnd.ogc.gml",
    "application/vnd.ogc.gml/3.1.1",
    "application/json",
]
FRANCE = 44  # fid of France in the demo's countries


def _info(fmt: str, extra: str = "") -> str:
    # The pixel over France on a 360x180 world map (as in test_wms_get_feature_info).
    return (
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=countries&STYLES=&"
        "CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=360&HEIGHT=180&FORMAT=image/png&"
        f"QUERY_LAYERS=countries&INFO_FORMAT={quote(fmt)}&I=182&J=44{extra}"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_info_format_shows_the_key(wms: Server, fmt: str) -> None:
    result = get(wms, _info(fmt))
    assert result.status == 200, result.body
    body = result.body
    if fmt == "application/json":
        [feature] = json.loads(body)["features"]
        assert feature["properties"]["fid"] == FRANCE
        assert next(iter(feature["properties"])) == "fid"  # in schema order
    elif fmt == "text/plain":
        assert f"fid = '{FRANCE}'".encode() in body
    elif fmt == "text/html":
        assert f"<th>fid</th><td>{FRANCE}</td>".encode() in body
    elif fmt == "text/xml":
        root = etree.fromstring(body)
        assert root.xpath("//Attribute[@name='fid']/@value") == [str(FRANCE)]
    else:
        root = etree.fromstring(body)
        assert [e.text for e in root.xpath("//*[local-name()='fid']")] == [str(FRANCE)]


@pytest.mark.parametrize(
    "expression",
    [f"fid = {FRANCE}", f'"fid" = {FRANCE}', f"$id = {FRANCE}", f'"fid" IN ({FRANCE}, 1)'],
)
def test_filter_on_the_key_selects(wms: Server, expression: str) -> None:
    chosen = get(wms, _info("application/json", f"&FILTER=countries:{quote(expression)}"))
    assert chosen.status == 200, chosen.body
    assert [f["properties"]["name"] for f in json.loads(chosen.body)["features"]] == ["France"]
    other = expression.replace(str(FRANCE), "1", 1)
    none = get(wms, _info("application/json", f"&FILTER=countries:{quote(other)}"))
    assert json.loads(none.body)["features"] == []


def test_a_filter_on_an_unknown_key_name_is_refused(wms: Server) -> None:
    result = get(wms, _info("application/json", "&FILTER=countries:pk%3D1"))
    assert result.status == 400 and b"pk" in result.body


FILL = (207, 227, 196)  # the demo's countries fill, #cfe3c4
RED = (228, 26, 28)
FRANCE_PX, GERMANY_PX = (182, 44), (190, 38)  # lon+180, 90-lat on a 360x180 world map


def _map(extra: str = "", layers: str = "countries") -> str:
    return (
        f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layers}&STYLES=&"
        "CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=360&HEIGHT=180&FORMAT=image/png"
        f"&TRANSPARENT=TRUE{extra}"
    )


def _close(pixel: tuple[int, ...], rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel[:3], rgb, strict=False))


@pytest.mark.parametrize("expression", [f'"fid" = {FRANCE}', f"$id = {FRANCE}"])
def test_get_map_filter_on_the_key(wms: Server, expression: str) -> None:
    picture = image(get(wms, _map(f"&FILTER=countries:{quote(expression)}")))
    assert _close(picture.getpixel(FRANCE_PX), FILL)
    assert picture.getpixel(GERMANY_PX)[3] == 0


def test_a_style_rule_on_the_key(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "name: rules\ntitle: Rules\nlayers:\n  - name: countries\n    title: Countries\n"
        f"    source: {{type: geopackage, path: {DEMO_GPKG}, table: countries}}\n"
        "    style:\n      rules:\n"
        f"        - {{filter: 'fid = {FRANCE}', fill: '#e41a1c', stroke: '#e41a1c'}}\n"
        "        - {else: true, fill: '#cfe3c4', stroke: '#cfe3c4'}\n"
    )
    server = make_server([tmp_path / "rules.yaml"])
    try:
        result = get(server, _map())
        assert result.status == 200, result.body
        picture = image(result)
        assert _close(picture.getpixel(FRANCE_PX), RED)
        assert _close(picture.getpixel(GERMANY_PX), FILL)
    finally:
        server.close()
