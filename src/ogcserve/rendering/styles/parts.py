"""The parts a style is built from: colours, symbols (fill, stroke, marker) and labels."""

from __future__ import annotations

import string
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from PIL import ImageColor
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

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


class Model(BaseModel):
    """A part of a style block: unknown keys are errors, values are frozen."""

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


class Marker(Model):
    """A point marker; colours left out are taken from the enclosing symbol."""

    shape: MarkerShape = MarkerShape.CIRCLE
    size: float = Field(default=6.0, gt=0, le=256)  # pixels, the shape's full width
    fill: Color | None = None
    stroke: Color | None = None
    stroke_width: float | None = Field(default=None, ge=0, le=64)
    rotation_field: str | None = None  # degrees clockwise, read per feature
    rotation: float = 0.0  # degrees clockwise, for every feature


class Symbol(Model):
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


SYMBOL_KEYS = frozenset(Symbol.model_fields)
"""The keys of a symbol, which may also be written flat in a style or one of its entries."""


class Halo(Model):
    """A ring of colour around label text, to keep it readable on any background."""

    color: Color = (255, 255, 255, 255)
    width: float = Field(default=1.5, ge=0, le=16)


class Placement(StrEnum):
    """Where a label goes: at a point, along a line, inside a polygon."""

    POINT = "point"
    LINE = "line"
    CENTROID = "centroid"


class Label(Model):
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
