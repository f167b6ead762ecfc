"""WMTS 1.0.0 against the demo: capabilities, tiles in each format and matrix set, the errors of
WMTS 1.0.0 Table 28, validators, rights."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from PIL import Image
from tile_support import rules_server

from ogcserve.server import Server
from ogcserve.testing import call, make_server

NS = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
KVP = "/ows?SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&STYLE=default"


def tile_url(
    layer: str = "countries",
    tms: str = "WebMercatorQuad",
    z: int | str = 1,
    row: int | str = 0,
    col: int | str = 0,
    fmt: str = "image/png",
) -> str:
    return (
        f"{KVP}&LAYER={layer}&FORMAT={fmt}&TILEMATRIXSET={tms}&TILEMATRIX={z}"
        f"&TILEROW={row}&TILECOL={col}"
    )


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    server = make_server()
    yield server
    server.close()


def pixels(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))


def exception_code(body: bytes) -> str:
    root = etree.fromstring(body)
    return str(root.find("ows:Exception", NS).get("exceptionCode"))


def test_capabilities_list_layers_groups_project_and_the_matrix_sets(server: Server) -> None:
    result = call(server, "/ows?SERVICE=WMTS&REQUEST=GetCapabilities")
    assert result.status == 200
    root = etree.fromstring(result.body)
    names = root.xpath("w:Contents/w:Layer/ows:Identifier/text()", namespaces=NS)
    assert {"demo", "countries", "places", "cities", "elevation"} <= set(names)
    sets = root.xpath("w:Contents/w:TileMatrixSet/ows:Identifier/text()", namespaces=NS)
    # The well-known sets, then one per CRS of the project's list none of them is in.
    assert sets == ["WebMercatorQuad", "WorldCRS84Quad", "EPSG:4326"]
    crs84 = root.xpath(
        "w:Contents/w:TileMatrixSet[ows:Identifier='WorldCRS84Quad']", namespaces=NS
    )[0]
    first = crs84.find("w:TileMatrix", NS)
    assert first.findtext("w:TopLeftCorner", namespaces=NS) == "-180 90"
    assert first.findtext("w:MatrixWidth", namespaces=NS) == "2"
    # EPSG:4326 is latitude first, and so is its corner; no well-known scale set is claimed.
    wgs84 = root.xpath("w:Contents/w:TileMatrixSet[ows:Identifier='EPSG:4326']", namespaces=NS)[0]
    assert wgs84.find("w:WellKnownScaleSet", NS) is None
    assert wgs84.findtext("ows:SupportedCRS", namespaces=NS) == "urn:ogc:def:crs:EPSG::4326"
    level1 = wgs84.findall("w:TileMatrix", NS)[1]
    assert level1.findtext("w:TopLeftCorner", namespaces=NS) == "90 -180"
    assert (
        level1.findtext("w:MatrixWidth", namespaces=NS),
        level1.findtext("w:MatrixHeight", namespaces=NS),
    ) == ("2", "1")
    template = root.xpath(
        "w:Contents/w:Layer[ows:Identifier='countries']/w:ResourceURL[@format='image/png']/@template",
        namespaces=NS,
    )[0]
    assert template == (
        "http://testserver/wmts/demo/countries/{Style}/{TileMatrixSet}/{TileMatrix}"
        "/{TileRow}/{TileCol}.png"
    )
    rest = call(server, "/wmts/demo/1.0.0/WMTSCapabilities.xml")
    assert rest.status == 200 and etree.fromstring(rest.body).tag == f"{{{NS['w']}}}Capabilities"


@pytest.mark.parametrize(
    ("fmt", "magic"),
    [("image/png", b"\x89PNG"), ("image/jpeg", b"\xff\xd8"), ("image/webp", b"RIFF")],
)
def test_get_tile_in_each_format(server: Server, fmt: str, magic: bytes) -> None:
    result = call(server, tile_url(fmt=fmt))
    assert result.status == 200
    assert result.headers["Content-Type"] == fmt
    assert result.body.startswith(magic)
    assert Image.open(io.BytesIO(result.body)).size == (256, 256)


def test_tiles_are_drawn_where_the_data_is(server: Server) -> None:
    # z1 of WebMercatorQuad: row 0 is the north; tile (0, 0) holds North America (countries).
    america = pixels(call(server, tile_url(z=1, row=0, col=0)).body)
    assert (america[..., 3] > 0).mean() > 0.2
    # WorldCRS84Quad z0 has two tiles: the western and eastern hemispheres.
    west = pixels(call(server, tile_url(tms="WorldCRS84Quad", z=0, col=0)).body)
    east = pixels(call(server, tile_url(tms="WorldCRS84Quad", z=0, col=1)).body)
    assert (west[..., 3] > 0).mean() > 0.1 and (east[..., 3] > 0).mean() > 0.1
    assert not np.array_equal(west, east)


def test_metatile_fills_the_cache_for_its_neighbours(server: Server) -> None:
    first = call(server, tile_url(z=3, row=2, col=5))
    assert first.headers["X-Cache"] == "MISS"
    # (2, 5) lies in the 4 x 4 metatile rows 0-3, columns 4-7: its neighbours were drawn too.
    neighbour = call(server, tile_url(z=3, row=3, col=4))
    assert neighbour.headers["X-Cache"] == "HIT"
    outside = call(server, tile_url(z=3, row=4, col=4))
    assert outside.headers["X-Cache"] == "MISS"


def test_a_metatile_is_drawn_once_by_servers_sharing_a_disk_cache(tmp_path: Path) -> None:
    # Two servers over one cache directory stand for two worker processes; eight tiles of one
    # 4 x 4 metatile are asked for at once, half from each: one drawing, every other tile a hit
    # (a second drawing would answer a second MISS).
    servers = [make_server(cache_backend="disk", cache_dir=tmp_path) for _ in range(2)]
    tiles = [(4, row, col) for row in range(4, 6) for col in range(8, 12)]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda i: call(servers[i % 2], tile_url(z=4, row=tiles[i][1], col=tiles[i][2])),
                    range(len(tiles)),
                )
            )
        assert all(a.status == 200 for a in answers)
        assert sorted(a.headers["X-Cache"] for a in answers) == ["HIT"] * 7 + ["MISS"]
    finally:
        for one in servers:
            one.close()


def test_etag_cache_control_and_304(server: Server) -> None:
    result = call(server, tile_url(z=2, row=1, col=1))
    assert result.headers["Cache-Control"] == "private, max-age=3600"
    tag = result.headers["ETag"]
    again = call(server, tile_url(z=2, row=1, col=1), headers={"If-None-Match": tag})
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == tag
    other = call(server, tile_url(z=2, row=1, col=1), headers={"If-None-Match": '"x"'})
    assert other.status == 200 and other.body == result.body


def test_max_age_is_a_setting_and_a_layer_option(tmp_path: Path) -> None:
    project = tmp_path / "ages.yaml"
    data = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo" / "natural_earth.gpkg"
    project.write_text(
        "name: ages\ntitle: Ages\nlayers:\n"
        f"  - {{name: countries, source: {{type: geopackage, path: {data}, table: countries}},"
        " tiles: {max_age: 86400}}\n"
        f"  - {{name: cities, source: {{type: geopackage, path: {data}, table: cities}}}}\n"
    )
    server = make_server([project], tile_max_age=60)
    try:
        for layer, age in (("countries", 86400), ("cities", 60), ("ages", 60)):
            result = call(server, tile_url(layer=layer))
            assert result.headers["Cache-Control"] == f"private, max-age={age}"
    finally:
        server.close()


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        (tile_url(z=1, row=2), 400, "TileOutOfRange"),
        (tile_url(z=1, col=2), 400, "TileOutOfRange"),
        (tile_url(z=1, row=-1), 400, "TileOutOfRange"),
        (tile_url(z=21), 400, "InvalidParameterValue"),
        (tile_url(z="x"), 400, "InvalidParameterValue"),
        (tile_url(tms="EPSG:9999"), 400, "InvalidParameterValue"),
        (tile_url(fmt="image/gif"), 400, "InvalidParameterValue"),
        (tile_url(layer="nowhere"), 400, "InvalidParameterValue"),
        (tile_url().replace("STYLE=default", "STYLE=fancy"), 400, "StyleNotDefined"),
        (tile_url().replace("&TILEROW=0", ""), 400, "MissingParameterValue"),
    ],
)
def test_bad_tile_requests(server: Server, url: str, status: int, code: str) -> None:
    result = call(server, url)
    assert result.status == status
    assert exception_code(result.body) == code


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/wmts/demo/countries/default/WebMercatorQuad/1/0/2.png", 404),
        ("/wmts/demo/countries/default/WebMercatorQuad/1/0/0.gif", 400),
        ("/wmts/demo/countries/default/Nowhere/1/0/0.png", 400),
        ("/wmts/demo/nowhere/default/WebMercatorQuad/1/0/0.png", 400),
    ],
)
def test_bad_restful_requests(server: Server, url: str, status: int) -> None:
    result = call(server, url)
    assert result.status == status
    assert etree.fromstring(result.body).tag == "{http://www.opengis.net/ows/1.1}ExceptionReport"


def test_restful_tile_is_the_kvp_tile(server: Server) -> None:
    rest = call(server, "/wmts/demo/countries/default/WebMercatorQuad/1/0/1.png")
    assert rest.status == 200
    assert rest.body == call(server, tile_url(z=1, row=0, col=1)).body


def test_get_feature_info(server: Server) -> None:
    url = tile_url(z=1, row=0, col=0).replace("GetTile", "GetFeatureInfo")
    result = call(server, url + "&I=100&J=190&INFOFORMAT=application/json")
    assert result.status == 200
    names = [f["properties"]["name"] for f in json.loads(result.body)["features"]]
    assert names == ["United States of America"]
    rest = call(server, "/wmts/demo/countries/default/WebMercatorQuad/1/0/0/190/100.json")
    assert rest.status == 200 and rest.body == result.body
    outside = call(server, url + "&I=256&J=0&INFOFORMAT=application/json")
    assert outside.status == 400 and exception_code(outside.body) == "PointIJOutOfRange"


def test_a_forbidden_layer_is_403_and_absent_from_the_capabilities() -> None:
    server, rules = rules_server()
    rules.readable = {"guest": {"cities"}}
    try:
        caps = call(
            server, "/ows?SERVICE=WMTS&REQUEST=GetCapabilities", headers={"X-Role": "guest"}
        )
        names = etree.fromstring(caps.body).xpath(
            "w:Contents/w:Layer/ows:Identifier/text()", namespaces=NS
        )
        assert set(names) == {"demo", "places", "cities"}
        # The RESTful capabilities are cached per caller's rights: each role, asked twice in
        # turn, gets its own layers every time.
        rules.readable["admin"] = {"cities", "countries", "nyc_boroughs"}
        for _ in range(2):
            for role, hidden in (("guest", True), ("admin", False)):
                rest_caps = call(
                    server, "/wmts/demo/1.0.0/WMTSCapabilities.xml", headers={"X-Role": role}
                )
                listed = etree.fromstring(rest_caps.body).xpath(
                    "w:Contents/w:Layer/ows:Identifier/text()", namespaces=NS
                )
                assert ("countries" not in listed) is hidden
        denied = call(server, tile_url(layer="countries"), headers={"X-Role": "guest"})
        assert denied.status == 403 and exception_code(denied.body) == "Security"
        rest = call(
            server,
            "/wmts/demo/countries/default/WebMercatorQuad/1/0/0.png",
            headers={"X-Role": "guest"},
        )
        assert rest.status == 403
        assert call(server, tile_url(layer="cities"), headers={"X-Role": "guest"}).status == 200
    finally:
        server.close()


def test_tiles_at_the_worlds_edge_draw_what_is_inside(server: Server) -> None:
    # The metatile's buffer reaches past the antimeridian; the countries (EPSG:4326) inside the
    # tile must still be drawn: South America fills the upper right of z1's south-west tile.
    image = pixels(call(server, tile_url(z=1, row=1, col=0)).body)
    assert (image[0:90, 150:200, 3] > 0).mean() > 0.3
