"""PostGIS tables and views through psycopg 3 and a connection pool.

Reads stream through a server-side (named) cursor, so a million rows pass in constant memory;
geometries come as WKB (`ST_AsBinary`, binary protocol) and decode per batch with one
`shapely.from_wkb` call, or not at all for a drawing (`FeatureQuery.wkb`), whose bbox is then
only the index's envelope test (`FeatureQuery.exact`).
Identifiers are always composed with `psycopg.sql.Identifier`; request values only ever travel
as bound parameters.

What the relation is comes from `pg_schema.py`; the SQL of a read from `pg_statements.py`
(composed once per shape of query); connections, the circuit breaker and the
translation of database errors live in `pg_connections.py`; writes are a `SourceTransaction`
over `pg_writes.py`. A streamed read takes its first batch on a pooled connection and gives it
back before the batch is yielded; a longer answer continues on a connection of its own, outside
the pool, so that a client that reads slowly never holds a pooled connection
(docs/decisions/0005-streams-off-the-pool.md), and is read one batch ahead there (pipeline
mode: the database works while the caller writes; docs/performance.md, PostGIS, sixth pass).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, Schema
from ogcserve.geo.wkb import WKBColumn, decode_wkb
from ogcserve.sources._query import (
    FilterPlan,
    FilterPlans,
    Selection,
    by_id,
    count_selection,
    first_feature,
    keys_only,
    refine,
    selection,
    unpaged,
)
from ogcserve.sources._transaction import SourceTransaction, transaction_scope
from ogcserve.sources.base import Transaction
from ogcserve.sources.limits import SourceLimits
from ogcserve.sources.pg_connections import PostGISConnections, rollback
from ogcserve.sources.pg_databases import DatabaseGuard
from ogcserve.sources.pg_errors import describe, translate
from ogcserve.sources.pg_schema import PostGISTable, introspect
from ogcserve.sources.pg_statements import Statements, quote, where_clause
from ogcserve.sources.pg_writes import PostGISWrites


class PostGISSource:
    """A table or view of a PostGIS database; the pool and the introspection open on first use."""

    def __init__(
        self,
        dsn: str,
        table: str,
        geometry: str | None = None,
        key: str | None = None,
        pool_size: int = 4,
        limits: SourceLimits | None = None,
        database: DatabaseGuard | None = None,
    ) -> None:
        self._dsn = dsn
        self._table_arg = table
        self._geometry_arg = geometry
        self._key_arg = key
        self._db = PostGISConnections(dsn, table, pool_size, limits or SourceLimits(), database)
        self._table: PostGISTable | None = None
        self._statements, self._plans = Statements(), FilterPlans()

    # -- metadata ----------------------------------------------------------------------------

    def _meta(self) -> PostGISTable:
        table = self._table
        if table is not None:
            return table
        table = self._db.read(
            "introspection",
            lambda conn: introspect(
                conn, self._table_arg, describe(self._dsn), self._geometry_arg, self._key_arg
            ),
        )
        self._table = table
        return table

    def schema(self) -> Schema:
        """Key, attributes and geometry column (introspected on first call)."""
        return self._meta().schema

    def crs(self) -> str:
        """The geometry column's CRS as 'AUTHORITY:CODE'."""
        return self._meta().crs

    def extent(self) -> BBox | None:
        """ST_EstimatedExtent (planner statistics), or ST_Extent when there are none."""
        t = self._meta()
        if t.schema.geometry_field is None:
            return None
        g = sql.Identifier(t.schema.geometry_field)
        corners = sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ({}) s(e)")
        estimated = corners.format(sql.SQL("SELECT ST_EstimatedExtent(%s, %s, %s)"))
        exact = corners.format(sql.SQL("SELECT ST_Extent({}) FROM {}").format(g, t.ident))

        def run(conn: psycopg.Connection[Any]) -> Any:
            row = None
            try:
                row = conn.execute(
                    estimated, (t.schema_name, t.name, t.schema.geometry_field)
                ).fetchone()
            except psycopg.errors.QueryCanceled:
                raise
            except psycopg.Error:
                # Views and never-analysed tables have no statistics to estimate from.
                if conn.broken:
                    raise
            if row is None or row[0] is None:
                row = conn.execute(exact).fetchone()
            return row

        row = self._db.read("extent", run)
        if row is None or row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    # -- reads -------------------------------------------------------------------------------

    def _plan(self, query: FeatureQuery) -> FilterPlan:
        t = self._meta()
        return self._plans.plan(t.schema, query, "postgresql", quote, t.srid)

    def _select(
        self, query: FeatureQuery, plan: FilterPlan, sel: Selection, paged: bool, keep: bool = True
    ) -> tuple[str, list[Any]] | None:
        return self._statements.select(self._meta(), query, plan, sel, paged, keep)

    def _batch(self, rows: list[Any], sel: Selection, raw: bool) -> FeatureBatch:
        """A batch of rows; with `raw`, the geometries stay WKB (`FeatureBatch.wkb`)."""
        cols = list(zip(*rows, strict=True))
        pos = 1
        geometries = packed = None
        if sel.fetch_geometry and self._meta().schema.geometry_field is not None:
            if raw:
                packed = WKBColumn.pack(cols[1])
            else:
                geometries = decode_wkb(cols[1])
            pos = 2
        ids = list(cols[0])
        stored = [list(cols[pos + i]) for i in range(len(sel.stored))]
        return FeatureBatch(ids, geometries, sel.columns(ids, stored), packed)

    def _cursor(
        self,
        conn: psycopg.Connection[Any],
        statement: tuple[str, list[Any]],
        sel: Selection,
        size: int,
        raw: bool,
    ) -> Generator[FeatureBatch]:
        # A named cursor keeps the result on the server; each fetchmany is one round trip.
        with conn.cursor(name=f"ogcserve_{uuid.uuid4().hex}", binary=True) as cur:
            cur.execute(statement[0].encode(conn.info.encoding), statement[1])
            while rows := cur.fetchmany(size):
                yield self._batch(rows, sel, raw)

    def _rows(
        self,
        conn: psycopg.Connection[Any] | None,
        query: FeatureQuery,
        plan: FilterPlan,
        sel: Selection,
        paged: bool,
        size: int,
    ) -> Iterator[FeatureBatch]:
        """Batches of `query`. With `conn` (a transaction's), all of them from it. A drawing
        (`wkb`: its reader takes every batch at once and waits on no client) reads them all on
        one pooled connection, one batch ahead (`_ahead`: the renderer reads each batch's
        rings while the database makes the next). Otherwise the first batch comes from a
        pooled connection, given back before the batch is yielded, and the rest (the query
        again, less the rows already sent) from a connection for streams, so that a consumer
        that waits on a slow client holds nothing the pool lends
        (docs/decisions/0005-streams-off-the-pool.md)."""
        raw = query.wkb and plan.predicate is None
        if conn is not None or query.wkb:
            statement = self._select(query, plan, sel, paged)
            if statement is None:
                return
            if conn is None:
                with self._db.pooled("read") as pooled:
                    yield from self._ahead(pooled, statement, sel, max(size, DRAWING_FETCH), raw)
                return
            try:
                yield from self._cursor(conn, statement, sel, size, raw)
            except psycopg.Error as exc:
                raise translate(exc, "read", self._table_arg, conn) from None
            return
        head = self._head(query, plan, sel, paged, size)
        if head is None:
            return
        # Read whole before anything is yielded, so it may be tried again on a lost connection.
        first, more = self._db.read("read", lambda conn: self._first(conn, head, sel, size, raw))
        if first is None:
            return
        rest = self._rest(query, first, paged) if more else None
        # The rest names the ids already sent: a one-off text, not kept.
        statement = None if rest is None else self._select(rest, plan, sel, paged, keep=False)
        if statement is None:
            yield first
            return
        with self._db.dedicated("read") as own:
            yield from self._ahead(own, statement, sel, size, raw, first)

    def _ahead(
        self,
        conn: psycopg.Connection[Any],
        statement: tuple[str, list[Any]],
        sel: Selection,
        size: int,
        raw: bool,
        first: FeatureBatch | None = None,
    ) -> Generator[FeatureBatch]:
        """`first` (if any), then the batches of `statement` through a cursor on `conn`, each
        fetch sent before the batch in hand is yielded (psycopg's pipeline mode): PostgreSQL
        runs the cursor's query, and later each next fetch, while the caller handles the batch
        before it. A page's query sorts every row before its first (100,000 parcels: ~150-250
        ms); meanwhile a GML answer counts its page on another connection (`_first` keeps the
        row that tells more follow, so the first batch shows it) and writes the first batch.
        A drawing reads its rings off each batch while the database makes the next."""
        name = sql.Identifier(f"ogcserve_{uuid.uuid4().hex}")
        declare = sql.SQL("DECLARE {} NO SCROLL CURSOR FOR ").format(name).as_string(None)
        fetch = sql.SQL("FETCH FORWARD {} FROM {}").format(sql.Literal(size), name)
        text, params = statement
        with conn.pipeline(), conn.cursor(binary=True) as cur:
            conn.execute((declare + text).encode(conn.info.encoding), params)
            cur.execute(fetch)
            if first is not None:
                yield first
            while rows := cur.fetchall():
                batch = self._batch(rows, sel, raw)
                cur.execute(fetch)
                yield batch

    def _head(
        self, query: FeatureQuery, plan: FilterPlan, sel: Selection, paged: bool, size: int
    ) -> tuple[str, list[Any]] | None:
        """The statement of the first batch and the row after it (None: it matches nothing).
        An ordered read (a page) takes its own LIMIT, so that PostgreSQL keeps the top rows
        only (a top-N heap) instead of sorting every match, geometries and all, for a subquery
        limited outside it."""
        if paged and (query.limit is not None or query.offset > 0):
            limit = size + 1 if query.limit is None else min(query.limit, size + 1)
            return self._select(replace(query, limit=limit), plan, sel, paged)
        statement = self._select(query, plan, sel, paged)
        if statement is None:
            return None
        text, params = statement
        # The outer LIMIT keeps the inner query's order.
        return f"SELECT * FROM ({text}) AS first LIMIT %s", [*params, size + 1]

    def _first(
        self,
        conn: psycopg.Connection[Any],
        statement: tuple[str, list[Any]],
        sel: Selection,
        size: int,
        raw: bool,
    ) -> tuple[FeatureBatch | None, bool]:
        """The first batch of `statement` (`_head`'s), and whether more rows follow (one row
        is fetched past a full batch to tell, and kept in the batch: a read of exactly one
        batch, such as a page of 1,000, then needs no query for the rest)."""
        # One round trip: the rows come with the answer to a query limited to one more row
        # than a batch (`_head`; a named cursor took three: DECLARE, FETCH, CLOSE).
        text, params = statement
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(text.encode(conn.info.encoding), params).fetchall()
        # The row that tells more follow stays in the batch: a caller that reads on until it
        # has more than a batch then stops here (a GML answer, which counts a longer page
        # while its rest is read ahead, `_ahead`).
        more = len(rows) > size
        return (self._batch(rows, sel, raw) if rows else None), more

    def _rest(self, query: FeatureQuery, first: FeatureBatch, paged: bool) -> FeatureQuery | None:
        """`query` less the rows of its first batch (None when its limit is reached). Paging
        stays right: the rows left out all come after the offset, so the offset is unchanged
        and the limit shrinks by the rows sent."""
        limit = query.limit
        if paged and limit is not None:
            limit -= len(first)
            if limit <= 0:
                return None
        key = sql.Identifier(self._meta().schema.key)
        # An untyped array literal, which PostgreSQL reads as the key's type and hashes: a
        # typed one ('{...}'::int2[] against an int4 key) is compared element by element,
        # a thousand times a row (10x slower on 200,000 rows).
        sent = (
            str(fid).replace("\\", "\\\\").replace('"', '\\"')
            for fid in first.ids
            if fid is not None
        )
        excluded = sql.SQL("({k} IS NULL OR {k} <> ALL({ids}))").format(
            k=key, ids=sql.Literal("{" + ",".join(f'"{v}"' for v in sent) + "}")
        )
        return replace(query, subsets=(*query.subsets, excluded.as_string(None)), limit=limit)

    def _stream(
        self, conn: psycopg.Connection[Any] | None, query: FeatureQuery, batch_size: int
    ) -> Iterator[FeatureBatch]:
        plan = self._plan(query)
        predicate = plan.predicate
        # The bbox is tested in SQL: a read that returns no geometry fetches none.
        sel = selection(self._meta().schema, query, predicate is not None, bbox_in_store=True)
        rows = self._rows(conn, query, plan, sel, predicate is None, max(batch_size, 1))
        if predicate is None:
            return rows
        return refine(rows, sel, None, predicate, query.offset, query.limit)

    def query(self, query: FeatureQuery, batch_size: int = 1000) -> Iterator[FeatureBatch]:
        """Stream matching features through a server-side cursor."""
        return self._stream(None, query, batch_size)

    def count(self, query: FeatureQuery, paged: bool = False) -> int:
        """COUNT(*) of the matching rows (through Python when a residual filter remains); with
        `paged`, of those the query's offset and limit select, the database stopping at the
        limit (`SELECT count(*) FROM (... LIMIT n OFFSET m)`): no row travels."""
        plan = self._plan(query)
        bounded = paged and (query.limit is not None or query.offset > 0)
        counted = unpaged(query)
        if plan.predicate is not None:
            sel = count_selection(self._meta().schema, counted, True)
            rows = self._rows(None, counted, plan, sel, False, 5000)
            offset, limit = (query.offset, query.limit) if bounded else (0, None)
            return sum(len(b) for b in refine(rows, sel, None, plan.predicate, offset, limit))
        t = self._meta()
        where = where_clause(t, counted, plan)
        if where is None:
            return 0
        clause, params = where
        if bounded:
            inner = sql.SQL("SELECT 1 FROM {}").format(t.ident) + clause
            inner += sql.SQL(" LIMIT %s OFFSET %s")
            params = [*params, query.limit, max(query.offset, 0)]
            counting = sql.SQL("SELECT COUNT(*) FROM ({}) AS page").format(inner)
        else:
            counting = sql.SQL("SELECT COUNT(*) FROM {}").format(t.ident) + clause
        row = self._db.read("count", lambda conn: conn.execute(counting, params).fetchone())
        return int(row[0]) if row else 0

    def get(self, fid: Any, query: FeatureQuery | None = None) -> Feature | None:
        """One feature by id (None when absent or excluded by `query`)."""
        return self._get(None, fid, query)

    def _get(
        self, conn: psycopg.Connection[Any] | None, fid: Any, query: FeatureQuery | None
    ) -> Feature | None:
        return first_feature(self._stream(conn, by_id(fid, query), 1))

    def _features(self, conn: psycopg.Connection[Any], query: FeatureQuery) -> list[Feature]:
        """The features `query` matches on `conn` (a transaction's)."""
        return [f for batch in self._stream(conn, query, 1000) for f in batch.rows()]

    def _ids(self, conn: psycopg.Connection[Any], query: FeatureQuery) -> list[Any]:
        """The keys of the rows `query` matches on `conn` (a transaction's)."""
        return [key for batch in self._stream(conn, keys_only(query), 1000) for key in batch.ids]

    # -- writes ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One connection, one database transaction: committed at the end of the block, rolled
        back when it raises (or when a write inside it failed)."""
        t = self._meta()
        with self._db.pooled("commit") as conn:
            writes = PostGISWrites(
                conn,
                t,
                lambda query: self._features(conn, query),
                lambda query: self._ids(conn, query),
            )
            tx = SourceTransaction(t.schema, t.key_type, writes)
            with transaction_scope(tx, lambda: rollback(conn), conn.commit):
                yield tx

    def pool_stats(self) -> dict[str, int]:
        """The connection pool's state (for the metrics; empty before first use)."""
        return self._db.stats()

    def close(self) -> None:
        """Close the pool (connections still lent out close when given back)."""
        self._db.close()


# Rows per round trip of a drawing's read: its reader holds every batch at once anyway.
DRAWING_FETCH = 10_000
