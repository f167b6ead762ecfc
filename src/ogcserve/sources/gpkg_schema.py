"""What a GeoPackage table is: its columns typed as `FieldType`s, its key, geometry column,
SRS and R-tree, read once from the file's schema and the gpkg_* metadata tables when a source
opens (`introspect`). `quote` is how every GeoPackage statement names a column or table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ogcserve.features import Field, FieldType, Schema
from ogcserve.sources.base import SourceUnavailableError


def quote(name: str) -> str:
    """An SQLite identifier, quoted (names come from the file's schema, never from requests)."""
    return '"' + name.replace('"', '""') + '"'


def _field_type(declared: str) -> FieldType:
    decl = declared.upper()
    if decl.startswith("BOOL"):
        return FieldType.BOOLEAN
    if "INT" in decl:
        return FieldType.INTEGER
    if decl.startswith(("REAL", "DOUBLE", "FLOAT", "NUMERIC", "DECIMAL")):
        return FieldType.REAL
    if decl == "DATE":
        return FieldType.DATE
    if decl.startswith(("DATETIME", "TIMESTAMP")):
        return FieldType.DATETIME
    if decl.startswith("BLOB"):
        return FieldType.BINARY
    return FieldType.TEXT


@dataclass(frozen=True, slots=True)
class GeoPackageTable:
    """What a GeoPackage table is, read once when the source opens."""

    name: str
    schema: Schema
    key_type: FieldType
    rowid: str  # the column the R-tree's ids are: the INTEGER PRIMARY KEY, else "rowid"
    srs_id: int
    crs: str
    rtree: str | None
    fields: dict[str, Field]


def introspect(
    conn: sqlite3.Connection, file: str, table: str, key_arg: str | None
) -> GeoPackageTable:
    """What `table` (matched without case) of the GeoPackage is; `key_arg` names the key column
    (default: the primary key, else the rowid). `file` names the file in messages."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND lower(name) = lower(?)",
        (table,),
    ).fetchone()
    if row is None:
        raise SourceUnavailableError(f"Table {table!r} not found in {file}")
    name: str = row[0]
    geom_row = conn.execute(
        "SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns"
        " WHERE lower(table_name) = lower(?)",
        (name,),
    ).fetchone()
    geometry: str | None = geom_row[0] if geom_row else None
    geometry_type = str(geom_row[1]).upper() if geom_row else None
    srs_id = int(geom_row[2]) if geom_row else 0
    if geometry_type == "GEOMETRY":
        geometry_type = None

    columns = conn.execute(f"PRAGMA table_info({quote(name)})").fetchall()
    key, rowid = _key(columns, key_arg, geometry, name, file)
    fields = [
        # The key is never null, whatever the column says (an INTEGER PRIMARY KEY may be
        # declared without NOT NULL and still holds the rowid).
        Field(c[1], _field_type(c[2] or ""), nullable=not c[3] and c[1] != key)
        for c in columns
        if geometry is None or c[1].lower() != geometry.lower()
    ]
    if key == "rowid" and not any(f.name == key for f in fields):
        fields.insert(0, Field(key, FieldType.INTEGER, nullable=False))
    key_type = next(f.type for f in fields if f.name == key)
    if geometry is not None:
        geometry = next((c[1] for c in columns if c[1].lower() == geometry.lower()), geometry)

    crs = _crs_name(conn, srs_id)
    rtree = None
    if geometry is not None:
        candidate = f"rtree_{name}_{geometry}"
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (candidate,)).fetchone():
            rtree = candidate
    schema = Schema(key, tuple(fields), geometry, geometry_type)
    return GeoPackageTable(
        name, schema, key_type, rowid, srs_id, crs, rtree, {f.name: f for f in fields}
    )


def _key(
    columns: list[Any], key_arg: str | None, geometry: str | None, name: str, file: str
) -> tuple[str, str]:
    """The key column (`key_arg`, else the primary key, else the rowid) and the rowid's column
    of the table `name` (`columns`: the rows of its PRAGMA table_info)."""
    pks = [c for c in columns if c[5]]
    # SQLite: only a column declared exactly INTEGER PRIMARY KEY is the rowid (GeoPackage
    # feature tables have one, fid by convention); the R-tree is keyed on it.
    rowid = pks[0][1] if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER" else "rowid"
    key = pks[0][1] if len(pks) == 1 else "rowid"
    if key_arg is not None:
        found = next((c[1] for c in columns if c[1].lower() == key_arg.lower()), None)
        if found is None and key_arg.lower() != "rowid":
            raise SourceUnavailableError(
                f"Table {name!r} of {file} has no column {key_arg!r} for the key"
            )
        key = found or "rowid"
        if geometry is not None and key.lower() == geometry.lower():
            raise SourceUnavailableError(f"The geometry of {name!r} cannot be its key")
    return key, rowid


def _crs_name(conn: sqlite3.Connection, srs_id: int) -> str:
    row = conn.execute(
        "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys"
        " WHERE srs_id = ?",
        (srs_id,),
    ).fetchone()
    if row is None:
        return f"EPSG:{srs_id}"
    org, code, definition = row
    if str(org).upper() == "NONE":
        # -1 and 0 are the spec's "undefined" systems; 0 is geographic.
        return "OGC:CRS84" if srs_id == 0 else str(definition)
    return f"{str(org).upper()}:{code}"
