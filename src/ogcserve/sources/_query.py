"""What every backend does the same way around its own SQL when it reads: validating names
against the schema, coercing ids, splitting a filter between SQL and Python, the queries behind
`count` and `get`, and the Python stage (exact bbox test, residual filter, paging) that runs after
the database whenever part of a query could not be pushed down.

The write side (typing values, the insert/update/delete skeleton) is in `_transaction.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from ogcserve.errors import InvalidParameterValueError
from ogcserve.expressions import (
    ID,
    ColumnMap,
    SqlDialect,
    check_properties,
    split_sql,
    to_predicate,
)
from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, FieldType, Schema

Predicate = Callable[[Feature], bool]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which attributes a query reads from the store and which it hands back.

    `fetch` is a superset of `output` when a Python stage needs attributes the caller did not
    ask for (a residual filter may name any of them). The key's values come from the store once,
    as the ids: `stored` is `fetch` without it (the columns to select besides the key), and `key`
    names it when `fetch` does, so that its column is the ids list (see `key_column`).
    """

    fetch: tuple[str, ...]
    output: tuple[str, ...]
    fetch_geometry: bool
    output_geometry: bool
    key: str | None = None
    stored: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        schema: Schema,
        fetch: tuple[str, ...],
        output: tuple[str, ...],
        fetch_geometry: bool,
        output_geometry: bool,
    ) -> Selection:
        """A selection of `schema`'s attributes."""
        key = schema.key if schema.key in fetch else None
        stored = fetch if key is None else tuple(n for n in fetch if n != key)
        return cls(fetch, output, fetch_geometry, output_geometry, key, stored)

    def columns(self, ids: list[Any], stored: Sequence[list[Any]]) -> dict[str, list[Any]]:
        """The batch columns in `fetch` order, from the ids and the `stored` columns' values."""
        if self.key is None:
            return dict(zip(self.stored, stored, strict=True))
        values = iter(stored)
        return {name: ids if name == self.key else next(values) for name in self.fetch}


def output_fields(schema: Schema, query: FeatureQuery) -> tuple[str, ...]:
    """The attributes `query` asks for, in schema order; unknown names are a client error."""
    names = schema.field_names()
    if query.properties is None:
        return tuple(names)
    known = set(names)
    wanted = set()
    for name in query.properties:
        if name in known:
            wanted.add(name)
        elif name != schema.geometry_field:  # delivered on its own; naming it is no error
            raise InvalidParameterValueError(f"Unknown property {name!r}", locator="properties")
    return tuple(n for n in names if n in wanted)


def selection(
    schema: Schema, query: FeatureQuery, predicate: bool, bbox_in_store: bool = False
) -> Selection:
    """What to read for `query`: a residual `predicate` may name any attribute and the geometry,
    so it reads them all; an exact bbox test needs the geometry even when none is returned,
    unless the store makes it (`bbox_in_store`: PostGIS's ST_Intersects)."""
    output = output_fields(schema, query)
    has_geometry = schema.geometry_field is not None
    out_geom = has_geometry and query.with_geometry
    tested = query.bbox is not None and not bbox_in_store
    fetch_geom = has_geometry and (out_geom or predicate or tested)
    fetch = tuple(schema.field_names()) if predicate else output
    return Selection.of(schema, fetch, output, fetch_geom, out_geom)


def count_selection(schema: Schema, query: FeatureQuery, predicate: bool) -> Selection:
    """What a count that runs through the Python stage reads: only what the tests need."""
    has_geometry = schema.geometry_field is not None
    fetch_geom = has_geometry and (predicate or query.bbox is not None)
    fetch = tuple(schema.field_names()) if predicate else ()
    return Selection.of(schema, fetch, (), fetch_geom, False)


def check_sort(schema: Schema, query: FeatureQuery) -> None:
    """Sorting is only allowed on attributes (the key is one): the names end up as SQL
    identifiers."""
    allowed = set(schema.field_names())
    for key in query.sort:
        if key.name not in allowed:
            raise InvalidParameterValueError(f"Cannot sort on {key.name!r}", locator="sortBy")


