"""QGIS symbols (`<symbol>` with its `<layer>`s) as the flat symbol mapping of a `style:` block.

Sizes come in QGIS units (millimetres, points, inches, pixels, map units); the style model
counts OGC pixels of 0.28 mm, the size QGIS Server also renders at when a GetMap carries no DPI.
A symbol's simple fill, simple line and simple marker layers merge into one symbol (a fill with
its outline, a line, a marker); anything else is drawn in the nearest simple form and named in
the warnings.
"""

from __future__ import annotations

import math
from typing import Any

from lxml import etree

from .style_markers import marker_shape

Element = etree._Element

MM_PER_PIXEL = 0.28
_MM_PER_UNIT = {"MM": 1.0, "Point": 25.4 / 72, "Inch": 25.4}
REFERENCE_WIDTH = 1024
"""Map units become pixels at the scale of the layer's extent drawn this many pixels wide."""

# Qt's dash patterns, in multiples of the pen width (QPen::dashPattern()).
_PEN_DASHES: dict[str, list[float] | None] = {
    "solid": None,
    "dash": [4, 2],
    "dot": [1, 2],
    "dash dot": [4, 2, 1, 2],
    "dash dot dot": [4, 2, 1, 2, 1, 2],
}
_JOINS = {"miter": "miter", "round": "round", "bevel": "bevel"}
_CAPS = {"flat": "butt", "round": "round", "square": "square"}
# Share of the area Qt's brush patterns cover: a hatched fill is drawn in its colour at this
# opacity, which keeps the look of the area's colour without the pattern.
_BRUSH_COVER = {
    "dense1": 0.94,
    "dense2": 0.88,
    "dense3": 0.63,
    "dense4": 0.5,
    "dense5": 0.37,
    "dense6": 0.12,
    "dense7": 0.06,
    "horizontal": 0.125,
    "vertical": 0.125,
    "cross": 0.23,
    "b_diagonal": 0.18,
    "f_diagonal": 0.18,
    "diagonal_x": 0.33,
}


class Units:
    """Converts QGIS sizes to OGC pixels; map units through `map_units_per_pixel` (if known)."""

    def __init__(self, map_units_per_pixel: float | None, warnings: list[str]) -> None:
        self.map_units_per_pixel = map_units_per_pixel
        self.warnings = warnings

    def pixels(self, value: float, unit: str, what: str) -> float:
        """`value` in `unit` as pixels; `what` names the size in a warning."""
        if unit in _MM_PER_UNIT:
            return value * _MM_PER_UNIT[unit] / MM_PER_PIXEL
        if unit == "Pixel":
            return value
        if unit in ("MapUnit", "RenderMetersInMapUnits") and self.map_units_per_pixel:
            px = value / self.map_units_per_pixel
            self.warnings.append(
                f"{what} of {value:g} map units is drawn {px:.3g} px wide at every scale "
                f"(its width when the layer's extent is {REFERENCE_WIDTH} px wide)"
            )
            return px
        fallback = value / MM_PER_PIXEL if unit != "Percentage" else 1.0
        self.warnings.append(f"{what} in unit {unit!r} is drawn as {fallback:.3g} px")
        return fallback


def options(layer: Element) -> dict[str, str]:
    """A symbol layer's properties: the `<Option type="Map">` of QGIS 3.x, else the `<prop>`s."""
    found: dict[str, str] = {}
    for prop in layer.findall("prop"):
        found[prop.get("k", "")] = prop.get("v", "")
    option_map = layer.find("Option")
    if option_map is not None:
        for option in option_map.findall("Option"):
            name = option.get("name")
            if name is not None and option.get("value") is not None:
                found[name] = option.get("value", "")
    return found


def qgis_color(text: str | None) -> str | None:
    """ "r,g,b,a" (or "#rrggbb") as "#rrggbb" / "#rrggbbaa"; None when transparent or unreadable."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("#"):
        digits = text[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        if len(digits) not in (6, 8) or not all(c in "0123456789abcdefABCDEF" for c in digits):
            return None
        return "#" + digits.lower()
    values = [number(p, math.nan) for p in text.split(",")[:4]]
    if len(values) == 3:
        values.append(255.0)
    if len(values) != 4 or any(math.isnan(v) for v in values):
        return None
    rgba = [round(v) for v in values]
    if rgba[3] <= 0:
        return None
    return hex_color(rgba[:3], rgba[3])


def hex_color(rgb: list[int], alpha: int = 255) -> str:
    """ "#rrggbb", with "aa" appended when not opaque."""
    text = "#" + "".join(f"{max(0, min(255, v)):02x}" for v in rgb)
    return text if alpha >= 255 else text + f"{max(0, alpha):02x}"


def with_alpha(color: str, factor: float) -> str:
    """The colour with its alpha scaled by `factor`."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    alpha = int(color[7:9], 16) if len(color) == 9 else 255
    return hex_color(rgb, round(alpha * factor))


