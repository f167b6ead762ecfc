"""QGIS rule-based and graduated renderers (and categories on an expression) as `rules:`.

Filters are QGIS expressions, translated by `ogcserve.expressions` (its QGIS subset) to the CQL2
text the style model reads. Nested rules are flattened: a child's filter is ANDed with its
ancestors' and its scale range cut to theirs; an ELSE rule matches what none of its siblings
matched, as in QGIS. A graduated renderer becomes one rule per range whose filter keeps QGIS'
own choice at class breaks (the first range holding the value, both ends included).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from lxml import etree

from ogcserve.errors import FilterError
from ogcserve.expressions import Language, parse

from .style_symbols import number

Element = etree._Element


class Symbols(Protocol):
    """Reads symbols (`style_symbols.SymbolReader`)."""

    warnings: list[str]

    def symbols(self, element: Element, where: str) -> list[dict[str, Any]]: ...


def translate(expression: str) -> str | None:
    """A QGIS filter expression as CQL2 text; None if the expression subset cannot read it."""
    try:
        return parse(expression, Language.QGIS).text
    except FilterError:
        return None


def _literal_number(value: float) -> str:
    return repr(float(value))


@dataclass(frozen=True)
class _Scope:
    """What a rule inherits from its ancestors: their filters (QGIS text) and scale range."""

    filters: tuple[str, ...] = ()
    min_scale: float | None = None
    max_scale: float | None = None


class RuleReader:
    """Flattens a `<rules>` tree into the style model's ordered rules."""

    def __init__(self, table: dict[str, Element], symbols: Symbols) -> None:
        self.table = table
        self.symbols = symbols
        self.rules: list[dict[str, Any]] = []

    def style(self, renderer: Element) -> dict[str, Any]:
        """The `rules:` style of a RuleRenderer."""
        root = renderer.find("rules")
        if root is None:
            return {}
        self._children(root, _Scope(), top=True)
        if not self.rules:
            return {"rules": [{"filter": "1 = 0", "fill": "none", "stroke": "none"}]}
        return {"rules": self.rules}

    def _children(self, parent: Element, scope: _Scope, *, top: bool) -> None:
        children = parent.findall("rule")
        siblings = [c for c in children if not _is_else(c)]
        # The style model's own else matches what no rule visible at the scale matched: QGIS'
        # top-level ELSE once the rules are flattened, unless a sibling has a scale range (QGIS
        # 3.22 lets a sibling out of its scale range keep the features it matches from ELSE).
        plain = top and not any(_scaled(s) for s in siblings)
        for child in children:
            if not _is_else(child):
                self._rule(child, scope, child.get("filter"))
            elif plain:
                self._rule(child, scope, None, else_=True)
            else:
                self._else(child, scope, siblings)

    def _else(self, rule: Element, scope: _Scope, siblings: list[Element]) -> None:
        """An ELSE as a filter: none of its siblings' filters (at any scale, as QGIS 3.22)."""
        others = [s.get("filter") or "" for s in siblings]
        if any(not f.strip() for f in others):
            return  # a sibling without filter matches everything: the else never draws
        negated = "NOT (" + " OR ".join(f"({f})" for f in others) + ")" if others else None
        self._rule(rule, scope, negated)

    def _rule(self, rule: Element, scope: _Scope, own: str | None, *, else_: bool = False) -> None:
        title = _title(rule)
        inner = _Scope(
            scope.filters + ((own,) if own and own.strip() else ()),
            _tighter(scope.min_scale, _scale(rule.get("scalemindenom")), max),
            _tighter(scope.max_scale, _scale(rule.get("scalemaxdenom")), min),
        )
        if rule.get("checkstate", "1") == "0":
            # QGIS counts a switched-off rule as matched: it hides the feature from ELSE.
            self._emit(title, inner, {"fill": "none", "stroke": "none"}, else_)
            return
        symbol_name = rule.get("symbol")
        element = self.table.get(symbol_name) if symbol_name is not None else None
        if element is not None:
            for part in self.symbols.symbols(element, f"rule {title!r}"):
                self._emit(title, inner, part, else_)
        self._children(rule, inner, top=False)

    def _emit(self, title: str, scope: _Scope, symbol: dict[str, Any], else_: bool) -> None:
        if (
            scope.min_scale is not None
            and scope.max_scale is not None
            and scope.min_scale >= scope.max_scale
        ):
            return  # visible at no scale
        entry: dict[str, Any] = {}
        if else_:
            entry["else"] = True
        elif scope.filters:
            text = " AND ".join(f"({f})" for f in scope.filters)
            cql = translate(text)
            if cql is None:
                self.symbols.warnings.append(
                    f"rule {title!r}: filter {text!r} is not in the QGIS expression subset "
                    "ogcserve reads; the rule is not drawn"
                )
                return
            entry["filter"] = cql
        if scope.min_scale is not None:
            entry["min_scale"] = scope.min_scale
        if scope.max_scale is not None:
            entry["max_scale"] = scope.max_scale
        if title:
            entry["label"] = title
        self.rules.append({**entry, **(symbol or {"fill": "none", "stroke": "none"})})


