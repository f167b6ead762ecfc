"""OGC API - Tiles (map tiles of the project and of each collection) and the XYZ template."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image
from tile_support import rules_server

from ogcserve.server import Server
from ogcserve.testing import call, make_server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    server = make_server()
    yield server
    server.close()


def test_tile_matrix_sets(server: Server) -> None:
    listed = json.loads(call(server, "/ogcapi/demo/tileMatrixSets").body)
    ids = [s["id"] for s in listed["tileMatrixSets"]]
    assert ids == ["WebMercatorQuad", "WorldCRS84Quad", "EPSG:4326"]  # the project's own last
    doc = json.loads(call(server, "/ogcapi/demo/tileMatrixSets/WorldCRS84Quad").body)
    assert doc["crs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    level1 = doc["tileMatrices"][1]
    assert (level1["matrixWidth"], level1["matrixHeight"], level1["cellSize"]) == (4, 2, 0.3515625)
    assert level1["pointOfOrigin"] == [-180.0, 90.0]
    assert call(server, "/ogcapi/demo/tileMatrixSets/Nowhere").status == 404
    own = json.loads(call(server, "/ogcapi/demo/tileMatrixSets/EPSG:4326").body)
    assert own["orderedAxes"] == ["Lat", "Lon"] and "uri" not in own
    assert own["tileMatrices"][0]["pointOfOrigin"] == [90.0, -180.0]
    tile = call(server, "/ogcapi/demo/collections/countries/map/tiles/EPSG:4326/2/0/2?f=png")
    assert tile.status == 200 and tile.body.startswith(b"\x89PNG")
    assert call(server, "/ogcapi/demo/map/tiles/EPSG:4326/2/2/0?f=png").status == 404


def test_tilesets_link_their_tiles(server: Server) -> None:
    doc = json.loads(call(server, "/ogcapi/demo/collections/countries/map/tiles").body)
    sets = doc["tilesets"]
    schemes = [
        link["href"].rsplit("/", 1)[1]
        for s in sets
        for link in s["links"]
        if link["rel"].endswith("tiling-scheme")
    ]
    assert schemes == ["WebMercatorQuad", "WorldCRS84Quad", "EPSG:4326"]
    # The well-known sets name their URI; the project's own has none to name.
    assert [("tileMatrixSetURI" in s) for s in sets] == [True, True, False]
    items = [link for link in sets[0]["links"] if link["rel"] == "item"]
    assert items[0]["href"] == (
        "http://testserver/ogcapi/demo/collections/countries/map/tiles/WebMercatorQuad"
        "/{tileMatrix}/{tileRow}/{tileCol}?f=png"
    )
    one = json.loads(call(server, "/ogcapi/demo/map/tiles/WorldCRS84Quad").body)
    assert one["dataType"] == "map" and one["crs"].endswith("CRS84")


@pytest.mark.parametrize(
    ("url", "mime"),
    [
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/0/0/0", "image/png"),
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/0/0/0?f=jpg", "image/jpeg"),
        ("/ogcapi/demo/collections/places/map/tiles/WorldCRS84Quad/1/0/3?f=webp", "image/webp"),
        ("/tiles/demo/countries/1/1/0.png", "image/png"),
        ("/tiles/demo/countries/1/1/0.jpg", "image/jpeg"),
    ],
)
def test_tiles(server: Server, url: str, mime: str) -> None:
    result = call(server, url)
    assert result.status == 200 and result.headers["Content-Type"] == mime
    assert Image.open(io.BytesIO(result.body)).size == (256, 256)
    assert "ETag" in result.headers


def test_xyz_is_the_wmts_tile(server: Server) -> None:
    # XYZ's {x}/{y} are WMTS's column/row.
    xyz = call(server, "/tiles/demo/countries/2/3/1.png").body
    ogcapi = call(server, "/ogcapi/demo/collections/countries/map/tiles/WebMercatorQuad/2/1/3")
    assert xyz == ogcapi.body


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/1/2/0", 404),
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/1/0/2", 404),
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/21/0/0", 404),
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/a/0/0", 404),
        ("/ogcapi/demo/map/tiles/Nowhere/0/0/0", 404),
        ("/ogcapi/demo/collections/nowhere/map/tiles/WebMercatorQuad/0/0/0", 404),
        ("/ogcapi/demo/map/tiles/WebMercatorQuad/0/0/0?f=gif", 400),
        ("/tiles/demo/countries/0/0/0.gif", 404),
        ("/tiles/demo/countries/0/1/0.png", 404),
    ],
)
def test_bad_requests(server: Server, url: str, status: int) -> None:
    result = call(server, url)
    assert result.status == status
    assert json.loads(result.body)["status"] == status


def test_forbidden_collection_is_answered_as_absent() -> None:
    """As OGC API - Features answers its collections: a forbidden collection's tiles are a 404
    worded as for one that does not exist (a 403 told the hidden layer's existence)."""
    server, rules = rules_server()
    rules.readable = {"guest": {"cities"}}
    try:
        headers = {"X-Role": "guest"}
        for path in (
            "/ogcapi/demo/collections/{}/map/tiles",
            "/ogcapi/demo/collections/{}/map/tiles/WebMercatorQuad",
            "/ogcapi/demo/collections/{}/map/tiles/WebMercatorQuad/0/0/0",
            "/tiles/demo/{}/0/0/0.png",
        ):
            hidden = call(server, path.format("countries"), headers=headers)
            absent = call(server, path.format("nowhere"), headers=headers)
            assert hidden.status == 404, path
            assert hidden.body.replace(b"countries", b"@") == absent.body.replace(b"nowhere", b"@")
        assert call(server, "/tiles/demo/cities/0/0/0.png", headers=headers).status == 200
        # The API definition names the layers the caller may read, never the forbidden one.
        api = json.loads(call(server, "/ogcapi/demo/api?f=json", headers=headers).body)
        collection = api["paths"]["/collections/{collectionId}/map/tiles"]["get"]
        names = collection["parameters"][0]["schema"]["enum"]
        assert set(names) == {"places", "cities"} and "countries" not in json.dumps(api["paths"])
    finally:
        server.close()


def test_the_api_definition_lists_the_tiles_and_validates(server: Server) -> None:
    from openapi_spec_validator import validate

    api = json.loads(call(server, "/ogcapi/demo/api?f=json").body)
    validate(api)
    tile = "/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"
    for base in ("/map/tiles", "/collections/{collectionId}/map/tiles"):
        assert {base, base + "/{tileMatrixSetId}", base + tile} <= set(api["paths"])
        get = api["paths"][base + tile]["get"]
        assert set(get["responses"]["200"]["content"]) == {"image/png", "image/jpeg", "image/webp"}
        sets = next(p for p in get["parameters"] if p["name"] == "tileMatrixSetId")
        assert sets["schema"]["enum"] == ["WebMercatorQuad", "WorldCRS84Quad", "EPSG:4326"]
    assert "/tileMatrixSets/{tileMatrixSetId}" in api["paths"]
    # Every path the definition names answers (filled in with the first of each enum).
    for path, spec in api["paths"].items():
        if "tile" not in path.lower():
            continue
        values = {"tileMatrix": "0", "tileRow": "0", "tileCol": "0"}
        for parameter in spec["get"]["parameters"]:
            if "enum" in parameter.get("schema", {}) and parameter["in"] == "path":
                values[parameter["name"]] = parameter["schema"]["enum"][0]
        url = "/ogcapi/demo" + path.format(**values)
        assert call(server, url).status == 200, url


def test_landing_page_collections_and_conformance_lead_to_the_tiles(server: Server) -> None:
    rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"
    landing = json.loads(call(server, "/ogcapi/demo").body)
    href = next(link["href"] for link in landing["links"] if link["rel"] == rel)
    assert call(server, href.removeprefix("http://testserver")).status == 200
    collection = json.loads(call(server, "/ogcapi/demo/collections/countries").body)
    href = next(link["href"] for link in collection["links"] if link["rel"] == rel)
    assert json.loads(call(server, href.removeprefix("http://testserver")).body)["tilesets"]
    conformance = json.loads(call(server, "/ogcapi/demo/conformance").body)["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30" in conformance
