"""GeoPackage tables through the standard library's sqlite3 (no GDAL on this path): the source
and its reads.

Geometries are stored as GeoPackage binary (`gpkg_binary.py`): the header is cut off each row
and the WKB of a whole batch decodes with one `shapely.from_wkb` call. A bbox goes through the
table's R-tree. What the table is comes from `gpkg_schema.py`, the connections from
`gpkg_connections.py`, and writes are a `SourceTransaction` over `gpkg_writes.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, FieldType, Schema
from ogcserve.geo.wkb import decode_wkb
from ogcserve.sources._query import (
    FilterPlan,
    FilterPlans,
    Selection,
    by_id,
    coerce_ids,
    count_selection,
    first_feature,
    keys_only,
    refine,
    selection,
    unpaged,
)
from ogcserve.sources._transaction import SourceTransaction, transaction_scope
from ogcserve.sources.base import SourceUnavailableError, Transaction
from ogcserve.sources.gpkg_binary import gpkg_wkb, strip_gpkg_headers
from ogcserve.sources.gpkg_connections import GeoPackageConnections, translate
from ogcserve.sources.gpkg_schema import introspect, quote
from ogcserve.sources.gpkg_writes import GeoPackageWrites

# R-tree tests against a bbox: the SQL and the order of its parameters.
_INTERSECTING, _INSIDE, _ACROSS = "intersecting", "inside", "across"
_ENVELOPE_TESTS: dict[str, tuple[str, tuple[str, ...]]] = {
    _INTERSECTING: (
        "minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?",
        ("maxx", "minx", "maxy", "miny"),
    ),
    _INSIDE: (
        "minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?",
        ("minx", "maxx", "miny", "maxy"),
    ),
    _ACROSS: (
        "minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
        " AND NOT (minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?)",
        ("maxx", "minx", "maxy", "miny", "minx", "maxx", "miny", "maxy"),
    ),
}


def _envelope_test(bbox: BBox, envelopes: str) -> tuple[str, list[float]]:
    """An R-tree test of `_ENVELOPE_TESTS` against `bbox`, with its parameters."""
    test, order = _ENVELOPE_TESTS[envelopes]
    minx, miny, maxx, maxy = bbox
    values = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
    return test, [values[name] for name in order]


class GeoPackageSource:
    """One table of a GeoPackage file, readable from many threads and writable in transactions."""

    def __init__(self, path: str | os.PathLike[str], table: str, key: str | None = None) -> None:
        """`key`: the column whose values are the feature ids (default: the primary key)."""
        self._path = Path(path)
        self._db = GeoPackageConnections(self._path)
        self._plans = FilterPlans()
        if not self._path.is_file():
            raise SourceUnavailableError(f"GeoPackage file not found: {self._path}")
        try:
            self._table = introspect(self._db.reader(), self._path.name, table, key)
        except sqlite3.Error as exc:
            self.close()
            raise SourceUnavailableError(
                f"Cannot read GeoPackage {self._path.name}: {exc}"
            ) from None
        except SourceUnavailableError:
            self.close()
            raise

    # -- metadata ----------------------------------------------------------------------------

    def schema(self) -> Schema:
        """Key, attributes and geometry column of the table."""
        return self._table.schema

    def crs(self) -> str:
        """The table's CRS as 'AUTHORITY:CODE'."""
        return self._table.crs

    def extent(self) -> BBox | None:
        """The extent recorded in gpkg_contents, or computed from the R-tree when absent."""
        t = self._table
        conn = self._db.reader()
        row = conn.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
            (t.name,),
        ).fetchone()
        if row is not None and None not in row:
            return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
        if t.rtree is None:
            return None
        row = conn.execute(
            f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {quote(t.rtree)}"
        ).fetchone()
        if row is None or None in row:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    # -- reads -------------------------------------------------------------------------------

    def _plan(self, query: FeatureQuery) -> FilterPlan:
        t = self._table
        return self._plans.plan(t.schema, query, "sqlite", quote, t.srs_id)

    def _where(
        self, query: FeatureQuery, plan: FilterPlan, envelopes: str = _INTERSECTING
    ) -> tuple[str, list[Any]] | None:
        """The WHERE clause and its parameters; None when the query cannot match anything.

        `envelopes` is the R-tree test applied with a bbox (see `_ENVELOPE_TESTS`).
        """
        t = self._table
        key = quote(t.schema.key)
        terms: list[str] = []
        params: list[Any] = []
        if query.ids is not None:
            ids = coerce_ids(query.ids, t.key_type)
            if not ids:
                return None
            # One JSON parameter instead of one placeholder per id: no variable-count limit.
            terms.append(f"{key} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
        if query.bbox is not None and t.rtree is not None:
            test, values = _envelope_test(query.bbox, envelopes)
            terms.append(f"{quote(t.rowid)} IN (SELECT id FROM {quote(t.rtree)} WHERE {test})")
            params.extend(values)
        if plan.sql:
            terms.append(f"({plan.sql})")
            params.extend(plan.params)
        # Subsets are trusted SQL from the project or plugins, never from a request.
        terms.extend(f"({s})" for s in query.subsets)
        return (" WHERE " + " AND ".join(terms) if terms else ""), params

    def _select(
        self,
        query: FeatureQuery,
        plan: FilterPlan,
        sel: Selection,
        paged: bool,
        envelopes: str = _INTERSECTING,
    ) -> tuple[str, list[Any]] | None:
        t = self._table
        where = self._where(query, plan, envelopes)
        if where is None:
            return None
        clause, params = where
        cols = [quote(t.schema.key)]
        if sel.fetch_geometry and t.schema.geometry_field is not None:
            cols.append(quote(t.schema.geometry_field))
        cols.extend(quote(n) for n in sel.stored)
        sql = f"SELECT {', '.join(cols)} FROM {quote(t.name)}{clause}"
        order = [f"{quote(k.name)}{' DESC' if k.descending else ''}" for k in query.sort]
        # The key breaks ties so pages never overlap; without sort or paging the natural
        # (R-tree) order is kept, which saves sorting every row of a map draw.
        if order or (paged and (query.limit is not None or query.offset)):
            order.append(quote(t.schema.key))
        if order:
            sql += " ORDER BY " + ", ".join(order)
        if paged and (query.limit is not None or query.offset):
            sql += " LIMIT ? OFFSET ?"
            params.extend((-1 if query.limit is None else query.limit, max(query.offset, 0)))
        return sql, params

    def _rows(
        self,
        conn: sqlite3.Connection,
        sql: str,
        params: list[Any],
        sel: Selection,
        size: int,
        wkb: bool = False,
    ) -> Iterator[FeatureBatch]:
        """The rows of `sql` as batches; the statement is finalised even when abandoned."""
        cur = conn.execute(sql, params)
        try:
            while rows := cur.fetchmany(size):
                yield self._batch(rows, sel, wkb)
        finally:
            cur.close()

    def _batch(self, rows: list[Any], sel: Selection, raw: bool = False) -> FeatureBatch:
        cols = list(zip(*rows, strict=True))
        ids = list(cols[0])
        pos = 1
        geometries = packed = None
        if sel.fetch_geometry and self._table.schema.geometry_field is not None:
            if raw:
                packed = gpkg_wkb(cols[1])
            else:
                geometries = decode_wkb(strip_gpkg_headers(cols[1]))
            pos = 2
        stored: list[list[Any]] = []
        for i, name in enumerate(sel.stored):
            values = list(cols[pos + i])
            kind = self._table.fields[name].type
            if kind is FieldType.BOOLEAN:
                values = [None if v is None else bool(v) for v in values]
            elif kind is FieldType.DATE or kind is FieldType.DATETIME:
                values = [_parse_time(v, kind) for v in values]
            stored.append(values)
        return FeatureBatch(ids, geometries, sel.columns(ids, stored), packed)

    def _stream(
        self, conn: sqlite3.Connection | None, query: FeatureQuery, batch_size: int
    ) -> Iterator[FeatureBatch]:
        plan = self._plan(query)
        predicate = plan.predicate
        python_stage = predicate is not None or (query.bbox is not None and query.exact)
        sel = selection(self._table.schema, query, predicate is not None)
        statement = self._select(query, plan, sel, paged=not python_stage)
        if statement is None:
            return iter(())
        sql, params = statement
        # Without a Python stage nothing here needs shapely objects: hand the WKB over as is.
        rows = self._rows(
            conn or self._db.reader(),
            sql,
            params,
            sel,
            max(batch_size, 1),
            wkb=query.wkb and not python_stage,
        )
        if not python_stage:
            return rows
        return refine(rows, sel, query.bbox, predicate, query.offset, query.limit)

    def query(self, query: FeatureQuery, batch_size: int = 1000) -> Iterator[FeatureBatch]:
        """Stream matching features; bbox through the R-tree then an exact intersects test."""
        return self._stream(None, query, batch_size)

    def count(self, query: FeatureQuery, paged: bool = False) -> int:
        """How many features match (limit and offset ignored); with `paged`, how many of them
        the query's offset and limit select (a read of ids: SQLite sends no rows over a
        socket, and the bbox's exact test is made here)."""
        if paged:
            return sum(len(b) for b in self.query(replace(keys_only(query), sort=())))
        plan = self._plan(query)
        predicate = plan.predicate
        counted = unpaged(query)
        t = self._table
        if predicate is None and query.bbox is None:
            where = self._where(counted, plan)
            return 0 if where is None else self._count_rows(t.name, *where)
        inside = 0
        envelopes = _INTERSECTING
        if predicate is None and query.bbox is not None and t.rtree is not None:
            # A feature whose envelope lies inside the bbox intersects it: those are counted
            # from the R-tree (its float32 bounds are rounded outwards, so "inside" is never
            # wrong). Only envelopes across the bbox's edge need their geometry read.
            if plan.sql or query.subsets or query.ids is not None:
                where = self._where(counted, plan, _INSIDE)
                if where is None:
                    return 0
                inside = self._count_rows(t.name, *where)
            else:  # nothing else to test: the R-tree alone holds the answer
                test, params = _envelope_test(query.bbox, _INSIDE)
                inside = self._count_rows(t.rtree, f" WHERE {test}", params)
            envelopes = _ACROSS
        sel = count_selection(t.schema, counted, predicate is not None)
        statement = self._select(counted, plan, sel, paged=False, envelopes=envelopes)
        if statement is None:
            return 0
        rows = self._rows(self._db.reader(), statement[0], statement[1], sel, 1000)
        return inside + sum(len(b) for b in refine(rows, sel, query.bbox, predicate, 0, None))

    def _count_rows(self, table: str, clause: str, params: Sequence[Any]) -> int:
        row = (
            self._db.reader()
            .execute(f"SELECT COUNT(*) FROM {quote(table)}{clause}", params)
            .fetchone()
        )
        return int(row[0])

    def get(self, fid: Any, query: FeatureQuery | None = None) -> Feature | None:
        """One feature by id (None when absent or excluded by `query`)."""
        return self._get(None, fid, query)

    def _get(
        self, conn: sqlite3.Connection | None, fid: Any, query: FeatureQuery | None
    ) -> Feature | None:
        return first_feature(self._stream(conn, by_id(fid, query), 1))

    def _features(self, conn: sqlite3.Connection, query: FeatureQuery) -> list[Feature]:
        """The features `query` matches on `conn` (a transaction's)."""
        return [f for batch in self._stream(conn, query, 1000) for f in batch.rows()]

    def _ids(self, conn: sqlite3.Connection, query: FeatureQuery) -> list[Any]:
        """The keys of the rows `query` matches on `conn` (a transaction's)."""
        return [key for batch in self._stream(conn, keys_only(query), 1000) for key in batch.ids]

    # -- writes ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any error)."""
        t = self._table
        with self._db.writing() as conn:
            try:
                # IMMEDIATE takes the write lock now, so a conflicting writer fails here rather
                # than halfway through our statements.
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, "write", conn, t.name, self._path.name) from None
            writes = GeoPackageWrites(
                conn,
                t,
                self._path.name,
                lambda query: self._features(conn, query),
                lambda query: self._ids(conn, query),
            )
            tx = SourceTransaction(t.schema, t.key_type, writes)
            with transaction_scope(
                tx, lambda: conn.execute("ROLLBACK"), lambda: self._commit(conn)
            ):
                yield tx

    def _commit(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            error = translate(exc, "commit", conn, self._table.name, self._path.name)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise error from None

    def close(self) -> None:
        """Close every connection this source opened."""
        self._db.close()


def _parse_time(value: Any, kind: FieldType) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if kind is FieldType.DATE:
            return dt.date.fromisoformat(value[:10])
        return dt.datetime.fromisoformat(value)
    except ValueError:
        # Keep what the file holds rather than failing a whole read on one odd value.
        return value
