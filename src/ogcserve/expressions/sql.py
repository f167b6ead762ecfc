"""Translating an `Expression` to an SQL WHERE fragment with bound parameters.

Safety rules: every literal becomes a bound parameter, and every identifier comes from the
caller's `ColumnMap`; a property missing from it raises `FilterError`. No text of the filter is
ever copied into the SQL.

Semantics match `to_predicate` exactly (the tests run both on the same rows):
 - LIKE is case-sensitive. SQLite's LIKE ignores ASCII case (unless a connection-wide PRAGMA is
   set), so on SQLite LIKE becomes GLOB with the pattern rewritten (`%` -> `*`, `_` -> `?`, GLOB's
   own specials bracketed), still as a bound parameter.
 - ILIKE, lower() and upper() are not pushed to SQLite: its case folding is ASCII only and would
   disagree with Python (and PostgreSQL) on 'É'.
 - Division is always true division and yields NULL on division by zero (PostgreSQL would fail).
 - Ordering comparisons with a string literal use COLLATE "C" on PostgreSQL: code point order,
   as in Python and SQLite, whatever the database's collation.
 - Timestamps are compared in UTC at millisecond precision; on SQLite (ISO text) the column is
   normalised with strftime first.
 - Spatial predicates are pushed to PostGIS only, never to SQLite.
 - Operands of different types (`fid = 'a'`, `name + 1`, `lower(fid)`; the `ColumnMap` gives the
   columns' types) are not translated: Python answers NULL, PostgreSQL would fail the query and
   SQLite convert. PostgreSQL arithmetic is done in `numeric` (exact, as Python's integers), and
   text parameters are typed (`%s::text`); text holding NUL stays in Python there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import shapely
import shapely.geometry
from pygeofilter import ast, values

from ogcserve.errors import FilterError

from .functions import FUNCTIONS
from .kinds import NUMBER, TEXT, kind_of, meet
from .model import ID, Expression, children, flatten, render


class SqlDialect(StrEnum):
    """SQL flavours `to_sql` writes."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class SqlFragment:
    """A boolean SQL expression and its parameters.

    Placeholders are "?" for SQLite and "%s" for PostgreSQL (psycopg 3); in PostgreSQL fragments
    a literal % is written "%%".
    """

    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """The SQL a source uses for each property, for the feature id and for the geometry.

    Values are SQL expressions already quoted by the source (e.g. '"name"'). They are written
    into the fragment as they are, except that for PostgreSQL a % in them is doubled, since the
    fragment goes through psycopg's placeholder syntax.
    """

    columns: Mapping[str, str]
    id_column: str
    geometry_column: str | None
    srid: int | None = None
    # Each property's field type (FieldType values; "$id" for the key): operations on values of
    # kinds that do not meet stay in Python (expressions/kinds.py). Unknown types: all go.
    types: Mapping[str, str] = field(default_factory=dict)


class NotTranslatable(Exception):  # noqa: N818 - name fixed by the module's contract
    """The expression (or part of it) has no SQL equivalent here; evaluate it in Python."""


def to_sql(expr: Expression, dialect: SqlDialect, columns: ColumnMap) -> SqlFragment:
    """Translate a whole expression, or raise `NotTranslatable`.

    Raises `FilterError` for a property that `columns` does not know.
    """
    _check_columns(expr.ast, columns)
    writer = _Writer(SqlDialect(dialect), columns)
    sql = writer.condition(expr.ast)
    return SqlFragment(sql, tuple(writer.params))


def split_sql(
    expr: Expression | None, dialect: SqlDialect, columns: ColumnMap
) -> tuple[SqlFragment | None, Expression | None]:
    """Split the top-level AND: conjuncts that translate go to SQL, the rest stays in Python.

    Returns (fragment or None, residual expression or None); rows match `expr` exactly when they
    satisfy the fragment and the residual.
    """
    if expr is None:
        return None, None
    _check_columns(expr.ast, columns)
    sql_parts: list[str] = []
    params: list[Any] = []
    residual: list[Any] = []
    for part in flatten(expr.ast, ast.And):
        writer = _Writer(SqlDialect(dialect), columns)
        try:
            sql_parts.append(writer.condition(part))
        except NotTranslatable:
            residual.append(part)
            continue
        params.extend(writer.params)
    fragment = None
    if sql_parts:
        fragment = SqlFragment(" AND ".join(sql_parts), tuple(params))
    rest = None
    if residual:
        node = ast.And.from_items(*residual)
        rest = (
            expr
            if len(residual) == len(flatten(expr.ast, ast.And))
            else Expression(node, render(node))
        )
    return fragment, rest


