"""Filters: parsing (CQL2 text, CQL2 JSON, ECQL, the QGIS subset), SQL with bound parameters,
and evaluation in Python with the same (three-valued) semantics.

    expr = parse('"pop_est" > 1000000 AND "name" ILIKE \\'fr%\\'', Language.QGIS)
    check_properties(expr, schema.field_names())
    where, residual = split_sql(expr, SqlDialect.POSTGRESQL, columns)
    keep = to_predicate(residual) if residual else None
"""

from .evaluate import to_predicate
from .model import ID, Expression, Language
from .parse import check_properties, conjunction, from_ast, parse
from .sql import ColumnMap, NotTranslatable, SqlDialect, SqlFragment, split_sql, to_sql

__all__ = [
    "ID",
    "ColumnMap",
    "Expression",
    "Language",
    "NotTranslatable",
    "SqlDialect",
    "SqlFragment",
    "check_properties",
    "conjunction",
    "from_ast",
    "parse",
    "split_sql",
    "to_predicate",
    "to_sql",
]
