"""Data backends: `open_source` turns a project's source spec into a `FeatureSource` or a
`CoverageSource`. Backend modules are imported on demand, so importing this package opens
nothing and loads neither psycopg nor rasterio.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING

from ogcserve.sources.base import (
    ConstraintError,
    CoverageSource,
    FeatureSource,
    ReadOnlySourceError,
    SourceError,
    SourceUnavailableError,
    SourceUnreachableError,
    Transaction,
)
from ogcserve.sources.limits import SourceLimits
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, PostGISSpec, RasterSpec, SourceSpec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ogcserve.sources.pg_databases import Databases

__all__ = [
    "ConstraintError",
    "CoverageSource",
    "FeatureSource",
    "ReadOnlySourceError",
    "SourceError",
    "SourceLimits",
    "SourceSpec",
    "SourceUnavailableError",
    "SourceUnreachableError",
    "Transaction",
    "expand_env",
    "open_source",
]


def expand_env(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`${NAME}` replaced by the environment variable NAME; an unset variable is an error
    (a DSN with an empty password would fail later with a far less helpful message)."""
    env = os.environ if environ is None else environ
    out: list[str] = []
    pos = 0
    while (start := text.find("${", pos)) >= 0:
        end = text.find("}", start + 2)
        if end < 0:
            break
        name = text[start + 2 : end]
        if name not in env:
            raise SourceUnavailableError(f"Environment variable {name!r} is not set")
        out.append(text[pos:start])
        out.append(env[name])
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _resolve(path: str, base_dir: pathlib.Path) -> pathlib.Path:
    p = pathlib.Path(os.path.expanduser(path))
    return p if p.is_absolute() else base_dir / p


def open_source(
    spec: SourceSpec,
    base_dir: pathlib.Path,
    key: str | None = None,
    limits: SourceLimits | None = None,
    databases: Databases | None = None,
) -> FeatureSource | CoverageSource:
    """Open the source `spec` names (relative paths are relative to `base_dir`, the project
    file's folder). `key` is the layer's `key`: the attribute whose values are the feature ids
    (default: the source's primary key). Raises `SourceUnavailableError` when the file, table
    or key column is not there. PostGIS sources connect on first use, under their circuit
    breaker and `limits`, so that a database that is down costs each request a bounded wait at
    most (`ogcserve check`, the server's project checks and `AccessLayer.check_source`
    introspect them at once). Sources opened with the same `databases` share the breaker of
    each database (`pg_databases.py`): one that is found down fails fast for all its tables.
    """
    if isinstance(spec, GeoPackageSpec):
        from ogcserve.sources.geopackage import GeoPackageSource

        return GeoPackageSource(_resolve(spec.path, base_dir), spec.table, key)
    if isinstance(spec, OGRSpec):
        from ogcserve.sources.ogr import OGRSource

        return OGRSource(_resolve(spec.path, base_dir), spec.layer, key)
    if isinstance(spec, RasterSpec):
        if key is not None:
            raise SourceUnavailableError("A raster layer has no key")
        from ogcserve.sources.raster import RasterSource

        return RasterSource(_resolve(spec.path, base_dir))
    if isinstance(spec, PostGISSpec):
        from ogcserve.sources.postgis import PostGISSource

        if key is not None and spec.key is not None and key != spec.key:
            raise SourceUnavailableError(
                f"The layer's key {key!r} and its source's key {spec.key!r} differ: give one"
            )
        dsn = expand_env(spec.dsn)
        return PostGISSource(
            dsn,
            spec.table,
            geometry=spec.geometry,
            key=key or spec.key,
            pool_size=spec.pool_size,
            limits=limits,
            database=None if databases is None else databases.guard(dsn),
        )
    raise SourceUnavailableError(f"Unknown source type {type(spec).__name__}")
