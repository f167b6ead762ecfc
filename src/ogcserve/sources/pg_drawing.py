"""A drawing's read from PostGIS as one row: every geometry's WKB in one `bytea`, their lengths
in another, each attribute as one array.

A drawing takes every row of its window at once and hands the WKB to the renderer's ring
reader undecoded (`FeatureQuery.wkb`). Read row by row (a named cursor, 10,000 rows a fetch),
psycopg built a tuple, an int and a `bytes` per row, and the source then joined the blobs
again (`WKBColumn.pack`): ~230 ms of the process's CPU for the 200,000 lines' whole-layer map,
as much as the database's own work on it. Aggregated in the database (`string_agg` of the
WKB, of each length as 4 big-endian bytes, `array_agg` of the key and of each attribute), the
same rows arrive as a few values whose bytes numpy reads as they are: ~35 ms, and one round
trip (docs/performance.md, PostGIS, seventh pass (lines' read)).

The rows are aggregated in the order the statement gives them (an ordered subquery feeds its
aggregates in its order). A value over PostgreSQL's 1 GB limit fails the aggregate with
`program_limit_exceeded`: such a read returns None, and the caller reads it row by row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from ogcserve.features import FeatureBatch
from ogcserve.geo.wkb import WKBColumn
from ogcserve.sources._query import Selection
from ogcserve.sources.pg_connections import PostGISConnections


def packed_statement(statement: tuple[str, list[Any]], columns: int) -> tuple[str, list[Any]]:
    """`statement` (key, geometry's WKB, then `columns - 2` attributes) aggregated into one
    row: the keys, the WKB's lengths (int4, big-endian, 0 for NULL), the WKB, each attribute."""
    text, params = statement
    names = ", ".join(f"c{i}" for i in range(columns))
    aggregates = [
        "array_agg(c0)",
        "string_agg(int4send(coalesce(length(c1), 0)), ''::bytea)",
        "string_agg(c1, ''::bytea)",
        *(f"array_agg(c{i})" for i in range(2, columns)),
    ]
    return f"SELECT {', '.join(aggregates)} FROM ({text}) AS drawn({names})", params


def read_packed(
    conn: psycopg.Connection[Any], statement: tuple[str, list[Any]], sel: Selection
) -> tuple[bool, FeatureBatch | None]:
    """The rows of `statement` (`packed_statement`'s) as one batch with its WKB packed (None:
    no row matched); (False, None) when an aggregate passed PostgreSQL's 1 GB limit."""
    text, params = statement
    try:
        with conn.cursor(binary=True) as cur:
            row = cur.execute(text.encode(conn.info.encoding), params).fetchone()
    except psycopg.errors.ProgramLimitExceeded:
        return False, None
    if row is None or row[0] is None:
        return True, None
    ids, lengths, data, *stored = row
    size = np.frombuffer(lengths, dtype=">i4").astype(np.intp)
    end = np.cumsum(size)
    wkb = WKBColumn(bytes(data or b""), end - size, end)
    return True, FeatureBatch(ids, None, sel.columns(ids, stored), wkb)


def read_drawing(
    db: PostGISConnections, statement: tuple[str, list[Any]], sel: Selection
) -> tuple[bool, FeatureBatch | None]:
    """`read_packed` of `statement` (key, WKB, `sel.stored`) on a pooled connection: one
    round trip, tried again on a connection found lost."""
    packed = packed_statement(statement, 2 + len(sel.stored))
    return db.read("read", lambda conn: read_packed(conn, packed, sel))
