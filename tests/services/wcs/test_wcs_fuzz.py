"""Property tests of WCS on hostile input, through the whole app: KVP requests of 1.0.0, 1.1.1
and 2.0.1 for every operation (valid keys with hostile values, repeated keys, odd encodings,
huge and non-finite numbers) and 2.0's SUBSET / SCALE* parameters built from hostile parts.
Every answer: no 5xx, an OGC exception report (or a coverage) without Python's exception text,
within a generous bound (`fuzz.oracle`)."""

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

REQUESTS = ("GetCapabilities", "DescribeCoverage", "GetCoverage", "getcoverage", "GetMap", "")
V100 = {
    "SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "elevation",
    "CRS": "EPSG:4326", "RESPONSE_CRS": "EPSG:3857", "BBOX": "6,49.5,6.2,49.7", "WIDTH": "16",
    "HEIGHT": "12", "RESX": "0.01", "RESY": "0.01", "FORMAT": "GeoTIFF", "BAND": "1",
    "INTERPOLATION": "nearest neighbor", "TIME": "2020-01-01", "EXCEPTIONS": "XML",
}  # fmt: skip
V111 = {
    "SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "elevation",
    "IDENTIFIERS": "elevation", "BOUNDINGBOX": "6,49.5,6.2,49.7,urn:ogc:def:crs:OGC:1.3:CRS84",
    "GRIDBASECRS": "urn:ogc:def:crs:EPSG::3857", "GRIDOFFSETS": "2000,-2000",
    "GRIDTYPE": "urn:ogc:def:method:WCS:1.1:2dSimpleGrid", "GRIDCS":
    "urn:ogc:def:cs:OGC:0.0:Grid2dSquareCS", "GRIDORIGIN": "0,0", "RANGESUBSET":
    "contents:bilinear[Bands[1]]", "FORMAT": "image/tiff", "STORE": "false",
    "ACCEPTVERSIONS": "1.1.1,1.0.0", "SECTIONS": "Contents",
}  # fmt: skip
V201 = {
    "SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "elevation",
    "SUBSET": "Long(6,6.2)", "SUBSETTINGCRS": "http://www.opengis.net/def/crs/EPSG/0/4326",
    "OUTPUTCRS": "http://www.opengis.net/def/crs/EPSG/0/3857", "SCALEFACTOR": "0.5",
    "SCALESIZE": "Long(16),Lat(12)", "SCALEAXES": "Long(0.5)", "SCALEEXTENT": "Long(0,15)",
    "RANGESUBSET": "band1", "INTERPOLATION": "http://www.opengis.net/def/interpolation/OGC/1/linear",
    "FORMAT": "image/png", "MEDIATYPE": "multipart/related", "GEOTIFF:COMPRESSION": "LZW",
    "ACCEPTVERSIONS": "2.0.1", "SECTIONS": "All",
}  # fmt: skip
AXES = ("Long", "Lat", "long", "E", "N", "x", "y", "Height", "time", "", "Long Lat", "é")


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    # Small answers: what is fuzzed is the parameters, not the reader's speed.
    server = make_server(wcs_max_size=256)
    yield server
    server.close()


@settings(max_examples=examples(0.5))
@given(kvp_query(V100, REQUESTS))
@example(
    "SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation&CRS=EPSG:4326"
    "&BBOX=6,49.5,6.2,49.7&RESX=1e-320&RESY=1e-320&FORMAT=GeoTIFF"
)
def test_wcs_1_0_kvp(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


@settings(max_examples=examples(0.5))
@given(kvp_query(V111, REQUESTS))
@example(
    "SERVICE=WCS&VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=elevation"
    "&BOUNDINGBOX=-inf,-inf,inf,inf,urn:ogc:def:crs:OGC:1.3:CRS84&FORMAT=image/tiff"
)
@example(
    "SERVICE=WCS&VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=elevation"
    "&BOUNDINGBOX=nan,49.5,6.2,49.7&FORMAT=image/tiff"
)
@example(
    "SERVICE=WCS&VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=elevation"
    "&BOUNDINGBOX=6,49.5,6.2,49.7&GRIDOFFSETS=1e-320,1e-320&FORMAT=image/tiff"
)
def test_wcs_1_1_kvp(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


@settings(max_examples=examples(0.5))
@given(kvp_query(V201, REQUESTS))
def test_wcs_2_0_kvp(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


def _subset() -> st.SearchStrategy[str]:
    """SUBSET=axis(low,high) or axis(point), from hostile parts, sometimes cut or doubled."""
    value = st.one_of(numbers(), hostile_text(12), st.sampled_from(("6", "6.2", "49.5", "*")))
    return st.one_of(
        st.builds(lambda a, lo, hi: f"{a}({lo},{hi})", st.sampled_from(AXES), value, value),
        st.builds(lambda a, v: f"{a}({v})", st.sampled_from(AXES), value),
        st.builds(lambda a, v: f"{a}{v}", st.sampled_from(AXES), hostile_text(12)),
        hostile_text(),
    )


@settings(max_examples=examples(0.5))
@given(
    st.lists(_subset(), max_size=4),
    st.sampled_from(("", "SCALEFACTOR", "SCALESIZE", "SCALEAXES", "SCALEEXTENT")),
    st.one_of(hostile_text(), _subset()),
    st.sampled_from(("", "EPSG:3857", "http://www.opengis.net/def/crs/EPSG/0/32631", "nope")),
)
@example(["Long(nan,6.2)", "Lat(49.5,inf)"], "", "", "")
@example(["Long(-inf,inf)", "Lat(-inf,inf)"], "SCALEFACTOR", "1e-320", "EPSG:3857")
@example(["Long(6,6.2)"], "SCALESIZE", "Long(1e309),Lat(nan)", "")
def test_wcs_2_0_subsets(
    demo: Server, subsets: list[str], scale: str, scale_value: str, output_crs: str
) -> None:
    query = "SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation"
    query += "".join(f"&SUBSET={quote(s, safe='')}" for s in subsets)
    if scale:
        query += f"&{scale}={quote(scale_value, safe='')}"
    if output_crs:
        query += f"&OUTPUTCRS={quote(output_crs, safe='')}"
    timed_call(demo, f"/ows?{query}")
