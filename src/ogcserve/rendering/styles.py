"""The `style:` block of a layer: pydantic models, validation and the fields a style reads.

A style is one of five kinds, told apart by the key that is present:

- single symbol: symbol keys only (`fill`, `stroke`, `marker`, ...);
- `categorized`: a symbol per distinct value of a field;
- `graduated`: a symbol per numeric range of a field;
- `rules`: symbols chosen by CQL2 filters and scale ranges;
- `ramp`: a colour ramp for a single-band raster.

Vector styles may add `label`. The schema is documented in docs/styles.md.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping, Set
from enum import StrEnum
from typing import Annotated, Any

from PIL import ImageColor
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ogcserve.errors import FilterError
from ogcserve.expressions import Expression, parse

RGBA = tuple[int, int, int, int]


def parse_color(value: Any) -> RGBA:
    """A colour from "#rgb", "#rrggbb", "#rrggbbaa", a CSS name or "rgb(...)" text."""
    if isinstance(value, list | tuple) and len(value) in (3, 4):
        rgba = tuple(int(v) for v in value) + ((255,) if len(value) == 3 else ())
        if all(0 <= v <= 255 for v in rgba):
            return rgba  # type: ignore[return-value]
    if not isinstance(value, str):
        raise ValueError(f"a colour must be text such as '#1f78b4', not {value!r}")
    try:
        return ImageColor.getcolor(value.strip(), "RGBA")  # type: ignore[return-value]
    except ValueError:
        raise ValueError(
            f"{value!r} is not a colour (use '#rrggbb', '#rrggbbaa' or a CSS name)"
        ) from None


Color = Annotated[RGBA, BeforeValidator(parse_color)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineJoin(StrEnum):
    """How stroke segments meet."""

    MITER = "miter"
    ROUND = "round"
    BEVEL = "bevel"


class LineCap(StrEnum):
    """How open strokes end."""

    BUTT = "butt"
    ROUND = "round"
    SQUARE = "square"


class MarkerShape(StrEnum):
    """Point marker shapes."""

    CIRCLE = "circle"
    SQUARE = "square"
    TRIANGLE = "triangle"
    STAR = "star"
    CROSS = "cross"


class Marker(_Model):
    """A point marker; colours left out are taken from the enclosing symbol."""

    shape: MarkerShape = MarkerShape.CIRCLE
    size: float = Field(default=6.0, gt=0, le=256)  # pixels, the shape's full width
    fill: Color | None = None
    stroke: Color | None = None
    stroke_width: float | None = Field(default=None, ge=0, le=64)
    rotation_field: str | None = None  # degrees clockwise, read per feature
    rotation: float = 0.0  # degrees clockwise, for every feature


class Symbol(_Model):
    """How a feature is drawn: fill and stroke for polygons, stroke for lines, marker for points.

    Widths and sizes are in pixels (OGC 0.28 mm). `fill: none` / `stroke: none` turn a part off.
    """

    fill: Color | None = None
    stroke: Color | None = None
    stroke_width: float = Field(default=1.0, ge=0, le=64)
    dash: tuple[float, ...] | None = None
    opacity: float = Field(default=1.0, ge=0, le=1)
    line_join: LineJoin = LineJoin.ROUND
    line_cap: LineCap = LineCap.ROUND
    marker: Marker | None = None
    # `marker: circle` with `size:` beside it is the short form of `marker: {shape, size}`.
    size: float | None = Field(default=None, gt=0, le=256)

    @field_validator("fill", "stroke", mode="before")
    @classmethod
    def _none_color(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() == "none" else value

    @field_validator("dash")
    @classmethod
    def _check_dash(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and (len(value) < 2 or any(v < 0 for v in value) or sum(value) <= 0):
            raise ValueError("dash must be at least two non-negative lengths, e.g. [4, 2]")
        return value

    @model_validator(mode="before")
    @classmethod
    def _short_marker(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("marker"), str):
            data = dict(data)
            marker: dict[str, Any] = {"shape": data["marker"]}
            if data.get("size") is not None:
                marker["size"] = data["size"]
            data["marker"] = marker
        return data

    @model_validator(mode="after")
    def _complete_marker(self) -> Symbol:
        m = self.marker
        if m is not None:
            filled = m.model_copy(
                update={
                    "size": self.size
                    if self.size is not None and "size" not in m.model_fields_set
                    else m.size,
                    "fill": m.fill if m.fill is not None else self.fill,
                    "stroke": m.stroke if m.stroke is not None else self.stroke,
                    "stroke_width": m.stroke_width
                    if m.stroke_width is not None
                    else self.stroke_width,
                }
            )
            object.__setattr__(self, "marker", filled)
        return self

    @property
    def draws_anything(self) -> bool:
        """False for a symbol with neither fill, stroke nor marker."""
        return self.fill is not None or self.stroke is not None or self.marker is not None


_SYMBOL_KEYS = frozenset(Symbol.model_fields)


class Halo(_Model):
    """A ring of colour around label text, to keep it readable on any background."""

    color: Color = (255, 255, 255, 255)
    width: float = Field(default=1.5, ge=0, le=16)


class Placement(StrEnum):
    """Where a label goes: at a point, along a line, inside a polygon."""

    POINT = "point"
    LINE = "line"
    CENTROID = "centroid"


class Label(_Model):
    """Text drawn for each feature, placed greedily without overlaps.

    `field` names the attribute to show; `expression` is a template such as
    "{name} ({pop_est})" instead. `priority_field`: larger values are placed first.
    """

    field: str | None = None
    expression: str | None = None
    size: float = Field(default=11.0, gt=0, le=128)
    color: Color = (34, 34, 34, 255)
    halo: Halo | None = Field(default_factory=Halo)
    placement: Placement | None = None  # default: from the geometry type
    offset: tuple[float, float] = (0.0, 0.0)  # pixels right and down from the anchor
    priority_field: str | None = None
    bold: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> Label:
        if (self.field is None) == (self.expression is None):
            raise ValueError("a label needs exactly one of 'field' or 'expression'")
        if self.expression is not None:
            template_fields(self.expression)  # raises on a malformed template
        return self

    def fields(self) -> set[str]:
        """The attributes this label reads."""
        names = {self.field} if self.field else template_fields(self.expression or "")
        return names | ({self.priority_field} if self.priority_field else set())


def template_fields(template: str) -> set[str]:
    """The field names of a label template; only plain `{name}` placeholders are allowed."""
    names: set[str] = set()
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"label expression {template!r}: {exc}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name or not name.replace("_", "a").replace("$", "a").isalnum() or conversion:
            raise ValueError(f"label expression {template!r}: use plain {{field}} placeholders")
        del spec  # a format spec such as {pop:,.0f} is allowed
        names.add(name)
    return names


def _split_symbol(data: Any) -> Any:
    """Move symbol keys of a flat entry (`{value, fill, stroke}`) under `symbol`."""
    if not isinstance(data, Mapping) or "symbol" in data:
        return data
    entry = {k: v for k, v in data.items() if k not in _SYMBOL_KEYS}
    symbol = {k: v for k, v in data.items() if k in _SYMBOL_KEYS}
    entry["symbol"] = symbol
    return entry


class Category(_Model):
    """One value of the categorized field and its symbol."""

    value: Any
    label: str | None = None  # legend text (default: the value)
    symbol: Symbol

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        return _split_symbol(data)

    @property
    def title(self) -> str:
        """The legend text."""
        return self.label if self.label is not None else str(self.value)


class Categorized(_Model):
    """A symbol per value of `field`; `default` draws every other value (else: not drawn)."""

    field: str
    categories: tuple[Category, ...] = Field(min_length=1)
    default: Symbol | None = None


class GraduatedClass(_Model):
    """A numeric range `min <= value < max` (the last class includes its max)."""

    min: float
    max: float
    label: str | None = None
    symbol: Symbol

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        return _split_symbol(data)

    @model_validator(mode="after")
    def _ordered(self) -> GraduatedClass:
        if not self.min < self.max:
            raise ValueError(f"class min ({self.min:g}) must be below max ({self.max:g})")
        return self

    @property
    def title(self) -> str:
        """The legend text."""
        return self.label if self.label is not None else f"{self.min:g} to {self.max:g}"


class Graduated(_Model):
    """A symbol per numeric range of `field`."""

    field: str
    classes: tuple[GraduatedClass, ...] = Field(min_length=1)
    default: Symbol | None = None


class Rule(_Model):
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

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        return _split_symbol(data)

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


class Style(_Model):
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
        symbol = {k: data.pop(k) for k in list(data) if k in _SYMBOL_KEYS and k != "opacity"}
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
