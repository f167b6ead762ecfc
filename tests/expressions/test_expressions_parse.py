"""Parsing: every construct in each language, equal canonical text across languages, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ogcserve.errors import FilterError
from ogcserve.expressions import (
    ID,
    Expression,
    Language,
    check_properties,
    conjunction,
    parse,
    to_predicate,
)

# (QGIS subset, CQL2 text, CQL2 JSON) triples that must mean the same filter.
EQUIVALENT: list[tuple[str, str, dict[str, Any]]] = [
    (
        "\"role\" = 'user'",
        "role = 'user'",
        {"op": "=", "args": [{"property": "role"}, "user"]},
    ),
    (
        "\"pop_est\" > 1000000 AND NOT (\"continent\" IN ('Asia','Africa'))",
        "pop_est > 1000000 AND NOT continent IN ('Asia', 'Africa')",
        {
            "op": "and",
            "args": [
                {"op": ">", "args": [{"property": "pop_est"}, 1000000]},
                {
                    "op": "not",
                    "args": [{"op": "in", "args": [{"property": "continent"}, ["Asia", "Africa"]]}],
                },
            ],
        },
    ),
    (
        "\"name\" ILIKE 'fr%'",
        "CASEI(name) LIKE CASEI('fr%')",
        {
            "op": "like",
            "args": [
                {"op": "casei", "args": [{"property": "name"}]},
                {"op": "casei", "args": ["fr%"]},
            ],
        },
    ),
    ('"x" IS NULL', "x IS NULL", {"op": "isNull", "args": [{"property": "x"}]}),
    (
        '"a" * 2 + 1 > "b"',
        "(a * 2) + 1 > b",
        {
            "op": ">",
            "args": [
                {"op": "+", "args": [{"op": "*", "args": [{"property": "a"}, 2]}, 1]},
                {"property": "b"},
            ],
        },
    ),
    ("$id = 5", '"$id" = 5', {"op": "=", "args": [{"property": "$id"}, 5]}),
    (
        "$id IN (1,2)",
        '"$id" IN (1, 2)',
        {"op": "in", "args": [{"property": "$id"}, [1, 2]]},
    ),
    (
        '"n" BETWEEN 1 AND 10',
        "n BETWEEN 1 AND 10",
        {"op": "between", "args": [{"property": "n"}, 1, 10]},
    ),
    (
        "\"name\" LIKE 'a_b%'",
        "name LIKE 'a_b%'",
        {"op": "like", "args": [{"property": "name"}, "a_b%"]},
    ),
    (
        '"a" <> 1.5 OR "b" <= -2',
        "a <> 1.5 OR b <= -2",
        {
            "op": "or",
            "args": [
                {"op": "<>", "args": [{"property": "a"}, 1.5]},
                {"op": "<=", "args": [{"property": "b"}, -2]},
            ],
        },
    ),
    (
        '"flag" = TRUE',
        "flag = true",
        {"op": "=", "args": [{"property": "flag"}, True]},
    ),
    (
        "\"d\" >= DATE('2020-01-31')",
        "d >= DATE('2020-01-31')",
        {"op": ">=", "args": [{"property": "d"}, {"date": "2020-01-31"}]},
    ),
    (
        "\"t\" < TIMESTAMP('2020-01-31T10:00:00+01:00')",
        "t < TIMESTAMP('2020-01-31T09:00:00Z')",
        {"op": "<", "args": [{"property": "t"}, {"timestamp": "2020-01-31T09:00:00Z"}]},
    ),
    (
        'S_INTERSECTS("geom", POINT(1 2))',
        "S_INTERSECTS(geom, POINT(1 2))",
        {
            "op": "s_intersects",
            "args": [{"property": "geom"}, {"type": "Point", "coordinates": [1, 2]}],
        },
    ),
    (
        'S_WITHIN("geom", POLYGON((0 0, 1 0, 1 1, 0 1, 0 0)))',
        "S_WITHIN(geom, BBOX(0, 0, 1, 1))",
        {"op": "s_within", "args": [{"property": "geom"}, {"bbox": [0, 0, 1, 1]}]},
    ),
    (
        "upper(\"name\") = 'X'",
        "UPPER(name) = 'X'",
        {"op": "=", "args": [{"op": "upper", "args": [{"property": "name"}]}, "X"]},
    ),
]


@pytest.mark.parametrize(("qgis", "cql2", "cql2_json"), EQUIVALENT)
def test_languages_agree(qgis: str, cql2: str, cql2_json: dict[str, Any]) -> None:
    a = parse(qgis, Language.QGIS)
    b = parse(cql2, Language.CQL2_TEXT)
    c = parse(cql2_json, Language.CQL2_JSON)
    d = parse(json.dumps(cql2_json), "cql2-json")
    assert a.text == b.text == c.text == d.text
    assert a.ast == b.ast == c.ast


@pytest.mark.parametrize(("qgis", "cql2", "cql2_json"), EQUIVALENT)
def test_canonical_text_round_trips(qgis: str, cql2: str, cql2_json: dict[str, Any]) -> None:
    expr = parse(qgis, Language.QGIS)
    again = parse(expr.text, Language.CQL2_TEXT)
    assert again.text == expr.text
    assert again.ast == expr.ast


@pytest.mark.parametrize(
    "text",
    [
        "x = 1",
        "NOT (a = 1 AND b = 2)",
        "a NOT BETWEEN 1 AND 2",
        "a NOT IN (1, 2)",
        "a NOT LIKE 'x%'",
        "a NOT ILIKE 'x%'",
        "a IS NOT NULL",
        "a != 1",
        "a = 'it''s'",
        "-a < 3",
        "a / 2 >= 1.5e1",
        "INCLUDE",
        "EXCLUDE",
        "BBOX(geom, -10, -10.5, 10, 10)",
        "S_DISJOINT(geom, LINESTRING(0 0, 1 1))",
        "S_CONTAINS(geom, POINT(0 0))",
        "S_TOUCHES(geom, POINT(0 0))",
        "S_CROSSES(geom, LINESTRING(0 0, 1 1))",
        "S_OVERLAPS(geom, POLYGON((0 0, 1 0, 1 1, 0 0)))",
        "S_EQUALS(geom, POINT(0 0))",
        "RELATE(geom, POINT(0 0), 'T********')",
        'höhe > 1 and "weird ""name""" = \'v\'',
        "date = DATE('2020-01-01') OR notes = 'x' OR android = 1",
        "lower(name) = 'x' AND trim(name) = 'x' AND abs(a) = 1 AND length(name) = 3",
    ],
)
def test_cql2_text_constructs(text: str) -> None:
    expr = parse(text)
    assert parse(expr.text).text == expr.text


