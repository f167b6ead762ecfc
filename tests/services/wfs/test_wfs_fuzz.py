"""Property tests of WFS on hostile input, through the whole app: KVP requests (valid keys with
hostile values, repeated keys, odd encodings), XML bodies (GetFeature, GetPropertyValue,
Transaction, stored queries, FES / OGC filters; generated trees, then cut and re-encoded), FILTER
and EXP_FILTER. Every answer: no 5xx, an OGC exception report without Python's exception text,
within a generous bound (`fuzz.oracle`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fuzz.oracle import examples, parses_or_refuses, timed_call
from fuzz.strategies import WFS_BASE, WFS_REQUESTS, filter_text, kvp_query, mangled
from fuzz.xml_strategies import fes_filter, mangled_bytes, wfs_body
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree
from wfs_support import build, parcel_roles

from ogcserve.errors import FilterError
from ogcserve.features import Field, FieldType, Schema
from ogcserve.http.request import RequestNotWellFormedError, XMLLimits
from ogcserve.server import Server
from ogcserve.services.wfs.crs import parse_srs
from ogcserve.services.wfs.filters import LayerTerms, ParsedFilter, parse_filter_text

_XML = {"Content-Type": "text/xml"}


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = build()
    yield server
    server.close()


@pytest.fixture(scope="module")
def editable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The editable parcels project (a copy of its own), with the parcel roles plugin."""
    from wfs_support import DEMO, EDIT_YAML, make_parcels

    folder = tmp_path_factory.mktemp("wfs-fuzz")
    for name in ("data.gpkg", "other.gpkg"):
        (folder / name).write_bytes((DEMO / "natural_earth.gpkg").read_bytes())
    make_parcels(folder / "data.gpkg")
    project = Path(folder / "edit.yaml")
    project.write_text(EDIT_YAML)
    server = build([project], plugins=(parcel_roles,))
    yield server
    server.close()


@given(kvp_query(WFS_BASE, WFS_REQUESTS))
@example("SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=countries&BBOX=nan,nan,nan,nan")
@example("SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=countries&COUNT=1e309")
def test_kvp_requests(demo: Server, query: str) -> None:
    timed_call(demo, f"/ows?{query}")


@given(mangled(filter_text()))
def test_exp_filter(demo: Server, expression: str) -> None:
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=5"
    timed_call(demo, f"/ows?{query}&EXP_FILTER={quote(expression, safe='')}")


@given(fes_filter())
def test_kvp_filter(demo: Server, element: etree._Element) -> None:
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=5"
    text = etree.tostring(element, encoding="unicode")
    timed_call(demo, f"/ows?{query}&FILTER={quote(text, safe='')}")


@settings(max_examples=examples(0.5))
@given(mangled_bytes(wfs_body()))
def test_xml_bodies(demo: Server, body: bytes) -> None:
    timed_call(demo, "/ows", method="POST", body=body, headers=_XML)


@settings(max_examples=examples(0.5))
@given(wfs_body(), st.sampled_from(("admin", "a", "reader")))
def test_transactions_and_queries_on_an_editable_layer(
    editable: Server, body: bytes, role: str
) -> None:
    timed_call(editable, "/ows", method="POST", body=body, headers={**_XML, "X-Role": role})


TERMS = LayerTerms(
    "countries",
    Schema(
        key="fid",
        fields=(
            Field("fid", FieldType.INTEGER),
            Field("name", FieldType.TEXT),
            Field("pop_est", FieldType.REAL),
            Field("gdp_md_est", FieldType.INTEGER),
            Field("born", FieldType.DATE),
            Field("seen", FieldType.DATETIME),
            Field("flag", FieldType.BOOLEAN),
        ),
        geometry_field="geom",
        geometry_type="MULTIPOLYGON",
    ),
    "EPSG:4326",
    parse_srs("EPSG:4326", "2.0.0"),
    "2.0.0",
)


@given(fes_filter())
def test_the_fes_reader_parses_or_refuses(element: etree._Element) -> None:
    text = etree.tostring(element, encoding="unicode")
    result = parses_or_refuses(parse_filter_text, text, TERMS, XMLLimits())
    assert isinstance(result, ParsedFilter | FilterError | RequestNotWellFormedError), result


# --- found by fuzzing ------------------------------------------------------------------------------


def test_an_envelope_corner_that_is_not_a_number(demo: Server) -> None:
    """float()'s message ("could not convert string to float: ...") reached the client."""
    fes = (
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" '
        'xmlns:gml="http://www.opengis.net/gml/3.2"><fes:BBOX><fes:ValueReference>geom'
        "</fes:ValueReference><gml:Envelope><gml:lowerCorner>-10 -20</gml:lowerCorner>"
        "<gml:upperCorner>10 '20</gml:upperCorner></gml:Envelope></fes:BBOX></fes:Filter>"
    )
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries"
    result = timed_call(demo, f"/ows?{query}&FILTER={quote(fes, safe='')}")
    assert result.status == 400
    assert b"invalid Envelope: coordinates are numbers" in result.body


def test_a_geometry_with_non_finite_coordinates(demo: Server) -> None:
    fes = (
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" '
        'xmlns:gml="http://www.opengis.net/gml/3.2"><fes:Intersects><fes:ValueReference>geom'
        "</fes:ValueReference><gml:Point><gml:pos>nan inf</gml:pos></gml:Point>"
        "</fes:Intersects></fes:Filter>"
    )
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries"
    result = timed_call(demo, f"/ows?{query}&FILTER={quote(fes, safe='')}")
    assert result.status == 400
    assert b"coordinates must be finite numbers" in result.body