def _check_columns(node: Any, columns: ColumnMap) -> None:
    """Refuse unknown properties up front, even in parts that would stay in Python: a filter
    naming a column the source does not expose is an error, not a silent NULL."""
    spatial = (ast.SpatialComparisonPredicate, ast.SpatialDistancePredicate, ast.Relate, ast.BBox)
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, geometry_operand = stack.pop()
        if isinstance(current, ast.Attribute):
            # Property operands of spatial predicates stand for the geometry column.
            if not geometry_operand and current.name != ID and current.name not in columns.columns:
                raise FilterError(
                    f"unknown property {current.name!r} in filter", locator=current.name
                )
            continue
        is_spatial = isinstance(current, spatial)
        stack.extend((child, is_spatial) for child in reversed(children(current)))


# --- the writer -------------------------------------------------------------------------------

_COMPARISON_OPS: dict[type[ast.Comparison], str] = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}

_ST_FUNCTIONS: dict[type[ast.SpatialComparisonPredicate], str] = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}

# SQLite's datetime functions accept ISO text with Z or offsets and give UTC, ms precision.
_SQLITE_TIMESTAMP = "strftime('%Y-%m-%dT%H:%M:%f', {})"


def _glob_pattern(pattern: str) -> str:
    """A CQL2 LIKE pattern as an equivalent (case-sensitive) SQLite GLOB pattern."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            literal = next(chars, "\\")
        elif char == "%":
            out.append("*")
            continue
        elif char == "_":
            out.append("?")
            continue
        else:
            literal = char
        out.append(f"[{literal}]" if literal in "*?[" else literal)
    return "".join(out)


def _sqlite_timestamp(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


class _Writer:
    """Writes one SQL expression, collecting its parameters in order."""

    def __init__(self, dialect: SqlDialect, columns: ColumnMap) -> None:
        self.dialect = dialect
        self.columns = columns
        self.params: list[Any] = []
        self.placeholder = "?" if dialect is SqlDialect.SQLITE else "%s"

    # conditions

    def condition(self, node: Any) -> str:
        match node:
            case ast.And() | ast.Or():
                joiner = " AND " if isinstance(node, ast.And) else " OR "
                return "(" + joiner.join(self.condition(p) for p in flatten(node, type(node))) + ")"
            case ast.Not():
                return f"(NOT {self.condition(node.sub_node)})"
            case ast.Include():
                return "(1 = 0)" if node.not_ else "(1 = 1)"
            case ast.Comparison():
                self.comparable(node.lhs, node.rhs)
                op = _COMPARISON_OPS[type(node)]
                lhs = self.operand(node.lhs, node.rhs)
                rhs = self.operand(node.rhs, node.lhs)
                if op not in ("=", "<>"):
                    rhs += self.collate(node.lhs, node.rhs)
                return f"({lhs} {op} {rhs})"
            case ast.Between():
                bounds = (node.low, node.high)
                self.comparable(node.lhs, *bounds)
                subject = self.operand(node.lhs, *bounds)
                # Parenthesised: PostgreSQL's grammar takes no COLLATE in a bare BETWEEN bound.
                low = f"({self.operand(node.low, node.lhs)}{self.collate(*bounds)})"
                high = f"({self.operand(node.high, node.lhs)}{self.collate(*bounds)})"
                neg = "NOT " if node.not_ else ""
                return f"({subject} {neg}BETWEEN {low} AND {high})"
            case ast.In():
                self.comparable(node.lhs, *node.sub_nodes)
                subject = self.operand(node.lhs, *node.sub_nodes)
                items = ", ".join(self.operand(v, node.lhs) for v in node.sub_nodes)
                neg = "NOT " if node.not_ else ""
                return f"({subject} {neg}IN ({items}))"
            case ast.IsNull():
                return f"({self.value(node.lhs)} IS {'NOT ' if node.not_ else ''}NULL)"
            case ast.Like():
                return self.like(node)
            case ast.SpatialComparisonPredicate():
                return self.spatial(_ST_FUNCTIONS[type(node)], node.lhs, node.rhs)
            case ast.Relate():
                return self.spatial("ST_Relate", node.lhs, node.rhs, node.pattern)
            case ast.DistanceWithin():
                return self.spatial("ST_DWithin", node.lhs, node.rhs, node.distance)
            case ast.DistanceBeyond():
                inner = self.spatial("ST_DWithin", node.lhs, node.rhs, node.distance)
                return f"(NOT {inner})"
            case ast.BBox():
                box = shapely.geometry.box(node.minx, node.miny, node.maxx, node.maxy)
                literal = values.Geometry(shapely.geometry.mapping(box))
                return self.spatial("ST_Intersects", node.lhs, literal)
        raise NotTranslatable(type(node).__name__)

    def like(self, node: ast.Like) -> str:
        self.expect(TEXT, node.lhs)
        subject = self.value(node.lhs)
        neg = "NOT " if node.not_ else ""
        if self.dialect is SqlDialect.SQLITE:
            if node.nocase:
                raise NotTranslatable("ILIKE on SQLite")
            return f"({subject} {neg}GLOB {self.bind(_glob_pattern(node.pattern))})"
        # PostgreSQL's LIKE escape character is the backslash by default, as in CQL2.
        op = "ILIKE" if node.nocase else "LIKE"
        return f"({subject} {neg}{op} {self.bind(node.pattern)})"

    def spatial(self, function: str, lhs: Any, rhs: Any, *extra: Any) -> str:
        if self.dialect is not SqlDialect.POSTGRESQL or self.columns.geometry_column is None:
            raise NotTranslatable("spatial predicate")
        # Bound in text order: the geometries first, then the extra arguments.
        args = [self.geometry(lhs), self.geometry(rhs), *(self.bind(v) for v in extra)]
        return f"{function}({', '.join(args)})"

    def geometry(self, node: Any) -> str:
        column = self.columns.geometry_column
        assert column is not None  # checked by spatial()
        if isinstance(node, ast.Attribute):
            return self.escape(column)
        if isinstance(node, values.Geometry):
            wkt = shapely.to_wkt(shapely.geometry.shape(node.geometry), rounding_precision=-1)
            if self.columns.srid is not None:
                return f"ST_GeomFromText({self.bind(wkt)}, {self.bind(int(self.columns.srid))})"
            return f"ST_GeomFromText({self.bind(wkt)}, ST_SRID({self.escape(column)}))"
        raise NotTranslatable("spatial operand")

    # values

    def operand(self, node: Any, *others: Any) -> str:
        """A value compared with `others`: timestamps on SQLite get normalised first."""
        sql = self.value(node)
        if (
            self.dialect is SqlDialect.SQLITE
            and not isinstance(node, datetime)
            and any(isinstance(o, datetime) for o in others)
        ):
            return _SQLITE_TIMESTAMP.format(sql)
        return sql

    def collate(self, *nodes: Any) -> str:
        """COLLATE "C" for PostgreSQL ordering against a string literal (code point order)."""
        if self.dialect is SqlDialect.POSTGRESQL and any(isinstance(n, str) for n in nodes):
            return ' COLLATE "C"'
        return ""

    def value(self, node: Any) -> str:
        match node:
            case ast.Attribute():
                return self.escape(self.column(node.name))
            case ast.Div():
                self.expect(NUMBER, node.lhs, node.rhs)
                real = "REAL" if self.dialect is SqlDialect.SQLITE else "DOUBLE PRECISION"
                return (
                    f"(CAST({self.value(node.lhs)} AS {real}) / NULLIF({self.value(node.rhs)}, 0))"
                )
            case ast.Arithmetic():
                self.expect(NUMBER, node.lhs, node.rhs)
                lhs, rhs = self.value(node.lhs), self.value(node.rhs)
                if self.dialect is SqlDialect.POSTGRESQL:
                    # Exact, as Python's integers: PostgreSQL's integer types overflow (and
                    # psycopg sends 169 as a smallint: 169 * 194 failed the query).
                    lhs, rhs = f"CAST({lhs} AS numeric)", f"CAST({rhs} AS numeric)"
                return f"({lhs} {node.op.value} {rhs})"
            case ast.Function():
                spec = FUNCTIONS.get(node.name)
                name = spec.sql.get(self.dialect.value) if spec else None
                if spec is None or name is None:
                    raise NotTranslatable(f"function {node.name}")
                self.expect(spec.takes, *node.arguments)
                return f"{name}({', '.join(self.value(a) for a in node.arguments)})"
            case datetime():
                if self.dialect is SqlDialect.SQLITE:
                    return self.bind(_sqlite_timestamp(node))
                return self.bind(node)
            case date():
                return self.bind(node.isoformat() if self.dialect is SqlDialect.SQLITE else node)
            case bool() | int() | float() | str():
                return self.bind(node)
        raise NotTranslatable(type(node).__name__)

    def comparable(self, node: Any, *others: Any) -> None:
        """Raise NotTranslatable unless the database can compare `node` with each of `others`."""
        kind = kind_of(node, self.columns.types)
        if not all(meet(kind, kind_of(o, self.columns.types)) for o in others):
            raise NotTranslatable("operands of different kinds")

    def expect(self, kind: str, *nodes: Any) -> None:
        """Raise NotTranslatable unless each of `nodes` may be of `kind`."""
        if not all(meet(kind, kind_of(n, self.columns.types)) for n in nodes):
            raise NotTranslatable(f"an operand that is not {kind}")

    def column(self, name: str) -> str:
        if name == ID:
            return self.columns.id_column
        try:
            return self.columns.columns[name]
        except KeyError:
            raise FilterError(f"unknown property {name!r} in filter", locator=name) from None

    def escape(self, sql: str) -> str:
        if self.dialect is SqlDialect.POSTGRESQL:
            return sql.replace("%", "%%")
        return sql

    def bind(self, value: Any) -> str:
        if isinstance(value, str) and self.dialect is SqlDialect.POSTGRESQL:
            if "\x00" in value:
                raise NotTranslatable("PostgreSQL text cannot hold NUL")
            # psycopg sends text untyped: where nothing around it says its type (`'' IS NULL`,
            # `lower('A') = 'a'`) PostgreSQL cannot tell it and fails the query.
            self.params.append(value)
            return f"{self.placeholder}::text"
        self.params.append(value)
        return self.placeholder
