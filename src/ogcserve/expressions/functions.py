"""The functions a filter may call: how many arguments, how Python computes them, which SQL does.

A function missing here is refused by `parse` (it could be evaluated nowhere). A function with no
SQL for a dialect stays in Python (`split_sql` leaves it in the residual).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else None


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else None


def _trim(value: Any) -> Any:
    # SQL TRIM removes spaces only, not every kind of white space as str.strip() would.
    return value.strip(" ") if isinstance(value, str) else None


def _length(value: Any) -> Any:
    if isinstance(value, str):
        return len(value)
    return None


def _abs(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return abs(value)


@dataclass(frozen=True, slots=True)
class FunctionDef:
    """One callable function."""

    arity: int
    python: Callable[[Any], Any]
    # SQL function name per dialect value ("sqlite", "postgresql"); absent: not pushed down.
    sql: dict[str, str]
    # The kind of value it takes and gives (expressions/kinds.py): pushed down only for those.
    takes: str = "text"
    gives: str = "text"


FUNCTIONS: dict[str, FunctionDef] = {
    # SQLite's LOWER/UPPER fold ASCII only, so 'É' would differ from Python and PostgreSQL:
    # on SQLite these run in Python instead.
    "lower": FunctionDef(1, _lower, {"postgresql": "lower"}),
    "upper": FunctionDef(1, _upper, {"postgresql": "upper"}),
    "trim": FunctionDef(1, _trim, {"sqlite": "trim", "postgresql": "btrim"}),
    "length": FunctionDef(1, _length, {"postgresql": "char_length"}, gives="number"),
    "abs": FunctionDef(1, _abs, {"sqlite": "abs", "postgresql": "abs"}, "number", "number"),
}
"""Known functions by lower-case name. CQL2's CASEI is parsed as `lower`."""

ALIASES = {"casei": "lower", "char_length": "length"}
