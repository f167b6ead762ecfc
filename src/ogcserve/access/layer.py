"""The access layer: every read and write of layer data, by every service, passes through here.

It opens the sources (nothing else in the package may), and before any feature leaves a source
it applies, for the caller of the current request:
  read permission -> the layer's own filter AND every plugin expression AND the request's filter
  (pushed into SQL where they translate) -> plugin subset strings (SQL) -> the attribute list
  (project exclusions, then each plugin in turn).
A request may only name attributes the caller can see: a hidden attribute in a filter, a sort
key or a property list is an unknown property, so its values cannot be probed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import TypeIs

from ogcserve.access.editor import Editor
from ogcserve.access.events import Edit, EditEvents
from ogcserve.access.read import Read, check_read
from ogcserve.access.sources import SourceCache, SourceKey, unreachable_databases
from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.errors import (
    FilterError,
    InvalidParameterValueError,
    LayerNotDefinedError,
    NotFoundError,
    SecurityError,
)
from ogcserve.expressions import Expression, check_properties, conjunction, parse
from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, Schema
from ogcserve.geo import read_window
from ogcserve.plugins.access import LayerPermissions
from ogcserve.sources import SourceLimits, SourceUnreachableError
from ogcserve.sources.base import CoverageSource, FeatureSource
from ogcserve.sources.specs import SourceSpec

if TYPE_CHECKING:
    import numpy.typing as npt

    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project

log = logging.getLogger("ogcserve.access")


class AccessLayer:
    """Opens sources once per project layer and answers reads and writes under access rules."""

    def __init__(
        self, *, max_features: int = 1_000_000, limits: SourceLimits | None = None
    ) -> None:
        self.max_features = max_features
        self._sources = SourceCache(limits)  # opened once per layer, sharing database guards
        self._schemas: dict[SourceKey, Schema] = {}
        self._coverage_classes: dict[type, bool] = {}
        self.edited = EditEvents()  # committed edits, for caches (the tile cache subscribes)

    # --- layers -------------------------------------------------------------------------

    def readable_layers(self, ctx: RequestContext, project: Project) -> list[Layer]:
        """The layer tree as the caller may see it: unreadable layers and emptied groups vanish."""
        return [kept for kept in (self._prune(ctx, layer) for layer in project.layers) if kept]

    def layer(self, ctx: RequestContext, project: Project, name: str) -> Layer:
        """The layer called `name`: LayerNotDefined if absent, Security (403) if not readable."""
        layer = project.layer(name)
        if layer is None:
            raise LayerNotDefinedError.named(name)
        self._require(ctx, layer, "can_read")
        return layer

    def readable_layer(self, ctx: RequestContext, project: Project, name: str) -> Layer:
        """The layer or group `name` as the caller may see it: a group pruned to its readable
        members. As `layer`, except that a group none of whose members the caller may read is
        LayerNotDefined, word for word as a name that does not exist (its existence stays
        hidden, as in the capabilities)."""
        layer = self.layer(ctx, project, name)
        pruned = self._prune(ctx, layer)
        if pruned is None:
            raise LayerNotDefinedError.named(name)
        return pruned

    def permissions(self, ctx: RequestContext, layer: Layer) -> LayerPermissions:
        """The combined permissions of the caller on `layer`."""
        return ctx.access.permissions(layer)

    def schema(self, ctx: RequestContext, layer: Layer) -> Schema:
        """The layer's schema with only the attributes the caller may see."""
        self._require(ctx, layer, "can_read")
        schema = self._schema(ctx, layer)
        visible = set(self.visible_fields(ctx, layer))
        return replace(schema, fields=tuple(f for f in schema.fields if f.name in visible))

    def visible_fields(self, ctx: RequestContext, layer: Layer) -> tuple[str, ...]:
        """Attribute names the caller may see, in schema order."""
        if layer.is_group or layer.is_raster:
            return ()
        return ctx.access.attributes(layer, self._schema(ctx, layer).field_names())

    def hidden_fields(self, ctx: RequestContext, layer: Layer) -> frozenset[str]:
        """Attribute names of the source the caller may not see (styles and legends leave out
        what reads them)."""
        return frozenset(self._field_names(ctx, layer)) - set(self.visible_fields(ctx, layer))

    def source_fields(self, ctx: RequestContext, layer: Layer) -> tuple[str, ...]:
        """Every attribute name of the source, unfiltered: for access-control plugins' own
        decisions (they may ask while their rights are being computed), never for output."""
        return tuple(self._field_names(ctx, layer))

    def crs(self, ctx: RequestContext, layer: Layer) -> str:
        """The native CRS of a layer (not access-controlled: it is in every capabilities)."""
        source = self._source(ctx, layer)
        return source.info().crs if self._is_coverage(source) else source.crs()

    def extent(self, ctx: RequestContext, layer: Layer) -> BBox | None:
        """The native extent of a layer (of all its rows: extents are public metadata)."""
        source = self._source(ctx, layer)
        return source.info().extent if self._is_coverage(source) else source.extent()

    # --- reads --------------------------------------------------------------------------

    def features(self, ctx: RequestContext, layer: Layer, read: Read) -> Iterator[FeatureBatch]:
        """Stream the features the caller may see, with only the attributes they may see."""
        source, query, visible = self._plan(ctx, layer, read)
        keep = set(visible)
        batches = source.query(query)
        if ctx.tally is not None:  # counted and timed for the metrics, per layer
            batches = ctx.tally.timed(layer.name, batches)
        for batch in batches:
            ctx.deadline.check()  # every read, by every service, stops here when it must
            if any(name not in keep for name in batch.columns):
                batch.columns = {k: v for k, v in batch.columns.items() if k in keep}
            yield batch

    def count(self, ctx: RequestContext, layer: Layer, read: Read, paged: bool = False) -> int:
        """How many features of `read` the caller may see (limit and offset ignored); with
        `paged`, how many of them `read`'s offset and limit select: the size of the page
        `features` would stream, under the same rules and subset strings."""
        source, query, _ = self._plan(ctx, layer, read)
        return source.count(query, paged)

    def get(self, ctx: RequestContext, layer: Layer, fid: Any) -> Feature | None:
        """One feature by id, or None if it does not exist for the caller."""
        source, query, visible = self._plan(ctx, layer, Read())
        started = time.perf_counter()
        feature = source.get(fid, query)
        if ctx.tally is not None:
            ctx.tally.layer_read(
                layer.name, int(feature is not None), time.perf_counter() - started
            )
        if feature is not None:
            feature.properties = {k: v for k, v in feature.properties.items() if k in visible}
        return feature

    def coverage_info(self, ctx: RequestContext, layer: Layer) -> CoverageInfo:
        """CRS, extent, size and bands of a raster layer the caller may read."""
        return self._coverage(ctx, layer).info()

    def coverage(
        self, ctx: RequestContext, layer: Layer, request: CoverageRequest
    ) -> npt.NDArray[Any]:
        """A window of a raster layer the caller may read."""
        source = self._coverage(ctx, layer)
        ctx.deadline.check()
        return source.read(request, ctx.deadline.check)

    def fingerprint(self, ctx: RequestContext, project: Project) -> str:
        """A digest of the caller's rights on `project`: cache entries are keyed on it."""
        return ctx.access.fingerprint(
            (str(project.path), project.mtime),
            project.walk(),
            lambda layer: self._field_names(ctx, layer),
        )

    # --- writes -------------------------------------------------------------------------

    @contextmanager
    def edit(self, ctx: RequestContext, layer: Layer) -> Iterator[Editor]:
        """A write session in one source transaction: any exception leaves no change at all."""
        self._require(ctx, layer, "can_read")
        source = self._feature_source(ctx, layer)
        _, query, visible = self._plan(ctx, layer, Read())
        schema = self._schema(ctx, layer)
        with source.transaction() as transaction:
            editor = Editor(ctx, layer, source, transaction, query, visible, schema)
            yield editor
        if editor.extents:  # committed: caches of what it touched are told
            crs = self.crs(ctx, layer)
            self.edited.emit(Edit(_project(ctx), layer, crs, tuple(editor.extents)))

    # --- sources ------------------------------------------------------------------------

    def check_source(
        self, spec: SourceSpec, base_dir: Path, key: str | None = None
    ) -> Schema | CoverageInfo:
        """Open a source, read its schema (vector) or description (raster) and close it: how
        projects are checked when they load (`ogcserve check`, the server). Raises if it
        cannot be opened."""
        return self._sources.check(spec, base_dir, key)

    def check_source_if_reachable(
        self, spec: SourceSpec, base_dir: Path, key: str | None = None
    ) -> Schema | CoverageInfo | None:
        """`check_source` as the server loads projects: a database that cannot be reached now
        is logged and gives None (nothing to check the layer's field names against), so that
        the server starts and serves everything else; the layer answers 503 until the database
        is back. `ogcserve check` uses `check_source`, which reports it."""
        try:
            return self.check_source(spec, base_dir, key)
        except SourceUnreachableError as error:
            log.warning(
                "a source cannot be reached now; its layers answer 503 until it can: %s",
                error.message,
            )
            return None

    def pool_stats(self) -> dict[str, dict[str, int]]:
        """The connection pools of the open database sources by table, added up over the
        layers that read the same table (for the metrics)."""
        return self._sources.pool_stats()

    def unreachable_databases(
        self, projects: Iterable[Project], timeout: float
    ) -> dict[str, list[str]]:
        """The databases of `projects`' layers that do not accept a connection now (each probed
        once, `timeout` seconds at most), with the layers (`project/layer`) they serve."""
        return unreachable_databases(projects, timeout)

    def release(self, project: Project) -> None:
        """Close the sources of a project (its file changed or the server stops)."""
        for key in self._sources.release(project.base_dir):
            self._schemas.pop(key, None)

    def close(self) -> None:
        """Close every source."""
        self._sources.close()
        self._schemas.clear()

    def _source(self, ctx: RequestContext, layer: Layer) -> FeatureSource | CoverageSource:
        if layer.source is None:
            raise LayerNotDefinedError(
                f"{layer.name!r} is a group, it has no data", locator=layer.name
            )
        return self._sources.get((_project(ctx).base_dir, layer.source, layer.key))

    def _is_coverage(self, source: object) -> TypeIs[CoverageSource]:
        """Whether a source is a raster. An isinstance check on a Protocol walks its members
        each time (10 µs, several times a request): the answer is kept per class."""
        kind = type(source)
        found = self._coverage_classes.get(kind)
        if found is None:
            found = self._coverage_classes[kind] = isinstance(source, CoverageSource)
        return found

    def _feature_source(self, ctx: RequestContext, layer: Layer) -> FeatureSource:
        source = self._source(ctx, layer)
        if self._is_coverage(source):
            raise InvalidParameterValueError(
                f"{layer.name!r} is a raster layer", locator=layer.name
            )
        return source

    def _coverage(self, ctx: RequestContext, layer: Layer) -> CoverageSource:
        self._require(ctx, layer, "can_read")
        source = self._source(ctx, layer)
        if not self._is_coverage(source):
            raise InvalidParameterValueError(
                f"{layer.name!r} is a vector layer", locator=layer.name
            )
        return source

    def _schema(self, ctx: RequestContext, layer: Layer) -> Schema:
        assert layer.source is not None
        key = (_project(ctx).base_dir, layer.source, layer.key)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = self._feature_source(ctx, layer).schema()
        return schema

    def _field_names(self, ctx: RequestContext, layer: Layer) -> list[str]:
        if layer.is_group or layer.is_raster:
            return []
        return self._schema(ctx, layer).field_names()

    def _prune(self, ctx: RequestContext, layer: Layer) -> Layer | None:
        """`layer` without what the caller may not read; None if nothing of it is left."""
        if not ctx.access.permissions(layer).can_read:
            return None
        if not layer.is_group:
            return layer
        children = tuple(c for c in (self._prune(ctx, child) for child in layer.children) if c)
        return replace(layer, children=children) if children else None

    def _require(self, ctx: RequestContext, layer: Layer, permission: str) -> None:
        if not getattr(ctx.access.permissions(layer), permission):
            what = permission.removeprefix("can_")
            raise SecurityError(f"You may not {what} the layer {layer.name!r}", locator=layer.name)

    def _plan(
        self, ctx: RequestContext, layer: Layer, read: Read
    ) -> tuple[FeatureSource, FeatureQuery, tuple[str, ...]]:
        """Merge the caller's rights and the request into one query for the source."""
        self._require(ctx, layer, "can_read")
        source = self._feature_source(ctx, layer)
        visible = self.visible_fields(ctx, layer)
        allowed = (*visible, "$id")
        if read.filter is not None:
            # Spatial predicates name the geometry column, which is not an attribute.
            geometry = self._schema(ctx, layer).geometry_field
            check_properties(read.filter, (*allowed, *([geometry] if geometry else [])))
        properties = tuple(visible) if read.properties is None else tuple(read.properties)
        check_read(read, allowed, properties)
        # An explicit count is capped at the server's maximum (as WFS servers do); no count
        # means every row: services that must bound their answer say so with a limit.
        limit = None if read.limit is None else min(read.limit, self.max_features)
        rules = [_parse_rule(text) for text in ctx.access.expressions(layer)]
        key_field = self._schema(ctx, layer).key
        bbox, ids = read.bbox, None if read.ids is None else tuple(read.ids)
        if bbox is not None and read.bbox_crs is not None:
            try:
                bbox = read_window(bbox, read.bbox_crs, self.crs(ctx, layer))
            except ValueError:
                ids = ()  # the bbox lies where the layer's CRS is not defined: nothing there
        query = FeatureQuery(
            bbox=bbox,
            filter=conjunction([*rules, read.filter]),
            subsets=ctx.access.subset_strings(layer),
            properties=tuple(p for p in properties if p != "$id"),
            # "$id" is how requests name the key; the source sorts on the key column.
            sort=tuple(replace(k, name=key_field) if k.name == "$id" else k for k in read.sort),
            limit=limit,
            offset=read.offset,
            with_geometry=read.with_geometry,
            ids=ids,
            exact=read.exact,
            wkb=read.wkb,
            pixel_size=read.pixel_size,
            tiny_lines=read.tiny_lines,
        )
        return source, query, visible


def _project(ctx: RequestContext) -> Project:
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project


@lru_cache(maxsize=1024)
def _parse_rule(text: str) -> Expression:
    # Rules come from the project and from plugins: CQL2 text, or the QGIS-expression subset
    # that QGIS Server plugins write ("field" = 'value'). Parsed once per distinct text.
    try:
        return parse(text, "cql2-text")
    except FilterError:
        return parse(text, "qgis")
