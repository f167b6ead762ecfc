"""The SQL of a PostGIS read, composed with `psycopg.sql` (identifiers quoted, request values
only ever as bound parameters), and `Statements`, which keeps the text of each shape of query.

A statement's text depends on the query's shape only (which terms, columns and order), not on
its values: a source composes it once per shape. Composing it with `psycopg.sql` and having
psycopg convert the result took 40-50 us of a ~700 us GetFeatureInfo
(docs/performance.md, PostGIS, fourth pass).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from ogcserve.features import FeatureQuery
from ogcserve.sources._query import FilterPlan, Selection, coerce_ids
from ogcserve.sources.pg_schema import PostGISTable

# The bbox tests: exact (a page's rows must meet the bbox), or the index's envelopes only.
_INTERSECTS = sql.SQL("ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, %s))")
_ENVELOPES = sql.SQL("{} && ST_MakeEnvelope(%s, %s, %s, %s, %s)")
# The geometries a drawing may have thinned by the database (`FeatureQuery.pixel_size`): lines
# only. ST_RemoveRepeatedPoints (PostGIS 3.3) keeps a line's ends, but merges the members of a
# MultiPoint within the tolerance (a marker map would lose markers), and keeps 4 coordinates
# of a ring smaller than the tolerance where the renderer keeps all of them (a sub-pixel
# parcel turns from a square into a triangle: 75 % of the pixels of the 1,000,000 parcels'
# whole-layer map changed, docs/performance.md, PostGIS, sixth pass (the database's thinning)).
# Points, polygons, mixed columns (GEOMETRY) and curves are read whole. Z/M variants carry a
# suffix in geometry_columns (LINESTRINGM); PostGIS measures the tolerance in x/y.
_THINNED = frozenset({"LINESTRING", "MULTILINESTRING"})
# The tolerance, in pixels: under the renderer's half pixel (thinning.TOLERANCE, kept strictly:
# a vertex exactly half a pixel away stays; PostGIS drops at the tolerance), so that the
# database rarely drops a vertex the renderer would keep. Rarely, not never: PostGIS keeps a
# line's last point by dropping the kept vertex before it when the two lie within the
# tolerance, and a vertex it keeps can hide the next one from the renderer's rule. The
# outline moves by less than a pixel either way (what changes is measured in
# docs/performance.md); at 0.2 px the 200,000 lines' whole map already lost 7 % of its bytes
# only, and below 0.1 px none.
_THIN_PIXELS = 0.45
# A drawing's geometry when its style strokes tiny lines: those (bounding diagonal under the
# first parameter) at their own tolerance (the second), the others at the third.
_TINY = sql.SQL(
    "ST_AsBinary(ST_RemoveRepeatedPoints({g}, CASE WHEN ST_Length(ST_BoundingDiagonal({g}))"
    " <= %s::float8 THEN %s::float8 ELSE %s::float8 END))"
)
# Texts kept per source: shapes are few. A one-off (the rest of a stream, which names the ids
# already sent) is not kept, nor a text longer than a shape's (a long IN list of a filter).
_KEPT = 256
_KEPT_CHARS = 8192


def quote(name: str) -> str:
    """A PostgreSQL identifier, quoted as a filter's SQL names it."""
    return sql.Identifier(name).as_string(None)


def where_clause(
    t: PostGISTable, query: FeatureQuery, plan: FilterPlan
) -> tuple[sql.Composable, list[Any]] | None:
    """The WHERE clause of `query` on `t` and its parameters (None: no row can match)."""
    terms: list[sql.Composable] = []
    params: list[Any] = []
    if query.ids is not None:
        ids = coerce_ids(query.ids, t.key_type)
        if not ids:
            return None
        terms.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(t.schema.key)))
        params.append(ids)
    if query.bbox is not None and t.schema.geometry_field is not None:
        # ST_Intersects uses the index (&&) and then tests exactly, so paging stays in SQL;
        # a drawing needs only the index's envelope test (its shapes are culled anyway).
        test = _INTERSECTS if query.exact else _ENVELOPES
        terms.append(test.format(sql.Identifier(t.schema.geometry_field)))
        params.extend((*query.bbox, t.srid))
    if plan.sql:
        terms.append(sql.SQL("(" + plan.sql + ")"))
        params.extend(plan.params)
    for subset in query.subsets:
        # Trusted SQL, but a literal '%' (LIKE 'a%') would be read as a placeholder.
        terms.append(sql.SQL("(" + subset.replace("%", "%%") + ")"))
    if not terms:
        return sql.Composed([]), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms), params