def coerce_id(value: Any, key_type: FieldType) -> Any | None:
    """An id as the store's key type, or None when it cannot be one (so it matches nothing).

    Ids often arrive as strings from URLs and XML; comparing '12' with an integer key would
    silently match nothing (or fail in PostgreSQL), so they are converted here.
    """
    if key_type is FieldType.INTEGER:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            return None
    if key_type is FieldType.TEXT:
        return str(value)
    return value


def coerce_ids(values: Iterable[Any], key_type: FieldType) -> list[Any]:
    """`coerce_id` over many ids, dropping those that cannot match."""
    out = []
    for v in values:
        c = coerce_id(v, key_type)
        if c is not None:
            out.append(c)
    return out


@dataclass(frozen=True, slots=True)
class FilterPlan:
    """A filter split between the database (`sql`, `params`) and Python (`predicate`)."""

    sql: str | None
    params: tuple[Any, ...]
    predicate: Predicate | None


def plan_filter(
    expression: Any | None,
    names: Sequence[str],
    dialect: str | None,
    columns: dict[str, str],
    id_column: str,
    geometry_column: str | None,
    srid: int | None,
    schema: Schema | None = None,
) -> FilterPlan:
    """Check a filter's property names (`names`: attributes and the geometry field), push what
    translates into SQL for `dialect` ("sqlite",
    "postgresql"; None: no SQL at all) and compile the rest into a Python predicate. With the
    `schema`, operations on values of different types stay in Python, as every engine would
    otherwise answer them its own way (PostgreSQL by failing the query).
    """
    if expression is None:
        return FilterPlan(None, (), None)
    check_properties(expression, list(names))
    if dialect is None:
        return FilterPlan(None, (), to_predicate(expression))
    types: dict[str, str] = {}
    if schema is not None:
        types = {f.name: str(f.type) for f in schema.fields}
        types[ID] = types.get(schema.key, "")
    colmap = ColumnMap(columns, id_column, geometry_column, srid, types)
    sql_dialect = SqlDialect.SQLITE if dialect == "sqlite" else SqlDialect.POSTGRESQL
    fragment, residual = split_sql(expression, sql_dialect, colmap)
    predicate = to_predicate(residual) if residual is not None else None
    if fragment is None:
        return FilterPlan(None, (), predicate)
    return FilterPlan(fragment.sql, tuple(fragment.params), predicate)


def plan_query(
    schema: Schema, query: FeatureQuery, dialect: str, quote: Callable[[str], str], srid: int
) -> FilterPlan:
    """`plan_filter` for a SQL table whose columns are `schema`'s names, quoted by `quote` (the
    sort keys checked first: they end up as identifiers too)."""
    check_sort(schema, query)
    if query.filter is None:  # nothing to translate: no names to quote (~30 µs a read)
        return FilterPlan(None, (), None)
    names = schema.field_names()
    geometry = schema.geometry_field
    return plan_filter(
        query.filter,
        [*names, *([geometry] if geometry else [])],
        dialect,
        {n: quote(n) for n in names},
        quote(schema.key),
        quote(geometry) if geometry else None,
        srid,
        schema,
    )


