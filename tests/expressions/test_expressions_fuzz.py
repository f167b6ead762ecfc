"""Property tests of the filter parsers (CQL2 text and JSON, ECQL, QGIS expressions) and of the
SQL translation, on generated and mangled filters.

 - `parse` returns an Expression or raises FilterError, saying what is wrong in the client's
   terms (no Python exception text), for any text, JSON or object.
 - A parsed filter evaluates on any feature without raising, and translates to SQL (or is left
   to Python) with every literal bound as a parameter: the SQL holds only SQL words, the
   source's column SQL and placeholders, however hostile the filter's strings and names.
 - The SQL runs on SQLite. (Not checked here: that it selects the rows Python accepts. It does
   not when types mix: SQLite reads `fid <> continent` and `continent + 1` by its own type
   rules where Python answers NULL; tests/expressions/test_expressions_sql.py holds the cases
   where the two agree.)
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
import shapely
from fuzz.oracle import check_error_text, check_sql, parses_or_refuses
from fuzz.strategies import FIELDS, GEOMETRY, cql2_json, filter_text, json_text, mangled
from hypothesis import example, given
from hypothesis import strategies as st

from ogcserve.errors import FilterError
from ogcserve.expressions import (
    ColumnMap,
    Expression,
    Language,
    NotTranslatable,
    SqlDialect,
    check_properties,
    parse,
    split_sql,
    to_predicate,
)
from ogcserve.expressions.like import LikeMatcher
from ogcserve.features import Feature

# Column SQL as a source writes it, hostile on purpose: a % and a quote in the names.
COLUMNS = ColumnMap(
    columns={name: f'"c%{i}""{name}"' for i, name in enumerate(FIELDS)},
    id_column='"c%id"',
    geometry_column='"c%geom"',
    srid=4326,
)
SQLITE_COLUMNS = ColumnMap(
    columns={name: f'"{name}"' for name in FIELDS}, id_column='"fid"', geometry_column=None
)
ROWS: list[tuple[Any, ...]] = [
    (1, 1.5e9, "Asia", "China", "CHN", 21_000_000),
    (2, None, "Europe", "Émile", None, 0),
    (3, -2.0, "", "it's", "%_\\", None),
    (4, 0.0, None, None, "a", -(2**63)),
]
FEATURES = [
    Feature(row[0], shapely.Point(row[0], row[0]), dict(zip(FIELDS, row, strict=True)))
    for row in ROWS
]


def accepted(expression: Expression | FilterError) -> Expression | None:
    if isinstance(expression, FilterError):
        return None
    assert isinstance(expression, Expression)
    return expression


@given(st.sampled_from(list(Language)), mangled(filter_text()))
@example(Language.QGIS, "\"name\" LIKE '%\\'")
@example(Language.ECQL, "name = 1 AND DWITHIN(geom, POINT(1 2), 10, meters)")
def test_any_filter_text_parses_or_is_refused(language: Language, text: str) -> None:
    expression = accepted(parses_or_refuses(parse, text, language))
    if expression is not None:
        check_everywhere(expression)


@given(st.sampled_from(list(Language)), st.text(max_size=60))
def test_arbitrary_text_parses_or_is_refused(language: Language, text: str) -> None:
    expression = accepted(parses_or_refuses(parse, text, language))
    if expression is not None:
        check_everywhere(expression)


@given(cql2_json(), st.booleans())
def test_any_cql2_json_parses_or_is_refused(document: Any, as_text: bool) -> None:
    source = json_text(document) if as_text else document
    expression = accepted(parses_or_refuses(parse, source, Language.CQL2_JSON))
    if expression is not None:
        check_everywhere(expression)


@given(mangled(cql2_json().map(json_text)))
def test_mangled_cql2_json_text_parses_or_is_refused(text: str) -> None:
    expression = accepted(parses_or_refuses(parse, text, Language.CQL2_JSON))
    if expression is not None:
        check_everywhere(expression)


@given(
    st.one_of(st.none(), st.integers(), st.lists(st.integers()), st.binary()),
    st.sampled_from(list(Language)),
)
def test_a_filter_that_is_not_text_is_refused(source: Any, language: Language) -> None:
    with pytest.raises(FilterError):
        parse(source, language)


@given(st.text(max_size=20), st.text(max_size=20))
def test_hostile_strings_and_names_stay_out_of_the_sql(value: str, name: str) -> None:
    quoted_name = '"' + name.replace('"', '""') + '"'
    quoted_value = "'" + value.replace("'", "''") + "'"
    text = (
        f"{quoted_name} = {quoted_value} OR name LIKE {quoted_value} OR iso_a3 IN "
        f"({quoted_value}, 'x') OR trim(continent) >= {quoted_value}"
    )
    expression = accepted(parses_or_refuses(parse, text, Language.QGIS))
    if expression is None:
        return
    columns = ColumnMap(
        {**COLUMNS.columns, name: '"c%hostile"'},
        COLUMNS.id_column,
        COLUMNS.geometry_column,
        COLUMNS.srid,
    )
    for dialect in SqlDialect:
        fragment, _ = split_sql(expression, dialect, columns)
        if dialect is SqlDialect.POSTGRESQL and "\x00" in value:
            assert fragment is None  # PostgreSQL text cannot hold NUL: evaluated in Python
            continue
        assert fragment is not None
        check_sql(fragment, dialect, columns)
        assert value in fragment.params


def check_everywhere(expression: Expression) -> None:
    """Evaluate on every feature, translate for both dialects, run the SQLite SQL."""
    try:
        check_properties(expression, [*FIELDS, GEOMETRY])
    except FilterError as error:
        check_error_text(error.message)
        return
    predicate = parses_or_refuses(to_predicate, expression)
    if isinstance(predicate, FilterError):
        return
    for feature in FEATURES:
        predicate(feature)
    for dialect in SqlDialect:
        try:
            fragment, _residual = split_sql(expression, dialect, COLUMNS)
        except FilterError as error:  # a property the columns lack (the geometry on SQLite)
            check_error_text(error.message)
            continue
        except NotTranslatable as error:  # pragma: no cover - split_sql keeps these in Python
            raise AssertionError(f"split_sql raised {error!r}") from error
        if fragment is not None:
            check_sql(fragment, dialect, COLUMNS)
        if dialect is SqlDialect.SQLITE and fragment is not None:
            sqlite_rows(expression)  # the SQL runs


def sqlite_rows(expression: Expression) -> list[int]:
    """The ids SQLite selects with the translated fragment, the residual applied in Python."""
    fragment, residual = split_sql(expression, SqlDialect.SQLITE, SQLITE_COLUMNS)
    keep = to_predicate(residual) if residual is not None else None
    with sqlite3.connect(":memory:") as db:
        db.execute(f"CREATE TABLE t ({', '.join(FIELDS)})")
        db.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(FIELDS))})", ROWS)
        where = f" WHERE {fragment.sql}" if fragment else ""
        params = fragment.params if fragment else ()
        rows = db.execute(f"SELECT * FROM t{where} ORDER BY fid", params).fetchall()
    by_id = {f.id: f for f in FEATURES}
    return [r[0] for r in rows if keep is None or keep(by_id[r[0]])]


# --- found by fuzzing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        # pygeofilter's walker called Equal() without operands: the TypeError's text reached
        # the client ("Equal.__init__() missing 2 required positional arguments").
        ({"op": "=", "args": []}, "'=' takes 2 arguments, not 0"),
        ({"op": "between", "args": [{"property": "fid"}]}, "'between' takes 2 or 3 arguments"),
        ({"op": "s_within", "args": [{"property": "geom"}]}, "'s_within' takes 2 arguments"),
        ({"op": "isNull", "args": []}, "'isNull' takes 1 arguments, not 0"),
    ],
)
def test_an_operator_with_the_wrong_number_of_arguments(document: Any, message: str) -> None:
    with pytest.raises(FilterError) as error:
        parse(document, Language.CQL2_JSON)
    assert message in error.value.message


def test_a_third_party_failure_is_described_without_its_text() -> None:
    # `in` whose list is not a list reaches pygeofilter's walker, which fails its own way.
    with pytest.raises(FilterError) as error:
        parse({"op": "in", "args": [{"property": "fid"}, {"bbox": "x"}]}, Language.CQL2_JSON)
    check_error_text(error.value.message)


@pytest.mark.parametrize(
    "text",
    [
        "fid = continent",
        "pop_est + name > 1",
        "fid / iso_a3 IS NULL",
        "lower(fid) = 'a'",
        "abs(name) > 1",
        "fid LIKE '1%'",
        "fid IN ('a', 1)",
        "fid BETWEEN 'a' AND 2",
        "1 = 'a'",
    ],
)
def test_operands_of_different_kinds_stay_in_python(text: str) -> None:
    """PostgreSQL fails the whole query on these (integer = text, lower(integer), ...), SQLite
    answers by its own rules: with the column types known, they are evaluated in Python."""
    expression = parse(text, Language.QGIS)
    types = {"fid": "integer", "pop_est": "real", "name": "text", "iso_a3": "text",
             "continent": "text", "$id": "integer"}  # fmt: skip
    for dialect in SqlDialect:
        columns = ColumnMap(
            COLUMNS.columns, COLUMNS.id_column, COLUMNS.geometry_column, 4326, types
        )
        fragment, residual = split_sql(expression, dialect, columns)
        assert fragment is None and residual == expression


def like_by_regex(pattern: str, value: str, nocase: bool) -> bool:
    """LIKE as the evaluator once matched it: a regex (exponential on `%a%a%a...%b`)."""
    out = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    return re.fullmatch("".join(out), value, flags) is not None


@given(
    st.text(st.sampled_from("ab%_\\A\n"), max_size=8),
    st.text(st.sampled_from("abAB%_\\\n"), max_size=10),
    st.booleans(),
)
@example("%a%a%a%a%a%a%a%a%a%a%a%a%b", "a" * 30, True)
def test_like_matches_as_the_regex_did(pattern: str, value: str, nocase: bool) -> None:
    if "%a%a%a%a%a" in pattern:  # the regex would take seconds: the answer is known
        assert not LikeMatcher(pattern, nocase).fullmatch(value)
        return
    assert LikeMatcher(pattern, nocase).fullmatch(value) == like_by_regex(pattern, value, nocase)


def test_like_is_linear_on_a_pattern_a_regex_backtracks_on() -> None:
    """`name ILIKE '%a%a...%b'` took 11 s per 30-character value with twelve `%a` (a regex
    backtracking), and grows exponentially with more: any request could hold a worker."""
    expression = parse(f"name ILIKE '{'%a' * 200}%b'", Language.QGIS)
    predicate = to_predicate(expression)
    feature = Feature(1, None, {"name": "a" * 5000})
    assert predicate(feature) is False
