"""The PostGIS side of a `SourceTransaction` (`_transaction.py`): statements composed with
`psycopg.sql` on the transaction's pooled connection, the geometry sent as WKB to
`ST_GeomFromWKB` in the column's SRID, and the key of a new row from `RETURNING`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import shapely
from psycopg import sql

from ogcserve.features import Feature, FeatureQuery
from ogcserve.sources._transaction import Pairs
from ogcserve.sources.pg_errors import translate
from ogcserve.sources.pg_schema import PostGISTable


class PostGISWrites:
    """Writes on `conn`, inside its open transaction; `read` reads the features a query
    matches on it, `find` their keys."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        table: PostGISTable,
        read: Callable[[FeatureQuery], list[Feature]],
        find: Callable[[FeatureQuery], list[Any]],
    ) -> None:
        self._conn = conn
        self._table = table
        self._read = read
        self._find = find

    def _execute(
        self, what: str, statement: sql.Composed, params: Sequence[Any]
    ) -> psycopg.Cursor[Any]:
        try:
            return self._conn.execute(statement, params)
        except psycopg.Error as exc:
            raise translate(exc, what, self._table.label, self._conn) from None

    def _columns(self, pairs: Pairs) -> tuple[list[sql.Identifier], list[sql.Composable]]:
        """The columns of `pairs` and their placeholders (the geometry's decodes its WKB)."""
        t = self._table
        geometry = sql.SQL("ST_GeomFromWKB(%s, {})").format(sql.Literal(t.srid))
        columns = [sql.Identifier(n) for n, _ in pairs]
        marks: list[sql.Composable] = [
            geometry if n == t.schema.geometry_field else sql.SQL("%s") for n, _ in pairs
        ]
        return columns, marks

    def get(self, key: Any) -> Feature | None:
        """The feature `key` as the transaction sees it."""
        found = self._read(FeatureQuery(ids=(key,), limit=1))
        return found[0] if found else None

    def get_many(self, keys: list[Any]) -> list[Feature]:
        """The features `keys` as the transaction sees them, in one read."""
        return self._read(FeatureQuery(ids=tuple(keys)))

    def ids(self, query: FeatureQuery) -> list[Any]:
        """The keys of the rows `query` matches, as the transaction sees them."""
        return self._find(query)

    def value(self, value: Any) -> Any:
        """A typed value, which psycopg binds as it is."""
        return value

    def geometry(self, geometry: Any) -> bytes | None:
        """ISO WKB (the SRID is the column's, given in the statement)."""
        return None if geometry is None else bytes(shapely.to_wkb(geometry, flavor="iso"))

    def insert(self, pairs: Pairs, given: bool) -> Any | None:
        """INSERT ... RETURNING the key, given or generated."""
        t = self._table
        key = sql.Identifier(t.schema.key)
        if pairs:
            columns, marks = self._columns(pairs)
            statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
                t.ident, sql.SQL(", ").join(columns), sql.SQL(", ").join(marks), key
            )
        else:
            statement = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(t.ident, key)
        row = self._execute("insert", statement, [v for _, v in pairs]).fetchone()
        return None if row is None else row[0]

    def update(self, pairs: Pairs, keys: list[Any]) -> None:
        """UPDATE ... SET ... WHERE key = ANY(%s)."""
        t = self._table
        columns, marks = self._columns(pairs)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(c, m) for c, m in zip(columns, marks, strict=True)
        )
        statement = sql.SQL("UPDATE {} SET {} WHERE {} = ANY(%s)").format(
            t.ident, sets, sql.Identifier(t.schema.key)
        )
        self._execute("update", statement, [*(v for _, v in pairs), keys])

    def delete(self, keys: list[Any]) -> int:
        """DELETE ... WHERE key = ANY(%s)."""
        t = self._table
        statement = sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
            t.ident, sql.Identifier(t.schema.key)
        )
        return int(self._execute("delete", statement, [keys]).rowcount)

    def touch(self, geometries: list[Any]) -> None:
        """Nothing to keep current: PostGIS computes extents when asked."""
