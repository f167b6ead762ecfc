"""The `style:` block of a layer: pydantic models, validation and the fields a style reads.

A style is one of five kinds, told apart by the key that is present:

- single symbol: symbol keys only (`fill`, `stroke`, `marker`, ...);
- `categorized`: a symbol per distinct value of a field;
- `graduated`: a symbol per numeric range of a field;
- `rules`: symbols chosen by CQL2 filters and scale ranges;
- `ramp`: a colour ramp for a single-band raster.

Vector styles may add `label`. The schema is documented in docs/styles.md. The parts of a style
(colours, symbols, labels) are in `parts`, the kinds' entries in `kinds`, the style itself and
its validation in `style`.
"""

from .kinds import Categorized, Category, Graduated, GraduatedClass, RampStop, Rule
from .parts import (
    RGBA,
    Color,
    Halo,
    Label,
    LineCap,
    LineJoin,
    Marker,
    MarkerShape,
    Placement,
    Symbol,
    parse_color,
    template_fields,
)
from .style import LABEL_REACH, Style, geometry_family, parse_style, validate_style

__all__ = [
    "LABEL_REACH",
    "RGBA",
    "Categorized",
    "Category",
    "Color",
    "Graduated",
    "GraduatedClass",
    "Halo",
    "Label",
    "LineCap",
    "LineJoin",
    "Marker",
    "MarkerShape",
    "Placement",
    "RampStop",
    "Rule",
    "Style",
    "Symbol",
    "geometry_family",
    "parse_color",
    "parse_style",
    "template_fields",
    "validate_style",
]
