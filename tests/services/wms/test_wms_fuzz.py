"""Property tests of WMS on hostile input, through the whole app: KVP requests for every
operation (valid keys with hostile values, repeated keys, odd encodings, huge and non-finite
numbers) and the FILTER vendor parameter (CQL2 text / QGIS expressions). Every answer: no 5xx,
an OGC exception report (or image, for EXCEPTIONS=INIMAGE) without Python's exception text,
within a generous bound (`fuzz.oracle`).

The WMS takes no SLD (SLD / SLD_BODY are not read): there is no SLD parser to fuzz.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fuzz.oracle import examples, parses_or_refuses, timed_call
from fuzz.strategies import WMS_BASE, WMS_REQUESTS, filter_text, hostile_text, kvp_query, mangled
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ogcserve.errors import ServiceError
from ogcserve.server import Server
from ogcserve.services.wms.params import GetFeatureInfoParams, GetMapParams, parse_filters
from ogcserve.testing import make_server

# Small images: what is fuzzed is the parameters, not the renderer's speed.
_SMALL = st.one_of(hostile_text(), st.integers(-5, 64).map(str))
_BASE = {**WMS_BASE, "LAYERS": "countries,cities", "QUERY_LAYERS": "countries"}


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = make_server()
    yield server
    server.close()


@settings(max_examples=examples(0.5))
@given(kvp_query(_BASE, WMS_REQUESTS))
@example(
    "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=elevation&CRS=EPSG:3857"
    "&BBOX=-1e15,-1e15,1e15,1e15&WIDTH=256&HEIGHT=256&FORMAT=image/png"
)
@example(
    "SERVICE=WMS&REQUEST=GetMap&LAYERS=countries&CRS=EPSG:4326&BBOX=nan,nan,nan,nan"
    "&WIDTH=8&HEIGHT=8&FORMAT=image/png"
)
@example(
    "SERVICE=WMS&REQUEST=GetMap&LAYERS=countries&CRS=EPSG:4326&BBOX=0,0,1,1"
    "&WIDTH=8&HEIGHT=8&FORMAT=image/png&EXCEPTIONS=INIMAGE&FILTER=countries:("
)
def test_kvp_requests(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


@given(
    kvp_query(
        {**_BASE, "REQUEST": "GetCapabilities"},
        ("GetCapabilities", "GetStyles", "DescribeLayer", "GetLegendGraphic"),
    )
)
def test_documents_and_legends(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


@settings(max_examples=examples(0.5))
@given(
    st.sampled_from(("countries", "cities", "nope", "")),
    mangled(filter_text()),
    st.sampled_from(("GetMap", "GetFeatureInfo")),
)
def test_filter(demo: Server, layer: str, expression: str, operation: str) -> None:
    query = (
        "SERVICE=WMS&VERSION=1.3.0&LAYERS=countries,cities&QUERY_LAYERS=countries,cities"
        "&STYLES=&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=16&HEIGHT=8&I=3&J=3"
        "&FORMAT=image/png&INFO_FORMAT=application/json"
    )
    value = quote(f"{layer}:{expression}", safe="")
    timed_call(demo, f"/ows?{query}&REQUEST={operation}&FILTER={value}")


@given(
    st.dictionaries(st.sampled_from(sorted(WMS_BASE)), _SMALL, max_size=8),
    st.sampled_from(("1.3.0", "1.1.1", "")),
)
def test_parameter_parsers_parse_or_refuse(params: dict[str, str], version: str) -> None:
    merged = {**_BASE, **params}
    for parse in (GetMapParams.parse, GetFeatureInfoParams.parse):
        result = parses_or_refuses(parse, merged, version, 4096)
        assert isinstance(result, GetMapParams | GetFeatureInfoParams | ServiceError)
    filters = parses_or_refuses(parse_filters, merged.get("FILTER", ""))
    assert isinstance(filters, dict | ServiceError)


# --- found by fuzzing ------------------------------------------------------------------------------


def test_a_bbox_that_is_not_numbers(demo: Server) -> None:
    """float()'s message ("could not convert string to float: '-1.0.0180'") reached the client."""
    result = timed_call(
        demo,
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries"
        "&CRS=CRS:84&BBOX=-1.0.0180,-90,180,90&WIDTH=32&HEIGHT=16"
        "&FORMAT=image/png",
    )
    assert result.status == 400
    assert b"BBOX: a bounding box has 4 numbers, separated by commas" in result.body


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_a_layer_name_with_a_control_character(demo: Server, version: str) -> None:
    """The name is the error's locator; lxml refused the \\x01 in the attribute, and the
    renderer's ValueError escaped the pipeline (a 500 at the HTTP edge)."""
    result = timed_call(
        demo,
        f"/ows?SERVICE=WMS&VERSION={version}&REQUEST=GetMap&LAYERS=a%01b"
        "&STYLES=&CRS=EPSG:4326&SRS=EPSG:4326&BBOX=0,0,1,1&WIDTH=2"
        "&HEIGHT=2&FORMAT=image/png",
    )
    assert result.status == 400
    assert b"LayerNotDefined" in result.body and b"a\\x01b" in result.body


@pytest.mark.parametrize("operation", ["GetMap", "GetFeatureInfo"])
def test_a_crs_with_no_way_to_the_layers(demo: Server, operation: str) -> None:
    """PROJ knows EPSG:3173 but no transformation from it to any layer's CRS: pyproj's
    ProjError ("Input is not a transformation") was a 500."""
    result = timed_call(
        demo,
        f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST={operation}"
        "&LAYERS=countries&QUERY_LAYERS=countries&STYLES=&CRS=EPSG:3173"
        "&BBOX=0,0,1,1&WIDTH=2&HEIGHT=2&I=1&J=1&FORMAT=image/png",
    )
    assert result.status == 400 and b'code="InvalidCRS"' in result.body


@pytest.mark.parametrize(
    "query",
    [
        "VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4%C2%B326&BBOX=0,0,1,1"
        "&WIDTH=2&HEIGHT=2&FORMAT=image/png",
        "VERSION=1.%C2%B3.0&REQUEST=GetCapabilities",
    ],
)
def test_a_superscript_digit(demo: Server, query: str) -> None:
    """'³'.isdigit() is true, int('³') fails: a CRS code or a version holding one was a 500."""
    assert timed_call(demo, f"/ows?SERVICE=WMS&{query}").status in (200, 400)
