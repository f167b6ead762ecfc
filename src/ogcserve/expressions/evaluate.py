"""Evaluating an `Expression` on features in Python, with SQL's three-valued logic.

Every sub-expression yields a value or None (SQL NULL); every condition yields True, False or
None (UNKNOWN). The predicate accepts a feature only when the whole condition is True, exactly as
a WHERE clause does, so rows filtered here and rows filtered by `to_sql` agree. The closures are
built once per expression and then called per row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import shapely
import shapely.geometry
from pygeofilter import ast, values

from ogcserve.errors import FilterError
from ogcserve.features import Feature

from .functions import FUNCTIONS
from .like import LikeMatcher
from .model import ID, Expression, flatten

Value = Callable[[Feature], Any]
Truth = Callable[[Feature], "bool | None"]

_COMPARE: dict[type[ast.Comparison], Callable[[Any, Any], bool]] = {
    ast.Equal: operator.eq,
    ast.NotEqual: operator.ne,
    ast.LessThan: operator.lt,
    ast.LessEqual: operator.le,
    ast.GreaterThan: operator.gt,
    ast.GreaterEqual: operator.ge,
}

_ARITHMETIC: dict[type[ast.Arithmetic], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mul: operator.mul,
}

_SPATIAL: dict[type[ast.SpatialComparisonPredicate], Callable[[Any, Any], bool]] = {
    ast.GeometryIntersects: shapely.intersects,
    ast.GeometryDisjoint: shapely.disjoint,
    ast.GeometryContains: shapely.contains,
    ast.GeometryWithin: shapely.within,
    ast.GeometryTouches: shapely.touches,
    ast.GeometryCrosses: shapely.crosses,
    ast.GeometryOverlaps: shapely.overlaps,
    ast.GeometryEquals: shapely.equals,
}


def to_predicate(expr: Expression) -> Callable[[Feature], bool]:
    """A function telling whether a feature matches `expr` (True only when the filter is TRUE).

    Spatial operands that name a property stand for the feature's geometry. Raises
    `FilterError` if the expression holds something that cannot be evaluated.
    """
    condition = _truth(expr.ast)

    def predicate(feature: Feature) -> bool:
        return condition(feature) is True

    return predicate


# --- three-valued logic -----------------------------------------------------------------------


def _truth(node: Any) -> Truth:
    match node:
        case ast.And():
            return _all([_truth(p) for p in flatten(node, ast.And)])
        case ast.Or():
            return _any([_truth(p) for p in flatten(node, ast.Or)])
        case ast.Not():
            inner = _truth(node.sub_node)
            return lambda f: _not(inner(f))
        case ast.Include():
            constant = not node.not_
            return lambda f: constant
        case ast.Comparison():
            op = _COMPARE[type(node)]
            lhs, rhs = _value(node.lhs), _value(node.rhs)
            return lambda f: compare(op, lhs(f), rhs(f))
        case ast.Between():
            return _between(node)
        case ast.In():
            return _in(node)
        case ast.IsNull():
            return _is_null(node)
        case ast.Like():
            return _like(node)
        case (
            ast.SpatialComparisonPredicate()
            | ast.Relate()
            | ast.SpatialDistancePredicate()
            | ast.BBox()
        ):
            return _spatial_truth(node)
    raise FilterError(f"cannot evaluate {type(node).__name__} as a condition", locator="filter")


# AND and OR are written out apart, not as one fold over a "decisive" value: they run for
# every row, and the constants make each call measurably cheaper than a closure variable.


def _all(parts: list[Truth]) -> Truth:
    """AND: FALSE as soon as a part is FALSE; else UNKNOWN if a part is, else TRUE."""

    def and_(f: Feature) -> bool | None:
        result: bool | None = True
        for part in parts:
            value = part(f)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return and_


def _any(parts: list[Truth]) -> Truth:
    """OR: TRUE as soon as a part is TRUE; else UNKNOWN if a part is, else FALSE."""

    def or_(f: Feature) -> bool | None:
        result: bool | None = False
        for part in parts:
            value = part(f)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return or_


def _is_null(node: ast.IsNull) -> Truth:
    subject = _value(node.lhs)
    if node.not_:
        return lambda f: subject(f) is not None
    return lambda f: subject(f) is None


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _between(node: ast.Between) -> Truth:
    subject, low, high = _value(node.lhs), _value(node.low), _value(node.high)
    negate = node.not_

    def between(f: Feature) -> bool | None:
        value = subject(f)
        result = _and(compare(operator.ge, value, low(f)), compare(operator.le, value, high(f)))
        return _not(result) if negate else result

    return between


def _in(node: ast.In) -> Truth:
    subject = _value(node.lhs)
    options = [_value(v) for v in node.sub_nodes]
    negate = node.not_

    def in_(f: Feature) -> bool | None:
        value = subject(f)
        result: bool | None = False
        for option in options:
            equal = compare(operator.eq, value, option(f))
            if equal is True:
                result = True
                break
            if equal is None:
                result = None
        return _not(result) if negate else result

    return in_


def _like(node: ast.Like) -> Truth:
    subject = _value(node.lhs)
    matcher = LikeMatcher(node.pattern, node.nocase)
    negate = node.not_

    def like(f: Feature) -> bool | None:
        value = subject(f)
        if value is None:
            return None
        if isinstance(value, bool):
            value = int(value)  # SQLite stores booleans as 0/1 and LIKE sees that text
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            return None
        matched = matcher.fullmatch(value)
        return not matched if negate else matched

    return like


def _spatial_truth(node: Any) -> Truth:
    match node:
        case ast.SpatialComparisonPredicate():
            return _spatial(_SPATIAL[type(node)], node.lhs, node.rhs)
        case ast.Relate():
            pattern = node.pattern
            return _spatial(
                lambda a, b: bool(shapely.relate_pattern(a, b, pattern)), node.lhs, node.rhs
            )
        case ast.DistanceWithin():
            distance = node.distance
            return _spatial(lambda a, b: bool(shapely.dwithin(a, b, distance)), node.lhs, node.rhs)
        case ast.DistanceBeyond():
            distance = node.distance
            return _spatial(lambda a, b: not shapely.dwithin(a, b, distance), node.lhs, node.rhs)
        case ast.BBox():
            box = values.Geometry(
                shapely.geometry.mapping(
                    shapely.geometry.box(node.minx, node.miny, node.maxx, node.maxy)
                )
            )
            return _spatial(shapely.intersects, node.lhs, box)
    raise FilterError(f"cannot evaluate {type(node).__name__} as a condition", locator="filter")


def _spatial(test: Callable[[Any, Any], bool], lhs: Any, rhs: Any) -> Truth:
    left, right = _geometry(lhs), _geometry(rhs)

    def spatial(f: Feature) -> bool | None:
        a, b = left(f), right(f)
        if a is None or b is None:
            return None
        return bool(test(a, b))

    return spatial


def _geometry(node: Any) -> Value:
    if isinstance(node, ast.Attribute):
        return lambda f: f.geometry
    if isinstance(node, values.Geometry):
        geom = shapely.geometry.shape(node.geometry)
        shapely.prepare(geom)  # tested against every row: prepare once
        return lambda f: geom
    raise FilterError("spatial operands must be a property or a geometry", locator="filter")


# --- values -----------------------------------------------------------------------------------


def _value(node: Any) -> Value:
    match node:
        case ast.Attribute():
            name = node.name
            if name == ID:
                return lambda f: f.id
            return lambda f: f.properties.get(name)
        case ast.Arithmetic():
            return _arithmetic(node)
        case ast.Function():
            spec = FUNCTIONS.get(node.name)
            if spec is None or len(node.arguments) != spec.arity:
                raise FilterError(f"unknown function {node.name!r}", locator="filter")
            argument = _value(node.arguments[0])
            python = spec.python
            return lambda f: _none_or(python, argument(f))
        case bool() | int() | float() | str() | date():
            constant = node
            return lambda f: constant
    raise FilterError(f"cannot evaluate {type(node).__name__} as a value", locator="filter")


def _none_or(function: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else function(value)


def _arithmetic(node: ast.Arithmetic) -> Value:
    lhs, rhs = _value(node.lhs), _value(node.rhs)
    if isinstance(node, ast.Div):
        return lambda f: _divide(lhs(f), rhs(f))
    op = _ARITHMETIC[type(node)]

    def arithmetic(f: Feature) -> Any:
        a, b = lhs(f), rhs(f)
        if not _is_number(a) or not _is_number(b):
            return None
        return op(a, b)

    return arithmetic


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # bool is an int, as SQLite's 0/1 are


def _divide(a: Any, b: Any) -> Any:
    # Always true division, and NULL on division by zero: to_sql writes the same
    # (CAST(a AS REAL/DOUBLE PRECISION) / NULLIF(b, 0)).
    if not _is_number(a) or not _is_number(b) or b == 0:
        return None
    return float(a) / b


def compare(op: Callable[[Any, Any], bool], a: Any, b: Any) -> bool | None:
    """SQL comparison: None (UNKNOWN) when either side is NULL or the types do not compare."""
    if a is None or b is None:
        return None
    a, b = _coerce(a), _coerce(b)
    if isinstance(a, datetime) and isinstance(b, str):
        b = _parse_datetime(b)
    elif isinstance(b, datetime) and isinstance(a, str):
        a = _parse_datetime(a)
    elif isinstance(a, date) and not isinstance(a, datetime) and isinstance(b, str):
        a = a.isoformat()  # dates in SQLite are ISO text: compare as text, as SQL does
    elif isinstance(b, date) and not isinstance(b, datetime) and isinstance(a, str):
        b = b.isoformat()
    if a is None or b is None:
        return None
    if isinstance(a, str) != isinstance(b, str) or isinstance(a, datetime) != isinstance(
        b, datetime
    ):
        return None
    try:
        return bool(op(a, b))
    except TypeError:
        return None


def _coerce(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        # Timestamps compare at millisecond precision, as SQLite's strftime('%f') does.
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def _parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    coerced: datetime = _coerce(parsed)
    return coerced
