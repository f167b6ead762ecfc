"""SQL translation against real engines: SQLite in memory always, PostGIS when
OGCSERVE_TEST_POSTGIS holds a DSN. The rows SQL selects must be exactly the rows the Python
predicate accepts, for every expression in the table."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
import shapely
from shapely.geometry.base import BaseGeometry

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
    to_sql,
)
from ogcserve.features import Feature

NAMES = ["name", "pop", "area", "flag", "born", "seen", "1=1) OR (1", "note"]

# fid, name, pop, area, flag, born, seen (ISO text as SQLite/GeoPackage stores it), weird, note, wkt
ROWS: list[tuple[Any, ...]] = [
    (
        1,
        "Paris",
        2100000,
        105.4,
        1,
        "2000-01-15",
        "2020-05-01T10:00:00.000Z",
        1,
        "a",
        "POINT (2 48)",
    ),
    (2, "paris", 10, 1.5, 0, "1999-12-31", "2020-05-01T12:00:00Z", 2, "b", "POINT (0 0)"),
    (3, "Émile", None, 3.0, 1, None, None, None, None, "POINT (5 5)"),
    (4, None, 500, None, None, "2010-06-01", "2021-01-01T00:00:00+02:00", 4, "c", None),
    (
        5,
        "Frankfurt",
        750000,
        248.3,
        0,
        "2010-06-01",
        "2019-12-31T23:59:59.500Z",
        5,
        "x",
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))",
    ),
    (
        6,
        "x'; DROP TABLE t; --",
        0,
        0.0,
        1,
        "2001-02-03",
        "2020-01-01T00:00:00Z",
        6,
        "y",
        "LINESTRING (0 0, 10 10)",
    ),
    (7, "a_b%c", -5, -2.5, 0, "2001-02-03", "2020-01-01T00:00:00.001Z", 7, "z", "POINT (1 1)"),
    (
        8,
        "back\\slash",
        42,
        42.0,
        1,
        "2030-12-31",
        "2020-06-01T00:00:00Z",
        8,
        "\u2019; DROP",
        "POINT (20 20)",
    ),
    (9, "", 7, 0.5, 0, "1970-01-01", "1970-01-01T00:00:00Z", 9, "", "POINT (0.5 0.5)"),
    (10, "fr*[?]", 3, 2.0, None, "2020-02-29", "2024-02-29T12:30:00Z", None, "Fr", "POINT (-1 -1)"),
]

EXPRESSIONS = [
    "name = 'Paris'",
    "name <> 'Paris'",
    "name < 'a'",
    "name >= 'paris'",
    "pop > 1000",
    "pop <= 10",
    "pop = 0 OR pop IS NULL",
    "NOT pop > 100",
    "NOT (pop > 100 AND area < 200)",
    "pop > 100 OR area > 100",
    "area BETWEEN 0 AND 10",
    "area NOT BETWEEN 0 AND 10",
    "pop IN (10, 42, 500)",
    "pop NOT IN (10, 42, 500)",
    "name IN ('Paris', 'paris')",
    "name LIKE 'P%'",
    "name LIKE 'p%'",
    "name LIKE '%a%'",
    "name LIKE '_aris'",
    "name NOT LIKE '%r%'",
    "name LIKE 'a\\_b\\%c'",
    "name LIKE 'a_b%'",
    "name LIKE 'fr*[?]'",
    "name LIKE '%\\\\%'",
    "name LIKE '%'",
    "name LIKE ''",
    "name ILIKE 'p%'",
    "name ILIKE 'émile'",
    "name NOT ILIKE '%A%'",
    "CASEI(name) = CASEI('PARIS')",
    "upper(name) = 'ÉMILE'",
    "lower(name) LIKE '%r%'",
    "length(name) = 5",
    "trim(name) = ''",
    "abs(pop) = 5",
    "name IS NULL",
    "name IS NOT NULL",
    "flag = TRUE",
    "flag = FALSE",
    "NOT flag = TRUE",
    "pop * 2 + 1 > 1000",
    "pop - area > 0",
    "pop / 2 = 3.5",
    "pop / 0 IS NULL",
    "area / (pop - 10) > 0",
    "-pop > 0",
    "born = DATE('2010-06-01')",
    "born < DATE('2001-01-01')",
    "born BETWEEN DATE('2000-01-01') AND DATE('2010-12-31')",
    "born IN (DATE('2030-12-31'), DATE('1970-01-01'))",
    "seen > TIMESTAMP('2020-05-01T10:00:00Z')",
    "seen = TIMESTAMP('2020-05-01T10:00:00Z')",
    "seen = TIMESTAMP('2020-12-31T22:00:00Z')",
    "seen < TIMESTAMP('2020-01-01T00:00:00.001Z')",
    "seen <= TIMESTAMP('2020-01-01T01:00:00+01:00')",
    "$id = 3",
    "$id IN (1, 2, 10)",
    "$id > 5 AND pop < 100",
    '"1=1) OR (1" = 2',
    '"1=1) OR (1" IS NULL',
    "name = 'x''; DROP TABLE t; --'",
    "note = '\u2019; DROP'",
    "name = 'back\\slash'",
    "name LIKE 'back\\\\slash'",
    "INCLUDE",
    "EXCLUDE",
    "S_INTERSECTS(geom, POLYGON((0 0, 3 0, 3 3, 0 3, 0 0)))",
    "S_WITHIN(geom, BBOX(-2, -2, 6, 6))",
    "S_CONTAINS(geom, POINT(1 1))",
    "S_DISJOINT(geom, POINT(0 0))",
    "S_TOUCHES(geom, LINESTRING(10 0, 10 10))",
    "S_CROSSES(geom, LINESTRING(0 5, 20 5))",
    "S_OVERLAPS(geom, POLYGON((5 5, 15 5, 15 15, 5 15, 5 5)))",
    "S_EQUALS(geom, POINT(0 0))",
    "BBOX(geom, 0, 0, 2, 2)",
    "RELATE(geom, POINT(1 1), 'T********')",
    "pop > 5 AND S_INTERSECTS(geom, BBOX(0, 0, 3, 3)) AND name ILIKE '%a%'",
    "pop > 5 OR S_INTERSECTS(geom, POINT(0 0))",
]

SQLITE_COLUMNS = ColumnMap(
    columns={n: '"' + n.replace('"', '""') + '"' for n in NAMES},
    id_column='"fid"',
    geometry_column=None,
)


def _features_sqlite() -> list[Feature]:
    out = []
    for row in ROWS:
        fid, *props, wkt = row
        geom: BaseGeometry | None = shapely.from_wkt(wkt) if wkt else None
        out.append(Feature(fid, geom, dict(zip(NAMES, props, strict=True))))
    return out


def _python_ids(expr: Expression, features: list[Feature]) -> list[int]:
    keep = to_predicate(expr)
    return sorted(f.id for f in features if keep(f))


def _create(cur: Any, placeholder: str, types: dict[str, str], geom_type: str | None) -> None:
    cols = ", ".join(f'"{n}" {types[n]}' for n in NAMES)
    geom = f", geom {geom_type}" if geom_type else ""
    cur.execute(f'CREATE TABLE t ("fid" INTEGER PRIMARY KEY, {cols}{geom})')


@pytest.fixture
def sqlite_db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    types = {
        "name": "TEXT",
        "pop": "INTEGER",
        "area": "REAL",
        "flag": "BOOLEAN",
        "born": "DATE",
        "seen": "DATETIME",
        "1=1) OR (1": "INTEGER",
        "note": "TEXT",
    }
    _create(conn, "?", types, None)
    marks = ", ".join("?" * (len(NAMES) + 1))
    conn.executemany(f"INSERT INTO t VALUES ({marks})", [r[:-1] for r in ROWS])
    yield conn
    conn.close()


def _run(conn: Any, fragment: Any, features: dict[int, Feature], residual: Any) -> list[int]:
    sql = "SELECT fid FROM t"
    params: tuple[Any, ...] = ()
    if fragment is not None:
        sql += " WHERE " + fragment.sql
        params = fragment.params
    ids = [r[0] for r in conn.execute(sql, params).fetchall()]
    if residual is not None:
        keep = to_predicate(residual)
        ids = [i for i in ids if keep(features[i])]
    return sorted(ids)


def _table_intact(conn: Any) -> None:
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == len(ROWS)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_sqlite_matches_python(sqlite_db: sqlite3.Connection, text: str) -> None:
    expr = parse(text)
    features = _features_sqlite()
    expected = _python_ids(expr, features)
    fragment, residual = split_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)
    got = _run(sqlite_db, fragment, {f.id: f for f in features}, residual)
    assert got == expected, (text, fragment)
    try:
        whole = to_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)
    except NotTranslatable:
        assert residual is not None
    else:
        assert residual is None
        assert "?" in whole.sql or not whole.params
        assert _run(sqlite_db, whole, {}, None) == expected
    _table_intact(sqlite_db)


def test_sqlite_like_is_case_sensitive(sqlite_db: sqlite3.Connection) -> None:
    fragment = to_sql(parse("name LIKE 'p%'"), SqlDialect.SQLITE, SQLITE_COLUMNS)
    assert _run(sqlite_db, fragment, {}, None) == [2]


def test_spatial_never_pushed_to_sqlite() -> None:
    expr = parse("pop > 1 AND S_INTERSECTS(geom, POINT(0 0))")
    fragment, residual = split_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)
    assert fragment is not None and fragment.params == (1,)
    assert residual is not None and residual.text == 'S_INTERSECTS("geom", POINT (0 0))'
    with pytest.raises(NotTranslatable):
        to_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)


def test_split_sql_edges() -> None:
    assert split_sql(None, SqlDialect.SQLITE, SQLITE_COLUMNS) == (None, None)
    expr = parse("S_INTERSECTS(geom, POINT(0 0))")
    assert split_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS) == (None, expr)
    fragment, residual = split_sql(parse("pop = 1 AND name = 'a'"), "postgresql", SQLITE_COLUMNS)  # type: ignore[arg-type]
    assert residual is None and fragment is not None
    assert fragment.sql == '("pop" = %s) AND ("name" = %s::text)'
    assert fragment.params == (1, "a")


# --- injection ---------------------------------------------------------------------------------

VALUE_PAYLOADS = [
    "x'; DROP TABLE t; --",
    "x' OR '1'='1",
    "\u2019; DROP TABLE t; --",
    "\\'; DROP TABLE t; --",
    "back\\slash",
    "%' OR 1=1 --",
    '"; DROP TABLE t; --',
    "\u02bc OR 1=1",
]


@pytest.mark.parametrize("payload", VALUE_PAYLOADS)
def test_injection_values(sqlite_db: sqlite3.Connection, payload: str) -> None:
    quoted = "'" + payload.replace("'", "''") + "'"
    for text in (f"name = {quoted}", f"name LIKE {quoted}", f"name IN ({quoted}, 'a')"):
        try:
            expr = parse(text)
        except FilterError:
            continue  # e.g. a LIKE pattern ending in a backslash
        fragment = to_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)
        assert payload not in fragment.sql
        features = _features_sqlite()
        assert _run(sqlite_db, fragment, {}, None) == _python_ids(expr, features)
        _table_intact(sqlite_db)


@pytest.mark.parametrize(
    "text",
    [
        '"name; DROP TABLE t" = 1',
        '"name\\" = 1',
        '"x"" = 1; DROP TABLE t; --" = 1',
        '"\u2019; DROP TABLE t" IS NULL',
        "nosuch = 1",
        "lower(\"nosuch\") = 'a'",
    ],
)
@pytest.mark.parametrize("language", [Language.CQL2_TEXT, Language.QGIS])
def test_injection_names(sqlite_db: sqlite3.Connection, text: str, language: Language) -> None:
    expr = parse(text, language)
    with pytest.raises(FilterError):
        check_properties(expr, NAMES)
    with pytest.raises(FilterError):
        to_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)
    with pytest.raises(FilterError):
        split_sql(expr, SqlDialect.POSTGRESQL, SQLITE_COLUMNS)
    _table_intact(sqlite_db)


def test_injection_json_name(sqlite_db: sqlite3.Connection) -> None:
    expr = parse({"op": "=", "args": [{"property": "1=1) OR (1"}, 2]}, Language.CQL2_JSON)
    check_properties(expr, NAMES)
    fragment = to_sql(expr, SqlDialect.SQLITE, SQLITE_COLUMNS)
    assert fragment.sql == '("1=1) OR (1" = ?)'
    assert _run(sqlite_db, fragment, {}, None) == [2]
    bad = parse({"op": "=", "args": [{"property": "fid) OR (1"}, 2]}, Language.CQL2_JSON)
    with pytest.raises(FilterError) as info:
        to_sql(bad, SqlDialect.SQLITE, SQLITE_COLUMNS)
    assert info.value.locator == "fid) OR (1"


def test_postgresql_percent_in_column_is_escaped() -> None:
    columns = ColumnMap({"growth%": '"growth%"'}, '"id"', '"geom"', 4326)
    expr = parse('"growth%" > 1 AND S_INTERSECTS(geom, POINT(1 2))', "qgis")
    fragment = to_sql(expr, SqlDialect.POSTGRESQL, columns)
    assert fragment.sql == (
        '(("growth%%" > %s) AND ST_Intersects("geom", ST_GeomFromText(%s::text, %s)))'
    )
    assert fragment.params == (1, "POINT (1 2)", 4326)
    sqlite = to_sql(parse('"growth%" > 1'), SqlDialect.SQLITE, columns)
    assert sqlite.sql == '("growth%" > ?)'


# --- PostGIS -----------------------------------------------------------------------------------

PG_DSN = os.environ.get("OGCSERVE_TEST_POSTGIS")


@pytest.fixture
def pg_db() -> Iterator[Any]:
    if not PG_DSN:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        types = {
            "name": "TEXT",
            "pop": "INTEGER",
            "area": "DOUBLE PRECISION",
            "flag": "BOOLEAN",
            "born": "DATE",
            "seen": "TIMESTAMPTZ",
            "1=1) OR (1": "INTEGER",
            "note": "TEXT",
        }
        cols = ", ".join(f'"{n}" {types[n]}' for n in NAMES)
        conn.execute(
            f'CREATE TEMP TABLE t ("fid" INTEGER PRIMARY KEY, {cols}, '
            "geom geometry(Geometry, 4326))"
        )
        marks = ", ".join(["%s"] * (len(NAMES) + 1))
        with conn.cursor() as cur:
            for row in ROWS:
                values = list(row[:-1])
                values[4] = None if values[4] is None else bool(values[4])
                cur.execute(
                    f"INSERT INTO t VALUES ({marks}, ST_GeomFromText(%s, 4326))",
                    [*values, row[-1]],
                )
        yield conn


PG_COLUMNS = ColumnMap(
    columns={n: '"' + n.replace('"', '""') + '"' for n in NAMES},
    id_column='"fid"',
    geometry_column='"geom"',
    srid=4326,
)


def _features_pg(conn: Any) -> list[Feature]:
    cols = ", ".join('"' + n + '"' for n in NAMES)
    out = []
    for row in conn.execute(f'SELECT "fid", {cols}, ST_AsText(geom) FROM t').fetchall():
        fid, *props, wkt = row
        geom = shapely.from_wkt(wkt) if wkt else None
        out.append(Feature(fid, geom, dict(zip(NAMES, props, strict=True))))
    return out


@pytest.mark.postgis
@pytest.mark.parametrize("text", EXPRESSIONS)
def test_postgresql_matches_python(pg_db: Any, text: str) -> None:
    expr = parse(text)
    features = _features_pg(pg_db)
    assert isinstance(features[0].properties["born"], date)
    assert isinstance(features[0].properties["seen"], datetime)
    expected = _python_ids(expr, features)
    fragment = to_sql(expr, SqlDialect.POSTGRESQL, PG_COLUMNS)  # everything translates here
    assert _run(pg_db, fragment, {}, None) == expected, (text, fragment)
    # The same rows as SQLite gives (the data are the same, only stored differently).
    assert expected == _python_ids(expr, _features_sqlite()), text
    _table_intact(pg_db)


@pytest.mark.postgis
@pytest.mark.parametrize("payload", VALUE_PAYLOADS)
def test_postgresql_injection_values(pg_db: Any, payload: str) -> None:
    quoted = "'" + payload.replace("'", "''") + "'"
    expr = parse(f"name = {quoted} OR note IN ({quoted})")
    fragment = to_sql(expr, SqlDialect.POSTGRESQL, PG_COLUMNS)
    assert _run(pg_db, fragment, {}, None) == _python_ids(expr, _features_pg(pg_db))
    _table_intact(pg_db)
