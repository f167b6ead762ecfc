"""Checking and canonicalising a pygeofilter AST, whatever language it was parsed from.

LIKE uses CQL2's wildcards `%` and `_` with `\\` as escape (pygeofilter records `.` as the
single-character wildcard, which is not CQL2), `CASEI(x) LIKE CASEI('p')` becomes `x ILIKE 'p'`,
bounding boxes become polygons, timestamps become UTC, unknown functions are refused. So equal
filters get equal ASTs and equal canonical text whatever language they came in.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime
from typing import Any

import shapely
import shapely.errors
import shapely.geometry
from pygeofilter import ast, values

from ogcserve.errors import FilterError

from .functions import ALIASES, FUNCTIONS
from .model import INT64, flatten

log = logging.getLogger("ogcserve.expressions")

_CONDITIONS = (ast.Condition, ast.Predicate)


def describe(exc: BaseException) -> str:
    """What a third-party failure means for the client, in the client's terms. Its own text
    (Python's or a library's: class names, arguments, reprs) is never shown."""
    log.debug("filter refused: %r", exc)
    if isinstance(exc, TypeError | IndexError | KeyError | AttributeError):
        return "an operator has the wrong number or kind of operands"
    if isinstance(exc, shapely.errors.GEOSException):
        return "a geometry is malformed"
    if isinstance(exc, ValueError | ArithmeticError):
        return "a value or operator is malformed"
    return "the filter cannot be read"


def aware(value: datetime) -> datetime:
    """A timestamp literal in UTC, at the millisecond precision every engine compares at."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def condition(node: Any) -> Any:
    """A node in a place where a truth value is expected."""
    if isinstance(node, bool):
        return ast.Include(not node)
    if not isinstance(node, _CONDITIONS):
        raise FilterError(
            "filter is not a condition (a comparison, LIKE, IN, ...)", locator="filter"
        )
    return node


def normalise(node: Any) -> Any:
    """Check and canonicalise a pygeofilter AST (see the module docstring)."""
    if isinstance(node, _CONDITIONS):
        return _normalise_condition(node)
    return _normalise_value(node)


# --- conditions --------------------------------------------------------------------------------


def _normalise_condition(node: Any) -> Any:
    match node:
        case ast.And() | ast.Or():
            kind = type(node)
            parts = [condition(normalise(p)) for p in flatten(node, kind)]
            return kind.from_items(*parts)
        case ast.Not():
            return ast.Not(condition(normalise(node.sub_node)))
        case ast.Include():
            return ast.Include(bool(node.not_))
        case ast.Comparison():
            return type(node)(_scalar(node.lhs), _scalar(node.rhs))
        case ast.Between():
            return ast.Between(
                _scalar(node.lhs), _scalar(node.low), _scalar(node.high), bool(node.not_)
            )
        case ast.Like():
            return _normalise_like(node)
        case ast.In():
            return _normalise_in(node)
        case ast.IsNull():
            return ast.IsNull(_scalar(node.lhs), bool(node.not_))
        case (
            ast.SpatialComparisonPredicate()
            | ast.Relate()
            | ast.SpatialDistancePredicate()
            | ast.BBox()
        ):
            return _normalise_spatial(node)
        case ast.TemporalPredicate() | ast.ArrayPredicate():
            raise FilterError(
                f"{node.op.value} is not supported (no temporal or array operators)",
                locator="filter",
            )
        case ast.Exists():
            raise FilterError("EXISTS is not supported", locator="filter")
    raise _unsupported(node)


def _scalar(node: Any) -> Any:
    """A node in a place where a value (not a condition) is expected."""
    node = normalise(node)
    if isinstance(node, ast.Condition | ast.Predicate | list | values.Geometry):
        raise FilterError(
            "a condition or geometry is used where a value is expected", locator="filter"
        )
    return node


def _spatial(node: Any) -> Any:
    node = normalise(node)
    if not isinstance(node, ast.Attribute | values.Geometry):
        raise FilterError("spatial operands must be a property or a geometry", locator="filter")
    return node


def _is_casei(node: Any) -> bool:
    return isinstance(node, ast.Function) and node.name.lower() in ("lower", "casei")


def _normalise_like(node: ast.Like) -> ast.Like:
    lhs, pattern, nocase = node.lhs, node.pattern, bool(node.nocase)
    if (
        _is_casei(lhs)
        and _is_casei(pattern)
        and len(lhs.arguments) == 1
        and len(pattern.arguments) == 1
    ):
        # CQL2's CASEI(x) LIKE CASEI('p') is QGIS' x ILIKE 'p': one AST for both.
        lhs, pattern, nocase = lhs.arguments[0], pattern.arguments[0], True
    pattern = normalise(pattern)
    if not isinstance(pattern, str):
        raise FilterError("the pattern of LIKE must be a string", locator="filter")
    if _ends_with_escape(pattern):
        raise FilterError("LIKE pattern ends with an escape character", locator="filter")
    return ast.Like(_scalar(lhs), pattern, nocase, "%", "_", "\\", bool(node.not_))


