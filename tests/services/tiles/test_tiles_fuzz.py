"""Property tests of the tile endpoints on hostile input, through the whole app: WMTS KVP
(GetCapabilities, GetTile, GetFeatureInfo), WMTS REST paths, OGC API Tiles paths (map tiles of
the dataset and of a collection, tile matrix sets) and the XYZ paths, built from hostile
segments. Every answer: no 5xx, an OGC exception report or JSON exception (or a tile) without
Python's exception text, within a generous bound (`fuzz.oracle`)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fuzz.oracle import examples, timed_call
from fuzz.strategies import hostile_text, kvp_query, numbers
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ogcserve.server import Server
from ogcserve.testing import make_server

WMTS = {
    "SERVICE": "WMTS", "VERSION": "1.0.0", "REQUEST": "GetTile", "LAYER": "countries",
    "STYLE": "default", "TILEMATRIXSET": "WebMercatorQuad", "TILEMATRIX": "1", "TILEROW": "0",
    "TILECOL": "1", "FORMAT": "image/png", "INFOFORMAT": "application/json", "I": "3", "J": "4",
    "ACCEPTVERSIONS": "1.0.0", "SECTIONS": "Contents",
}  # fmt: skip
WMTS_REQUESTS = ("GetCapabilities", "GetTile", "GetFeatureInfo", "gettile", "GetMap", "")
LAYERS = ("countries", "places", "elevation", "nope", "countries,places", "")
SETS = ("WebMercatorQuad", "WorldCRS84Quad", "EPSG:4326", "EPSG:3857", "Nowhere", "")
FORMATS = ("png", "jpg", "jpeg", "webp", "gif", "mvt", "pbf", "json", "", "png8", "PNG")


def _index() -> st.SearchStrategy[str]:
    """A zoom, row or column: small and valid, or anything."""
    return st.one_of(st.integers(-2, 8).map(str), numbers(), hostile_text(10))


def _segment(choices: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(choices), hostile_text(10))


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = make_server()
    yield server
    server.close()


@settings(max_examples=examples(0.5))
@given(kvp_query(WMTS, WMTS_REQUESTS))
@example(
    "SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&LAYER=countries&STYLE=default"
    "&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=nan&TILEROW=inf&TILECOL=-inf&FORMAT=image/png"
)
def test_wmts_kvp(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


def _path(*segments: str) -> str:
    return "/".join(quote(s, safe="") for s in segments)


@settings(max_examples=examples(0.5))
@given(
    _segment(LAYERS),
    _segment(("default", "", "nope")),
    _segment(SETS),
    _index(),
    _index(),
    _index(),
    _segment(FORMATS),
)
@example("countries", "default", "WebMercatorQuad", "nan", "0", "0", "png")
@example("countries", "default", "WebMercatorQuad", "99999999999999999999", "0", "0", "png")
def test_wmts_rest(
    demo: Server, layer: str, style: str, tms: str, z: str, row: str, col: str, ext: str
) -> None:
    timed_call(demo, f"/wmts/demo/{_path(layer, style, tms, z, row, col)}.{quote(ext)}")


@settings(max_examples=examples(0.5))
@given(
    st.one_of(st.just(""), _segment(LAYERS).map(lambda c: f"collections/{quote(c, safe='')}/")),
    _segment(SETS),
    _index(),
    _index(),
    _index(),
    st.one_of(st.just(""), _segment(FORMATS).map(lambda f: f"?f={quote(f, safe='')}")),
)
@example("", "WebMercatorQuad", "nan", "0", "0", "")
@example("collections/countries/", "WorldCRS84Quad", "1", "-1", "1e309", "?f=png")
def test_ogcapi_tiles(
    demo: Server, collection: str, tms: str, z: str, row: str, col: str, f: str
) -> None:
    timed_call(demo, f"/ogcapi/demo/{collection}map/tiles/{_path(tms, z, row, col)}{f}")


@settings(max_examples=examples(0.3))
@given(st.lists(_segment((*SETS, "tiles", "map", "tileMatrixSets", "")), max_size=5))
def test_ogcapi_tile_documents(demo: Server, segments: list[str]) -> None:
    timed_call(demo, f"/ogcapi/demo/{_path(*segments)}")


@settings(max_examples=examples(0.5))
@given(_segment(LAYERS), _index(), _index(), _index(), _segment(FORMATS))
@example("countries", "nan", "0", "0", "png")
@example("countries", "0", "0", "99999999999999999999", "png")
def test_xyz(demo: Server, layer: str, z: str, x: str, y: str, ext: str) -> None:
    timed_call(demo, f"/tiles/demo/{_path(layer, z, x, y)}.{quote(ext)}")
