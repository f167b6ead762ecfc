"""A QGIS layer's symbology (`<renderer-v2>`, `<labeling>`, the raster `<pipe>`) as the `style:`
mapping of the project model (docs/styles.md), with a warning for everything approximated or
ignored (docs/qgis-projects.md, "Symbology").

    style, warnings = layer_style(maplayer, geometry="polygon")

Warnings do not name the layer: the caller puts its name in front.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from .style_labels import read_labels
from .style_rasters import raster_style
from .style_rules import RuleReader, categories_as_rules, category_values, graduated_rules
from .style_symbols import REFERENCE_WIDTH, SymbolReader, Units, number

Element = etree._Element

_FIELD = re.compile(r'^(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*))$')


def layer_style(maplayer: Element, *, geometry: str | None) -> tuple[dict[str, Any], list[str]]:
    """The `style:` mapping and the warnings for a `<maplayer>` element.

    `geometry` is "point", "line", "polygon", or None for a raster layer.
    """
    warnings: list[str] = []
    if geometry is None:
        return raster_style(maplayer, warnings), list(dict.fromkeys(warnings))
    units = Units(_map_units_per_pixel(maplayer), warnings)
    symbols = SymbolReader(units, warnings)
    renderer = maplayer.find("renderer-v2")
    style = _renderer(renderer, symbols) if renderer is not None else {}
    if renderer is None:
        warnings.append("the layer has no renderer: drawn with the default symbol")
    if not style:
        style = _default_symbol(geometry)
    label = read_labels(maplayer, geometry, units, warnings)
    if label is not None:
        style["label"] = label
    opacity = number(maplayer.findtext("layerOpacity"), 1.0)
    if opacity < 1:
        style["opacity"] = round(max(opacity, 0.0), 4)
    _blending(maplayer, warnings)
    return style, list(dict.fromkeys(warnings))  # each warning once, in order


def _renderer(renderer: Element, symbols: SymbolReader) -> dict[str, Any]:
    kind = renderer.get("type", "")
    for attr, text in (
        ("symbollevels", "symbol levels are not read (symbols draw in the renderer's order)"),
        ("enableorderby", "the feature order (order by) is ignored"),
    ):
        if renderer.get(attr) == "1":
            symbols.warnings.append(text)
    table = _symbol_table(renderer)
    if kind == "singleSymbol":
        element = table.get("0")
        parts = symbols.symbols(element, "") if element is not None else [{}]
        return parts[0] if len(parts) == 1 else {"rules": parts}
    if kind == "categorizedSymbol":
        return _categorized(renderer, table, symbols)
    if kind == "graduatedSymbol":
        return graduated_rules(renderer, table, symbols)
    if kind == "RuleRenderer":
        return RuleReader(table, symbols).style(renderer)
    if kind == "nullSymbol":
        symbols.warnings.append("the 'no symbols' renderer: features are not drawn")
        return {"fill": "none", "stroke": "none"}
    return _fallback_renderer(kind, renderer, table, symbols)


def _fallback_renderer(
    kind: str, renderer: Element, table: dict[str, Element], symbols: SymbolReader
) -> dict[str, Any]:
    """Renderers that wrap another one (inverted polygons, point displacement, clusters) draw
    their inner renderer; any other draws with its first symbol (or the default one)."""
    inner = renderer.find("renderer-v2")
    if inner is not None:
        symbols.warnings.append(f"renderer {kind!r} is drawn as its inner renderer")
        return _renderer(inner, symbols)
    first = next(iter(table.values()), None)
    symbols.warnings.append(f"renderer {kind!r} is not supported: drawn with one symbol")
    return symbols.symbol(first, "") if first is not None else {}


def _symbol_table(renderer: Element) -> dict[str, Element]:
    """The renderer's `<symbols>` by name (the categories, ranges and rules refer to them)."""
    holder = renderer.find("symbols")
    if holder is None:
        return {}
    return {s.get("name", ""): s for s in holder.findall("symbol")}


def _categorized(
    renderer: Element, table: dict[str, Element], symbols: SymbolReader
) -> dict[str, Any]:
    """A categorized renderer on a field; on an expression it becomes rules."""
    attr = renderer.get("attr", "")
    field = field_name(attr)
    scratch = SymbolReader(symbols.units, [])  # its warnings come again below
    layered = any(len(scratch.symbols(s, "")) > 1 for s in table.values())
    if field is None:
        return categories_as_rules(renderer, table, symbols, attr)
    if layered:  # symbols drawn in several parts: a rule per part
        quoted = '"' + field.replace('"', '""') + '"'
        return categories_as_rules(renderer, table, symbols, quoted)
    categories: list[dict[str, Any]] = []
    default: dict[str, Any] | None = None
    for category in renderer.findall("categories/category"):
        label = category.get("label")
        where = f"category {label or category.get('value')!r}"
        element = table.get(category.get("symbol", ""))
        drawn = category.get("render", "true") != "false" and element is not None
        symbol = symbols.symbol(element, where) if drawn and element is not None else {}
        if not symbol:  # not drawn: a category that draws nothing keeps it from the default
            symbol = {"fill": "none", "stroke": "none"}
        values = category_values(category)
        if values is None:
            default = symbol
            continue
        for value in values:
            entry: dict[str, Any] = {"value": value, **symbol}
            if label:
                entry["label"] = label
            categories.append(entry)
    if not categories:
        return default or {}
    block: dict[str, Any] = {"field": field, "categories": categories}
    if default is not None:
        block["default"] = default
    return {"categorized": block}


def field_name(attr: str) -> str | None:
    """The field a renderer classifies on, or None when `attr` is an expression."""
    match = _FIELD.match(attr.strip())
    if match is None:
        return None
    return match.group(1).replace('""', '"') if match.group(1) else match.group(2)


def _default_symbol(geometry: str) -> dict[str, Any]:
    if geometry == "point":
        return {"marker": "circle", "size": 7.1, "fill": "#a20056", "stroke": "#232323"}
    if geometry == "line":
        return {"stroke": "#3c3c3c", "stroke_width": 0.93}
    return {"fill": "#bebebe", "stroke": "#232323", "stroke_width": 0.93}


def _map_units_per_pixel(maplayer: Element) -> float | None:
    extent = maplayer.find("extent")
    if extent is None:
        return None
    width = number(extent.findtext("xmax"), 0.0) - number(extent.findtext("xmin"), 0.0)
    return width / REFERENCE_WIDTH if width > 0 else None


def _blending(maplayer: Element, warnings: list[str]) -> None:
    for tag, what in (("blendMode", "layer"), ("featureBlendMode", "feature")):
        if maplayer.findtext(tag, "0").strip() not in ("0", ""):
            warnings.append(f"the {what} blending mode is ignored (drawn normally)")
    for effect in maplayer.findall("renderer-v2/effect"):
        if effect.get("enabled") == "1":
            warnings.append("the layer's draw effects are ignored")
