"""PostGIS tables and views through psycopg 3 and a connection pool.

Reads stream through a server-side (named) cursor, so a million rows pass in constant memory;
geometries come as WKB (`ST_AsBinary`) and decode per batch with one `shapely.from_wkb` call.
Identifiers are always composed with `psycopg.sql.Identifier`; request values only ever travel
as bound parameters.

Connections, the circuit breaker and the translation of database errors live in
`pg_connections.py`. A streamed read takes its first batch on a pooled connection and gives it
back before the batch is yielded; a longer answer continues on a connection of its own, outside
the pool, so that a client that reads slowly never holds a pooled connection
(docs/decisions/0005-streams-off-the-pool.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import shapely
from psycopg import sql

from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, Field, FieldType, Schema
from ogcserve.geo.wkb import decode_wkb
from ogcserve.sources._query import (
    FilterPlan,
    Selection,
    check_sort,
    check_write_properties,
    coerce_id,
    coerce_ids,
    coerce_value,
    count_selection,
    first_feature,
    plan_filter,
    promote_geometry,
    refine,
    selection,
)
from ogcserve.sources.base import ConstraintError, SourceUnavailableError, Transaction
from ogcserve.sources.limits import SourceLimits
from ogcserve.sources.pg_connections import PostGISConnections, describe, rollback, translate

_TYPES: dict[str, FieldType] = {
    "int2": FieldType.INTEGER,
    "int4": FieldType.INTEGER,
    "int8": FieldType.INTEGER,
    "float4": FieldType.REAL,
    "float8": FieldType.REAL,
    "numeric": FieldType.REAL,
    "bool": FieldType.BOOLEAN,
    "text": FieldType.TEXT,
    "varchar": FieldType.TEXT,
    "bpchar": FieldType.TEXT,
    "name": FieldType.TEXT,
    "citext": FieldType.TEXT,
    "date": FieldType.DATE,
    "timestamp": FieldType.DATETIME,
    "timestamptz": FieldType.DATETIME,
    "bytea": FieldType.BINARY,
}


@dataclass(frozen=True, slots=True)
class _Table:
    """What a PostGIS relation is, introspected once."""

    ident: sql.Identifier
    label: str
    schema_name: str
    name: str
    schema: Schema
    key_type: FieldType
    srid: int
    crs: str
    fields: dict[str, Field]
    # How each attribute is selected: numeric becomes float8 (not Decimal), types without a
    # FieldType come back as text.
    select: dict[str, sql.Composable]


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
    ) -> None:
        self._dsn = dsn
        self._table_arg = table
        schema_name, _, name = table.rpartition(".")
        self._parts = (schema_name, name) if schema_name else (name,)
        self._geometry_arg = geometry
        self._key_arg = key
        self._db = PostGISConnections(dsn, table, pool_size, limits or SourceLimits())
        self._table: _Table | None = None

    # -- connections and metadata ------------------------------------------------------------

    def _meta(self) -> _Table:
        table = self._table
        if table is not None:
            return table
        with self._db.pooled("introspection") as conn:
            table = self._introspect(conn)
        self._table = table
        return table

    def _introspect(self, conn: psycopg.Connection[Any]) -> _Table:
        ident = sql.Identifier(*self._parts)
        row = conn.execute(
            "SELECT c.oid, n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
            (ident.as_string(conn),),
        ).fetchone()
        if row is None:
            raise SourceUnavailableError(
                f"Table {self._table_arg!r} not found in {describe(self._dsn)}"
            )
        oid, schema_name, name = row
        columns = conn.execute(
            "SELECT a.attname, t.typname, a.attnotnull FROM pg_attribute a"
            " JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (oid,),
        ).fetchall()
        names = [c[0] for c in columns]
        geometries = [c[0] for c in columns if c[1] == "geometry"]
        geometry: str | None
        if self._geometry_arg is not None:
            if self._geometry_arg not in geometries:
                raise SourceUnavailableError(
                    f"Table {self._table_arg!r} has no geometry column {self._geometry_arg!r}"
                )
            geometry = self._geometry_arg
        elif len(geometries) > 1:
            raise SourceUnavailableError(
                f"Table {self._table_arg!r} has several geometry columns"
                f" ({', '.join(geometries)}): name one with 'geometry'"
            )
        else:
            geometry = geometries[0] if geometries else None

        key = self._key_arg
        if key is None:
            pks = conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                " WHERE i.indrelid = %s AND i.indisprimary",
                (oid,),
            ).fetchall()
            if len(pks) != 1:
                raise SourceUnavailableError(
                    f"Table {self._table_arg!r} has no single-column primary key: name one with"
                    " 'key'"
                )
            key = str(pks[0][0])
        elif key not in names:
            raise SourceUnavailableError(f"Table {self._table_arg!r} has no column {key!r}")
        if key == geometry:
            raise SourceUnavailableError(f"The geometry of {self._table_arg!r} cannot be its key")

        srid, geometry_type = 0, None
        if geometry is not None:
            g = conn.execute(
                "SELECT srid, upper(type) FROM geometry_columns WHERE f_table_schema = %s"
                " AND f_table_name = %s AND f_geometry_column = %s",
                (schema_name, name, geometry),
            ).fetchone()
            if g is not None:
                srid, geometry_type = int(g[0]), str(g[1])
            if not srid:
                # An unconstrained column: take the SRID of the data.
                sample = conn.execute(
                    sql.SQL("SELECT ST_SRID({g}) FROM {t} WHERE {g} IS NOT NULL LIMIT 1").format(
                        g=sql.Identifier(geometry), t=ident
                    )
                ).fetchone()
                srid = int(sample[0]) if sample else 0
            if geometry_type in (None, "GEOMETRY"):
                geometry_type = None
        crs = f"EPSG:{srid}"
        if srid:
            auth = conn.execute(
                "SELECT auth_name, auth_srid FROM spatial_ref_sys WHERE srid = %s", (srid,)
            ).fetchone()
            if auth is not None and auth[0]:
                crs = f"{str(auth[0]).upper()}:{auth[1]}"

        fields: list[Field] = []
        select: dict[str, sql.Composable] = {}
        key_type = FieldType.TEXT
        for col, typname, notnull in columns:
            kind = _TYPES.get(typname)
            if col == key:
                # The key is an attribute too (QGIS Server publishes it); its values are the
                # ids, selected once as they are (see `_select`).
                key_type = kind or FieldType.TEXT
                fields.append(Field(col, key_type, nullable=False))
                continue
            if typname in ("geometry", "geography"):
                continue
            ident_col = sql.Identifier(col)
            if kind is None:
                select[col] = sql.SQL("{}::text").format(ident_col)
                kind = FieldType.TEXT
            elif typname == "numeric":
                select[col] = sql.SQL("{}::float8").format(ident_col)
            else:
                select[col] = ident_col
            fields.append(Field(col, kind, nullable=not notnull))
        schema = Schema(key, tuple(fields), geometry, geometry_type)
        return _Table(
            ident,
            self._table_arg,
            schema_name,
            name,
            schema,
            key_type,
            srid,
            crs,
            {f.name: f for f in fields},
            select,
        )

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
        with self._db.pooled("extent") as conn:
            row = None
            try:
                row = conn.execute(
                    estimated, (t.schema_name, t.name, t.schema.geometry_field)
                ).fetchone()
            except psycopg.errors.QueryCanceled:
                raise
            except psycopg.Error:
                # Views and never-analysed tables have no statistics to estimate from.
                conn.rollback()
            if row is None or row[0] is None:
                row = conn.execute(exact).fetchone()
        if row is None or row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    # -- reads -------------------------------------------------------------------------------

    def _plan(self, query: FeatureQuery) -> FilterPlan:
        t = self._meta()
        check_sort(t.schema, query)
        names = t.schema.field_names()
        geometry = t.schema.geometry_field
        return plan_filter(
            query.filter,
            [*names, *([t.schema.geometry_field] if t.schema.geometry_field else [])],
            "postgresql",
            {n: sql.Identifier(n).as_string(None) for n in names},
            sql.Identifier(t.schema.key).as_string(None),
            sql.Identifier(geometry).as_string(None) if geometry else None,
            t.srid,
            t.schema,
        )

    def _where(
        self, query: FeatureQuery, plan: FilterPlan
    ) -> tuple[sql.Composable, list[Any]] | None:
        t = self._meta()
        terms: list[sql.Composable] = []
        params: list[Any] = []
        if query.ids is not None:
            ids = coerce_ids(query.ids, t.key_type)
            if not ids:
                return None
            terms.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(t.schema.key)))
            params.append(ids)
        if query.bbox is not None and t.schema.geometry_field is not None:
            # ST_Intersects uses the index (&&) and then tests exactly, so paging stays in SQL.
            terms.append(
                sql.SQL("ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, %s))").format(
                    sql.Identifier(t.schema.geometry_field)
                )
            )
            params.extend((*query.bbox, t.srid))
        if plan.sql:
            terms.append(sql.SQL("(" + plan.sql + ")"))
            params.extend(plan.params)
        for subset in query.subsets:
            # Trusted SQL, but a literal '%' (LIKE 'a%') would be read as a placeholder.
            terms.append(sql.SQL("(" + subset.replace("%", "%%") + ")"))
        if not terms:
            return sql.Composed([]), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms), params

    def _select(
        self, query: FeatureQuery, plan: FilterPlan, sel: Selection, paged: bool
    ) -> tuple[sql.Composed, list[Any]] | None:
        t = self._meta()
        where = self._where(query, plan)
        if where is None:
            return None
        clause, params = where
        cols: list[sql.Composable] = [sql.Identifier(t.schema.key)]
        if sel.fetch_geometry and t.schema.geometry_field is not None:
            cols.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(t.schema.geometry_field)))
        cols.extend(t.select[n] for n in sel.stored)
        statement = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(cols), t.ident)
        statement += clause
        order: list[sql.Composable] = [
            sql.SQL("{} DESC" if k.descending else "{}").format(sql.Identifier(k.name))
            for k in query.sort
        ]
        limited = paged and (query.limit is not None or query.offset > 0)
        if order or limited:
            # The key breaks ties so that pages never overlap.
            order.append(sql.Identifier(t.schema.key))
            statement += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
        if limited:
            statement += sql.SQL(" LIMIT %s OFFSET %s")
            params.extend((query.limit, max(query.offset, 0)))
        return statement, params

    def _batch(self, rows: list[Any], sel: Selection) -> FeatureBatch:
        cols = list(zip(*rows, strict=True))
        pos = 1
        geometries = None
        if sel.fetch_geometry and self._meta().schema.geometry_field is not None:
            geometries = decode_wkb(cols[1])
            pos = 2
        ids = list(cols[0])
        stored = [list(cols[pos + i]) for i in range(len(sel.stored))]
        return FeatureBatch(ids, geometries, sel.columns(ids, stored))

    def _cursor(
        self,
        conn: psycopg.Connection[Any],
        statement: sql.Composed,
        params: list[Any],
        sel: Selection,
        size: int,
    ) -> Generator[FeatureBatch]:
        # A named cursor keeps the result on the server; each fetchmany is one round trip.
        with conn.cursor(name=f"ogcserve_{uuid.uuid4().hex}", binary=True) as cur:
            cur.execute(statement, params)
            while rows := cur.fetchmany(size):
                yield self._batch(rows, sel)

    def _rows(
        self,
        conn: psycopg.Connection[Any] | None,
        query: FeatureQuery,
        plan: FilterPlan,
        sel: Selection,
        paged: bool,
        size: int,
    ) -> Iterator[FeatureBatch]:
        """Batches of `query`. With `conn` (a transaction's), all of them from it. Without, the
        first batch comes from a pooled connection, given back before the batch is yielded, and
        the rest (the query again, less the rows already sent) from a dedicated connection, so
        that a consumer that waits on a slow client holds nothing the pool lends."""
        statement = self._select(query, plan, sel, paged)
        if statement is None:
            return
        if conn is not None:
            try:
                yield from self._cursor(conn, *statement, sel, size)
            except psycopg.Error as exc:
                raise translate(exc, "read", self._table_arg) from None
            return
        with self._db.pooled("read") as pooled:
            batches = self._cursor(pooled, *statement, sel, size)
            try:
                first = next(batches, None)
            finally:
                batches.close()
        if first is None:
            return
        yield first
        rest = self._rest(query, first, paged) if len(first) >= size else None
        statement = None if rest is None else self._select(rest, plan, sel, paged)
        if statement is None:
            return
        with self._db.dedicated("read") as own:
            yield from self._cursor(own, *statement, sel, size)

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
        sel = selection(self._meta().schema, query, predicate is not None)
        rows = self._rows(conn, query, plan, sel, predicate is None, max(batch_size, 1))
        if predicate is None:
            return rows
        return refine(rows, sel, None, predicate, query.offset, query.limit)

    def query(self, query: FeatureQuery, batch_size: int = 1000) -> Iterator[FeatureBatch]:
        """Stream matching features through a server-side cursor."""
        return self._stream(None, query, batch_size)

    def count(self, query: FeatureQuery) -> int:
        """COUNT(*) of the matching rows (through Python when a residual filter remains)."""
        plan = self._plan(query)
        unpaged = FeatureQuery(
            bbox=query.bbox, filter=query.filter, subsets=query.subsets, ids=query.ids
        )
        if plan.predicate is not None:
            sel = count_selection(self._meta().schema, unpaged, True)
            rows = self._rows(None, unpaged, plan, sel, False, 5000)
            return sum(len(b) for b in refine(rows, sel, None, plan.predicate, 0, None))
        where = self._where(unpaged, plan)
        if where is None:
            return 0
        clause, params = where
        counting = sql.SQL("SELECT COUNT(*) FROM {}").format(self._meta().ident) + clause
        with self._db.pooled("count") as conn:
            row = conn.execute(counting, params).fetchone()
        return int(row[0]) if row else 0

    def get(self, fid: Any, query: FeatureQuery | None = None) -> Feature | None:
        """One feature by id (None when absent or excluded by `query`)."""
        return self._get(None, fid, query)

    def _get(
        self, conn: psycopg.Connection[Any] | None, fid: Any, query: FeatureQuery | None
    ) -> Feature | None:
        base = query or FeatureQuery()
        one = FeatureQuery(
            bbox=base.bbox,
            filter=base.filter,
            subsets=base.subsets,
            properties=base.properties,
            with_geometry=base.with_geometry,
            ids=(fid,),
            limit=1,
        )
        return first_feature(self._stream(conn, one, 1))

    # -- writes ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One connection, one database transaction: committed at the end of the block, rolled
        back when it raises (or when a write inside it failed)."""
        self._meta()
        with self._db.pooled("commit") as conn:
            tx = _PostGISTransaction(self, conn)
            try:
                yield tx
            except BaseException:
                rollback(conn)
                raise
            if tx.failed is not None:
                rollback(conn)
                raise ConstraintError(f"Transaction rolled back: {tx.failed}")
            conn.commit()

    def close(self) -> None:
        """Close the pool (connections still lent out close when given back)."""
        self._db.close()


class _PostGISTransaction:
    """Writes on one pooled connection, inside its open transaction."""

    def __init__(self, source: PostGISSource, conn: psycopg.Connection[Any]) -> None:
        self._source = source
        self._conn = conn
        self._table = source._meta()
        self.failed: str | None = None

    def _execute(
        self, what: str, statement: sql.Composed, params: Sequence[Any]
    ) -> psycopg.Cursor[Any]:
        if self.failed is not None:
            raise ConstraintError(f"Transaction already failed: {self.failed}")
        try:
            return self._conn.execute(statement, params)
        except psycopg.Error as exc:
            error = translate(exc, what, self._source._table_arg)
            self.failed = error.message
            raise error from None

    def _values(self, properties: Mapping[str, Any]) -> list[tuple[sql.Composable, Any]]:
        try:
            fields = check_write_properties(self._table.schema, properties)
            pairs: list[tuple[sql.Composable, Any]] = [
                (sql.Identifier(n), coerce_value(f, properties[n])) for n, f in fields.items()
            ]
        except ConstraintError as exc:
            self.failed = exc.message
            raise
        return pairs

    def _geometry(self, geometry: Any) -> tuple[sql.Composable, Any]:
        t = self._table
        assert t.schema.geometry_field is not None
        geom = promote_geometry(geometry, t.schema.geometry_type)
        wkb = None if geom is None else bytes(shapely.to_wkb(geom, flavor="iso"))
        return sql.Identifier(t.schema.geometry_field), wkb

    def _placeholder(self, column: sql.Composable) -> sql.Composable:
        t = self._table
        if t.schema.geometry_field is not None and column == sql.Identifier(
            t.schema.geometry_field
        ):
            return sql.SQL("ST_GeomFromWKB(%s, {})").format(sql.Literal(t.srid))
        return sql.SQL("%s")

    def insert(self, features: Sequence[Feature]) -> list[Any]:
        """Insert features (INSERT ... RETURNING the key); given ids are kept."""
        t = self._table
        key = sql.Identifier(t.schema.key)
        ids: list[Any] = []
        for feature in features:
            pairs = self._values(feature.properties)
            if feature.id is not None:
                fid = coerce_id(feature.id, t.key_type)
                if fid is None:
                    self.failed = f"invalid id {feature.id!r}"
                    raise ConstraintError(f"Invalid feature id {feature.id!r}")
                pairs.insert(0, (key, fid))
            if t.schema.geometry_field is not None:
                pairs.append(self._geometry(feature.geometry))
            if pairs:
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
                    t.ident,
                    sql.SQL(", ").join(c for c, _ in pairs),
                    sql.SQL(", ").join(self._placeholder(c) for c, _ in pairs),
                    key,
                )
            else:
                statement = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(
                    t.ident, key
                )
            row = self._execute("insert", statement, [v for _, v in pairs]).fetchone()
            if row is None or row[0] is None:
                # A key column without a default (a layer `key` on a plain column).
                self.failed = f"no value for the key {t.schema.key!r}"
                raise ConstraintError(
                    f"The key {t.schema.key!r} has no default: give it", locator=t.schema.key
                )
            ids.append(row[0])
        return ids

    def update(self, fid: Any, properties: Mapping[str, Any], geometry: Any | None = None) -> None:
        """Change some attributes (and the geometry, when given) of one feature."""
        t = self._table
        pairs = self._values(properties)
        if geometry is not None and t.schema.geometry_field is not None:
            pairs.append(self._geometry(geometry))
        key = coerce_id(fid, t.key_type)
        if not pairs or key is None:
            return
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(c, self._placeholder(c)) for c, _ in pairs
        )
        statement = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            t.ident, sets, sql.Identifier(t.schema.key)
        )
        self._execute("update", statement, [*(v for _, v in pairs), key])

    def delete(self, fids: Sequence[Any]) -> int:
        """Delete features by id; return how many were deleted."""
        t = self._table
        ids = coerce_ids(fids, t.key_type)
        if not ids:
            return 0
        statement = sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
            t.ident, sql.Identifier(t.schema.key)
        )
        return int(self._execute("delete", statement, [ids]).rowcount)

    def get(self, fid: Any) -> Feature | None:
        """One feature as this transaction sees it."""
        if self.failed is not None:
            raise ConstraintError(f"Transaction already failed: {self.failed}")
        return self._source._get(self._conn, fid, None)
