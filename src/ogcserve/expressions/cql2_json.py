"""Reading CQL2 JSON: depth and arity checks, and fix-ups where pygeofilter 0.4's walker follows
an old draft or has bugs, then pygeofilter's walker. Not yet normalised (`normalise.py`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json.parser import walk_cql_json

from ogcserve.errors import FilterError

from .functions import ALIASES, FUNCTIONS
from .model import MAX_DEPTH
from .text import check_text


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


def parse_json(source: Any) -> Any:
    """The pygeofilter AST of CQL2 JSON (a mapping or JSON text); FilterError if it is not."""
    if isinstance(source, str):
        check_text(source)
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
