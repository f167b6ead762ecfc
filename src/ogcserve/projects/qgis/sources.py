"""A QGIS layer's data source (`<provider>` and `<datasource>`) as one of our source specs.

QGIS writes a source as one string whose form depends on the provider:

- `ogr`: `./data.gpkg|layername=roads|subset="type" = 'a'`, or a plain `./roads.shp`;
- `postgres`: `dbname='gis' host=db port=5432 user='u' sslmode=disable key='id' srid=4326
  type=Polygon table="public"."roads" (geom) sql="type" = 'a'` (QgsDataSourceUri);
- `gdal`: a raster file's path.

Relative paths are relative to the project file, as QGIS writes them by default. What is not a
plain file or a database table (a `/vsi` path, a driver prefix such as `GPKG:`, a URL, QGIS's
stored `authcfg` credentials) is refused: `UnsupportedSourceError` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyogrio
from psycopg.conninfo import make_conninfo

from ogcserve.sources.specs import (
    GeoPackageSpec,
    OGRSpec,
    PostGISSpec,
    RasterSpec,
    SourceSpec,
)

# Connection options of QgsDataSourceUri that are libpq's own; the others (key, srid, type,
# estimatedmetadata, checkPrimaryKeyUnicity, selectatid...) say nothing about the connection.
_LIBPQ = ("dbname", "host", "hostaddr", "port", "user", "password", "service", "sslmode")
_OGR_SUFFIXES = {".shp", ".geojson", ".json", ".fgb"}
# `/vsizip/`, `GPKG:file:table`, `http://...`: GDAL syntaxes rather than a file of ours.
_NOT_A_FILE = re.compile(r"^(/vsi|[A-Za-z][A-Za-z0-9_]+:(?![\\/]))")
_SSL_MODES = {  # QGIS 3.x may write its enum's names
    "SslDisable": "disable",
    "SslAllow": "allow",
    "SslPrefer": "prefer",
    "SslRequire": "require",
    "SslVerifyCa": "verify-ca",
    "SslVerifyFull": "verify-full",
}


class UnsupportedSourceError(Exception):
    """The layer's data source is one this server cannot read; the message says what it is."""


@dataclass(frozen=True, slots=True)
class LayerSource:
    """A source spec, the provider's subset string ("" when there is none) and the provider
    (whose SQL dialect the subset is written in)."""

    spec: SourceSpec
    subset: str
    provider: str


def layer_source(provider: str, datasource: str, base_dir: Path) -> LayerSource:
    """The spec of a `<maplayer>`'s data source; `UnsupportedSourceError` when it has none."""
    if provider == "ogr":
        return _ogr(datasource, base_dir)
    if provider == "postgres":
        return _postgres(datasource)
    if provider == "gdal":
        path = _file(datasource.strip())
        return LayerSource(RasterSpec(type="raster", path=path), "", provider)
    raise UnsupportedSourceError(
        f"the provider '{provider}' is not supported (ogr, postgres, gdal are)"
    )


def _file(text: str) -> str:
    """A data file's path as the spec keeps it (relative to the project file, or absolute)."""
    if not text or _NOT_A_FILE.match(text):
        raise UnsupportedSourceError(f"'{text}' is not a file path")
    return text


def _ogr(datasource: str, base_dir: Path) -> LayerSource:
    # `subset=` is last and may itself hold `|`; the other options never do.
    head, _, subset = datasource.partition("|subset=")
    path_text, *options = head.split("|")
    path = _file(path_text.strip())
    parts = dict(option.partition("=")[::2] for option in options)
    layer = parts.get("layername")
    target = base_dir / path
    if layer is None and "layerid" in parts and target.exists():
        layer = _layer_at(target, parts["layerid"])
    suffix = Path(path).suffix.lower()
    if suffix == ".gpkg":
        if layer is None and target.exists():
            layer = _layer_at(target, "0")
        if layer is None:
            raise UnsupportedSourceError(f"'{path}' names no layer of the GeoPackage")
        spec: SourceSpec = GeoPackageSpec(type="geopackage", path=path, table=layer)
    elif suffix in _OGR_SUFFIXES:
        spec = OGRSpec(type="ogr", path=path, layer=layer)
    else:
        raise UnsupportedSourceError(
            f"'{path}': only GeoPackage, Shapefile, GeoJSON and FlatGeobuf files are read"
        )
    return LayerSource(spec, subset.strip(), "ogr")


def _layer_at(path: Path, index: str) -> str | None:
    """The name of the `index`th layer of a file (QGIS's `layerid=`), None if there is none."""
    try:
        layers = pyogrio.list_layers(path)
        return str(layers[int(index)][0])
    except Exception:  # not a file GDAL reads as vector data: no layer to name
        return None


def _postgres(datasource: str) -> LayerSource:
    options, table, geometry, sql = parse_postgres_uri(datasource)
    if "authcfg" in options:
        raise UnsupportedSourceError(
            "the connection's credentials are in QGIS's authentication database (authcfg), "
            "which this server cannot read; give them in the data source or a pg_service file"
        )
    if table is None:
        raise UnsupportedSourceError("the PostgreSQL data source names no table")
    if "sslmode" in options:
        options["sslmode"] = _SSL_MODES.get(options["sslmode"], options["sslmode"])
    dsn = make_conninfo(**{k: v for k, v in options.items() if k in _LIBPQ and v})
    # A key of several columns (`"a","b"`) is left to the table's own primary key.
    key = options.get("key", "").strip('"') or None
    if key is not None and '"' in key:
        key = None
    spec = PostGISSpec(type="postgis", dsn=dsn, table=table, geometry=geometry, key=key)
    return LayerSource(spec, sql.strip(), "postgres")


def parse_postgres_uri(text: str) -> tuple[dict[str, str], str | None, str | None, str]:
    """The `key=value` options, the `schema.table`, the geometry column and the `sql=` subset
    of a QgsDataSourceUri string."""
    options: dict[str, str] = {}
    table: str | None = None
    geometry: str | None = None
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        match = re.compile(r"([A-Za-z_]+)=").match(text, i)
        if match is None:
            raise UnsupportedSourceError(
                f"cannot read the PostgreSQL data source near '{text[i:]}'"
            )
        name, i = match.group(1), match.end()
        if name == "sql":
            return options, table, geometry, text[i:]
        if name == "table":
            table, geometry, i = _table(text, i)
        else:
            options[name], i = _value(text, i)
    return options, table, geometry, ""


def _value(text: str, i: int) -> tuple[str, int]:
    """A value: `'quoted'` (with `\\'` and `\\\\` escapes) or up to the next space."""
    if i < len(text) and text[i] == "'":
        out, i = [], i + 1
        while i < len(text) and text[i] != "'":
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            out.append(text[i])
            i += 1
        return "".join(out), i + 1
    end = i
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[i:end], end


_IDENT = re.compile(r'"((?:[^"]|"")*)"|([^\s".()]+)')


def _table(text: str, i: int) -> tuple[str, str | None, int]:
    """`"schema"."name" (geom)` or `"name"` from position `i`: ("schema.name", "geom", end)."""
    parts = []
    while True:
        match = _IDENT.match(text, i)
        if match is None:
            raise UnsupportedSourceError(f"cannot read the table name near '{text[i:]}'")
        quoted, bare = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else bare)
        i = match.end()
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        break
    geometry = None
    column = re.compile(r"\s*\(([^)]*)\)").match(text, i)
    if column is not None:
        geometry = column.group(1).strip().strip('"') or None
        i = column.end()
    return ".".join(parts), geometry, i
