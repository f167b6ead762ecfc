"""What a streamed PostGIS read costs under each way of not holding a pooled connection while a
client reads slowly (docs/decisions/0005-streams-off-the-pool.md).

Strategies, each reading every row of the benchmark table (`postgis_stream.py` builds it):
* pooled cursor: one named cursor on a pooled connection for the whole stream (the old way; it
  holds the pooled connection while the consumer waits);
* first batch pooled, rest dedicated: what PostGISSource does now (first batch on a pooled
  connection, given back; the query again, less the rows sent, on a connection of its own);
* keyset pages: every batch a query of its own on a pooled connection, `WHERE (sort, id) > last
  ORDER BY sort, id LIMIT batch`, the connection given back between batches.
Each strategy runs unsorted (ORDER BY id for keyset) and sorted on an unindexed column. Also:
the cost of opening a connection, and a one-batch read (LIMIT 10) through PostGISSource.

    OGCSERVE_TEST_POSTGIS=postgresql://... /work/main/.venv/bin/python \
        bench/postgis_stream_connections.py [--rows 200000] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial

import psycopg
from _common import print_table, write_result
from postgis_stream import DEFAULT_DSN, ensure_table, table_name
from psycopg import sql
from psycopg_pool import ConnectionPool

from ogcserve.features import FeatureQuery, SortKey
from ogcserve.sources.postgis import PostGISSource


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = fn()
    return time.perf_counter() - started, count


def pooled_cursor(pool: ConnectionPool, table: str, order: str, batch: int) -> int:
    rows = 0
    with pool.connection() as conn, conn.transaction():
        cur = conn.cursor(name=f"b_{uuid.uuid4().hex}", binary=True)
        cur.execute(f'SELECT id, ST_AsBinary(geom), name, value FROM "{table}"{order}')
        while chunk := cur.fetchmany(batch):
            rows += len(chunk)
    return rows


def keyset(pool: ConnectionPool, table: str, sort: str | None, batch: int) -> int:
    rows: int = 0
    last: tuple[object, ...] | None = None
    cols = f"id, ST_AsBinary(geom), name, value{', ' + sort if sort else ''}"
    key, marks = (f"({sort}, id)", "(%s, %s)") if sort else ("id", "%s")
    while True:
        where = f" WHERE {key} > {marks}" if last is not None else ""
        with pool.connection() as conn:
            chunk = conn.execute(
                f'SELECT {cols} FROM "{table}"{where} ORDER BY {sort + ", " if sort else ""}id'
                f" LIMIT {batch}",
                last,
            ).fetchall()
        if not chunk:
            return rows
        rows += len(chunk)
        last = (chunk[-1][4], chunk[-1][0]) if sort else (chunk[-1][0],)


def split(pool: ConnectionPool, dsn: str, table: str, order: str, batch: int) -> int:
    """The strategy PostGISSource uses, in bare SQL: first batch pooled, rest dedicated."""
    select = f'SELECT id, ST_AsBinary(geom), name, value FROM "{table}"'
    with pool.connection() as conn, conn.transaction():
        cur = conn.cursor(name=f"b_{uuid.uuid4().hex}", binary=True)
        cur.execute(select + order)
        first = cur.fetchmany(batch)
        cur.close()
    rows = len(first)
    with psycopg.connect(dsn) as own, own.transaction():
        cur = own.cursor(name=f"b_{uuid.uuid4().hex}", binary=True)
        # The ids go in as an untyped literal, as PostGISSource writes them: PostgreSQL hashes
        # it (a bound or int2[] one is compared element by element, 1,000 times a row).
        sent = sql.Literal("{" + ",".join(str(r[0]) for r in first) + "}").as_string(own)
        cur.execute(f"{select} WHERE id <> ALL({sent}){order}")
        while chunk := cur.fetchmany(batch):
            rows += len(chunk)
    return rows


def source_stream(source: PostGISSource, sort: str | None, batch: int, pooled: bool) -> int:
    """PostGISSource.query (the split), or its rows read on one pooled connection throughout
    (the old way: what a transaction's reads still do)."""
    query = FeatureQuery(sort=(SortKey(sort),) if sort else ())
    if not pooled:
        return sum(len(b) for b in source.query(query, batch_size=batch))
    with source._db.pooled("read") as conn:
        return sum(len(b) for b in source._stream(conn, query, batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS", DEFAULT_DSN)
    ensure_table(dsn, args.rows)
    table = table_name(args.rows)
    batch = args.batch_size

    connects = []
    for _ in range(30):
        started = time.perf_counter()
        psycopg.connect(dsn).close()
        connects.append(time.perf_counter() - started)

    source = PostGISSource(dsn, table)
    source.schema()
    small = []
    for _ in range(50):
        started = time.perf_counter()
        list(source.query(FeatureQuery(limit=10)))
        small.append(time.perf_counter() - started)

    results: list[list[object]] = []
    record: dict[str, object] = {
        "rows": args.rows,
        "batch_size": batch,
        "connect_ms_median": round(statistics.median(connects) * 1000, 2),
        "limit10_ms_median": round(statistics.median(small) * 1000, 2),
    }
    with ConnectionPool(dsn, min_size=1, max_size=2) as pool:
        for label, sort in (("unsorted", None), ("sorted on value (no index)", "value")):
            order = f" ORDER BY {sort}, id" if sort else ""
            cases: dict[str, Callable[[], int]] = {
                "SQL: pooled cursor": partial(pooled_cursor, pool, table, order, batch),
                "SQL: first pooled, rest dedicated": partial(split, pool, dsn, table, order, batch),
                "SQL: keyset pages": partial(keyset, pool, table, sort, batch),
                "PostGISSource: one pooled cursor (old)": partial(
                    source_stream, source, sort, batch, True
                ),
                "PostGISSource: first pooled, rest dedicated": partial(
                    source_stream, source, sort, batch, False
                ),
            }
            for name, fn in cases.items():
                seconds, count = min((timed(fn) for _ in range(2)), key=lambda r: r[0])
                assert count == args.rows, (name, count)
                results.append([label, name, round(seconds, 2)])
                record[f"{label} / {name} s"] = round(seconds, 3)
    source.close()
    print(
        f"connect: {record['connect_ms_median']} ms median; "
        f"LIMIT 10 through PostGISSource: {record['limit10_ms_median']} ms median"
    )
    print_table(["read", "strategy", "seconds (best of 2)"], results)
    write_result("postgis_stream_connections", record)


if __name__ == "__main__":
    main()
