"""Parsing filters (CQL2 text, CQL2 JSON, ECQL, the QGIS subset) into one normalised AST.

pygeofilter does the work where it can: its AST, its CQL2 JSON walker, its ECQL grammar and its
WKT grammar. CQL2 text and the QGIS subset go through a grammar of our own (`text.py`, which
says why), CQL2 JSON through fix-ups of pygeofilter's walker (`cql2_json.py`). Whatever the
language, the result is then checked and normalised (`normalise.py`), so that equal filters get
equal ASTs and equal canonical text whatever language they came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pygeofilter import ast

from ogcserve.errors import FilterError

from .cql2_json import parse_json
from .model import ID, MAX_DEPTH, Expression, Language, check_depth, render, walk
from .normalise import condition, describe, normalise
from .text import parse_text


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
        tree = parse_json(source) if lang is Language.CQL2_JSON else parse_text(source, lang)
    return from_ast(tree)


def from_ast(node: Any) -> Expression:
    """An `Expression` from a pygeofilter AST built elsewhere (the WFS FES/OGC Filter reader),
    checked and normalised exactly as a parsed text filter is (depth, values, functions, LIKE)."""
    with _client_errors():
        check_depth(node)
        normal = condition(normalise(node))
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
        raise FilterError(f"invalid filter: {describe(exc)}", locator="filter") from None


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
