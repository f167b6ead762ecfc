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
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import TypeIs

from ogcserve.access.events import Edit, EditEvents
from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.errors import (
    FilterError,
    InvalidParameterValueError,
    LayerNotDefinedError,
    NotFoundError,
    SecurityError,
)
from ogcserve.expressions import Expression, check_properties, conjunction, parse, to_predicate
from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, Schema, SortKey
from ogcserve.geo import read_window
from ogcserve.plugins.access import LayerPermissions
from ogcserve.sources import SourceLimits, SourceUnreachableError, open_source
from ogcserve.sources._transaction import coerce_value
from ogcserve.sources.base import ConstraintError, CoverageSource, FeatureSource, Transaction
from ogcserve.sources.limits import SourceDownError
from ogcserve.sources.specs import SourceSpec

if TYPE_CHECKING:
    import numpy.typing as npt

    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project

_SourceKey = tuple[Path, SourceSpec, str | None]

# Offsets beyond this are refused: no table is that long, and SQLite/PostgreSQL integers
# overflow at 2**63.
MAX_OFFSET = 2**53

log = logging.getLogger("ogcserve.access")


@dataclass(frozen=True, slots=True)
class ReadParameters:
    """The request parameters a `Read`'s values came from, named in the errors the access
    layer raises about them (`SORTBY` in WFS, `sortby` in OGC API). The access layer itself
    knows no protocol."""

    sort: str = "sortby"
    properties: str = "properties"
    limit: str = "limit"
    offset: str = "offset"


@dataclass(frozen=True, slots=True)
class Read:
    """What a service asks for; the access layer turns it into a `FeatureQuery`."""

    bbox: BBox | None = None
    bbox_crs: str | None = None  # None: the layer's own CRS
    filter: Expression | None = None  # the request's own filter (FILTER=, CQL2, FES)
    properties: Sequence[str] | None = None  # None: every visible attribute
    sort: Sequence[SortKey] = ()
    limit: int | None = None
    offset: int = 0
    ids: Sequence[Any] | None = None
    with_geometry: bool = True
    # For drawing (see `FeatureQuery`): envelopes may stand for shapes against the bbox, and
    # geometries may come as WKB (`FeatureBatch.wkb`).
    exact: bool = True
    wkb: bool = False
    parameters: ReadParameters = ReadParameters()


class AccessLayer:
    """Opens sources once per project layer and answers reads and writes under access rules."""

    def __init__(
        self, *, max_features: int = 1_000_000, limits: SourceLimits | None = None
    ) -> None:
        self.max_features = max_features
        self._limits = limits
        # Keyed by project folder, source and the layer's `key` (which decides the ids).
        self._sources: dict[_SourceKey, FeatureSource | CoverageSource] = {}
        self._schemas: dict[_SourceKey, Schema] = {}
        self._lock = threading.Lock()
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
        for batch in source.query(query):
            ctx.deadline.check()  # every read, by every service, stops here when it must
            if any(name not in keep for name in batch.columns):
                batch.columns = {k: v for k, v in batch.columns.items() if k in keep}
            yield batch

    def count(self, ctx: RequestContext, layer: Layer, read: Read) -> int:
        """How many features of `read` the caller may see (limit and offset ignored)."""
        source, query, _ = self._plan(ctx, layer, read)
        return source.count(query)

    def get(self, ctx: RequestContext, layer: Layer, fid: Any) -> Feature | None:
        """One feature by id, or None if it does not exist for the caller."""
        source, query, visible = self._plan(ctx, layer, Read())
        feature = source.get(fid, query)
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
        return source.read(request)

    def fingerprint(self, ctx: RequestContext, project: Project) -> str:
        """A digest of the caller's rights on `project`: cache entries are keyed on it."""
        return ctx.access.fingerprint(project.walk(), lambda layer: self._field_names(ctx, layer))

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
        source = open_source(spec, base_dir, key, self._limits)
        try:
            return source.info() if self._is_coverage(source) else source.schema()
        except SourceDownError as error:
            # The operator is told which database and why; a client never is.
            raise SourceUnreachableError(error.detail or error.message) from None
        finally:
            source.close()

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

    def release(self, project: Project) -> None:
        """Close the sources of a project (its file changed or the server stops)."""
        with self._lock:
            keys = [k for k in self._sources if k[0] == project.base_dir]
            sources = [self._sources.pop(k) for k in keys]
            for k in keys:
                self._schemas.pop(k, None)
        for source in sources:
            source.close()

    def close(self) -> None:
        """Close every source."""
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
            self._schemas.clear()
        for source in sources:
            source.close()

    def _source(self, ctx: RequestContext, layer: Layer) -> FeatureSource | CoverageSource:
        if layer.source is None:
            raise LayerNotDefinedError(
                f"{layer.name!r} is a group, it has no data", locator=layer.name
            )
        key = (_project(ctx).base_dir, layer.source, layer.key)
        source = self._sources.get(key)
        if source is None:
            with self._lock:
                source = self._sources.get(key)
                if source is None:
                    source = open_source(layer.source, key[0], layer.key, self._limits)
                    self._sources[key] = source
        return source

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
        names = read.parameters
        for key in read.sort:
            _require_known(key.name, allowed, names.sort)
        properties = tuple(visible) if read.properties is None else tuple(read.properties)
        for name in properties:
            _require_known(name, allowed, names.properties)
        if read.limit is not None and read.limit < 0:
            raise InvalidParameterValueError(
                f"A limit of {read.limit} is not valid", locator=names.limit
            )
        if not 0 <= read.offset <= MAX_OFFSET:
            raise InvalidParameterValueError(
                f"An offset of {read.offset} is not valid", locator=names.offset
            )
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
        )
        return source, query, visible