class FilterPlans:
    """`plan_query` for one source, keeping the plan of each filter it was asked with.

    An access rule (the project's `filter`, an access-control plugin's expression) reaches the
    source as the same `Expression` object on every request (`ogcserve.access.layer` parses
    each text once), and translating it took ~20 us a read (every column name quoted, the
    tree walked): docs/performance.md, PostGIS, seventh pass. A plan is kept by the filter's
    identity and the schema's, both held by the entry (so neither id can be reused while it
    is kept), never by text: what a filter means is its tree. A new filter of each request
    (a request's own FILTER, combined with a rule) is planned each time, as before; the
    entries are dropped all at once when `size` are kept.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._plans: dict[int, tuple[object, Schema, FilterPlan]] = {}

    def plan(
        self,
        schema: Schema,
        query: FeatureQuery,
        dialect: str,
        quote: Callable[[str], str],
        srid: int,
    ) -> FilterPlan:
        """`plan_query(schema, query, dialect, quote, srid)`, the same plan for the same filter."""
        expression = query.filter
        if expression is None:
            return plan_query(schema, query, dialect, quote, srid)
        found = self._plans.get(id(expression))
        if found is not None and found[0] is expression and found[1] is schema:
            check_sort(schema, query)  # (the sort is the request's own; plan_query checks it)
            return found[2]
        plan = plan_query(schema, query, dialect, quote, srid)
        if len(self._plans) >= self.size:
            self._plans = {}
        self._plans[id(expression)] = (expression, schema, plan)
        return plan


def unpaged(query: FeatureQuery) -> FeatureQuery:
    """What `count` matches of `query`: its bbox, filters and ids, without paging or output."""
    return FeatureQuery(bbox=query.bbox, filter=query.filter, subsets=query.subsets, ids=query.ids)


def keys_only(query: FeatureQuery) -> FeatureQuery:
    """`query` reading nothing but the key: which rows it matches."""
    return replace(query, properties=(), with_geometry=False, wkb=False)


def by_id(fid: Any, query: FeatureQuery | None = None) -> FeatureQuery:
    """The read behind every `get`: the feature `fid`, if `query`'s filters let it through."""
    base = query or FeatureQuery()
    return FeatureQuery(
        bbox=base.bbox,
        filter=base.filter,
        subsets=base.subsets,
        properties=base.properties,
        with_geometry=base.with_geometry,
        ids=(fid,),
        limit=1,
    )


def refine(
    batches: Iterator[FeatureBatch],
    sel: Selection,
    bbox: BBox | None,
    predicate: Predicate | None,
    offset: int,
    limit: int | None,
) -> Iterator[FeatureBatch]:
    """The Python stage: exact bbox intersection, residual filter, then offset/limit, which can
    only be applied to rows that passed every test.

    `batches` must carry every attribute in `sel.fetch` and the geometry when `sel.fetch_geometry`.
    The upstream iterator is closed as soon as the limit is reached (or this generator is
    abandoned), so that database cursors and pooled connections go back promptly.
    """
    box = shapely.box(*bbox) if bbox is not None else None
    if box is not None:
        shapely.prepare(box)
    to_skip = max(offset, 0)
    remaining = limit
    try:
        if remaining is not None and remaining <= 0:
            return
        for batch in batches:
            n = len(batch)
            if n == 0:
                continue
            mask = np.ones(n, dtype=bool)
            if box is not None and batch.geometries is not None:
                mask &= shapely.intersects(box, batch.geometries)
            if predicate is not None:
                names = list(batch.columns)
                cols = [batch.columns[c] for c in names]
                geoms = batch.geometries
                for i in np.flatnonzero(mask):
                    feature = Feature(
                        batch.ids[i],
                        None if geoms is None else geoms[i],
                        {c: col[i] for c, col in zip(names, cols, strict=True)},
                    )
                    mask[i] = bool(predicate(feature))
            index = np.flatnonzero(mask)
            if to_skip:
                skipped = min(to_skip, len(index))
                index = index[skipped:]
                to_skip -= skipped
            if remaining is not None:
                index = index[:remaining]
                remaining -= len(index)
            if len(index):
                yield take(batch, index, sel)
            if remaining is not None and remaining <= 0:
                return
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def take(batch: FeatureBatch, index: npt.NDArray[np.intp], sel: Selection) -> FeatureBatch:
    """The rows `index` of `batch`, reduced to the selection's output."""
    whole = len(index) == len(batch)
    ids = batch.ids if whole else [batch.ids[i] for i in index]
    geoms = wkb = None
    if sel.output_geometry and batch.geometries is not None:
        geoms = batch.geometries if whole else batch.geometries[index]
    if sel.output_geometry and batch.wkb is not None:
        wkb = batch.wkb if whole else batch.wkb.take(index)
    columns = {}
    for name in sel.output:
        col = batch.columns[name]
        columns[name] = col if whole else ids if name == sel.key else [col[i] for i in index]
    return FeatureBatch(ids, geoms, columns, wkb)


def first_feature(batches: Iterator[FeatureBatch]) -> Feature | None:
    """The first feature of a result, closing the stream right after."""
    try:
        for batch in batches:
            for feature in batch.rows():
                return feature
        return None
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
