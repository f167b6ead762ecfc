"""Reading filter text: CQL2 text and the QGIS subset (a grammar of our own), ECQL (pygeofilter's).

Our grammar is built on pygeofilter's transformer and WKT grammar, because pygeofilter 0.4's
CQL2 text grammar
 - rejects one-letter property names (`x = 1`) and `NOT (a = 1 AND b = 2)`,
 - cannot read a quote inside a string (`'it''s'`),
 - has neither ILIKE nor `$id` (QGIS), and crashes on `-"a"` with a TypeError,
 - and parses with lark's debug mode, which prints parser state dumps on errors.

The result is pygeofilter's AST, not yet normalised (`normalise.py` does that).
"""

from __future__ import annotations

import os.path
from datetime import date, datetime
from typing import Any

import lark
import pygeofilter.parsers
from lark import Lark, v_args
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text.parser import CQLTransformer
from pygeofilter.parsers.ecql.parser import ECQLTransformer

from ogcserve.errors import FilterError

from .model import ID, MAX_DEPTH, MAX_TEXT_BYTES, Language
from .normalise import aware, describe

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
            return aware(datetime.fromisoformat(text))
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


def check_text(source: Any) -> str:
    """The filter text, if it is text, not too long, not empty and not nested too deep."""
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


def parse_text(source: Any, lang: Language) -> Any:
    """The pygeofilter AST of CQL2 text, the QGIS subset or ECQL; FilterError if it is not one."""
    text = check_text(source)
    parser = _ECQL_PARSER if lang is Language.ECQL else _TEXT_PARSER
    try:
        return parser.parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise FilterError(_syntax_message(exc, text), locator="filter") from None
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        raise FilterError(f"invalid filter: {describe(exc.orig_exc)}", locator="filter") from None


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