class Editor:
    """Writes to one layer inside one transaction, each checked against the caller's rights.

    The key is an attribute to clients (they read it, and send it back): given in an insert it
    becomes the new feature's id (omitted or empty, the source generates one) — unless row
    rules on more than the key hide rows from the caller, whom a duplicate would tell that a
    hidden row has that key; given in an update it must keep its value, as QGIS refuses to
    change a feature's id. Features are judged (row rules, `allow_to_edit`) with their values
    typed as the source types them, the key included, since clients send text.
    """

    def __init__(
        self,
        ctx: RequestContext,
        layer: Layer,
        source: FeatureSource,
        transaction: Transaction,
        query: FeatureQuery,
        visible: tuple[str, ...],
        schema: Schema,
    ) -> None:
        self._ctx, self._layer, self._source = ctx, layer, source
        self._tx, self._query, self._visible = transaction, query, visible
        self._key = schema.key
        self._fields = {f.name: f for f in schema.fields}
        rows = query.filter
        self._in_rows = to_predicate(rows) if rows is not None else (lambda _: True)
        self.extents: list[BBox] = []  # of every feature changed, before and after

    def insert(self, features: Sequence[Feature]) -> list[Any]:
        """Insert features the caller may write; returns their ids."""
        self._require("can_insert")
        rows = []
        for feature in features:
            self._check_attributes(feature.properties)
            row = self._key_as_id(feature)
            if row.id is not None and self._rows_hidden_by_more_than_key():
                # A chosen key would tell, by failing as a duplicate, that a row the caller
                # cannot see has it: ids could be tried one by one. Refused whatever its value.
                # (Rules on the key alone judge the new feature as they judge that row.)
                raise InvalidParameterValueError(
                    f"The key {self._key!r} of a new feature in {self._layer.name!r} is set by "
                    "the server for you: leave it out",
                    locator=self._key,
                )
            # Judged with its key when it has one: a row filter may name the key.
            seen = row.properties if row.id is None else {**row.properties, self._key: row.id}
            self._check_editable(Feature(row.id, row.geometry, self._typed(seen)))
            rows.append(row)
            self._touch(row.geometry)
        with self._naming_columns():
            return self._tx.insert(rows)

    def update(self, fid: Any, properties: Mapping[str, Any], geometry: Any | None = None) -> None:
        """Change a feature the caller may see and edit, into one they still may."""
        self._require("can_update")
        self._check_attributes(properties)
        if self._key in properties:
            value = properties[self._key]
            if value is not None and value != "" and not _same_id(fid, value):
                raise InvalidParameterValueError(
                    f"The key {self._key!r} of feature {fid!r} cannot be changed", locator=self._key
                )
            properties = {k: v for k, v in properties.items() if k != self._key}
        before = self._visible_feature(fid)
        after = Feature(
            before.id,
            before.geometry if geometry is None else geometry,
            {**before.properties, **self._typed(properties)},
        )
        # Judge the feature as it will be written: an update may not move it out of the
        # caller's rows (QGIS re-reads it through the filter and lets it through).
        self._check_editable(after)
        with self._naming_columns():
            self._tx.update(fid, properties, geometry)
        self._touch(before.geometry)
        self._touch(after.geometry)

    def delete(self, fids: Sequence[Any]) -> int:
        """Delete features the caller may see and edit."""
        self._require("can_delete")
        gone = [self._visible_feature(fid) for fid in fids]
        with self._naming_columns():
            count = self._tx.delete(fids)
        for feature in gone:
            self._touch(feature.geometry)
        return count

    def _touch(self, geometry: Any) -> None:
        """Remember the extent of a geometry the edit changes (for caches, after the commit)."""
        bounds = getattr(geometry, "bounds", None)
        if bounds and len(bounds) == 4 and all(math.isfinite(v) for v in bounds):
            self.extents.append(tuple(bounds))

    @contextmanager
    def _naming_columns(self) -> Iterator[None]:
        """A constraint on one attribute (NOT NULL) is named to callers who may read it; to
        others the source's message stays, which names no attribute."""
        try:
            yield
        except ConstraintError as error:
            if error.column is None or error.column not in self._visible:
                raise
            raise error.relabelled(
                f"the attribute {error.column!r} needs a value (NOT NULL constraint)",
                locator=error.column,
            ) from error

    def _visible_feature(self, fid: Any) -> Feature:
        # The row filters and subset strings decide whether the caller sees the feature at all.
        if self._source.get(fid, self._query) is None:
            raise NotFoundError(f"No feature {fid!r} in {self._layer.name!r}", locator=str(fid))
        feature = self._tx.get(fid)
        if feature is None:
            raise NotFoundError(f"No feature {fid!r} in {self._layer.name!r}", locator=str(fid))
        self._check_editable(feature)
        return feature

    def _rows_hidden_by_more_than_key(self) -> bool:
        """Whether row rules (the layer's filter, plugin expressions, subset strings) may hide
        a row from the caller for something else than its key."""
        rules = self._query.filter
        names = set() if rules is None else set(rules.properties()) - {self._key, "$id"}
        return bool(self._query.subsets) or bool(names)

    def _typed(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: coerce_value(self._fields[name], value) if name in self._fields else value
            for name, value in properties.items()
        }

    def _key_as_id(self, feature: Feature) -> Feature:
        """`feature` with a key given among its attributes moved to its id."""
        if self._key not in feature.properties:
            return feature
        properties = dict(feature.properties)
        value = properties.pop(self._key)
        if value is None or value == "":
            return Feature(feature.id, feature.geometry, properties)
        if feature.id is not None and not _same_id(feature.id, value):
            raise InvalidParameterValueError(
                f"The feature's id {feature.id!r} and its key {self._key!r} ({value!r}) differ",
                locator=self._key,
            )
        return Feature(value if feature.id is None else feature.id, feature.geometry, properties)

    def _check_editable(self, feature: Feature) -> None:
        if not self._in_rows(feature) or not self._ctx.access.allow_to_edit(self._layer, feature):
            raise SecurityError(
                f"You may not edit feature {feature.id!r} of {self._layer.name!r}",
                locator=self._layer.name,
            )

    def _check_attributes(self, properties: Mapping[str, Any]) -> None:
        for name in properties:
            _require_known(name, self._visible, name)

    def _require(self, permission: str) -> None:
        if not getattr(self._ctx.access.permissions(self._layer), permission):
            what = permission.removeprefix("can_")
            raise SecurityError(
                f"You may not {what} features of {self._layer.name!r}", locator=self._layer.name
            )


def _project(ctx: RequestContext) -> Project:
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project


def _same_id(fid: Any, value: Any) -> bool:
    """Whether an id and a key value sent as text (GML has no types) are the same."""
    if fid == value:
        return True
    text = str(value).strip()
    if isinstance(fid, int) and not isinstance(fid, bool):
        digits = text.lstrip("+-")
        return digits.isascii() and digits.isdigit() and int(text) == fid
    return str(fid) == text


def _require_known(name: str, allowed: Sequence[str], locator: str) -> None:
    if name not in allowed:
        raise InvalidParameterValueError(f"Unknown property {name!r}", locator=locator)


@lru_cache(maxsize=1024)
def _parse_rule(text: str) -> Expression:
    # Rules come from the project and from plugins: CQL2 text, or the QGIS-expression subset
    # that QGIS Server plugins write ("field" = 'value'). Parsed once per distinct text.
    try:
        return parse(text, "cql2-text")
    except FilterError:
        return parse(text, "qgis")
