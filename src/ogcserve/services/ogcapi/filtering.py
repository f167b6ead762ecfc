"""The row selection of an items request (OGC API - Features Parts 1 and 3): `filter` in CQL2
text or JSON with its `filter-crs`, `datetime` on the layer's time field, and `name=value`
equality on queryable properties, as one `Expression` in the layer's terms.

The SQL is the core's (`ogcserve.expressions`, through the access layer): this module only
parses, moves filter geometries into the layer's CRS in x/y order, and names properties the
way the caller may see them. A filter naming an attribute the caller may not see is refused
as unknown, by the same check that refuses a typo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.geometry
from pygeofilter import ast, values

from ogcserve.errors import FilterError, InvalidParameterValueError
from ogcserve.expressions import Expression, check_properties, conjunction, from_ast, parse
from ogcserve.expressions.model import walk
from ogcserve.features import FieldType, Schema
from ogcserve.services.wfs.crs import SrsName, to_xy

from .crs import default_srs, requested_srs

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

LANGUAGES = ("cql2-text", "cql2-json")
GEOMETRY = "geometry"  # how clients name the geometry when its column is called otherwise


@dataclass(frozen=True, slots=True)
class Terms:
    """What a request may name on one collection, as the caller sees it."""

    schema: Schema
    native_crs: str
    crs: list[str]  # the collection's CRS URIs
    time_field: str | None  # the layer's time field, if the caller may see it


def request_filter(ctx: RequestContext, terms: Terms, equalities: list[str]) -> Expression | None:
    """`filter`, `datetime` and the `name=value` parameters (`equalities`: their upper-case
    keys), ANDed."""
    params = ctx.request.params
    parts = [_filter(ctx, terms)]
    if params.get("DATETIME", "").strip():
        parts.append(datetime_filter(params["DATETIME"], terms))
    for key in equalities:
        parts.append(_equality(terms.schema, key, params[key]))
    return conjunction(parts)


def _filter(ctx: RequestContext, terms: Terms) -> Expression | None:
    params = ctx.request.params
    text = params.get("FILTER", "")
    language = params.get("FILTER-LANG", "cql2-text").strip().lower() or "cql2-text"
    if language not in LANGUAGES:
        raise InvalidParameterValueError(
            f"filter-lang={language!r}: one of {', '.join(LANGUAGES)}", locator="filter-lang"
        )
    given = params.get("FILTER-CRS", "").strip()
    srs = requested_srs(given, terms.crs, "filter-crs") if given else default_srs()
    if not text.strip():
        return None
    expression = parse(text, language)
    geometry = terms.schema.geometry_field
    names = [*terms.schema.field_names(), *([geometry] if geometry else [])]
    _rename_geometry(expression, geometry, names)
    check_properties(expression, names)
    return _in_layer_crs(expression, srs, terms.native_crs)


def _rename_geometry(expression: Expression, column: str | None, names: list[str]) -> None:
    """`geometry` names the geometry column when no attribute has that name (the parsed tree
    is this request's own: it is changed in place)."""
    if column is None or GEOMETRY in names:
        return
    for node in walk(expression.ast):
        if isinstance(node, ast.Attribute) and node.name == GEOMETRY:
            node.name = column


def _in_layer_crs(expression: Expression, srs: SrsName, native: str) -> Expression:
    """The filter with its geometries moved from `srs` (its axis order) to the layer's CRS."""
    found = False
    for node in walk(expression.ast):
        if not isinstance(node, ast.Node | list):
            continue
        slots = enumerate(node) if isinstance(node, list) else list(vars(node).items())
        for slot, value in slots:
            if isinstance(value, values.Geometry):
                found = True
                moved = _moved(value, srs, native)
                if isinstance(node, list):
                    node[slot] = moved
                else:
                    setattr(node, str(slot), moved)
    return from_ast(expression.ast) if found else expression


def _moved(value: values.Geometry, srs: SrsName, native: str) -> values.Geometry:
    geometry = shapely.geometry.shape(value.geometry)
    try:
        (moved,) = to_xy(np.array([geometry], dtype=object), srs, native)
    except Exception:  # PROJ cannot place it in the layer's CRS
        raise FilterError(
            f"a geometry of the filter cannot be expressed in {native}", locator="filter"
        ) from None
    return values.Geometry(shapely.geometry.mapping(moved))


def _equality(schema: Schema, key: str, text: str) -> Expression:
    field = next(f for f in schema.fields if f.name.upper() == key)
    node = ast.Equal(ast.Attribute(field.name), typed(field.type, text, field.name))
    return from_ast(node)


def typed(kind: FieldType, text: str, locator: str) -> Any:
    """A query-parameter value as the attribute's type (400 naming it when it is not one)."""
    try:
        if kind is FieldType.INTEGER:
            return int(text)
        if kind is FieldType.REAL:
            return float(text)
        if kind is FieldType.BOOLEAN:
            return {"true": True, "false": False, "1": True, "0": False}[text.strip().lower()]
        if kind is FieldType.DATE:
            return date.fromisoformat(text.strip())
        if kind is FieldType.DATETIME:
            return _aware(datetime.fromisoformat(text.strip()))
    except (ValueError, KeyError):
        raise InvalidParameterValueError(
            f"{locator}={text!r} is not a {kind.value}", locator=locator
        ) from None
    return text


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def datetime_filter(text: str, terms: Terms) -> Expression:
    """Part 1 §7.15.4: an instant or an interval (`a/b`, `../b`, `a/..`), bounds included,
    on the layer's time field."""
    name = terms.time_field
    if name is None:
        raise InvalidParameterValueError(
            "This collection has no time field: datetime does not apply", locator="datetime"
        )
    kind = next(f.type for f in terms.schema.fields if f.name == name)
    start_text, slash, end_text = text.strip().partition("/")
    if not slash:
        start, end = _bounds(start_text, kind)
    else:
        start = None if start_text in ("", "..") else _bounds(start_text, kind)[0]
        end = None if end_text in ("", "..") else _bounds(end_text, kind)[1]
        if start is None and end is None:
            raise InvalidParameterValueError("datetime=../.. bounds nothing", locator="datetime")
        if start is not None and end is not None and start > end:
            raise InvalidParameterValueError(
                "datetime: the start is after the end", locator="datetime"
            )
    attribute = ast.Attribute(name)
    parts: list[Any] = []
    if start is not None and start == end:
        parts.append(ast.Equal(attribute, start))
    else:
        if start is not None:
            parts.append(ast.GreaterEqual(attribute, start))
        if end is not None:
            parts.append(ast.LessEqual(ast.Attribute(name), end))
    node = parts[0] if len(parts) == 1 else ast.And(parts[0], parts[1])
    return from_ast(node)


def _bounds(text: str, kind: FieldType) -> tuple[Any, Any]:
    """The first and last moment `text` names: a day on a timestamp field is the whole day."""
    try:
        if kind is FieldType.DATE:
            day = date.fromisoformat(text[:10])
            return day, day
        if "T" not in text.upper() and len(text) == 10:
            start = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return start, start + timedelta(days=1) - timedelta(microseconds=1)
        moment = _aware(datetime.fromisoformat(text))
        return moment, moment
    except ValueError:
        raise InvalidParameterValueError(
            f"datetime: {text!r} is not an RFC 3339 date or timestamp", locator="datetime"
        ) from None


def visible_time_field(configured: str | None, schema: Schema) -> str | None:
    """The layer's time field when the caller sees it (a hidden one is as if not configured)."""
    return configured if configured in schema.field_names() else None
