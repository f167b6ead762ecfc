"""QGIS raster renderers (`<pipe><rasterrenderer>`) as a `ramp:` style.

Single-band grey is a two-stop ramp from its contrast-enhancement minimum (black) to maximum
(white); single-band pseudocolour is its colour ramp shader's items, interpolated or (discrete)
held as steps. Other renderers keep the default drawing (grey or RGB), named in a warning.
"""

from __future__ import annotations

import math
from typing import Any

from lxml import etree

from .style_symbols import number, qgis_color, with_alpha

Element = etree._Element

_STEP = 1e-9  # relative width of the jump between two classes of a discrete ramp


def raster_style(maplayer: Element, warnings: list[str]) -> dict[str, Any]:
    """The style of a raster `<maplayer>`: a `ramp:`, or {} (the default drawing)."""
    renderer = maplayer.find("pipe/rasterrenderer")
    if renderer is None:
        return {}
    kind = renderer.get("type", "")
    style: dict[str, Any] = {}
    if kind == "singlebandgray":
        style = _gray(renderer, warnings)
    elif kind == "singlebandpseudocolor":
        style = _pseudocolor(renderer, warnings)
    elif kind != "multibandcolor":
        warnings.append(f"raster renderer {kind!r} is not supported: drawn in the default greys")
    else:
        warnings.append("the multiband colour renderer is drawn from bands 1, 2, 3 as they are")
    band = renderer.get("band") or renderer.get("grayBand")
    if band not in (None, "1") and kind != "multibandcolor":
        warnings.append(f"band {band} is drawn from band 1")
    opacity = number(renderer.get("opacity"), 1.0)
    if opacity < 1:
        style["opacity"] = round(max(opacity, 0.0), 4)
    _pipe(maplayer, warnings)
    return style


def _gray(renderer: Element, warnings: list[str]) -> dict[str, Any]:
    enhancement = renderer.find("contrastEnhancement")
    if enhancement is None:
        return {}
    algorithm = enhancement.findtext("algorithm", "NoEnhancement")
    low = number(enhancement.findtext("minValue"), math.nan)
    high = number(enhancement.findtext("maxValue"), math.nan)
    if algorithm == "NoEnhancement" or not low < high:
        warnings.append("grey without contrast enhancement is stretched from minimum to maximum")
        return {}
    if algorithm != "StretchToMinimumMaximum":
        warnings.append(f"contrast enhancement {algorithm!r} is drawn as a stretch to min/max")
    black, white = "#000000", "#ffffff"
    if renderer.get("gradient") == "WhiteToBlack":
        black, white = white, black
    return {"ramp": [[low, black], [high, white]]}


def _pseudocolor(renderer: Element, warnings: list[str]) -> dict[str, Any]:
    shader = renderer.find("rastershader/colorrampshader")
    if shader is None:
        warnings.append("a pseudocolour renderer without colour ramp is drawn in greys")
        return {}
    items = []
    for item in shader.findall("item"):
        value = number(item.get("value"), math.nan)
        color = qgis_color(item.get("color")) or "#000000"
        alpha = min(max(number(item.get("alpha"), 255.0), 0.0), 255.0)
        items.append((value, with_alpha(color, alpha / 255) if alpha < 255 else color))
    items = [(v, c) for v, c in items if not math.isnan(v)]
    items.sort(key=lambda vc: vc[0])
    if not items:
        warnings.append("a colour ramp without items is drawn in greys")
        return {}
    if shader.get("clip") == "1":
        warnings.append("values outside the ramp are drawn in its end colours, not clipped")
    kind = shader.get("colorRampType", "INTERPOLATED")
    if kind == "INTERPOLATED":
        stops = _unique(items)
    else:
        if kind == "EXACT":
            warnings.append("an exact colour ramp is drawn as a discrete one")
        stops = _discrete(items)
    return {"ramp": [[v, c] for v, c in stops]}


def _unique(items: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Stops with strictly increasing values (the first of equal values kept)."""
    out: list[tuple[float, str]] = []
    for value, color in items:
        if math.isfinite(value) and (not out or value > out[-1][0]):
            out.append((value, color))
    return out


def _discrete(items: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """A discrete shader (each item colours the values up to and including its value) as
    pairs of stops that hold a colour over its class and jump at its upper bound."""
    finite = [v for v, _ in items if math.isfinite(v)]
    span = (max(finite) - min(finite)) if len(finite) > 1 else 1.0
    step = max(span, 1.0) * _STEP
    out: list[tuple[float, str]] = []
    previous: float | None = None
    for value, color in items:
        if previous is not None and math.isfinite(previous):
            start = previous + step
            if not out or start > out[-1][0]:
                out.append((start, color))
        if math.isfinite(value) and (not out or value > out[-1][0]):
            out.append((value, color))
        previous = value
    return out or [(0.0, items[0][1])]


def _pipe(maplayer: Element, warnings: list[str]) -> None:
    pipe = maplayer.find("pipe")
    if pipe is None:
        return
    bc = pipe.find("brightnesscontrast")
    if bc is not None and (
        number(bc.get("brightness"), 0)
        or number(bc.get("contrast"), 0)
        or number(bc.get("gamma"), 1) != 1
    ):
        warnings.append("brightness, contrast and gamma are ignored")
    hs = pipe.find("huesaturation")
    if hs is not None and (
        number(hs.get("saturation"), 0)
        or hs.get("colorizeOn") == "1"
        or hs.get("grayscaleMode", "0") != "0"
        or hs.get("invertColors") == "1"
    ):
        warnings.append("hue, saturation, colourising and inverting are ignored")
