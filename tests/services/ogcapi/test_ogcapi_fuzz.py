"""Property tests of OGC API Features query parameters on hostile input, through the whole
app: bbox, bbox-crs, datetime, limit, offset, crs, filter, filter-lang, filter-crs, sortby,
properties, f, and unknown or repeated ones, on the items and item paths (and the time-enabled
`events` collection, as a user whose rows are filtered). Every answer: no 5xx, a JSON exception
(or a regular answer) without Python's exception text, within a generous bound
(`fuzz.oracle`)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fuzz.oracle import examples, timed_call
from fuzz.strategies import filter_text, hostile_text, numbers
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ogcapi_support import roles, write_events

from ogcserve.server import Server
from ogcserve.testing import make_server

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRSS = (
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84", f"{EPSG}4326", f"{EPSG}3857",
    f"{EPSG}999999", "EPSG:4326", "", "http://www.opengis.net/def/crs/OGC/0/nope", "[EPSG:4326]",
)  # fmt: skip
DATES = (
    "2020-01-01", "2020-01-01T00:00:00Z", "2020-01-01/2020-02-01", "../2020-01-01",
    "2020-01-01/..", "..", "../..", "/", "2020-13-45", "2020-01-01T25:00:00Z",
    "2020-01-01T00:00:00+99:00", "9999-12-31T23:59:59Z", "0000-01-01", "-2020-01-01",
    "2020-01-01/2019-01-01", "2020-01-01//2020-02-01", "P1D", "now",
)  # fmt: skip
SORTS = ("kind", "-value", "+day,-at", "nope", "-", "+", "kind,kind", "secret", "geom", "-id")
PROPS = ("kind", "kind,value", "", "secret", "nope", ",", "kind,,value", "*", "id")
LANGS = ("cql2-text", "cql2-json", "ecql", "", "CQL2-TEXT", "nope")


def _bbox() -> st.SearchStrategy[str]:
    parts = st.one_of(numbers(), st.sampled_from(("0", "1", "-180", "90", "45.5", "")))
    return st.one_of(
        st.lists(parts, min_size=3, max_size=7).map(",".join),
        st.sampled_from(("0,0,1,1", "1,1,0,0", "0,0,0,0", "nan,0,1,1", "-inf,-inf,inf,inf")),
        hostile_text(),
    )


def _value(choices: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(choices), hostile_text())


PARAMETERS: dict[str, st.SearchStrategy[str]] = {
    "bbox": _bbox(),
    "bbox-crs": _value(CRSS),
    "crs": _value(CRSS),
    "datetime": _value(DATES),
    "limit": st.one_of(numbers(), hostile_text()),
    "offset": st.one_of(numbers(), hostile_text()),
    "filter": st.one_of(filter_text(), hostile_text()),
    "filter-lang": _value(LANGS),
    "filter-crs": _value(CRSS),
    "sortby": _value(SORTS),
    "properties": _value(PROPS),
    "f": _value(("json", "geojson", "html", "jsonfg", "xml", "")),
    "skipGeometry": _value(("true", "false")),
    "kind": _value(("a", "b")),
    "nope": hostile_text(),
}


@st.composite
def items_query(draw: st.DrawFn) -> str:
    """Some of the parameters, each hostile or plausible, some repeated, in any order."""
    names = draw(st.lists(st.sampled_from(sorted(PARAMETERS)), max_size=6))
    pairs = [(name, draw(PARAMETERS[name])) for name in names]
    return "&".join(
        f"{quote(name, safe='')}={quote(value, safe=draw(st.sampled_from(('', ',:/'))))}"
        for name, value in pairs
    )


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make_server([write_events(tmp_path_factory.mktemp("ogcapi-fuzz"))], plugins=[roles])
    yield server
    server.close()


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = make_server()
    yield server
    server.close()


@settings(max_examples=examples(0.5))
@given(
    items_query(),
    st.sampled_from(("items", "items/1", "items/abc", "items/-1", "items/1e309", "queryables")),
    st.sampled_from(("", "restricted", "admin")),
)
@example("bbox=nan,0,1,1", "items", "")
@example("bbox=-inf,-inf,inf,inf&bbox-crs=" + quote(f"{EPSG}3857"), "items", "restricted")
@example("datetime=9999-12-31T23:59:59Z/..&limit=1e309&offset=-1", "items", "")
@example("filter-lang=cql2-json&filter=%7B%22op%22%3A%22%3D%22%7D", "items", "restricted")
def test_items_parameters(events: Server, query: str, path: str, role: str) -> None:
    headers = {"X-Role": role} if role else {}
    url = f"/ogcapi/ev/collections/events/{path}" + (f"?{query}" if query else "")
    timed_call(events, url, headers=headers)


@settings(max_examples=examples(0.3))
@given(items_query(), st.sampled_from(("countries", "places", "elevation", "nope", "")))
def test_demo_collections(demo: Server, query: str, collection: str) -> None:
    timed_call(demo, f"/ogcapi/demo/collections/{collection}/items?{query}")
