"""Which symbol draws which feature of a vector layer: one `Pass` per symbol, with the rows it
draws, chosen by the style's categories, graduated classes, rules or single symbol."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ogcserve.features import Feature

from .api import VectorLayerData
from .styles import Categorized, Graduated, Style, Symbol

IntArray = npt.NDArray[np.intp]
Predicate = Callable[[Feature], bool]
Compile = Callable[[str], Predicate]
"""Compiles a rule's filter text into a predicate (the renderer keeps them cached)."""


@dataclass(frozen=True, slots=True)
class Pass:
    """A symbol and the rows (indices into the layer's arrays) it draws, in drawing order."""

    symbol: Symbol
    rows: IntArray


def choose_passes(
    style: Style, layer: VectorLayerData, rows: IntArray, scale: float, predicate: Compile
) -> list[Pass]:
    """The passes that draw `rows` of `layer` at this scale."""
    if style.categorized is not None:
        return _categorized(style.categorized, layer, rows)
    if style.graduated is not None:
        return _graduated(style.graduated, layer, rows)
    if style.rules is not None:
        return _rule_passes(style, layer, rows, scale, predicate)
    if style.symbol is not None and style.symbol.draws_anything:
        return [Pass(style.symbol, rows)]
    return []


def _categorized(spec: Categorized, layer: VectorLayerData, rows: IntArray) -> list[Pass]:
    values = column(layer.columns, spec.field, len(layer.geometries))
    exact: dict[Any, int] = {}
    loose: dict[str, int] = {}
    for k, category in enumerate(spec.categories):
        exact.setdefault(_hashable(category.value), k)
        loose.setdefault(str(category.value), k)
    default = len(spec.categories)
    chosen = np.array(
        [_category(values[i], exact, loose, default) for i in rows.tolist()],
        dtype=np.intp,
    )
    symbols = [c.symbol for c in spec.categories]
    return _grouped(rows, chosen, symbols, spec.default)


def _graduated(grad: Graduated, layer: VectorLayerData, rows: IntArray) -> list[Pass]:
    values = numbers(column(layer.columns, grad.field, len(layer.geometries)), rows)
    chosen = np.full(len(rows), len(grad.classes), dtype=np.intp)
    last = len(grad.classes) - 1
    with np.errstate(invalid="ignore"):
        for k in reversed(range(len(grad.classes))):  # first matching class wins
            c = grad.classes[k]
            inside = (values >= c.min) & ((values <= c.max) if k == last else (values < c.max))
            chosen[inside] = k
    return _grouped(rows, chosen, [c.symbol for c in grad.classes], grad.default)


def _rule_passes(
    style: Style, layer: VectorLayerData, rows: IntArray, scale: float, predicate: Compile
) -> list[Pass]:
    visible = [r for r in style.rules or () if r.visible_at(scale)]
    if not visible:
        return []
    features: list[Feature] | None = None
    matched_any = np.zeros(len(rows), dtype=bool)
    masks: list[npt.NDArray[np.bool_] | None] = []
    for rule in visible:
        if rule.else_:
            masks.append(None)
            continue
        if rule.filter is None:
            mask = np.ones(len(rows), dtype=bool)
        else:
            if features is None:  # built once per layer, only when a rule filters
                features = _features(layer, rows, style.fields())
            matches = predicate(rule.filter)
            mask = np.fromiter((matches(f) for f in features), bool, len(features))
        matched_any |= mask
        masks.append(mask)
    found = []
    for rule, maybe_mask in zip(visible, masks, strict=True):
        mask = ~matched_any if maybe_mask is None else maybe_mask
        if mask.any() and rule.symbol.draws_anything:
            found.append(Pass(rule.symbol, rows[mask]))
    return found


def column(columns: Mapping[str, Sequence[Any]], name: str, n: int) -> Sequence[Any]:
    """A column by name; a missing one reads as all NULL."""
    found = columns.get(name)
    return found if found is not None else [None] * n


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _category(value: Any, exact: dict[Any, int], loose: dict[str, int], default: int) -> int:
    try:
        found = exact.get(value)
    except TypeError:
        found = None
    if found is None and value is not None:
        found = loose.get(str(value))
    return default if found is None else found


def numbers(values: Sequence[Any], rows: IntArray) -> npt.NDArray[np.float64]:
    """Floats for the given rows; NULL and non-numbers become NaN."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values[rows].astype(np.float64)
    out = np.full(len(rows), np.nan)
    for k, i in enumerate(rows.tolist()):
        v = values[i]
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = v
        elif isinstance(v, str):
            with contextlib.suppress(ValueError):
                out[k] = float(v)
    return out


def _grouped(
    rows: IntArray, chosen: IntArray, symbols: list[Symbol], default: Symbol | None
) -> list[Pass]:
    """One pass per symbol: the default (other values) first, then each symbol in order."""
    passes = []
    if default is not None and default.draws_anything:
        others = rows[chosen == len(symbols)]
        if len(others):
            passes.append(Pass(default, others))
    for k, symbol in enumerate(symbols):
        mine = rows[chosen == k]
        if len(mine) and symbol.draws_anything:
            passes.append(Pass(symbol, mine))
    return passes


def _features(layer: VectorLayerData, rows: IntArray, fields: set[str]) -> list[Feature]:
    """Features with the style's attributes, for evaluating rule filters once per feature."""
    columns = {name: layer.columns[name] for name in fields if name in layer.columns}
    return [
        Feature(i, None, {name: col[i] for name, col in columns.items()}) for i in rows.tolist()
    ]
