"""How a style chooses a symbol per feature: categories of a field's values, graduated classes of
a numeric field, rules (CQL2 filters and scale ranges); and the stops of a raster ramp."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from ogcserve.errors import FilterError
from ogcserve.expressions import Expression, parse

from .parts import SYMBOL_KEYS, Color, Model, Symbol


class Entry(Model):
    """An entry of a categorized, graduated or rules block, whose symbol keys may be written
    flat beside its own keys (`{value, fill, stroke}`) rather than under `symbol`."""

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        """Move symbol keys of a flat entry under `symbol`."""
        if not isinstance(data, Mapping) or "symbol" in data:
            return data
        entry = {k: v for k, v in data.items() if k not in SYMBOL_KEYS}
        symbol = {k: v for k, v in data.items() if k in SYMBOL_KEYS}
        entry["symbol"] = symbol
        return entry


class Category(Entry):
    """One value of the categorized field and its symbol."""

    value: Any
    label: str | None = None  # legend text (default: the value)
    symbol: Symbol

    @property
    def title(self) -> str:
        """The legend text."""
        return self.label if self.label is not None else str(self.value)


class Categorized(Model):
    """A symbol per value of `field`; `default` draws every other value (else: not drawn)."""

    field: str
    categories: tuple[Category, ...] = Field(min_length=1)
    default: Symbol | None = None


class GraduatedClass(Entry):
    """A numeric range `min <= value < max` (the last class includes its max)."""

    min: float
    max: float
    label: str | None = None
    symbol: Symbol

    @model_validator(mode="after")
    def _ordered(self) -> GraduatedClass:
        if not self.min < self.max:
            raise ValueError(f"class min ({self.min:g}) must be below max ({self.max:g})")
        return self

    @property
    def title(self) -> str:
        """The legend text."""
        return self.label if self.label is not None else f"{self.min:g} to {self.max:g}"


class Graduated(Model):
    """A symbol per numeric range of `field`."""

    field: str
    classes: tuple[GraduatedClass, ...] = Field(min_length=1)
    default: Symbol | None = None


class Rule(Entry):
    """A symbol for the features matching a CQL2 filter, between two scale denominators.

    A rule without filter matches every feature; `else: true` matches the features that no
    other rule (visible at the scale) matched. Every matching rule draws, in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    filter: str | None = None
    else_: bool = Field(default=False, alias="else")
    min_scale: float | None = Field(default=None, ge=0)  # drawn when scale >= min_scale
    max_scale: float | None = Field(default=None, gt=0)  # drawn when scale < max_scale
    label: str | None = None  # legend text (default: the filter)
    symbol: Symbol

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if self.filter is not None and self.else_:
            raise ValueError("a rule has either a filter or 'else: true', not both")
        if self.filter is not None:
            self.expression()
        if (
            self.min_scale is not None
            and self.max_scale is not None
            and not self.min_scale < self.max_scale
        ):
            raise ValueError("min_scale must be below max_scale")
        return self

    def expression(self) -> Expression | None:
        """The parsed filter (None: every feature)."""
        if self.filter is None:
            return None
        try:
            return parse(self.filter)
        except FilterError as exc:
            raise ValueError(f"rule filter {self.filter!r}: {exc}") from None

    def fields(self) -> set[str]:
        """The attributes the rule's filter reads."""
        expression = self.expression()
        return set() if expression is None else set(expression.properties())

    def visible_at(self, scale_denominator: float | None) -> bool:
        """Whether the rule applies at this scale (None: at every scale)."""
        if scale_denominator is None:
            return True
        if self.min_scale is not None and scale_denominator < self.min_scale:
            return False
        return not (self.max_scale is not None and scale_denominator >= self.max_scale)

    @property
    def title(self) -> str:
        """The legend text."""
        if self.label is not None:
            return self.label
        return "Other" if self.else_ else (self.filter or "All features")


RampStop = tuple[float, Color]
