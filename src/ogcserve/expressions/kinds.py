"""What kind of value a filter operand is, so that SQL is written only for operations the
database can do on those kinds.

PostgreSQL refuses `integer = text`, `lower(integer)` or `text + 1` outright (the whole query
fails), and SQLite answers them by its own conversion rules; the Python evaluator answers NULL
for operands whose kinds do not meet. So an operation on operands of different known kinds is
left to Python (`NotTranslatable`), which gives every engine the same, evaluator's, answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pygeofilter import ast

from .functions import FUNCTIONS

NUMBER, TEXT, BOOLEAN, DATE, DATETIME = "number", "text", "boolean", "date", "datetime"

# A source's field types (ogcserve.sources.base.FieldType values) as kinds; others: unknown.
_FIELD_KINDS = {"integer": NUMBER, "real": NUMBER, "text": TEXT, "boolean": BOOLEAN,
                "date": DATE, "datetime": DATETIME, "binary": "binary"}  # fmt: skip


def kind_of(node: Any, types: Mapping[str, str]) -> str | None:
    """The kind of an operand; None when it is not known (the column's type is not given)."""
    match node:
        case ast.Attribute():
            return _FIELD_KINDS.get(str(types.get(node.name, "")))
        case ast.Arithmetic():
            return NUMBER
        case ast.Function():
            spec = FUNCTIONS.get(node.name)
            return spec.gives if spec else None
        case bool():
            return BOOLEAN
        case int() | float():
            return NUMBER
        case str():
            return TEXT
        case datetime():
            return DATETIME
        case date():
            return DATE
    return None


def meet(a: str | None, b: str | None) -> bool:
    """Whether two operands of these kinds may be compared in SQL."""
    return a is None or b is None or a == b
