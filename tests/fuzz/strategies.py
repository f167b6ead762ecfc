"""Hypothesis strategies for hostile requests: KVP query strings, WFS XML bodies, CQL2 text and
JSON, QGIS expressions. Each builds something close enough to valid to get deep into a parser,
then bends it: hostile values, repeated keys, odd encodings, huge or non-finite numbers, unicode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import strategies as st

# The demo's countries (GeoPackage): the properties a filter may name, and some it may not.
FIELDS = ("fid", "pop_est", "continent", "name", "iso_a3", "gdp_md_est")
GEOMETRY = "geom"
PROPERTIES = (
    *FIELDS, GEOMETRY, "$id", "nope", "NAME", "pop est", 'a"b', "x", "é"
)  # fmt: skip
LAYERS = (
    "countries", "cities", "nyc_boroughs", "nc_counties", "places", "demo", "elevation"
)  # fmt: skip

HOSTILE = (
    "", " ", "'", "''", '"', "\\", "%", "%%", "%00", "\x00", "\x01", "\t\n", "\u202e", "\ufeff",
    "NaN", "nan", "-nan", "inf", "-Infinity", "1e309", "-1e309", "1e-400", "9" * 400, "-0", "0x10",
    "1_000", "\u0661\u0662", "\u2460", "\U0001d7d9", "+1", "1.", ".5", "1e", "e5", "--1", "--",
    "'; DROP TABLE countries; --", "' OR '1'='1", "1; SELECT 1", "<x/>", "]]>", "&amp;", "&#0;",
    "%s", "?", "$1", "$id", "${x}", "{}", "[]", "null", "true", ",", ",,,", ":", ";", "*",
    "a" * 5000, "EPSG:4326", "EPSG:999999", "CRS:84", "urn:ogc:def:crs:EPSG::4326", "EPSG:",
    "image/png", "countries", "countries,countries", "ogcserve:countries", "countries.1",
    "1,2,3,4", "-180,-90,180,90", "nan,nan,nan,nan", "inf,-inf,inf,-inf", "1,1,1,1",
    "-1e15,-1e15,1e15,1e15", "elevation", "demo", "places,elevation", "EPSG:3173",
    "EPSG:4\u00b326", "1.\u00b3.0",
)  # fmt: skip


def hostile_text(max_size: int = 30) -> st.SearchStrategy[str]:
    """A value a client may send: a known troublemaker, a number, or any text."""
    return st.one_of(
        st.sampled_from(HOSTILE),
        numbers(),
        st.text(max_size=max_size),
        st.text(st.characters(codec="ascii"), max_size=max_size),
    )


def numbers() -> st.SearchStrategy[str]:
    """Numbers as text: huge, tiny, negative, non-finite, in odd notations."""
    return st.one_of(
        st.integers().map(str),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"{f:e}"),
        st.sampled_from(("NaN", "inf", "-inf", "1e309", "0", "-0", "4096", "4097", "2147483648")),
    )


# --- KVP ------------------------------------------------------------------------------------------

WMS_BASE = {
    "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "countries", "STYLES": "",
    "CRS": "EPSG:4326", "BBOX": "-90,-180,90,180", "WIDTH": "64", "HEIGHT": "32", "FORMAT":
    "image/png", "TRANSPARENT": "TRUE", "BGCOLOR": "0xFFFFFF", "EXCEPTIONS": "XML", "QUERY_LAYERS":
    "countries", "INFO_FORMAT": "text/xml", "I": "10", "J": "10", "FEATURE_COUNT": "3", "LAYER":
    "countries", "STYLE": "", "SCALE": "1000000", "FILTER": "", "WITH_GEOMETRY": "TRUE", "SRS":
    "EPSG:4326", "X": "1", "Y": "1"
}  # fmt: skip
WMS_REQUESTS = (
    "GetCapabilities", "GetMap", "GetFeatureInfo", "GetLegendGraphic", "GetStyles",
    "DescribeLayer", "getmap", "GetPrint", ""
)  # fmt: skip
WFS_BASE = {
    "SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "countries",
    "TYPENAME": "cities", "COUNT": "3", "MAXFEATURES": "2", "STARTINDEX": "0", "PROPERTYNAME":
    "name", "SORTBY": "name DESC", "SRSNAME": "EPSG:3857", "BBOX": "-10,-10,10,10,EPSG:4326",
    "OUTPUTFORMAT": "application/json", "RESULTTYPE": "hits", "RESOURCEID": "countries.1",
    "FEATUREID": "cities.2", "FILTER": "", "EXP_FILTER": "", "STOREDQUERY_ID":
    "urn:ogc:def:query:OGC-WFS::GetFeatureById", "ID": "countries.3", "VALUEREFERENCE": "name",
    "ACCEPTVERSIONS": "2.0.0,1.1.0", "NAMESPACES": "xmlns(o,x)"
}  # fmt: skip
WFS_REQUESTS = (
    "GetCapabilities", "DescribeFeatureType", "GetFeature", "GetPropertyValue",
    "ListStoredQueries", "DescribeStoredQueries", "Transaction", "LockFeature", ""
)  # fmt: skip


def _case(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from((key, key.lower(), key.title(), f" {key}", f"{key} "))


_ENCODERS: tuple[Callable[[str], str], ...] = (
    lambda v: quote(v, safe=""),
    lambda v: quote_plus(v),
    lambda v: quote(v, safe=",:;/*$'()"),
    lambda v: quote(quote(v, safe=""), safe=""),  # double-encoded
    lambda v: quote(
        v.encode("utf-8", "surrogatepass").decode("latin-1"), safe="", encoding="latin-1"
    ),
    lambda v: "".join(c if c.isalnum() else "%" + c.encode("utf-8").hex()[:1] for c in v),
    lambda v: v.replace("&", "").replace("#", "").replace(" ", "+"),  # raw
)


@st.composite
def kvp_query(
    draw: st.DrawFn,
    base: dict[str, str],
    requests: Sequence[str],
    values: st.SearchStrategy[str] | None = None,
) -> str:
    """A query string: the base parameters, some bent, dropped, repeated, or added."""
    params = dict(base)
    params["REQUEST"] = draw(st.sampled_from(requests))
    keys = sorted(params)
    hostile = values if values is not None else hostile_text()
    for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
        params[key] = draw(hostile)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        del params[key]
    pairs = [(draw(_case(k)) if draw(st.booleans()) else k, v) for k, v in params.items()]
    for _ in range(draw(st.integers(0, 2))):  # repeated keys, with another value
        pairs.append((draw(st.sampled_from(keys)), draw(hostile)))
    for _ in range(draw(st.integers(0, 1))):
        pairs.append((draw(hostile_text(10)), draw(hostile)))
    pairs = draw(st.permutations(pairs))
    parts = []
    for key, value in pairs:
        encode = draw(st.sampled_from(_ENCODERS))
        parts.append(
            f"{quote(key, safe='')}={encode(value)}" if draw(st.integers(0, 9)) else encode(key)
        )  # sometimes a key with no '='
    separator = draw(st.sampled_from(("&", "&", "&", "&&", "&amp;", ";")))
    return separator.join(parts)


# --- filters as text ------------------------------------------------------------------------------


def _property() -> st.SearchStrategy[str]:
    return st.sampled_from(PROPERTIES).map(
        lambda p: p if p.isidentifier() and p != "pop est" else '"' + p.replace('"', '""') + '"'
    )


def _literal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats().map(lambda f: repr(f) if f == f and abs(f) != float("inf") else "1e999"),
        st.text(max_size=12).map(lambda t: "'" + t.replace("'", "''") + "'"),
        st.sampled_from(
            (
                "TRUE",
                "false",
                "NULL",
                "DATE('2020-02-30')",
                "DATE('2020-01-01')",
                "TIMESTAMP('2020-01-01T00:00:00Z')",
                "TIMESTAMP('x')",
                "''",
                "'%'",
            )
        ),
    )


_GEOMETRIES = (
    "POINT(1 2)", "POINT(nan nan)", "POINT EMPTY", "LINESTRING(0 0, 1 1)",
    "POLYGON((0 0,1 0,1 1,0 0))", "POLYGON((0 0,1 1))", "MULTIPOINT((1 2),(3 4))",
    "MULTIPOINT(1 2, 3 4)", "SRID=4326;POINT(1 2)", "ENVELOPE(0, 1, 1, 0)",
    "BBOX(0,0,1e308,1e308)", "GEOMETRYCOLLECTION(POINT(1 1))", "POINT(1e400 0)",
)  # fmt: skip


def filter_text() -> st.SearchStrategy[str]:
    """CQL2 text / QGIS / ECQL conditions from the grammar's pieces, nested at random."""
    expression = st.recursive(
        st.one_of(_property(), _literal()),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from("+-*/"), inner).map(" ".join),
            inner.map(lambda e: f"-{e}"),
            inner.map(lambda e: f"({e})"),
            st.tuples(
                st.sampled_from(
                    (
                        "lower",
                        "UPPER",
                        "casei",
                        "trim",
                        "length",
                        "abs",
                        "char_length",
                        "nope",
                        "date",
                        "timestamp",
                    )
                ),
                st.lists(inner, max_size=3),
            ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        ),
        max_leaves=6,
    )
    predicate = st.one_of(
        st.tuples(
            expression, st.sampled_from(("=", "<>", "!=", "<", "<=", ">", ">=")), expression
        ).map(" ".join),
        st.tuples(
            expression, st.sampled_from(("LIKE", "NOT LIKE", "ILIKE", "like")), _literal()
        ).map(" ".join),
        st.tuples(expression, expression, expression).map(
            lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"
        ),
        st.tuples(expression, st.lists(expression, max_size=4)).map(
            lambda t: f"{t[0]} IN ({', '.join(t[1])})"
        ),
        expression.map(lambda e: f"{e} IS NULL"),
        expression.map(lambda e: f"{e} IS NOT NULL"),
        st.sampled_from(("INCLUDE", "EXCLUDE", "TRUE", "1")),
        st.tuples(
            st.sampled_from(
                (
                    "S_INTERSECTS",
                    "S_WITHIN",
                    "S_CONTAINS",
                    "S_EQUALS",
                    "INTERSECTS",
                    "DWITHIN",
                    "RELATE",
                    "BBOX",
                )
            ),
            st.lists(st.one_of(_property(), st.sampled_from(_GEOMETRIES), _literal()), max_size=4),
        ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    )
    return st.recursive(
        predicate,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(("AND", "OR", "and", "Or")), inner).map(" ".join),
            inner.map(lambda c: f"NOT {c}"),
            inner.map(lambda c: f"({c})"),
        ),
        max_leaves=5,
    )


