"""A drawing's read from PostGIS as one row of aggregates (`pg_drawing.py`): the same rows,
order, ids, attributes and WKB as the same read row by row; nothing for no match; row by row
when an aggregate passes PostgreSQL's limits."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ogcserve.features import FeatureBatch, FeatureQuery, SortKey
from ogcserve.sources import pg_drawing
from ogcserve.sources.postgis import PostGISSource

ROWS = [
    (1, "LINESTRING(0 0, 10 10, 20 0)", "a", 1.5, "2026-01-02"),
    (2, None, None, None, None),
    (3, "LINESTRING EMPTY", "c", 3.25, "2026-03-04"),
    (4, "MULTILINESTRING((1 1, 2 2), (3 3, 4 4, 5 5))", "d'o", -4.0, None),
    (5, "POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))", "e", 0.0, "2026-05-06"),
    (6, "POINT(7 7)", "f", 6.0, "2026-07-08"),
    (7, "GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 5 5))", "g", 7.0, "2026-07-09"),
    (8, "LINESTRING(900 900, 950 950)", "far", 8.0, None),
]


@pytest.fixture(scope="module")
def table() -> Iterator[tuple[str, str]]:
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    name = f"drawn_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {name} (id integer PRIMARY KEY, geom geometry(Geometry, 3857),"
            " label varchar, amount numeric, day date)"
        )
        for fid, wkt, label, amount, day in ROWS:
            conn.execute(
                f"INSERT INTO {name} VALUES (%s, ST_GeomFromText(%s, 3857), %s, %s, %s)",
                (fid, wkt, label, amount, day),
            )
        conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
    try:
        yield dsn, name
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each aggregated read from here on was done (False: left to the cursor)."""
    seen: list[bool] = []
    read_packed = pg_drawing.read_packed

    def spy(*args: Any) -> tuple[bool, FeatureBatch | None]:
        done, batch = read_packed(*args)
        seen.append(done)
        return done, batch

    monkeypatch.setattr(pg_drawing, "read_packed", spy)
    return seen


def drawing(**kwargs: Any) -> FeatureQuery:
    return FeatureQuery(exact=False, wkb=True, **kwargs)


def read(source: PostGISSource, query: FeatureQuery) -> list[FeatureBatch]:
    return [b for b in source.query(query) if len(b)]


def rows(batches: list[FeatureBatch]) -> list[tuple[Any, ...]]:
    """(id, WKB, each column) per row, across the batches."""
    out = []
    for batch in batches:
        assert batch.wkb is not None and batch.geometries is None
        blobs = batch.wkb.blobs()
        names = sorted(batch.columns)
        for i, fid in enumerate(batch.ids):
            out.append((fid, blobs[i], *(batch.columns[n][i] for n in names)))
    return out


def by_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drawing reads row by row from here on (as past the aggregates' limit)."""
    monkeypatch.setattr(
        "ogcserve.sources.postgis.read_drawing", lambda db, statement, sel: (False, None)
    )


@pytest.mark.parametrize(
    "query",
    [
        drawing(),
        drawing(bbox=(-1.0, -1.0, 100.0, 100.0), properties=("label", "amount", "day")),
        drawing(properties=("id", "label"), sort=(SortKey("amount", descending=True),)),
        drawing(bbox=(0.0, 0.0, 4.5, 4.5), pixel_size=1.0, properties=("day",)),
        drawing(subsets=("label LIKE '%'",), properties=()),
    ],
)
def test_aggregated_read_matches_rows(
    table: tuple[str, str],
    query: FeatureQuery,
    monkeypatch: pytest.MonkeyPatch,
    answers: list[bool],
) -> None:
    source = PostGISSource(*table)
    try:
        packed = read(source, query)
        assert answers == [True]
        by_rows(monkeypatch)
        expected = rows(read(source, query))
    finally:
        source.close()
    assert rows(packed) == expected
    assert len(expected) >= 2
    # NULL stays NULL (an empty WKB row), attributes keep their types and NULLs.
    assert all(isinstance(r[0], int) for r in expected)


def test_whole_table_keeps_nulls_and_every_type(table: tuple[str, str]) -> None:
    source = PostGISSource(*table)
    try:
        (batch,) = read(source, drawing(properties=("label", "amount", "day")))
    finally:
        source.close()
    assert sorted(batch.ids) == [r[0] for r in ROWS]
    assert batch.wkb is not None
    geometries = dict(zip(batch.ids, batch.wkb.geometries(), strict=True))
    assert geometries[2] is None
    assert geometries[3].is_empty
    assert geometries[5].geom_type == "Polygon" and len(geometries[5].interiors) == 1
    assert geometries[7].geom_type == "GeometryCollection"
    labels = dict(zip(batch.ids, batch.columns["label"], strict=True))
    assert labels[2] is None and labels[4] == "d'o"
    amounts = dict(zip(batch.ids, batch.columns["amount"], strict=True))
    assert amounts[3] == 3.25 and isinstance(amounts[3], float)


def test_no_match_is_no_batch(table: tuple[str, str]) -> None:
    source = PostGISSource(*table)
    try:
        assert read(source, drawing(bbox=(5000.0, 5000.0, 6000.0, 6000.0))) == []
        assert read(source, drawing(ids=())) == []
    finally:
        source.close()


def test_past_the_limit_reads_row_by_row(
    table: tuple[str, str], monkeypatch: pytest.MonkeyPatch, answers: list[bool]
) -> None:
    """An aggregate that PostgreSQL refuses as too large (program_limit_exceeded: here a
    string of 2,000,000,000 bytes asked for, refused before it is allocated) leaves the read
    to the row-by-row cursor, with the same rows."""
    packed_statement = pg_drawing.packed_statement

    def too_large(statement: tuple[str, list[Any]], columns: int) -> tuple[str, list[Any]]:
        text, params = packed_statement(statement, columns)
        return f"SELECT p.*, repeat('x', 2000000000) FROM ({text}) AS p", params

    query = drawing(properties=("label",))
    source = PostGISSource(*table)
    try:
        expected = rows(read(source, query))
        monkeypatch.setattr(pg_drawing, "packed_statement", too_large)
        found = read(source, query)
        # ... and the pool's connection still serves the next read.
        monkeypatch.setattr(pg_drawing, "packed_statement", packed_statement)
        again = rows(read(source, query))
    finally:
        source.close()
    assert answers == [True, False, True]
    assert rows(found) == expected == again
    assert len(expected) == len(ROWS)