def _is_else(rule: Element) -> bool:
    return (rule.get("filter") or "").strip().upper() == "ELSE"


def _scaled(rule: Element) -> bool:
    return (
        _scale(rule.get("scalemindenom")) is not None
        or _scale(rule.get("scalemaxdenom")) is not None
    )


def _title(rule: Element) -> str:
    return rule.get("label") or rule.get("description") or rule.get("filter") or ""


def _scale(text: str | None) -> float | None:
    try:
        value = float(text) if text else 0.0
    except ValueError:
        return None
    return value if 0 < value < math.inf else None


def _tighter(a: float | None, b: float | None, pick: Any) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(pick(a, b))


def graduated_rules(
    renderer: Element, table: dict[str, Element], symbols: Symbols
) -> dict[str, Any]:
    """A graduated renderer as rules: range i draws `lower <= v <= upper` unless an earlier
    range holds v (QGIS takes the first range holding the value)."""
    attr = renderer.get("attr", "")
    value = f"({attr})"
    ranges = [
        (number(r.get("lower"), math.nan), number(r.get("upper"), math.nan), r)
        for r in renderer.findall("ranges/range")
    ]
    ranges = [(lo, hi, r) for lo, hi, r in ranges if lo <= hi]  # NaN and reversed: never match
    ascending = all(b[0] >= a[1] for a, b in itertools.pairwise(ranges))
    earlier: list[str] = []
    rules: list[dict[str, Any]] = []
    for k, (lower, upper, rng) in enumerate(ranges):
        inside = f"{value} >= {_literal_number(lower)} AND {value} <= {_literal_number(upper)}"
        if k and ascending:  # only the shared break can be in an earlier range
            low = ">" if lower == ranges[k - 1][1] else ">="
            text = f"{value} {low} {_literal_number(lower)} AND {value} <= {_literal_number(upper)}"
        else:
            text = inside if not earlier else f"({inside}) AND NOT ({' OR '.join(earlier)})"
        earlier.append(f"({inside})")
        label = rng.get("label") or f"{lower:g} - {upper:g}"
        element = table.get(rng.get("symbol", ""))
        if rng.get("render", "true") == "false" or element is None:
            continue
        cql = translate(text)
        if cql is None:
            symbols.warnings.append(
                f"graduated on {attr!r}: not in the QGIS expression subset ogcserve reads; "
                f"range {label!r} is not drawn"
            )
            continue
        for symbol in symbols.symbols(element, f"range {label!r}"):
            rules.append({"filter": cql, "label": label, **symbol})
    return {"rules": rules} if rules else {}


def categories_as_rules(
    renderer: Element, table: dict[str, Element], symbols: Symbols, attr: str
) -> dict[str, Any]:
    """Categories as rules, one per category (`(expression) IN (values)`) and drawn part, and
    "all other values" as the style model's else."""
    rules: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for category in renderer.findall("categories/category"):
        label = category.get("label") or category.get("value") or ""
        element = table.get(category.get("symbol", ""))
        drawn = category.get("render", "true") != "false" and element is not None
        where = f"category {label!r}"
        parts = symbols.symbols(element, where) if drawn and element is not None else [{}]
        values = category_values(category)
        if values is None:
            others = [{"else": True, "label": label or "Other", **p} for p in parts if p]
            continue
        literals = ", ".join(_literal(v) for v in values)
        cql = translate(f"({attr}) IN ({literals})")
        if cql is None:
            symbols.warnings.append(
                f"categories on {attr!r}: not in the QGIS expression subset ogcserve reads; "
                f"category {label!r} is not drawn"
            )
            continue
        # A category switched off draws nothing, and keeps its features from "other values".
        for part in parts:
            rules.append({"filter": cql, "label": label, **(part or {"fill": "none"})})
    rules.extend(others)
    return {"rules": rules} if rules else {}


def category_values(category: Element) -> list[str] | None:
    """The values of a category (several when merged); None for "all other values"."""
    vals = [v.get("value", "") for v in category.findall("val")]
    if vals:
        return vals
    value = category.get("value", "")
    return None if value == "" else [value]


def _literal(value: str) -> str:
    """A number as a number, anything else as a string literal."""
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("'", "''") + "'"