def test_ecql() -> None:
    expr = parse("a = 1 AND b LIKE 'x_%' AND DWITHIN(geom, POINT(1 2), 10, meters)", "ecql")
    assert "DWITHIN" in expr.text
    same = parse("a = 1 AND b LIKE 'x_%'", Language.ECQL)
    assert same.text == parse("a = 1 AND b LIKE 'x_%'").text


def test_properties_and_id() -> None:
    expr = parse(
        "$id = 3 AND \"a\" > 1 AND lower(b) = 'x' AND S_INTERSECTS(geom, POINT(0 0))", "qgis"
    )
    assert expr.properties() == frozenset({ID, "a", "b", "geom"})
    check_properties(expr, ["a", "b", "geom"])
    with pytest.raises(FilterError) as info:
        check_properties(expr, ["a", "geom"])
    assert info.value.locator == "b"


def test_conjunction() -> None:
    a, b = parse("a = 1"), parse("b = 2 OR c = 3")
    assert conjunction([]) is None
    assert conjunction([None, None]) is None
    assert conjunction([None, a]) is a
    both = conjunction([a, None, b])
    assert both is not None
    assert both.text == '"a" = 1 AND ("b" = 2 OR "c" = 3)'
    # AND chains flatten in the canonical text, whichever way they are built.
    three = conjunction([both, parse("d = 4")])
    assert three is not None
    assert three.text == parse("a = 1 AND (b = 2 OR c = 3) AND d = 4").text


def test_expression_is_hashable_and_frozen() -> None:
    expr = parse("a = 1")
    assert isinstance(expr, Expression)
    with pytest.raises(AttributeError):
        expr.text = "x"  # type: ignore[misc]


def test_equal_filters_equal_text() -> None:
    assert parse("A = 1 and B = 'x'").text == parse('"A"=1 AND "B"=\'x\'', "qgis").text
    assert parse("a=1").text != parse("a=2").text


