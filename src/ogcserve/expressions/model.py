"""The parsed filter (`Expression`), its canonical text and the limits every parser enforces."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import shapely
from pygeofilter import ast, values

from ogcserve.errors import FilterError

ID = "$id"
"""The name under which a filter references the feature id (QGIS' `$id`)."""

MAX_TEXT_BYTES = 64 * 1024
"""Longest filter text accepted (UTF-8 bytes); real filters are far shorter."""

MAX_DEPTH = 100
"""Deepest nesting accepted. AND/OR chains count as one level, so long lists of ORs stay fine;
every walker in this package recurses at most this deep, far below Python's recursion limit."""

INT64 = (-(2**63), 2**63 - 1)


class Language(StrEnum):
    """Filter languages understood by `parse`."""

    CQL2_TEXT = "cql2-text"
    CQL2_JSON = "cql2-json"
    QGIS = "qgis"
    ECQL = "ecql"


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, validated filter.

    `ast` is a normalised pygeofilter AST (see `ogcserve.expressions.normalise`); `text` is its
    canonical CQL2-text form, equal for equal filters whatever language they came in, so it can
    go into cache fingerprints.
    """

    ast: Any
    text: str

    def properties(self) -> frozenset[str]:
        """Names of the attributes the filter references; the feature id appears as "$id"."""
        return frozenset(n.name for n in walk(self.ast) if isinstance(n, ast.Attribute))

    def __str__(self) -> str:
        return self.text


def children(node: Any) -> list[Any]:
    """The direct sub-nodes of an AST node (values included), in order."""
    if isinstance(node, ast.In):
        return [node.lhs, *node.sub_nodes]
    if isinstance(node, ast.Like):
        return [node.lhs, node.pattern]
    if isinstance(node, ast.Node):
        return list(node.get_sub_nodes())
    if isinstance(node, list):
        return list(node)
    return []


def walk(node: Any) -> Iterator[Any]:
    """Every node under (and including) `node`, iteratively so that depth never matters."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def depth(node: Any) -> int:
    """Nesting depth of an AST, counting a chain of the same AND/OR as one level."""
    best = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        for child in children(current):
            flat = isinstance(current, ast.Combination) and type(child) is type(current)
            stack.append((child, level if flat else level + 1))
    return best


def check_depth(node: Any) -> None:
    """Refuse ASTs nested deeper than `MAX_DEPTH`."""
    if depth(node) > MAX_DEPTH:
        raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels", locator="filter")


def flatten(node: Any, kind: type[ast.Combination]) -> list[Any]:
    """The operands of a chain of `kind` (And or Or), left to right, without recursion."""
    out: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if type(current) is kind:
            stack.append(current.rhs)
            stack.append(current.lhs)
        else:
            out.append(current)
    return out


# --- canonical text ----------------------------------------------------------------------------
# The text is CQL2 text as our own parser reads it back (QGIS extensions included: ILIKE, $id),
# fully parenthesised so that it never depends on operator precedence.


def quote_string(value: str) -> str:
    """A CQL2 character literal."""
    return "'" + value.replace("'", "''") + "'"


def quote_name(name: str) -> str:
    """A property reference; the feature id keeps its QGIS spelling."""
    if name == ID:
        return ID
    return '"' + name.replace('"', '""') + '"'


def format_number(value: int | float) -> str:
    """Numbers in a form that parses back to the same value."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError("numbers must be finite", locator="filter")
        return repr(value)
    return str(value)


def format_datetime(value: datetime) -> str:
    """An aware datetime, in UTC, ISO 8601 with a Z."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat() + "Z"


def geometry_wkt(value: values.Geometry) -> str:
    """The WKT of a geometry literal, at full precision."""
    text: str = shapely.to_wkt(shapely.geometry.shape(value.geometry), rounding_precision=-1)
    return text


def render(node: Any) -> str:
    """Canonical CQL2 text of a normalised AST."""
    if isinstance(node, ast.Condition | ast.Predicate):
        return _render_condition(node)
    return _render_value(node)


def _render_condition(node: Any) -> str:
    match node:
        case ast.And() | ast.Or():
            parts = flatten(node, type(node))
            joiner = " AND " if isinstance(node, ast.And) else " OR "
            return joiner.join(_operand(p) for p in parts)
        case ast.Not():
            return f"NOT ({render(node.sub_node)})"
        case ast.Include():
            return "EXCLUDE" if node.not_ else "INCLUDE"
        case ast.Comparison():
            return f"{render(node.lhs)} {node.op.value} {render(node.rhs)}"
        case ast.Between():
            neg = "NOT " if node.not_ else ""
            return f"{render(node.lhs)} {neg}BETWEEN {render(node.low)} AND {render(node.high)}"
        case ast.Like():
            neg = "NOT " if node.not_ else ""
            op = "ILIKE" if node.nocase else "LIKE"
            return f"{render(node.lhs)} {neg}{op} {quote_string(node.pattern)}"
        case ast.In():
            neg = "NOT " if node.not_ else ""
            items = ", ".join(render(v) for v in node.sub_nodes)
            return f"{render(node.lhs)} {neg}IN ({items})"
        case ast.IsNull():
            return f"{render(node.lhs)} IS {'NOT ' if node.not_ else ''}NULL"
        case ast.SpatialComparisonPredicate():
            return f"S_{node.op.name}({render(node.lhs)}, {render(node.rhs)})"
        case ast.Relate():
            return f"RELATE({render(node.lhs)}, {render(node.rhs)}, {quote_string(node.pattern)})"
        case ast.SpatialDistancePredicate():
            return (
                f"{node.op.name}({render(node.lhs)}, {render(node.rhs)}, "
                f"{format_number(node.distance)}, {node.units})"
            )
        case ast.BBox():
            coords = ", ".join(
                format_number(v) for v in (node.minx, node.miny, node.maxx, node.maxy)
            )
            crs = f", {quote_string(node.crs)}" if node.crs else ""
            return f"BBOX({render(node.lhs)}, {coords}{crs})"
    raise _inexpressible(node)


def _render_value(node: Any) -> str:
    match node:
        case ast.Arithmetic():
            return f"({render(node.lhs)} {node.op.value} {render(node.rhs)})"
        case ast.Function():
            return f"{node.name}({', '.join(render(a) for a in node.arguments)})"
        case ast.Attribute():
            return quote_name(node.name)
        case values.Geometry():
            return geometry_wkt(node)
        case bool():
            return "TRUE" if node else "FALSE"
        case int() | float():
            return format_number(node)
        case str():
            return quote_string(node)
        case datetime():
            return f"TIMESTAMP('{format_datetime(node)}')"
        case date():
            return f"DATE('{node.isoformat()}')"
    raise _inexpressible(node)


def _inexpressible(node: Any) -> FilterError:
    return FilterError(f"cannot express {type(node).__name__} in a filter", locator="filter")


def _operand(node: Any) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, ast.Combination) else text
