"""The fuzz targets: one function per parser, taking the fuzzer's bytes and raising
AssertionError (or any other exception) when a property of `fuzz.oracle` breaks.

Inputs are plain files, so a seed or a crash is readable and becomes a regression test as is:
 - `expressions`: a first line naming the language (cql2-text, cql2-json, ecql, qgis), then the
   filter;
 - `fes`: a FILTER document (FES 2.0 / OGC Filter 1.x), read for the demo's countries;
 - `wfs_xml`: a WFS request body, POSTed to the demo;
 - `kvp`: a query string for /ows (WMS, WFS, WCS and WMTS), sent as GET;
 - `ogcapi`: a first line `METHOD /path?query` under the demo's OGC API (Features and Tiles,
   the XYZ tiles, the viewer), then the request body (JSON for Part 4 writes).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import shapely

from ogcserve.errors import FilterError, ServiceError
from ogcserve.expressions import (
    ColumnMap,
    Expression,
    Language,
    SqlDialect,
    check_properties,
    parse,
    split_sql,
    to_predicate,
)
from ogcserve.features import Feature, Field, FieldType, Schema
from ogcserve.http.request import XMLLimits
from ogcserve.server import Server
from ogcserve.services.wfs.crs import parse_srs
from ogcserve.services.wfs.filters import LayerTerms, parse_filter_text
from ogcserve.testing import make_server

from .oracle import check_error_text, check_sql, timed_call

_FIELDS = {
    "fid": FieldType.INTEGER,
    "pop_est": FieldType.REAL,
    "continent": FieldType.TEXT,
    "name": FieldType.TEXT,
    "iso_a3": FieldType.TEXT,
    "gdp_md_est": FieldType.INTEGER,
    "born": FieldType.DATE,
    "seen": FieldType.DATETIME,
    "flag": FieldType.BOOLEAN,
}
_COLUMNS = ColumnMap({name: f'"c%{name}"' for name in _FIELDS}, '"c%fid"', '"c%geom"', 4326)
_FEATURES = (
    Feature(
        1,
        shapely.Point(1, 2),
        {
            "fid": 1,
            "pop_est": 1.5e9,
            "continent": "Asia",
            "name": "it's",
            "iso_a3": "%_\\",
            "gdp_md_est": -(2**63),
        },
    ),
    Feature(2, None, {"fid": 2, "name": None, "born": "2020-01-01", "seen": "x", "flag": 1}),
    # Long text: a matcher that backtracks (LIKE as a regex) shows as a timeout here.
    Feature(3, None, {"fid": 3, "name": "a" * 60, "continent": "ab" * 40}),
)
_TERMS = LayerTerms(
    "countries",
    Schema(
        key="fid",
        fields=tuple(Field(n, t) for n, t in _FIELDS.items()),
        geometry_field="geom",
        geometry_type="MULTIPOLYGON",
    ),
    "EPSG:4326",
    parse_srs("EPSG:4326", "2.0.0"),
    "2.0.0",
)


@cache
def _demo() -> Server:
    return make_server()


def expressions(data: bytes) -> None:
    """parse() -> Expression or FilterError; then evaluation and SQL never fail, SQL is bound."""
    head, _, rest = data.partition(b"\n")
    languages = list(Language)
    try:
        language = Language(head.decode("ascii").strip())
    except ValueError:
        language, rest = languages[len(head) % len(languages)], data
    try:
        expression = parse(rest.decode("utf-8", "replace"), language)
    except FilterError as error:
        check_error_text(error.message)
        return
    check_expression(expression)


def check_expression(expression: Expression) -> None:
    """A parsed filter evaluates on any feature and translates with every literal bound."""
    try:
        check_properties(expression, [*_FIELDS, "geom"])
        predicate = to_predicate(expression)
    except FilterError as error:
        check_error_text(error.message)
        return
    for feature in _FEATURES:
        predicate(feature)
    for dialect in SqlDialect:
        try:
            fragment, _ = split_sql(expression, dialect, _COLUMNS)
        except FilterError as error:
            check_error_text(error.message)
            continue
        if fragment is not None:
            check_sql(fragment, dialect, _COLUMNS)


def fes(data: bytes) -> None:
    """The FES / OGC Filter reader: a ParsedFilter or a ServiceError, never another exception."""
    try:
        parsed = parse_filter_text(data.decode("utf-8", "replace"), _TERMS, XMLLimits())
    except ServiceError as error:
        check_error_text(error.message)
        return
    if parsed.expression is not None:
        check_expression(parsed.expression)


def wfs_xml(data: bytes) -> None:
    """A WFS POST body through the whole app."""
    timed_call(_demo(), "/ows", method="POST", body=data, headers={"Content-Type": "text/xml"})


def kvp(data: bytes) -> None:
    """A query string through the whole app (WMS, WFS, WCS, WMTS)."""
    query = data.decode("latin-1").replace("#", "%23")
    timed_call(_demo(), f"/ows?{query}")


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_BODY_TYPES = ("application/geo+json", "application/merge-patch+json", "application/json")


def ogcapi(data: bytes) -> None:
    """A request line and a body under the demo's OGC API, tiles and viewer, through the whole
    app. Writes go to the demo's read-only layers: refused, whatever the body."""
    head, _, body = data.partition(b"\n")
    method, _, target = head.decode("latin-1").strip().partition(" ")
    if method.upper() not in _METHODS:
        method, target = _METHODS[len(head) % len(_METHODS)], method + target
    target = target.replace("#", "%23").replace(" ", "%20")
    if not target.startswith("/"):
        target = "/ogcapi/demo/" + target
    content_type = _BODY_TYPES[len(body) % len(_BODY_TYPES)]
    headers = {"Content-Type": content_type} if body else {}
    timed_call(_demo(), target, method=method.upper(), body=body, headers=headers)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "expressions": expressions,
    "fes": fes,
    "wfs_xml": wfs_xml,
    "kvp": kvp,
    "ogcapi": ogcapi,
}