def _ends_with_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


def _normalise_in(node: ast.In) -> ast.In:
    if not isinstance(node.sub_nodes, list) or not node.sub_nodes:
        raise FilterError("IN needs a non-empty list of values", locator="filter")
    return ast.In(_scalar(node.lhs), [_scalar(v) for v in node.sub_nodes], bool(node.not_))


def _normalise_spatial(node: Any) -> Any:
    match node:
        case ast.SpatialComparisonPredicate():
            return type(node)(_spatial(node.lhs), _spatial(node.rhs))
        case ast.Relate():
            return _normalise_relate(node)
        case ast.SpatialDistancePredicate():
            return _normalise_distance(node)
        case ast.BBox():
            return _normalise_bbox(node)
    raise _unsupported(node)


def _normalise_relate(node: ast.Relate) -> ast.Relate:
    pattern = str(node.pattern)
    if len(pattern) != 9 or any(c not in "TF*012" for c in pattern.upper()):
        raise FilterError(f"invalid DE-9IM pattern {pattern!r}", locator="filter")
    return ast.Relate(_spatial(node.lhs), _spatial(node.rhs), pattern.upper())


def _normalise_distance(node: ast.SpatialDistancePredicate) -> ast.SpatialDistancePredicate:
    distance = _scalar(node.distance)
    if isinstance(distance, bool) or not isinstance(distance, int | float):
        raise FilterError("distance must be a number", locator="filter")
    return type(node)(_spatial(node.lhs), _spatial(node.rhs), distance, str(node.units))


def _normalise_bbox(node: ast.BBox) -> ast.BBox:
    coords = [_scalar(v) for v in (node.minx, node.miny, node.maxx, node.maxy)]
    if any(isinstance(c, bool) or not isinstance(c, int | float) for c in coords):
        raise FilterError("BBOX needs four numbers", locator="filter")
    crs = str(node.crs) if node.crs else None
    return ast.BBox(_spatial(node.lhs), *(float(c) for c in coords), crs)


# --- values ------------------------------------------------------------------------------------


def _normalise_value(node: Any) -> Any:
    match node:
        case ast.Arithmetic():
            return type(node)(_scalar(node.lhs), _scalar(node.rhs))
        case ast.Function():
            return _normalise_function(node)
        case ast.Attribute():
            if not isinstance(node.name, str) or not node.name:
                raise FilterError("property names must be non-empty strings", locator="filter")
            return ast.Attribute(node.name)
        case values.Envelope():
            # Written out as the polygon one would type (shapely.box starts at another corner).
            x1, y1, x2, y2 = node.x1, node.y1, node.x2, node.y2
            ring = [(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)]
            return _normalise_geometry(values.Geometry({"type": "Polygon", "coordinates": [ring]}))
        case values.Geometry():
            return _normalise_geometry(node)
        case bool() | str():
            return node
        case int() | float():
            return _number(node)
        case datetime():
            return aware(node)
        case date():
            return node
        case None:
            raise FilterError("null is not a valid value in a filter", locator="filter")
    raise _unsupported(node)


def _number(node: int | float) -> int | float:
    if isinstance(node, int) and not INT64[0] <= node <= INT64[1]:
        raise FilterError(f"integer {node} is out of range", locator="filter")
    if isinstance(node, float) and not math.isfinite(node):
        raise FilterError("numbers must be finite", locator="filter")
    return node


def _unsupported(node: Any) -> FilterError:
    return FilterError(f"unsupported element in filter: {type(node).__name__}", locator="filter")


def _normalise_function(node: ast.Function) -> Any:
    name = str(node.name).lower()
    name = ALIASES.get(name, name)
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise FilterError(f"unknown function {node.name!r}", locator="filter")
    args = node.arguments if isinstance(node.arguments, list) else [node.arguments]
    if len(args) != spec.arity:
        raise FilterError(
            f"{name}() takes {spec.arity} argument(s), got {len(args)}", locator="filter"
        )
    args = [_scalar(a) for a in args]
    if name in ("lower", "upper") and isinstance(args[0], str):
        return spec.python(args[0])  # CASEI('Abc') is just 'abc'
    return ast.Function(name, args)


def _normalise_geometry(node: values.Geometry) -> values.Geometry:
    try:
        geom = shapely.geometry.shape(node.geometry)
    except Exception as exc:
        raise FilterError(f"invalid geometry: {describe(exc)}", locator="filter") from None
    if geom.is_empty:
        raise FilterError("empty geometry in filter", locator="filter")
    # Round-trip through WKT so that WKT (tuples) and GeoJSON (lists) give equal ASTs.
    geom = shapely.from_wkt(shapely.to_wkt(geom, rounding_precision=-1))
    return values.Geometry(shapely.geometry.mapping(geom))