def _fade(symbol: dict[str, Any], factor: float) -> None:
    """Scale the alpha of every colour of a symbol mapping (and of its marker) by `factor`."""
    for part in (symbol, symbol.get("marker") or {}):
        for key in ("fill", "stroke"):
            color = part.get(key)
            if isinstance(color, str) and color.startswith("#"):
                part[key] = with_alpha(color, factor)


def number(text: str | None, default: float) -> float:
    """The finite number in `text`; `default` when it is absent, not a number or not finite."""
    try:
        value = float(text) if text not in (None, "") else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def data_defined(element: Element) -> list[str]:
    """The names of the active data-defined properties under `element` (these are ignored)."""
    names = []
    for holder in element.findall("data_defined_properties"):
        props = holder.find("Option/Option[@name='properties']")
        for prop in props if props is not None else ():
            active = prop.find("Option[@name='active']")
            if active is not None and active.get("value") == "true":
                names.append(prop.get("name", "?"))
    return names


class SymbolReader:
    """Reads `<symbol>` elements into symbol mappings, collecting warnings."""

    def __init__(self, units: Units, warnings: list[str]) -> None:
        self.units = units
        self.warnings = warnings

    def warn(self, where: str, text: str) -> None:
        """Record a warning about `where` (a symbol's place in the renderer)."""
        self.warnings.append(f"{where}: {text}" if where else text)

    def symbols(self, element: Element, where: str) -> list[dict[str, Any]]:
        """A `<symbol>` as the symbol mappings that draw it, bottom first: its enabled layers
        merged while they add a part (a fill and its outline), a new mapping where a layer
        draws a part again (a line over a line: a road's casing and its centre)."""
        parts: list[dict[str, Any]] = [{}]
        layers = [x for x in element.findall("layer") if x.get("enabled", "1") != "0"]
        for layer in layers:
            cls = layer.get("class", "")
            props = options(layer)
            for name in data_defined(layer):
                self.warn(where, f"data-defined {name} of {cls} is ignored")
            effect = layer.find("effect")
            if effect is not None and effect.get("enabled") == "1":
                self.warn(where, f"the draw effects of {cls} are ignored")
            part = self._layer(cls, props, layer, where)
            if any(k in part and k in parts[-1] for k in ("fill", "stroke", "marker")):
                parts.append({})
            if "stroke" in part:
                for key in ("stroke_width", "dash", "line_join", "line_cap"):
                    parts[-1].pop(key, None)
            parts[-1].update(part)
        if not layers:
            self.warn(where, "a symbol without enabled layers is not drawn")
        alpha = number(element.get("alpha"), 1.0)
        if alpha < 1:  # QGIS scales each colour's alpha by the symbol's opacity
            for part in parts:
                _fade(part, max(alpha, 0.0))
        return [p for p in parts if p] or [{}]

    def symbol(self, element: Element, where: str) -> dict[str, Any]:
        """A `<symbol>` as one symbol mapping: the top one where it takes several."""
        parts = self.symbols(element, where)
        if len(parts) > 1:
            self.warn(where, "a symbol that draws a part twice is drawn with the top one")
        merged: dict[str, Any] = {}
        for part in parts:
            if "stroke" in part:
                for key in ("stroke_width", "dash", "line_join", "line_cap"):
                    merged.pop(key, None)
            merged.update(part)
        return merged

    def _layer(self, cls: str, props: dict[str, str], layer: Element, where: str) -> dict[str, Any]:
        if cls == "SimpleFill":
            return self.simple_fill(props, where)
        if cls == "SimpleLine":
            return self.simple_line(props, where)
        if cls == "SimpleMarker":
            return {"marker": self.simple_marker(props, where)}
        return self._fallback(cls, props, layer, where)

    # --- fills -------------------------------------------------------------------------------

    def simple_fill(self, props: dict[str, str], where: str) -> dict[str, Any]:
        """A SimpleFill: its fill colour and brush, its outline."""
        out: dict[str, Any] = {}
        brush = props.get("style", "solid")
        color = qgis_color(props.get("color"))
        if color is not None and brush != "no":
            if brush != "solid":
                cover = _BRUSH_COVER.get(brush, 0.5)
                self.warn(
                    where, f"fill pattern {brush!r} is drawn solid at {cover:g} of its opacity"
                )
                color = with_alpha(color, cover)
            out["fill"] = color
        out.update(
            self._pen(
                props.get("outline_color"),
                props.get("outline_style", "solid"),
                number(props.get("outline_width"), 0.26),
                props.get("outline_width_unit", "MM"),
                props,
                where,
                "outline width",
            )
        )
        self._offset(props, where)
        return out

    # --- lines -------------------------------------------------------------------------------

    def simple_line(self, props: dict[str, str], where: str) -> dict[str, Any]:
        """A SimpleLine: colour, width, pen style or custom dashes, join and cap."""
        out = self._pen(
            props.get("line_color", props.get("color")),
            props.get("line_style", "solid"),
            number(props.get("line_width"), 0.26),
            props.get("line_width_unit", "MM"),
            props,
            where,
            "line width",
        )
        if out and props.get("capstyle"):
            out["line_cap"] = _CAPS.get(props["capstyle"], "square")
        if out and props.get("use_custom_dash") == "1":
            out["dash"] = self._custom_dash(props, out["stroke_width"], where)
        if number(props.get("offset"), 0.0) != 0:
            self.warn(where, "a line offset is ignored (drawn on the line)")
        return out

    def _pen(
        self,
        color_text: str | None,
        style: str,
        width: float,
        unit: str,
        props: dict[str, str],
        where: str,
        what: str,
    ) -> dict[str, Any]:
        color = qgis_color(color_text)
        if color is None or style == "no":
            return {}
        # Width 0 is Qt's cosmetic pen: a one-pixel hairline.
        px = self.units.pixels(width, unit, what) if width > 0 else 1.0
        out: dict[str, Any] = {"stroke": color, "stroke_width": round(min(px, 64.0), 3)}
        if style not in _PEN_DASHES:
            self.warn(where, f"pen style {style!r} is drawn solid")
        elif _PEN_DASHES[style] is not None:
            out["dash"] = _PEN_DASHES[style]
        out["line_join"] = _JOINS.get(props.get("joinstyle", "bevel"), "bevel")
        return out

    def _custom_dash(self, props: dict[str, str], width_px: float, where: str) -> list[float]:
        unit = props.get("customdash_unit", "MM")
        lengths = []
        for part in props.get("customdash", "5;2").split(";"):
            lengths.append(self.units.pixels(number(part, 0.0), unit, "dash length"))
        if len(lengths) % 2 or len(lengths) < 2 or sum(lengths) <= 0 or min(lengths) < 0:
            self.warn(where, f"dash pattern {props.get('customdash')!r} is drawn as [4, 2]")
            return [4.0, 2.0]
        # The style model counts dashes in stroke widths (at least one pixel), as Qt does.
        base = max(width_px, 1.0)
        return [round(v / base, 4) for v in lengths]

    def _offset(self, props: dict[str, str], where: str) -> None:
        offset = props.get("offset", "0,0")
        if any(number(v, 0.0) != 0 for v in offset.split(",")):
            self.warn(where, f"offset {offset} is ignored")

    # --- markers -----------------------------------------------------------------------------

    def simple_marker(self, props: dict[str, str], where: str) -> dict[str, Any]:
        """A SimpleMarker: shape, size, fill, outline and angle."""
        size = self.units.pixels(
            number(props.get("size"), 2.0), props.get("size_unit", "MM"), "marker size"
        )
        shape, size, rotation, filled = marker_shape(props.get("name", "circle"), size, self, where)
        marker: dict[str, Any] = {"shape": shape, "size": round(min(max(size, 0.1), 256.0), 3)}
        fill = qgis_color(props.get("color"))
        outline = qgis_color(props.get("outline_color"))
        width = number(props.get("outline_width"), 0.0)
        if not filled:  # a shape of lines only: QGIS draws it in the outline colour
            fill, outline = outline, None
        # A colour left out of a marker is the symbol's, and the symbol has none: not drawn.
        if fill is not None:
            marker["fill"] = fill
        if outline is not None and props.get("outline_style", "solid") != "no":
            marker["stroke"] = outline
            marker["stroke_width"] = round(
                self.units.pixels(width, props.get("outline_width_unit", "MM"), "outline width")
                if width > 0
                else 1.0,
                3,
            )
        angle = (number(props.get("angle"), 0.0) + rotation) % 360
        if angle:
            marker["rotation"] = round(angle, 3)
        self._offset(props, where)
        if (
            props.get("horizontal_anchor_point", "1") != "1"
            or props.get("vertical_anchor_point", "1") != "1"
        ):
            self.warn(where, "a marker anchor other than its centre is ignored")
        return marker

    # --- everything else ---------------------------------------------------------------------

    def _fallback(
        self, cls: str, props: dict[str, str], layer: Element, where: str
    ) -> dict[str, Any]:
        """The nearest simple form of a symbol layer the style model has no equivalent for."""
        parent = layer.getparent()
        kind = parent.get("type") if parent is not None else None
        color = qgis_color(props.get("color") or props.get("color1") or props.get("line_color"))
        inner = layer.find("symbol")
        if kind == "marker":
            marker = self.simple_marker({**props, "name": "circle"}, where)
            self.warn(where, f"symbol layer {cls} is drawn as a circle marker")
            return {"marker": marker}
        if inner is not None and kind == "line":
            nested = self.symbol(inner, where)
            color = color or (nested.get("marker") or {}).get("fill")
        if kind == "line":
            self.warn(where, f"symbol layer {cls} is drawn as a solid line")
            return {"stroke": color or "#808080", "stroke_width": 1.0}
        self.warn(where, f"symbol layer {cls} is drawn as a solid fill")
        return {"fill": color or "#808080"}
