"""The GeoPackage side of a `SourceTransaction` (`_transaction.py`): SQLite statements on the
source's write connection, values bound as the GeoPackage stores them (booleans as integers,
dates as ISO 8601 text), geometries as GeoPackage binary, and gpkg_contents kept current.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

from ogcserve.features import Feature, FeatureQuery
from ogcserve.sources._transaction import Pairs
from ogcserve.sources.gpkg_binary import encode_gpkg_geometry
from ogcserve.sources.gpkg_connections import translate
from ogcserve.sources.gpkg_schema import GeoPackageTable, quote


def _to_sqlite(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        # The GeoPackage DATETIME form: ISO 8601 in UTC with milliseconds and 'Z'.
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class GeoPackageWrites:
    """Writes on the write connection `conn`, inside its open transaction; `read` reads the
    features a query matches on it, `find` their keys. `file` names the GeoPackage in the
    log."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        table: GeoPackageTable,
        file: str,
        read: Callable[[FeatureQuery], list[Feature]],
        find: Callable[[FeatureQuery], list[Any]],
    ) -> None:
        self._conn = conn
        self._table = table
        self._file = file
        self._read = read
        self._find = find

    def _execute(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            what = sql.split(None, 1)[0].lower()
            raise translate(exc, what, self._conn, self._table.name, self._file) from None

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
        """A typed value as SQLite binds it in a GeoPackage."""
        return _to_sqlite(value)

    def geometry(self, geometry: Any) -> bytes | None:
        """GeoPackage binary in the table's SRS."""
        return encode_gpkg_geometry(geometry, self._table.srs_id)

    def insert(self, pairs: Pairs, given: bool) -> Any | None:
        """INSERT; the key is the one given, the rowid, or what the table made of it (a
        default or a trigger's value)."""
        t = self._table
        if pairs:
            names = ", ".join(quote(n) for n, _ in pairs)
            marks = ", ".join("?" for _ in pairs)
            sql = f"INSERT INTO {quote(t.name)} ({names}) VALUES ({marks})"
        else:
            sql = f"INSERT INTO {quote(t.name)} DEFAULT VALUES"
        params = [v for _, v in pairs]
        if given:
            self._execute(sql, params)
            return pairs[0][1]
        if t.schema.key == t.rowid:
            return self._execute(sql, params).lastrowid
        rows = self._execute(f"{sql} RETURNING {quote(t.schema.key)}", params).fetchall()
        return rows[0][0] if rows else None

    def update(self, pairs: Pairs, keys: list[Any]) -> None:
        """UPDATE ... SET ... WHERE key IN (the keys, as one JSON parameter)."""
        t = self._table
        sets = ", ".join(f"{quote(n)} = ?" for n, _ in pairs)
        if len(keys) == 1:
            where, key = "= ?", keys[0]
        else:
            where, key = "IN (SELECT value FROM json_each(?))", json.dumps(keys)
        self._execute(
            f"UPDATE {quote(t.name)} SET {sets} WHERE {quote(t.schema.key)} {where}",
            [*(v for _, v in pairs), key],
        )

    def delete(self, keys: list[Any]) -> int:
        """DELETE by key, the keys as one JSON parameter (no limit on their number)."""
        t = self._table
        cur = self._execute(
            f"DELETE FROM {quote(t.name)} WHERE {quote(t.schema.key)}"
            " IN (SELECT value FROM json_each(?))",
            [json.dumps(keys)],
        )
        return int(cur.rowcount)

    def touch(self, geometries: list[Any]) -> None:
        """Keep gpkg_contents current: last_change always, the extent grown to new geometries
        (other readers, GDAL included, trust it)."""
        sql = "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        params: list[Any] = []
        if geometries:
            b = shapely.bounds(np.array(geometries, dtype=object))
            minx, miny = np.nanmin(b[:, 0]), np.nanmin(b[:, 1])
            maxx, maxy = np.nanmax(b[:, 2]), np.nanmax(b[:, 3])
            if np.isfinite([minx, miny, maxx, maxy]).all():
                sql += (
                    ", min_x = min(coalesce(min_x, ?), ?), min_y = min(coalesce(min_y, ?), ?)"
                    ", max_x = max(coalesce(max_x, ?), ?), max_y = max(coalesce(max_y, ?), ?)"
                )
                for v in (minx, miny, maxx, maxy):
                    params.extend((float(v), float(v)))
        self._execute(sql + " WHERE table_name = ?", [*params, self._table.name])
