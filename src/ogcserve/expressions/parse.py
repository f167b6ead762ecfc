"""Parsing filters (CQL2 text, CQL2 JSON, ECQL, the QGIS subset) into one normalised AST.

pygeofilter does the work where it can: its AST, its CQL2 JSON walker, its ECQL grammar and its
WKT grammar. CQL2 text and the QGIS subset go through a grammar of our own (below), built on
pygeofilter's transformer and WKT grammar, because pygeofilter 0.4's CQL2 text grammar
 - rejects one-letter property names (`x = 1`) and `NOT (a = 1 AND b = 2)`,
 - cannot read a quote inside a string (`'it''s'`),
 - has neither ILIKE nor `$id` (QGIS), and crashes on `-"a"` with a TypeError,
 - and parses with lark's debug mode, which prints parser state dumps on errors.

Whatever the language, the result is normalised (`_normalise`): LIKE uses CQL2's wildcards `%`
and `_` with `\\` as escape (pygeofilter records `.` as the single-character wildcard, which is
not CQL2), `CASEI(x) LIKE CASEI('p')` becomes `x ILIKE 'p'`, bounding boxes become polygons,
timestamps become UTC, unknown functions are refused. So equal filters get equal ASTs and equal
canonical text whatever language they came in.
"""

from __future__ import annotations

import json
import logging
import math
import os.path
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import lark
import pygeofilter.parsers
import shapely
import shapely.errors
import shapely.geometry
from lark import Lark, v_args
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json.parser import walk_cql_json
from pygeofilter.parsers.cql2_text.parser import CQLTransformer
from pygeofilter.parsers.ecql.parser import ECQLTransformer

from ogcserve.errors import FilterError

from .functions import ALIASES, FUNCTIONS
from .model import (
    ID,
    INT64,
    MAX_DEPTH,
    MAX_TEXT_BYTES,
    Expression,
    Language,
    check_depth,
    flatten,
    render,
    walk,
)

log = logging.getLogger("ogcserve.expressions")

_GRAMMAR = r"""
?start: condition

?condition: conjunction
          | condition _OR conjunction                                   -> or_
?conjunction: negation
            | conjunction _AND negation                                 -> and_
?negation: _NOT negation                                                -> not_
         | primary
?primary: predicate
        | "(" condition ")"

?predicate: expression "=" expression                                   -> eq
          | expression ("<>" | "!=") expression                         -> ne
          | expression "<" expression                                   -> lt
          | expression "<=" expression                                  -> lte
          | expression ">" expression                                   -> gt
          | expression ">=" expression                                  -> gte
          | expression _BETWEEN expression _AND expression              -> between
          | expression _NOT _BETWEEN expression _AND expression         -> not_between
          | expression _LIKE expression                                 -> like
          | expression _NOT _LIKE expression                            -> not_like
          | expression _ILIKE expression                                -> ilike
          | expression _NOT _ILIKE expression                           -> not_ilike
          | expression _IN "(" expression ("," expression)* ")"         -> in_
          | expression _NOT _IN "(" expression ("," expression)* ")"    -> not_in
          | expression _IS _NULL                                        -> null
          | expression _IS _NOT _NULL                                   -> not_null
          | _INCLUDE                                                    -> include
          | _EXCLUDE                                                    -> exclude
          | SPATIAL_OP "(" spatial_arg "," spatial_arg ")"              -> binary_spatial_predicate
          | _RELATE "(" spatial_arg "," spatial_arg "," STRING ")"      -> relate_spatial_predicate
          | _BBOX "(" spatial_arg "," _box ["," STRING] ")"           -> bbox_spatial_predicate

?spatial_arg: attribute
            | ewkt_geometry                                             -> geometry
            | _BBOX "(" _box ")"                                         -> bbox_literal

_box: signed "," signed "," signed "," signed

?expression: sum
?sum: product
    | sum "+" product                                                   -> add
    | sum "-" product                                                   -> sub
?product: unary
        | product "*" unary                                             -> mul
        | product "/" unary                                             -> div
?unary: atom
      | "-" unary                                                       -> neg
?atom: attribute
     | literal
     | NAME "(" [expression ("," expression)*] ")"                      -> function
     | "(" expression ")"

attribute: NAME | QUOTED_NAME | ID_REF

?literal: NUMBER
        | BOOLEAN
        | STRING

?signed: NUMBER
       | "-" NUMBER                                                     -> neg

_OR: "OR"i
_AND: "AND"i
_NOT: "NOT"i
_BETWEEN: "BETWEEN"i
_LIKE: "LIKE"i
_ILIKE: "ILIKE"i
_IN: "IN"i
_IS: "IS"i
_NULL: "NULL"i
_INCLUDE: "INCLUDE"i
_EXCLUDE: "EXCLUDE"i
_RELATE: "RELATE"i
_BBOX: "BBOX"i
SPATIAL_OP.2: /S_(INTERSECTS|DISJOINT|CONTAINS|WITHIN|TOUCHES|CROSSES|OVERLAPS|EQUALS)\b/i
BOOLEAN.2: /(TRUE|FALSE)\b/i

ID_REF: "$id"i
NAME: /[^\W\d][\w.:]*/
QUOTED_NAME: /"(?:[^"]|"")*"/
STRING: /'(?:[^']|'')*'/
NUMBER: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/

%import wkt.ewkt_geometry
%import common.WS
%ignore WS
"""


