"""The access layer's source cache: the one place that opens sources, once per project layer,
and what is shared between them (the guards of their databases: `sources/pg_databases.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ogcserve.coverages import CoverageInfo
from ogcserve.features import Schema
from ogcserve.sources import SourceLimits, SourceUnreachableError, expand_env, open_source
from ogcserve.sources.base import CoverageSource, FeatureSource
from ogcserve.sources.limits import SourceDownError
from ogcserve.sources.pg_databases import Databases
from ogcserve.sources.specs import PostGISSpec, SourceSpec

if TYPE_CHECKING:
    from ogcserve.projects.model import Project

# Keyed by project folder, source and the layer's `key` (which decides the ids).
SourceKey = tuple[Path, SourceSpec, str | None]

log = logging.getLogger("ogcserve.access")


class SourceCache:
    """The open sources of a server's projects, and the database guards they share."""

    def __init__(self, limits: SourceLimits | None = None) -> None:
        self._limits = limits
        # One per database a source uses: a database found down fails fast for all its layers.
        self._databases = Databases(limits)
        self._sources: dict[SourceKey, FeatureSource | CoverageSource] = {}
        self._lock = threading.Lock()

    def get(self, key: SourceKey) -> FeatureSource | CoverageSource:
        """The source of `key`, opened on first use."""
        source = self._sources.get(key)
        if source is None:
            with self._lock:
                source = self._sources.get(key)
                if source is None:
                    base_dir, spec, layer_key = key
                    source = self._open(spec, base_dir, layer_key)
                    self._sources[key] = source
        return source

    def _open(
        self, spec: SourceSpec, base_dir: Path, key: str | None
    ) -> FeatureSource | CoverageSource:
        return open_source(spec, base_dir, key, self._limits, self._databases)

    def check(
        self, spec: SourceSpec, base_dir: Path, key: str | None = None
    ) -> Schema | CoverageInfo:
        """Open a source, read its schema (vector) or description (raster) and close it.
        Raises if it cannot be opened."""
        source = self._open(spec, base_dir, key)
        try:
            if isinstance(source, CoverageSource):
                return source.info()
            return source.schema()
        except SourceDownError as error:
            # The operator is told which database and why; a client never is.
            raise SourceUnreachableError(error.detail or error.message) from None
        finally:
            source.close()

    def pool_stats(self) -> dict[str, dict[str, int]]:
        """The connection pools of the open database sources by table, added up over the
        layers that read the same table (for the metrics)."""
        totals: dict[str, dict[str, int]] = {}
        for (_, spec, _), source in list(self._sources.items()):
            stats = getattr(source, "pool_stats", None)
            if not isinstance(spec, PostGISSpec) or stats is None:
                continue
            total = totals.setdefault(spec.table, {})
            for name, value in stats().items():
                total[name] = total.get(name, 0) + value
        return totals

    def release(self, base_dir: Path) -> list[SourceKey]:
        """Close the sources of the project in `base_dir`; returns their keys."""
        with self._lock:
            keys = [k for k in self._sources if k[0] == base_dir]
            sources = [self._sources.pop(k) for k in keys]
        for source in sources:
            source.close()
        return keys

    def close(self) -> None:
        """Close every source."""
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.close()


def unreachable_databases(projects: Iterable[Project], timeout: float) -> dict[str, list[str]]:
    """The databases of `projects`' layers that do not accept a connection now (each probed
    once, `timeout` seconds at most), with the layers (`project/layer`) they serve."""
    from ogcserve.sources.pg_connections import probe
    from ogcserve.sources.pg_errors import describe

    layers: dict[str, list[str]] = {}
    for project in projects:
        for layer in project.walk():
            if isinstance(layer.source, PostGISSpec):
                dsn = expand_env(layer.source.dsn)
                layers.setdefault(dsn, []).append(f"{project.name}/{layer.name}")
    return {describe(dsn): names for dsn, names in layers.items() if not probe(dsn, timeout)}
