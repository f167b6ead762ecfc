"""GetStyles (SLD 1.1 §12, a QGIS/GeoServer vendor operation): the layers' styles as an SLD
1.1 document.

A subset: single symbols, categories (PropertyIsEqualTo), graduated classes (a range filter),
rules (their CQL2 text as the rule's description; `else` as ElseFilter), raster ramps
(Interpolate) and labels.
"""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING, Any

from lxml import etree

from ogcserve.errors import MissingParameterValueError
from ogcserve.rendering.styles import Style, Symbol, geometry_family, parse_style
from ogcserve.services.wms.layers import named_layers
from ogcserve.services.wms.params import DEFAULT_STYLE
from ogcserve.services.wms.xml import Maker

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer
    from ogcserve.services.wms.service import WMSService

SLD_NS = "http://www.opengis.net/sld"
SE_NS = "http://www.opengis.net/se"
OGC_NS = "http://www.opengis.net/ogc"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SLD_SCHEMA = f"{SLD_NS} http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd"
CONTENT_TYPE = "application/vnd.ogc.sld+xml; charset=utf-8"

SLD = Maker(
    namespace=SLD_NS,
    nsmap={None: SLD_NS, "se": SE_NS, "ogc": OGC_NS, "xlink": XLINK_NS, "xsi": XSI_NS},
)
SE = Maker(namespace=SE_NS)
OGC = Maker(namespace=OGC_NS)


def get_styles(ctx: RequestContext, service: WMSService) -> None:
    """Write the SLD of every data layer named in LAYERS."""
    names = [n.strip() for n in ctx.request.parameter("LAYERS").split(",") if n.strip()]
    if not names:
        raise MissingParameterValueError("The LAYERS parameter is missing", locator="LAYERS")
    layers = [m for layer in named_layers(ctx, names) for m in layer.walk() if not m.is_group]
    root = SLD.StyledLayerDescriptor(version="1.1.0")
    root.set(f"{{{XSI_NS}}}schemaLocation", SLD_SCHEMA)
    for layer in layers:
        family = (
            None
            if layer.is_raster
            else geometry_family(ctx.server.access.schema(ctx, layer).geometry_type)
        )
        root.append(named_layer(layer, family, ctx.server.access.hidden_fields(ctx, layer)))
    ctx.response.set_header("Content-Type", CONTENT_TYPE)
    ctx.response.write(
        etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )


def named_layer(layer: Layer, family: str | None, hidden: Set[str] = frozenset()) -> etree._Element:
    """A NamedLayer with its one UserStyle, as drawn for a caller who may not read `hidden`
    attributes (`Style.without`: nothing in it names them)."""
    style = parse_style(layer.style).without(hidden)
    if style.ramp is not None:
        body = SE.CoverageStyle(SE.Rule(SE.RasterSymbolizer(_color_map(style))))
    else:
        body = SE.FeatureTypeStyle(*_rules(style, family))
    user_style = SLD.UserStyle(SE.Name(DEFAULT_STYLE), SLD.IsDefault("1"), body)
    return SLD.NamedLayer(SE.Name(layer.name), user_style)


