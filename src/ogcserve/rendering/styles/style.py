"""A layer's `Style` (one kind of five, and a label), parsing and validating a `style:` block,
and the geometry family (point, line, polygon) styles are checked against."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Set
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from .kinds import Categorized, Graduated, RampStop, Rule
from .parts import SYMBOL_KEYS, Label, LineJoin, Model, Placement, Symbol, template_fields


class Style(Model):
    """A layer's style: exactly one kind (single symbol, categorized, graduated, rules, ramp)."""

    symbol: Symbol | None = None
    categorized: Categorized | None = None
    graduated: Graduated | None = None
    rules: tuple[Rule, ...] | None = None
    ramp: tuple[RampStop, ...] | None = None
    label: Label | None = None
    opacity: float = Field(default=1.0, ge=0, le=1)  # the whole layer (symbols have their own)

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = {k: v for k, v in data.items()}
        symbol = {k: data.pop(k) for k in list(data) if k in SYMBOL_KEYS and k != "opacity"}
        kinds = [k for k in ("categorized", "graduated", "rules", "ramp") if k in data]
        if len(kinds) > 1:
            raise ValueError(f"a style has one kind; found {' and '.join(kinds)}")
        if symbol and "ramp" in kinds:
            raise ValueError(f"a ramp style has no symbol keys ({', '.join(sorted(symbol))})")
        if symbol and kinds:
            # Symbol keys beside a categorized/graduated/rules block are every entry's defaults.
            data[kinds[0]] = _with_defaults(data[kinds[0]], kinds[0], symbol)
        elif symbol:
            data["symbol"] = symbol
        return data

    @field_validator("ramp")
    @classmethod
    def _check_ramp(cls, value: tuple[RampStop, ...] | None) -> tuple[RampStop, ...] | None:
        if value is not None:
            if len(value) < 1:
                raise ValueError("a ramp needs at least one [value, colour] stop")
            values = [v for v, _ in value]
            if any(b <= a for a, b in itertools.pairwise(values)):
                raise ValueError("ramp values must increase")
        return value

    @model_validator(mode="after")
    def _check(self) -> Style:
        if self.ramp is not None and self.label is not None:
            raise ValueError("a raster ramp style cannot have labels")
        return self

    @property
    def kind(self) -> str:
        """single, categorized, graduated, rules or ramp."""
        for kind in ("categorized", "graduated", "rules", "ramp"):
            if getattr(self, kind) is not None:
                return kind
        return "single"

    def outlines_only(self) -> bool:
        """Whether drawing depends on the geometries' outlines alone: no label (its anchor and
        angle follow every vertex) and no marker (placed on a point of the surface). Such a
        style may be drawn from geometries a source thinned (`FeatureQuery.pixel_size`)."""
        return self.label is None and all(s.marker is None for s in self.symbols())

    def symbols(self) -> list[Symbol]:
        """Every symbol the style can draw with."""
        if self.categorized is not None:
            found = [c.symbol for c in self.categorized.categories]
            return found + ([self.categorized.default] if self.categorized.default else [])
        if self.graduated is not None:
            found = [c.symbol for c in self.graduated.classes]
            return found + ([self.graduated.default] if self.graduated.default else [])
        if self.rules is not None:
            return [r.symbol for r in self.rules]
        return [self.symbol] if self.symbol is not None else []

    def reach(self) -> float:
        """How far, in pixels, drawing may reach beyond a feature's geometry: half the widest
        stroke (four times that at miter joins, Skia's default miter limit), half a marker's
        diagonal plus its outline, and a pixel of anti-aliasing. A label runs beyond its anchor:
        labelled styles reach at least `LABEL_REACH` pixels."""
        widest = 0.0
        for symbol in self.symbols():
            if symbol.stroke is not None:
                spike = _MITER_LIMIT if symbol.line_join is LineJoin.MITER else 1.0
                widest = max(widest, spike * symbol.stroke_width / 2)
            marker = symbol.marker
            if marker is not None:
                outline = (marker.stroke_width or 0.0) if marker.stroke is not None else 0.0
                widest = max(widest, marker.size * _SQRT2 / 2 + outline / 2)
        return max(widest + 1.0, LABEL_REACH if self.label is not None else 0.0)

    def without(self, hidden: Set[str]) -> Style:
        """The style as a caller's map draws it when `hidden` attributes read as NULL for them.

        Categories and classes on a hidden attribute give way to the default symbol (or to
        nothing drawn), rules whose filter names one are dropped (an `else` rule stays), and
        a label whose text reads one is dropped. GetStyles and legends describe this style,
        so that they name no hidden attribute and show none of its values or class breaks.
        """
        if not hidden & self.fields():
            return self
        changes: dict[str, Any] = {}
        for kind in ("categorized", "graduated"):
            spec = getattr(self, kind)
            if spec is not None and spec.field in hidden:
                default = spec.default
                changes |= {kind: None, "symbol": default, "rules": None if default else ()}
        if self.rules is not None:
            changes["rules"] = tuple(rule for rule in self.rules if not hidden & rule.fields())
        label = self.label
        if label is not None:
            text = {label.field} if label.field else template_fields(label.expression or "")
            if text & hidden:
                changes["label"] = None
        return self.model_copy(update=changes)

    def fields(self) -> set[str]:
        """The attributes the style reads (categories, ranges, rule filters, labels, rotation)."""
        names: set[str] = set()
        if self.categorized is not None:
            names.add(self.categorized.field)
        if self.graduated is not None:
            names.add(self.graduated.field)
        for rule in self.rules or ():
            expr = rule.expression()
            if expr is not None:
                names |= set(expr.properties())
        for symbol in self.symbols():
            if symbol.marker is not None and symbol.marker.rotation_field:
                names.add(symbol.marker.rotation_field)
        if self.label is not None:
            names |= self.label.fields()
        names.discard("$id")
        return names