def mangled(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text cut, doubled, or with a character inserted anywhere."""
    return st.one_of(
        text,
        st.tuples(text, st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
        st.tuples(text, st.integers(0, 200), st.sampled_from(list("()'\"\\,;-%_$:*\x00é "))).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
        ),
        st.tuples(text, text).map(lambda t: f"{t[0]} {t[1]}"),
    )


# --- CQL2 JSON ------------------------------------------------------------------------------------

_JSON_OPS = (
    "and", "or", "not", "=", "<>", "<", "<=", ">", ">=", "like", "between", "in", "isNull",
    "s_intersects", "s_within", "t_before", "casei", "accenti", "lower", "+", "-", "*", "/", "div",
    "nope", "", "AND"
)  # fmt: skip


def cql2_json() -> st.SearchStrategy[Any]:
    """CQL2 JSON documents: op/args trees with property, literal, bbox and geometry leaves."""
    leaf = st.one_of(
        st.sampled_from(PROPERTIES).map(lambda p: {"property": p}),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        st.booleans(),
        st.none(),
        st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=6).map(
            lambda b: {"bbox": b}
        ),
        st.sampled_from(
            (
                {"type": "Point", "coordinates": [1, 2]},
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
                {"type": "Point"},
                {"date": "2020-01-01"},
                {"timestamp": "x"},
                {"interval": ["..", "2020-01-01"]},
                {"property": None},
                {"op": "="},
                {"function": {"name": "lower", "arguments": [{"property": "name"}]}},
                {},
            )
        ),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(
                lambda op, args: {"op": op, "args": args},
                st.sampled_from(_JSON_OPS),
                st.lists(inner, max_size=4),
            ),
            st.lists(inner, max_size=3),
        ),
        max_leaves=10,
    )


def json_text(value: Any) -> str:
    return json.dumps(value)