def _rules(style: Style, family: str | None) -> list[etree._Element]:
    rules: list[etree._Element] = []
    if style.categorized is not None:
        field = style.categorized.field
        for category in style.categorized.categories:
            test = OGC.PropertyIsEqualTo(OGC.PropertyName(field), OGC.Literal(str(category.value)))
            rules.append(_rule(category.title, category.symbol, family, OGC.Filter(test)))
        if style.categorized.default is not None:
            rules.append(_rule("Other", style.categorized.default, family, SE.ElseFilter()))
    elif style.graduated is not None:
        field = style.graduated.field
        for item in style.graduated.classes:
            test = OGC.And(
                OGC.PropertyIsGreaterThanOrEqualTo(
                    OGC.PropertyName(field), OGC.Literal(format(item.min, "g"))
                ),
                OGC.PropertyIsLessThan(OGC.PropertyName(field), OGC.Literal(format(item.max, "g"))),
            )
            rules.append(_rule(item.title, item.symbol, family, OGC.Filter(test)))
    elif style.rules is not None:
        for rule in style.rules:
            element = _rule(
                rule.title,
                rule.symbol,
                family,
                SE.ElseFilter() if rule.else_ else None,
                abstract=rule.filter,
            )
            if rule.min_scale is not None:
                element.append(SE.MinScaleDenominator(format(rule.min_scale, "g")))
            if rule.max_scale is not None:
                element.append(SE.MaxScaleDenominator(format(rule.max_scale, "g")))
            rules.append(_reorder(element))
    elif style.symbol is not None:
        rules.append(_rule("Default", style.symbol, family, None))
    if style.label is not None and rules:
        text = style.label.field or style.label.expression or ""
        rules[-1].append(
            SE.TextSymbolizer(
                SE.Label(OGC.PropertyName(text)) if style.label.field else SE.Label(text)
            )
        )
    return rules


def _rule(
    title: str, symbol: Symbol, family: str | None, condition: Any, abstract: str | None = None
) -> etree._Element:
    description = SE.Description(SE.Title(title))
    if abstract:
        description.append(SE.Abstract(abstract))
    rule = SE.Rule(SE.Name(title), description)
    if condition is not None:
        rule.append(condition)
    rule.append(_symbolizer(symbol, family))
    return rule


def _reorder(rule: etree._Element) -> etree._Element:
    # SE 1.1 order: Name, Description, LegendGraphic, Filter, Min/MaxScale, then symbolizers.
    symbolizers = [child for child in rule if etree.QName(child).localname.endswith("Symbolizer")]
    for child in symbolizers:
        rule.remove(child)
        rule.append(child)
    return rule


def _symbolizer(symbol: Symbol, family: str | None) -> etree._Element:
    if family == "point" or (symbol.marker is not None and family is None):
        marker = symbol.marker
        mark = SE.Mark(SE.WellKnownName(marker.shape.value if marker else "circle"))
        mark.extend(_fill(symbol.fill, symbol.opacity) + _stroke(symbol))
        size = marker.size if marker else 6.0
        return SE.PointSymbolizer(SE.Graphic(mark, SE.Size(format(size, "g"))))
    if family == "line":
        return SE.LineSymbolizer(*_stroke(symbol))
    return SE.PolygonSymbolizer(*_fill(symbol.fill, symbol.opacity), *_stroke(symbol))


def _fill(color: tuple[int, int, int, int] | None, opacity: float) -> list[etree._Element]:
    if color is None:
        return []
    return [
        SE.Fill(
            _svg("fill", _hex(color)), _svg("fill-opacity", format(color[3] / 255 * opacity, ".3g"))
        )
    ]


def _stroke(symbol: Symbol) -> list[etree._Element]:
    if symbol.stroke is None:
        return []
    stroke = SE.Stroke(
        _svg("stroke", _hex(symbol.stroke)),
        _svg("stroke-width", format(symbol.stroke_width, "g")),
        _svg("stroke-opacity", format(symbol.stroke[3] / 255 * symbol.opacity, ".3g")),
    )
    if symbol.dash:
        stroke.append(_svg("stroke-dasharray", " ".join(format(d, "g") for d in symbol.dash)))
    return [stroke]


def _color_map(style: Style) -> etree._Element:
    interpolate = SE.Interpolate(SE.LookupValue("Rasterdata"), fallbackValue="#00000000")
    for value, color in style.ramp or ():
        interpolate.append(
            SE.InterpolationPoint(SE.Data(format(value, "g")), SE.Value(_hex(color)))
        )
    return SE.ColorMap(interpolate)


def _svg(name: str, value: str) -> etree._Element:
    return SE.SvgParameter(value, name=name)


def _hex(color: tuple[int, int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color[:3])
