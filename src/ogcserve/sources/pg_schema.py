"""What a PostGIS table or view is: its columns typed as `FieldType`s (and how each is selected),
its key, geometry column, SRID and CRS, introspected once from the catalogs (`introspect`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ogcserve.features import Field, FieldType, Schema
from ogcserve.sources.base import SourceUnavailableError

log = logging.getLogger("ogcserve.sources.postgis")

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
class PostGISTable:
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


# (name, type name, NOT NULL) of each column, in order.
_Column = tuple[str, str, bool]


def introspect(
    conn: psycopg.Connection[Any],
    label: str,
    described: str,
    geometry_arg: str | None,
    key_arg: str | None,
) -> PostGISTable:
    """The relation `label` ('table' or 'schema.table'; `described` names its database in
    messages), with `geometry_arg` and `key_arg` naming its geometry and key columns (defaults:
    its only geometry column, its primary key)."""
    schema_name, _, name = label.rpartition(".")
    ident = sql.Identifier(*((schema_name, name) if schema_name else (name,)))
    row = conn.execute(
        "SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
        (ident.as_string(conn),),
    ).fetchone()
    if row is None:
        raise SourceUnavailableError(f"Table {label!r} not found in {described}")
    oid, schema_name, name, kind = row
    columns: list[_Column] = conn.execute(
        "SELECT a.attname, t.typname, a.attnotnull FROM pg_attribute a"
        " JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (oid,),
    ).fetchall()
    geometry = _geometry_column(columns, geometry_arg, label)
    key = _key_column(conn, oid, [c[0] for c in columns], key_arg, label, kind == "v")
    if key == geometry:
        raise SourceUnavailableError(f"The geometry of {label!r} cannot be its key")
    srid, geometry_type = 0, None
    if geometry is not None:
        srid, geometry_type = _geometry_srid(conn, ident, schema_name, name, geometry)
        if kind in ("r", "p", "m") and not _indexed(conn, oid, geometry):
            # Served all the same; `ogcserve check` and the server's start show this.
            log.warning(
                "PostGIS table %r has no spatial index on %r: every map and bbox reads the"
                " whole table (CREATE INDEX ON %s USING gist (%s))",
                label,
                geometry,
                ident.as_string(conn),
                sql.Identifier(geometry).as_string(conn),
            )
    fields, select, key_type = _fields(columns, key)
    return PostGISTable(
        ident,
        label,
        schema_name,
        name,
        Schema(key, tuple(fields), geometry, geometry_type),
        key_type,
        srid,
        _crs(conn, srid, label if geometry is not None else None),
        {f.name: f for f in fields},
        select,
    )


def _geometry_column(columns: list[_Column], geometry_arg: str | None, label: str) -> str | None:
    """The geometry column: the one named, else the only one (None when there is none)."""
    geometries = [c[0] for c in columns if c[1] == "geometry"]
    if geometry_arg is not None:
        if geometry_arg not in geometries:
            raise SourceUnavailableError(f"Table {label!r} has no geometry column {geometry_arg!r}")
        return geometry_arg
    if len(geometries) > 1:
        raise SourceUnavailableError(
            f"Table {label!r} has several geometry columns"
            f" ({', '.join(geometries)}): name one with 'geometry'"
        )
    return geometries[0] if geometries else None


def _indexed(conn: psycopg.Connection[Any], oid: int, geometry: str) -> bool:
    """Whether an index of an access method that answers `&&` (GiST, SP-GiST, BRIN) has the
    geometry column first."""
    row = conn.execute(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_am am ON am.oid = c.relam"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
        " WHERE i.indrelid = %s AND a.attname = %s AND am.amname IN ('gist', 'spgist', 'brin')",
        (oid, geometry),
    ).fetchone()
    return row is not None


def _key_column(
    conn: psycopg.Connection[Any],
    oid: int,
    names: list[str],
    key_arg: str | None,
    label: str,
    view: bool,
) -> str:
    """The key column: the one named, else the single-column primary key."""
    if key_arg is not None:
        if key_arg not in names:
            raise SourceUnavailableError(f"Table {label!r} has no column {key_arg!r}")
        return key_arg
    pks = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s AND i.indisprimary",
        (oid,),
    ).fetchall()
    if len(pks) != 1:
        if view:
            raise SourceUnavailableError(
                f"{label!r} is a view, which has no primary key: name the column whose values"
                " identify its rows with the layer's 'key'"
            )
        raise SourceUnavailableError(
            f"Table {label!r} has no single-column primary key: name one with 'key'"
        )
    return str(pks[0][0])


def _geometry_srid(
    conn: psycopg.Connection[Any],
    ident: sql.Identifier,
    schema_name: str,
    name: str,
    geometry: str,
) -> tuple[int, str | None]:
    """The SRID and the type (None: any) of the geometry column."""
    srid, geometry_type = 0, None
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
    return srid, geometry_type


def _crs(conn: psycopg.Connection[Any], srid: int, label: str | None) -> str:
    """The CRS of `srid` as 'AUTHORITY:CODE' (EPSG when spatial_ref_sys does not say). SRID 0
    says nothing: the geometries of `label` are served as longitude, latitude (what
    GeoPackage's undefined system 0 is)."""
    if not srid and label is not None:
        log.warning(
            "PostGIS table %r has geometries of SRID 0 (unknown): served as OGC:CRS84;"
            " set the SRID with UpdateGeometrySRID if they are in another CRS",
            label,
        )
        return "OGC:CRS84"
    if srid:
        auth = conn.execute(
            "SELECT auth_name, auth_srid FROM spatial_ref_sys WHERE srid = %s", (srid,)
        ).fetchone()
        if auth is not None and auth[0]:
            return f"{str(auth[0]).upper()}:{auth[1]}"
    return f"EPSG:{srid}"


def _fields(
    columns: list[_Column], key: str
) -> tuple[list[Field], dict[str, sql.Composable], FieldType]:
    """The attributes, how each is selected (the key is not: its values are the ids, selected
    once as they are), and the key's type."""
    fields: list[Field] = []
    select: dict[str, sql.Composable] = {}
    key_type = FieldType.TEXT
    for col, typname, notnull in columns:
        kind = _TYPES.get(typname)
        if col == key:
            # The key is an attribute too (QGIS Server publishes it).
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
    return fields, select, key_type