BAD_TEXT = [
    "",
    "   ",
    "a =",
    "a = 'unterminated",
    "= 1",
    "a = 1 AND",
    "a IN ()",
    "(a = 1",
    "a = 1)",
    "foo(a) = 1",
    "a LIKE 'x\\'",
    "a = DATE('2020-13-45')",
    "a = TIMESTAMP('yesterday')",
    '"" = 1',
    "a = 99999999999999999999999",
    "T_BEFORE(a, TIMESTAMP('2020-01-01T00:00:00Z'))",
    "S_INTERSECTS(geom, 1)",
    "a = POINT(1 2)",
    "RELATE(geom, POINT(0 0), 'bad')",
    "a = 1 ; DROP TABLE t",
    "\x00",
    "a = 1e999",
]


@pytest.mark.parametrize("text", BAD_TEXT)
@pytest.mark.parametrize("language", [Language.CQL2_TEXT, Language.QGIS, Language.ECQL])
def test_bad_text(text: str, language: Language) -> None:
    with pytest.raises(FilterError) as info:
        parse(text, language)
    assert "Traceback" not in info.value.message
    assert info.value.message


BAD_JSON: list[Any] = [
    "",
    "not json",
    "[]",
    "1",
    "true",
    {},
    {"op": "=", "args": [{"property": "a"}]},
    {"op": "nope", "args": [1, 2]},
    {"op": "=", "args": "x"},
    {"op": "and", "args": []},
    {"op": "in", "args": [{"property": "a"}, []]},
    {"op": "=", "args": [{"function": {"name": "evil", "arguments": []}}, 1]},
    {"op": "=", "args": [{"property": ""}, 1]},
    {"op": "like", "args": [{"property": "a"}, 5]},
    {"op": "s_intersects", "args": [{"property": "g"}, {"type": "Point", "coordinates": "x"}]},
    {"op": "=", "args": [{"property": "a"}, None]},
    {"filter-lang": "ecql", "filter": {"op": "=", "args": [1, 1]}},
]


@pytest.mark.parametrize("source", BAD_JSON)
def test_bad_json(source: Any) -> None:
    with pytest.raises(FilterError):
        parse(source, Language.CQL2_JSON)


def test_bad_language_and_type() -> None:
    with pytest.raises(FilterError):
        parse("a = 1", "sql")
    with pytest.raises(FilterError):
        parse(123, "cql2-text")  # type: ignore[arg-type]
    with pytest.raises(FilterError):
        parse({"op": "=", "args": [{"property": "a"}, 1]}, "cql2-text")


@pytest.mark.parametrize("language", [Language.CQL2_TEXT, Language.QGIS, Language.ECQL])
def test_absurd_text(language: Language) -> None:
    huge = "a = 1 OR " * (100 * 1024 // 9) + "a = 1"
    with pytest.raises(FilterError, match="KiB"):
        parse(huge, language)
    with pytest.raises(FilterError, match="nested"):
        parse("(" * 10_000 + "a = 1" + ")" * 10_000, language)
    with pytest.raises(FilterError):
        parse("a = " + "(" * 10_000 + "1" + ")" * 10_000, language)


def test_absurd_nesting_without_parentheses() -> None:
    with pytest.raises(FilterError, match="nested"):
        parse("NOT " * 5_000 + "a = 1")
    with pytest.raises(FilterError, match="nested"):
        parse("a = 1" + " + 1" * 5_000)
    # A long flat OR chain is fine: AND/OR chains are one level.
    expr = parse(" OR ".join(f"a = {i}" for i in range(2_000)))
    assert to_predicate(expr) is not None


def test_absurd_json() -> None:
    deep: dict[str, Any] = {"op": "=", "args": [{"property": "a"}, 1]}
    for _ in range(10_000):
        deep = {"op": "not", "args": [deep]}
    with pytest.raises(FilterError):
        parse(deep, Language.CQL2_JSON)
    text = '{"op": "not", "args": [' * 10_000 + "1" + "]}" * 10_000
    with pytest.raises(FilterError):
        parse(text, Language.CQL2_JSON)
    wide = {"op": "or", "args": [{"op": "=", "args": [{"property": "a"}, i]} for i in range(2_000)]}
    assert parse(wide, Language.CQL2_JSON).properties() == {"a"}