@v_args(meta=False, inline=True)
class _Transformer(CQLTransformer):  # type: ignore[misc]
    """pygeofilter's CQL2 text transformer, with the tokens and rules our grammar adds."""

    def ilike(self, node: Any, pattern: Any) -> ast.Like:
        return ast.Like(node, pattern, True, "%", "_", "\\", False)

    def not_ilike(self, node: Any, pattern: Any) -> ast.Like:
        return ast.Like(node, pattern, True, "%", "_", "\\", True)

    def binary_spatial_predicate(self, op: Any, lhs: Any, rhs: Any) -> Any:
        return super().binary_spatial_predicate(str(op).lower(), lhs, rhs)

    def relate_spatial_predicate(self, lhs: Any, rhs: Any, pattern: Any) -> ast.Relate:
        return ast.Relate(lhs, rhs, str(pattern))

    def bbox_literal(self, minx: Any, miny: Any, maxx: Any, maxy: Any) -> values.Envelope:
        return values.Envelope(minx, maxx, miny, maxy)

    def neg(self, value: Any) -> Any:
        # pygeofilter negates literals only and raises TypeError on `-"a"`.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
        return ast.Sub(0, value)

    def function(self, name: Any, *arguments: Any) -> Any:
        lowered = str(name).lower()
        args = [a for a in arguments if a is not None]
        # DATE('...') and TIMESTAMP('...') are literals; parsed as calls rather than keywords so
        # that a property called "date" still works unquoted.
        if lowered in ("date", "timestamp") and len(args) == 1 and isinstance(args[0], str):
            return self.date(args[0]) if lowered == "date" else self.timestamp(args[0])
        return ast.Function(lowered, args)

    def attribute(self, token: Any) -> ast.Attribute:
        text = str(token)
        if token.type == "QUOTED_NAME":
            text = text[1:-1].replace('""', '"')
        elif token.type == "ID_REF":
            text = ID
        if not text:
            raise FilterError("empty property name", locator="filter")
        return ast.Attribute(text)

    def date(self, text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise FilterError(f"invalid date {text!r}", locator="filter") from None

    def timestamp(self, text: str) -> datetime:
        try:
            return _aware(datetime.fromisoformat(text))
        except ValueError:
            raise FilterError(f"invalid timestamp {text!r}", locator="filter") from None

    def NUMBER(self, token: Any) -> int | float:  # noqa: N802 - lark calls terminals by name
        text = str(token)
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)

    def STRING(self, token: Any) -> str:  # noqa: N802
        return _unquote(token)

    def BOOLEAN(self, token: Any) -> bool:  # noqa: N802
        return str(token).lower() == "true"

    # pygeofilter's WKT transformer prints on these two; same results, without the prints.
    def wkt__geometry_with_srid(self, srid: Any, geometry: Any) -> Any:
        return geometry

    def wkt__multipoint_2(self, *coordinates: Any) -> Any:
        return {"type": "MultiPoint", "coordinates": coordinates}