def thinning(
    t: PostGISTable, query: FeatureQuery, plan: FilterPlan, sel: Selection
) -> tuple[float, ...]:
    """The ST_RemoveRepeatedPoints tolerance of a drawing's read, in the table's units (empty:
    the geometries are read whole); for a style of tiny lines (`FeatureQuery.tiny_lines`), the
    longest bounding diagonal of a tiny line, its tolerance, then the others'. Only a drawing
    asks (`pixel_size`), only for lines (`_THINNED`), and only when no filter is left for
    Python to test on the geometries."""
    kind = (t.schema.geometry_type or "").rstrip("ZM")
    if query.pixel_size <= 0 or plan.predicate is not None or kind not in _THINNED:
        return ()
    if not (sel.fetch_geometry and sel.output_geometry):
        return ()
    pixel = query.pixel_size
    extent, tiny = query.tiny_lines
    if extent <= 0 or tiny <= _THIN_PIXELS:
        return (pixel * _THIN_PIXELS,)
    # The diagonal bounds the box's longer side (the renderer's test): the database calls tiny
    # only lines the renderer does. At the renderer's own tolerance, not a share of it: the
    # renderer then finds almost nothing left to drop, and the 200,000 lines' whole map came
    # nearer to its image before (404 pixels by more than 16 levels of 255, 44 by more than 64)
    # than at 0.9 of it (478, 73), where both rules dropped vertices in turn.
    return (pixel * extent, pixel * tiny, pixel * _THIN_PIXELS)


def compose(
    t: PostGISTable,
    query: FeatureQuery,
    plan: FilterPlan,
    sel: Selection,
    limited: bool,
    thinned: int = 0,
) -> sql.Composed:
    """The SELECT of `query`, its placeholders in the order `Statements.select` gives; with
    `thinned` tolerances (`thinning`), its geometries go through ST_RemoveRepeatedPoints (they
    are the first parameters)."""
    where = where_clause(t, query, plan)
    assert where is not None  # an empty id list is answered before composing
    cols: list[sql.Composable] = [sql.Identifier(t.schema.key)]
    if sel.fetch_geometry and t.schema.geometry_field is not None:
        geometry = sql.Identifier(t.schema.geometry_field)
        if thinned == 1:
            # (double precision: a text-typed parameter would make it ambiguous)
            cols.append(
                sql.SQL("ST_AsBinary(ST_RemoveRepeatedPoints({}, %s::float8))").format(geometry)
            )
        elif thinned:
            # ST_BoundingDiagonal reads the box stored with the geometry: ~40 ms of the
            # database's CPU for 200,000 lines, where four ST_XMax-like calls took ~65 ms.
            cols.append(_TINY.format(g=geometry))
        else:
            cols.append(sql.SQL("ST_AsBinary({})").format(geometry))
    cols.extend(t.select[n] for n in sel.stored)
    statement = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(cols), t.ident)
    statement += where[0]
    order: list[sql.Composable] = [
        sql.SQL("{} DESC" if k.descending else "{}").format(sql.Identifier(k.name))
        for k in query.sort
    ]
    if order or limited:
        # The key breaks ties so that pages never overlap.
        order.append(sql.Identifier(t.schema.key))
        statement += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
    if limited:
        statement += sql.SQL(" LIMIT %s OFFSET %s")
    return statement


class Statements:
    """The texts of one source's reads, by shape of query."""

    def __init__(self) -> None:
        self._texts: dict[tuple[Any, ...], str] = {}

    def select(
        self,
        t: PostGISTable,
        query: FeatureQuery,
        plan: FilterPlan,
        sel: Selection,
        paged: bool,
        keep: bool = True,
    ) -> tuple[str, list[Any]] | None:
        """The SELECT of `query` on `t` and its parameters (None: no row can match); with
        `paged`, the query's limit and offset are the statement's. `keep` False: a one-off,
        composed and not kept."""
        params: list[Any] = []
        tolerances = thinning(t, query, plan, sel)
        params.extend(tolerances)
        if query.ids is not None:
            ids = coerce_ids(query.ids, t.key_type)
            if not ids:
                return None
            params.append(ids)
        bbox = query.bbox is not None and t.schema.geometry_field is not None
        if query.bbox is not None and bbox:  # (the first test narrows the type)
            params.extend((*query.bbox, t.srid))
        if plan.sql:
            params.extend(plan.params)
        limited = paged and (query.limit is not None or query.offset > 0)
        if limited:
            params.extend((query.limit, max(query.offset, 0)))
        shape = (
            query.ids is not None,
            bbox,
            query.exact,
            plan.sql,
            query.subsets,
            sel.fetch_geometry,
            sel.stored,
            query.sort,
            limited,
            len(tolerances),
        )
        text = self._texts.get(shape) if keep else None
        if text is None:
            text = compose(t, query, plan, sel, limited, len(tolerances)).as_string(None)
            if keep and len(text) <= _KEPT_CHARS:
                if len(self._texts) >= _KEPT:
                    self._texts.clear()
                self._texts[shape] = text
        return text, params