def test_a_property_name_with_a_control_character(demo: Server) -> None:
    """The unknown property is the error's locator: rendered escaped, not a renderer crash."""
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries"
    result = timed_call(demo, f"/ows?{query}&EXP_FILTER=%22a%01%00%22%20%3D%201")
    assert result.status == 400
    assert b'locator="a\\x01\\x00"' in result.body


# --- PostGIS: filters pushed into SQL ---------------------------------------------------------------


@pytest.fixture(scope="module")
def postgis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A PostGIS table with the demo countries' columns, published as `countries`."""
    import os
    import uuid

    import psycopg

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"fuzz_countries_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, pop_est double precision,"
            " continent text, name text, iso_a3 text, gdp_md_est bigint,"
            " geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (pop_est, continent, name, iso_a3, gdp_md_est, geom) SELECT"
            " g * 1.5, CASE WHEN g % 2 = 1 THEN 'Asia' END, 'it''s ' || g, '%_\\', g * 10,"
            " ST_SetSRID(ST_MakePoint(g, g / 2.0), 4326) FROM generate_series(1, 20) g"
        )
    folder = tmp_path_factory.mktemp("wfs-fuzz-pg")
    (folder / "pg.yaml").write_text(
        "name: pg\ntitle: pg\nlayers:\n  - name: countries\n    title: Countries\n"
        f"    source: {{type: postgis, dsn: '{dsn}', table: {table}}}\n"
    )
    server = build([folder / "pg.yaml"])
    try:
        yield server
    finally:
        server.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.postgis
@settings(max_examples=examples(0.5))
@given(mangled(filter_text()))
def test_exp_filter_on_postgis(postgis: Server, expression: str) -> None:
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=5"
    timed_call(postgis, f"/ows?{query}&EXP_FILTER={quote(expression, safe='')}")


@pytest.mark.postgis
@settings(max_examples=examples(0.5))
@given(fes_filter())
def test_fes_filter_on_postgis(postgis: Server, element: etree._Element) -> None:
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=5"
    text = etree.tostring(element, encoding="unicode")
    timed_call(postgis, f"/ows?{query}&FILTER={quote(text, safe='')}")


@pytest.mark.postgis
@pytest.mark.parametrize(
    ("expression", "matched"),
    [
        ("fid = continent", 0),  # integer = text: PostgreSQL failed the query (a 500)
        ("fid / continent IS NULL", 20),  # text in arithmetic
        ("lower(fid) IS NULL", 20),  # lower(integer)
        ("'' IS NULL", 0),  # a parameter of no type: "could not determine data type"
        ("'\x00' IS NULL OR name <> '\x00'", 20),  # PostgreSQL text holds no NUL
        ("169 * 194 > 32767", 20),  # psycopg binds 169 as a smallint: "smallint out of range"
        ("gdp_md_est * 9223372036854775807 > 0", 20),  # bigint overflow
        ("name BETWEEN 'it''s 1' AND 'it''s 2'", 12),  # COLLATE in BETWEEN: a syntax error
    ],
)
def test_filters_postgresql_refused(postgis: Server, expression: str, matched: int) -> None:
    """Each of these failed the whole query on PostgreSQL (500, the database's message). Now the
    parts whose operands PostgreSQL cannot take are evaluated in Python, as on any source."""
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&RESULTTYPE=hits"
    result = timed_call(postgis, f"/ows?{query}&EXP_FILTER={quote(expression, safe='')}")
    assert result.status == 200, result.body[-300:]
    assert etree.fromstring(result.body).get("numberMatched") == str(matched)


@pytest.mark.parametrize(
    "query",
    [
        "VERSION=+2.0.0&REQUEST=GetFeature&STOREDQUERY_ID=urn:ogc:def:query:OGC-WFS::"
        "GetFeatureById&ID=countries.9",
        "VERSION=%201.1.0%20&REQUEST=GetFeature&TYPENAME=cities&MAXFEATURES=1",
        "VERSION=%201.0.0&REQUEST=DescribeFeatureType&TYPENAME=cities",
        "VERSION=%202.0.0&REQUEST=GetPropertyValue&TYPENAMES=cities&VALUEREFERENCE=name&COUNT=1",
    ],
)
def test_a_version_with_spaces(demo: Server, query: str) -> None:
    """The service matched VERSION without its spaces, the operation looked it up with them:
    KeyError, a 500."""
    assert timed_call(demo, f"/ows?SERVICE=WFS&{query}").status == 200


@pytest.mark.parametrize(
    "where",
    [
        "SRSNAME=EPSG:3173",
        "BBOX=0,0,1,1,EPSG:3173",
        "FILTER="
        + quote(
            '<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml">'
            '<ogc:BBOX><ogc:PropertyName>geom</ogc:PropertyName><gml:Box srsName="EPSG:3173">'
            "<gml:coordinates>-10,-10 10,10</gml:coordinates></gml:Box></ogc:BBOX></ogc:Filter>",
            safe="",
        ),
    ],
)
def test_a_crs_with_no_way_to_the_layers(demo: Server, where: str) -> None:
    """PROJ knows EPSG:3173 but no transformation from it: pyproj's ProjError was a 500."""
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=1"
    result = timed_call(demo, f"/ows?{query}&{where}")
    assert result.status == 400 and b'exceptionCode="InvalidCRS"' in result.body


def test_an_id_literal_with_a_superscript_digit(demo: Server) -> None:
    """'³'.isdigit() is true, int('³') fails: the FES reader's ValueError was a 500."""
    fes = (
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo>'
        "<fes:ValueReference>@gml:id</fes:ValueReference><fes:Literal>\u00b3</fes:Literal>"
        "</fes:PropertyIsEqualTo></fes:Filter>"
    )
    query = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&RESULTTYPE=hits"
    result = timed_call(demo, f"/ows?{query}&FILTER={quote(fes, safe='')}")
    assert result.status == 200 and b'numberMatched="0"' in result.body