@v_args(meta=False, inline=True)
class _EcqlTransformer(ECQLTransformer):  # type: ignore[misc]
    """pygeofilter's ECQL transformer, without its prints."""

    def wkt__geometry_with_srid(self, srid: Any, geometry: Any) -> Any:
        return geometry

    def wkt__multipoint_2(self, *coordinates: Any) -> Any:
        return {"type": "MultiPoint", "coordinates": coordinates}

    def distance_units(self, value: Any) -> str:
        return str(value)

    def neg(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
        return ast.Sub(0, value)


def _unquote(token: Any) -> str:
    return str(token)[1:-1].replace("''", "'")


_PARSERS_DIR = os.path.dirname(pygeofilter.parsers.__file__)
_TEXT_PARSER = Lark(
    _GRAMMAR,
    parser="lalr",
    maybe_placeholders=False,
    transformer=_Transformer(),
    import_paths=[_PARSERS_DIR],
)
_ECQL_PARSER = Lark.open(
    os.path.join(_PARSERS_DIR, "ecql", "grammar.lark"),
    parser="lalr",
    maybe_placeholders=False,
    transformer=_EcqlTransformer(),
    import_paths=[_PARSERS_DIR],
)


# --- entry points -----------------------------------------------------------------------------


def parse(
    source: str | Mapping[str, Any], language: Language | str = Language.CQL2_TEXT
) -> Expression:
    """Parse a filter into an `Expression`.

    CQL2 JSON may be given as a mapping or as JSON text. Raises `FilterError` (saying what is
    wrong and where) for anything that is not a valid, evaluable filter, including text over
    64 KiB and nesting deeper than 100 levels.
    """
    try:
        lang = Language(language)
    except ValueError:
        raise FilterError(f"unknown filter language {language!r}", locator="filter-lang") from None
    with _client_errors():
        tree = _parse_json(source) if lang is Language.CQL2_JSON else _parse_text(source, lang)
    return from_ast(tree)


def from_ast(node: Any) -> Expression:
    """An `Expression` from a pygeofilter AST built elsewhere (the WFS FES/OGC Filter reader),
    checked and normalised exactly as a parsed text filter is (depth, values, functions, LIKE)."""
    with _client_errors():
        check_depth(node)
        normal = _condition(_normalise(node))
        return Expression(normal, render(normal))


@contextmanager
def _client_errors() -> Iterator[None]:
    """Any failure inside is the client's bad filter: a FilterError, never a traceback."""
    try:
        yield
    except FilterError:
        raise
    except RecursionError:
        raise FilterError(
            f"filter is nested deeper than {MAX_DEPTH} levels", locator="filter"
        ) from None
    except Exception as exc:  # a parser's internal error is still the client's bad filter
        raise FilterError(f"invalid filter: {_describe(exc)}", locator="filter") from None


def conjunction(expressions: Iterable[Expression | None]) -> Expression | None:
    """AND of the given expressions, None ones skipped; None when nothing is left."""
    present = [e for e in expressions if e is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    node = ast.And.from_items(*(e.ast for e in present))
    return Expression(node, render(node))


def check_properties(expr: Expression, names: Iterable[str]) -> None:
    """Raise `FilterError` naming the first property of `expr` not in `names` ("$id" is free)."""
    known = set(names)
    known.add(ID)
    for node in walk(expr.ast):
        if isinstance(node, ast.Attribute) and node.name not in known:
            raise FilterError(f"unknown property {node.name!r} in filter", locator=node.name)


# --- languages --------------------------------------------------------------------------------


def _check_text(source: Any) -> str:
    if not isinstance(source, str):
        raise FilterError("filter must be text", locator="filter")
    if len(source.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise FilterError(f"filter is longer than {MAX_TEXT_BYTES // 1024} KiB", locator="filter")
    if not source.strip():
        raise FilterError("filter is empty", locator="filter")
    _check_parentheses(source)
    return source


def _check_parentheses(text: str) -> None:
    """Refuse deep bracket nesting before the parser builds an equally deep tree."""
    level = 0
    quote: str | None = None
    for char in text:
        if quote:
            if char == quote:
                quote = None  # a doubled quote just closes and reopens: same depth
        elif char in "'\"":
            quote = char
        elif char == "(":
            level += 1
            if level > MAX_DEPTH:
                raise FilterError(
                    f"filter is nested deeper than {MAX_DEPTH} levels", locator="filter"
                )
        elif char == ")":
            level -= 1


def _parse_text(source: Any, lang: Language) -> Any:
    text = _check_text(source)
    parser = _ECQL_PARSER if lang is Language.ECQL else _TEXT_PARSER
    try:
        return parser.parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise FilterError(_syntax_message(exc, text), locator="filter") from None
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        raise FilterError(f"invalid filter: {_describe(exc.orig_exc)}", locator="filter") from None


def _syntax_message(exc: lark.exceptions.UnexpectedInput, text: str) -> str:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    where = f" at line {line}, column {column}" if line and line > 0 else " at the end"
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return f"syntax error: the filter ends too early ({len(text)} characters)"
        return f"syntax error{where}: unexpected {str(token)[:40]!r}"
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return f"syntax error{where}: unexpected character {exc.char!r}"
    return f"syntax error{where}"


def _json_depth(root: Any) -> int:
    best = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        best = max(best, level)
        if level > 2 * MAX_DEPTH + 10:
            return level
        if isinstance(node, Mapping):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list | tuple):
            stack.extend((v, level + 1) for v in node)
    return best


def _parse_json(source: Any) -> Any:
    if isinstance(source, str):
        _check_text(source)
        try:
            root = json.loads(source)
        except RecursionError:
            raise FilterError("filter JSON is nested too deeply", locator="filter") from None
        except ValueError as exc:
            raise FilterError(f"filter is not valid JSON: {exc}", locator="filter") from None
    elif isinstance(source, Mapping):
        root = source
    else:
        raise FilterError("CQL2 JSON filter must be an object or JSON text", locator="filter")
    # Each logical level takes two JSON levels ({"op", "args": [...]}).
    if _json_depth(root) > 2 * MAX_DEPTH + 4:
        raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels", locator="filter")
    if not isinstance(root, Mapping):
        raise FilterError("CQL2 JSON filter must be an object", locator="filter")
    return walk_cql_json(_json_prepare(root))


# Operators pygeofilter's walker reads by position, and their argument counts (CQL2 1.0 §7;
# `between` also in its older [value, [low, high]] form).
_BINARY_JSON_OPS = ("=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "^", "div",
                    "s_intersects", "s_equals", "s_disjoint", "s_touches", "s_within",
                    "s_overlaps", "s_crosses", "s_contains")  # fmt: skip
_JSON_ARITY: dict[str, tuple[int, ...]] = {
    "not": (1,), "isNull": (1,), "casei": (1,), "accenti": (1,), "between": (2, 3),
    "like": (2,), "in": (2,), **dict.fromkeys(_BINARY_JSON_OPS, (2,)),
}  # fmt: skip


def _json_prepare(node: Any) -> Any:
    """Fix up CQL2 JSON where pygeofilter 0.4 follows an old draft or has bugs.

    - `between` takes three arguments in CQL2 1.0; pygeofilter wants `[value, [low, high]]`.
    - `{"bbox": [minx, miny, maxx, maxy]}` is mis-ordered by pygeofilter (Envelope(*bbox)).
    - `like`'s pattern is not walked by pygeofilter, so `{"op": "casei", ...}` stays a dict.
    - CQL2 1.0 calls functions as `{"op": name, "args": [...]}`; pygeofilter knows only the
      older `{"function": {"name", "arguments"}}`.
    """
    if isinstance(node, list):
        return [_json_prepare(v) for v in node]
    if not isinstance(node, Mapping):
        return node
    if "bbox" in node and "op" not in node:
        box = node["bbox"]
        if not isinstance(box, list) or len(box) not in (4, 6):
            raise FilterError("bbox must have 4 or 6 numbers", locator="filter")
        half = len(box) // 2
        minx, miny, maxx, maxy = box[0], box[1], box[half], box[half + 1]
        return values.Envelope(minx, maxx, miny, maxy)
    if "op" in node:
        op = node["op"]
        args = node.get("args")
        if not isinstance(op, str) or not isinstance(args, list):
            raise FilterError("'op' must be a string and 'args' a list", locator="filter")
        if op == "between" and len(args) == 3:
            return {
                "op": op,
                "args": [_json_prepare(args[0]), [_json_prepare(a) for a in args[1:]]],
            }
        if op == "like" and len(args) == 2:
            pattern = walk_cql_json(_json_prepare(args[1]))
            lhs = walk_cql_json(_json_prepare(args[0]))
            return ast.Like(lhs, pattern, False, "%", "_", "\\", False)
        if op in ("not", "and", "or") and len(args) == 0:
            raise FilterError(f"'{op}' needs arguments", locator="filter")
        arity = _JSON_ARITY.get(op)
        if arity is not None and len(args) not in arity:
            expected = " or ".join(str(n) for n in arity)
            raise FilterError(
                f"'{op}' takes {expected} arguments, not {len(args)}", locator="filter"
            )
        if op.lower() in FUNCTIONS or op.lower() in ALIASES:
            return ast.Function(op.lower(), [walk_cql_json(_json_prepare(a)) for a in args])
        return {"op": op, "args": _json_prepare(args)}
    if "function" in node and isinstance(node["function"], Mapping):
        fn = node["function"]
        fargs = fn.get("arguments", fn.get("args", []))
        return {"function": {"name": fn.get("name"), "arguments": _json_prepare(fargs)}}
    return {k: _json_prepare(v) for k, v in node.items()}


# --- normalisation ----------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
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


def _aware(value: datetime) -> datetime:
    """A timestamp literal in UTC, at the millisecond precision every engine compares at."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


_CONDITIONS = (ast.Condition, ast.Predicate)


def _condition(node: Any) -> Any:
    """A node in a place where a truth value is expected."""
    if isinstance(node, bool):
        return ast.Include(not node)
    if not isinstance(node, _CONDITIONS):
        raise FilterError(
            "filter is not a condition (a comparison, LIKE, IN, ...)", locator="filter"
        )
    return node


def _scalar(node: Any) -> Any:
    """A node in a place where a value (not a condition) is expected."""
    node = _normalise(node)
    if isinstance(node, ast.Condition | ast.Predicate | list | values.Geometry):
        raise FilterError(
            "a condition or geometry is used where a value is expected", locator="filter"
        )
    return node


def _spatial(node: Any) -> Any:
    node = _normalise(node)
    if not isinstance(node, ast.Attribute | values.Geometry):
        raise FilterError("spatial operands must be a property or a geometry", locator="filter")
    return node


def _is_casei(node: Any) -> bool:
    return isinstance(node, ast.Function) and node.name.lower() in ("lower", "casei")


def _normalise(node: Any) -> Any:
    """Check and canonicalise a pygeofilter AST (see the module docstring)."""
    match node:
        case ast.And() | ast.Or():
            kind = type(node)
            parts = [_condition(_normalise(p)) for p in flatten(node, kind)]
            return kind.from_items(*parts)
        case ast.Not():
            return ast.Not(_condition(_normalise(node.sub_node)))
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
            if not isinstance(node.sub_nodes, list) or not node.sub_nodes:
                raise FilterError("IN needs a non-empty list of values", locator="filter")
            return ast.In(_scalar(node.lhs), [_scalar(v) for v in node.sub_nodes], bool(node.not_))
        case ast.IsNull():
            return ast.IsNull(_scalar(node.lhs), bool(node.not_))
        case ast.SpatialComparisonPredicate():
            return type(node)(_spatial(node.lhs), _spatial(node.rhs))
        case ast.Relate():
            pattern = str(node.pattern)
            if len(pattern) != 9 or any(c not in "TF*012" for c in pattern.upper()):
                raise FilterError(f"invalid DE-9IM pattern {pattern!r}", locator="filter")
            return ast.Relate(_spatial(node.lhs), _spatial(node.rhs), pattern.upper())
        case ast.SpatialDistancePredicate():
            distance = _scalar(node.distance)
            if isinstance(distance, bool) or not isinstance(distance, int | float):
                raise FilterError("distance must be a number", locator="filter")
            return type(node)(_spatial(node.lhs), _spatial(node.rhs), distance, str(node.units))
        case ast.BBox():
            coords = [_scalar(v) for v in (node.minx, node.miny, node.maxx, node.maxy)]
            if any(isinstance(c, bool) or not isinstance(c, int | float) for c in coords):
                raise FilterError("BBOX needs four numbers", locator="filter")
            crs = str(node.crs) if node.crs else None
            return ast.BBox(_spatial(node.lhs), *(float(c) for c in coords), crs)
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
        case int():
            if not INT64[0] <= node <= INT64[1]:
                raise FilterError(f"integer {node} is out of range", locator="filter")
            return node
        case float():
            if not math.isfinite(node):
                raise FilterError("numbers must be finite", locator="filter")
            return node
        case datetime():
            return _aware(node)
        case date():
            return node
        case ast.TemporalPredicate() | ast.ArrayPredicate():
            raise FilterError(
                f"{node.op.value} is not supported (no temporal or array operators)",
                locator="filter",
            )
        case ast.Exists():
            raise FilterError("EXISTS is not supported", locator="filter")
        case None:
            raise FilterError("null is not a valid value in a filter", locator="filter")
    raise FilterError(f"unsupported element in filter: {type(node).__name__}", locator="filter")


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
    pattern = _normalise(pattern)
    if not isinstance(pattern, str):
        raise FilterError("the pattern of LIKE must be a string", locator="filter")
    if _ends_with_escape(pattern):
        raise FilterError("LIKE pattern ends with an escape character", locator="filter")
    return ast.Like(_scalar(lhs), pattern, nocase, "%", "_", "\\", bool(node.not_))


def _ends_with_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


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
        raise FilterError(f"invalid geometry: {_describe(exc)}", locator="filter") from None
    if geom.is_empty:
        raise FilterError("empty geometry in filter", locator="filter")
    # Round-trip through WKT so that WKT (tuples) and GeoJSON (lists) give equal ASTs.
    geom = shapely.from_wkt(shapely.to_wkt(geom, rounding_precision=-1))
    return values.Geometry(shapely.geometry.mapping(geom))