_POINT, _LINE, _POLYGON = "point", "line", "polygon"
_MITER_LIMIT = 4.0
LABEL_REACH = 128.0  # pixels: half of a long label
_SQRT2 = 2**0.5


def geometry_family(geometry_type: str | None) -> str | None:
    """point, line, polygon or None (unknown / raster / mixed) for an OGC geometry type name."""
    if not geometry_type:
        return None
    name = geometry_type.upper().replace("MULTI", "").rstrip("ZM ")
    if name == "POINT":
        return _POINT
    if name in ("LINESTRING", "CURVE", "COMPOUNDCURVE", "CIRCULARSTRING", "LINE"):
        return _LINE
    if name in ("POLYGON", "SURFACE", "CURVEPOLYGON"):
        return _POLYGON
    return None


def parse_style(style: Mapping[str, Any]) -> Style:
    """The `Style` model of a style block; raises `ValueError` with a readable message."""
    try:
        return Style.model_validate(_thaw(style))
    except ValidationError as exc:
        raise ValueError(_message(exc)) from None


def validate_style(style: Mapping[str, Any], geometry_type: str | None) -> None:
    """Raise `ValueError` saying what is wrong with a style block for this geometry type.

    `geometry_type` is the layer's OGC geometry type (POINT, MULTIPOLYGON, ...), "RASTER" for
    a coverage, or None when unknown.
    """
    parsed = parse_style(style)
    is_raster = (geometry_type or "").upper() == "RASTER"
    if is_raster:
        if parsed.kind not in ("ramp", "single") or parsed.symbol is not None:
            raise ValueError(f"a raster layer takes a 'ramp' style, not a {parsed.kind} style")
        return
    if parsed.ramp is not None and geometry_type is not None:
        raise ValueError("'ramp' is for raster layers; use fill/stroke for vector layers")
    family = geometry_family(geometry_type)
    for symbol in parsed.symbols():
        if symbol.marker is not None and family in (_LINE, _POLYGON):
            raise ValueError(f"'marker' is for point layers, not {geometry_type} layers")
        if family == _POINT and symbol.marker is None and symbol.draws_anything:
            raise ValueError("a point layer's symbol needs 'marker' (e.g. marker: circle)")
    placement = parsed.label.placement if parsed.label is not None else None
    if family == _POINT and placement not in (None, Placement.POINT):
        raise ValueError(f"label placement '{placement}' needs a line or polygon layer")


def _with_defaults(block: Any, kind: str, base: dict[str, Any]) -> Any:
    """A categorized/graduated/rules block whose entries inherit the symbol keys in `base`."""

    def merged(entry: Any) -> Any:
        if not isinstance(entry, Mapping):
            return entry
        if isinstance(entry.get("symbol"), Mapping):
            return {**entry, "symbol": {**base, **entry["symbol"]}}
        return {**base, **entry}

    if kind == "rules":
        return [merged(e) for e in block] if isinstance(block, list | tuple) else block
    if not isinstance(block, Mapping):
        return block
    entries = "categories" if kind == "categorized" else "classes"
    out = dict(block)
    if isinstance(out.get(entries), list | tuple):
        out[entries] = [merged(e) for e in out[entries]]
    if isinstance(out.get("default"), Mapping):
        out["default"] = {**base, **out["default"]}
    return out


def _thaw(value: Any) -> Any:
    """Plain dicts and lists from the project's frozen mappings and tuples."""
    if isinstance(value, Mapping):
        return {str(k): _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def _message(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"] if p not in ("symbol",)) or "style"
        text = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"style.{where}: {text}" if where != "style" else f"style: {text}")
    return "; ".join(lines)
