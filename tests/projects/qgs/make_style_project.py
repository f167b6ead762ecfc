"""Write a QGIS project with one layer per symbology case, as QGIS desktop saves it (PyQGIS's
`QgsProject.write`); run by Debian's system Python, which has `qgis.core`:

    QT_QPA_PLATFORM=offscreen HOME=$(mktemp -d) /usr/bin/python3 make_style_project.py DATA OUT.qgs

DATA holds `natural_earth.gpkg` (the demo's, with a `borders` line table added by the tests) and
`elevation.tif`. Every layer is published in WMS under its name (the case name). The cases are
read back by tests/projects/qgs/test_qgis_symbology*.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsCoordinateReferenceSystem,
    QgsFillSymbol,
    QgsGraduatedSymbolRenderer,
    QgsLineSymbol,
    QgsMapLayer,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsProject,
    QgsProperty,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRendererCategory,
    QgsRendererRange,
    QgsRuleBasedLabeling,
    QgsRuleBasedRenderer,
    QgsSimpleLineSymbolLayer,
    QgsSingleBandGrayRenderer,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsSvgMarkerSymbolLayer,
    QgsSymbolLayer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import Qt  # type: ignore[import-not-found]
from qgis.PyQt.QtGui import QColor  # type: ignore[import-not-found]

Props = dict[str, str]


def fill(**props: str) -> Any:
    return QgsFillSymbol.createSimple(props)


def line(**props: str) -> Any:
    return QgsLineSymbol.createSimple(props)


def marker(**props: str) -> Any:
    return QgsMarkerSymbol.createSimple(props)


def single(symbol: Any) -> Any:
    return QgsSingleSymbolRenderer(symbol)


# --- polygons (countries) ----------------------------------------------------------------------


def poly_single() -> Any:
    return single(
        fill(
            color="120,180,90,255",
            outline_color="20,60,20,255",
            outline_width="0.5",
            outline_width_unit="MM",
            joinstyle="miter",
        )
    )


def poly_units() -> Any:
    # An outline in points and a symbol opacity of 60 %.
    symbol = fill(
        color="230,120,40,255",
        outline_color="80,30,0,255",
        outline_width="1.5",
        outline_width_unit="Point",
        joinstyle="round",
    )
    symbol.setOpacity(0.6)
    return single(symbol)


def poly_layers() -> Any:
    # A fill without outline, and a dashed simple line above it in pixels.
    symbol = fill(color="200,220,250,255", outline_style="no")
    outline = QgsSimpleLineSymbolLayer(QColor(30, 60, 160), 2.0)
    outline.setWidthUnit(QgsUnitTypes.RenderPixels)
    outline.setPenStyle(Qt.DashLine)
    symbol.appendSymbolLayer(outline)
    return single(symbol)


def poly_hatch() -> Any:
    return single(fill(color="160,0,0,255", style="b_diagonal", outline_color="60,0,0,255"))


def poly_categorized() -> Any:
    def cat(value: str, color: str, render: bool = True) -> Any:
        symbol = fill(color=color, outline_color="255,255,255,255", outline_width="0.3")
        return QgsRendererCategory(value, symbol, value or "other", render)

    categories = [
        cat("Africa", "253,180,98,255"),
        cat("Asia", "251,128,114,255"),
        cat("Europe", "128,177,211,255"),
        cat("Oceania", "255,255,179,255", render=False),
        cat("", "217,217,217,255"),
    ]
    return QgsCategorizedSymbolRenderer("continent", categories)


def poly_graduated() -> Any:
    breaks = [(0, 5e6, "254,229,217,255"), (5e6, 3e7, "252,174,145,255"),
              (3e7, 1e8, "251,106,74,255"), (1e8, 2e9, "203,24,29,255")]  # fmt: skip
    ranges = [
        QgsRendererRange(lo, hi, fill(color=c, outline_color="90,90,90,255"), f"{lo:g}-{hi:g}")
        for lo, hi, c in breaks
    ]
    return QgsGraduatedSymbolRenderer("pop_est", ranges)


def poly_rules() -> Any:
    root = QgsRuleBasedRenderer.Rule(None)
    big = QgsRuleBasedRenderer.Rule(
        fill(color="35,139,69,255", outline_color="0,68,27,255", outline_width="0.6"),
        0, 0, '"gdp_md_est" > 1000000', "Big economies",
    )  # fmt: skip
    root.appendChild(big)
    group = QgsRuleBasedRenderer.Rule(None, 0, 0, "\"continent\" = 'Africa'", "Africa")
    group.appendChild(
        QgsRuleBasedRenderer.Rule(
            fill(color="253,174,107,255"), 0, 0, '"pop_est" > 20000000', "big"
        )
    )
    group.appendChild(
        QgsRuleBasedRenderer.Rule(fill(color="254,230,206,255"), 0, 0, "ELSE", "small")
    )
    root.appendChild(group)
    # Visible only when zoomed in further than 1:1,000,000 (never in the test maps); QGIS 3.22
    # still keeps the features it matches from the ELSE rule below.
    root.appendChild(
        QgsRuleBasedRenderer.Rule(
            fill(color="0,0,255,255"), 0, 1000000, "\"continent\" = 'Asia'", "near"
        )
    )
    root.appendChild(
        QgsRuleBasedRenderer.Rule(fill(color="229,229,229,255", outline_color="150,150,150,255"),
                                  0, 0, "ELSE", "other")
    )  # fmt: skip
    return QgsRuleBasedRenderer(root)


def poly_expressions() -> Any:
    # Categories on an expression, and a map-unit outline (degrees here).
    def cat(value: str, color: str) -> Any:
        symbol = fill(color=color, outline_color="0,0,0,255", outline_width="0.05",
                      outline_width_unit="MapUnit")  # fmt: skip
        return QgsRendererCategory(value, symbol, value)

    categories = [cat("AFRICA", "230,171,2,255"), cat("ASIA", "102,166,30,255")]
    return QgsCategorizedSymbolRenderer('upper("continent")', categories)


def poly_graduated_expression() -> Any:
    ranges = [
        QgsRendererRange(0, 50, fill(color="199,233,192,255"), "< 50 M"),
        QgsRendererRange(50, 2000, fill(color="35,139,69,255"), ">= 50 M"),
    ]
    return QgsGraduatedSymbolRenderer('"pop_est" / 1000000', ranges)


# --- lines (borders) ---------------------------------------------------------------------------


def line_single() -> Any:
    return single(
        line(line_color="200,30,30,255", line_width="0.8", capstyle="round", joinstyle="round")
    )


def line_dashes() -> Any:
    def cat(value: str, **props: str) -> Any:
        return QgsRendererCategory(value, line(**props), value)

    return QgsCategorizedSymbolRenderer(
        "continent",
        [
            cat("Africa", line_color="106,61,154,255", line_width="0.6", line_style="dash"),
            cat("Asia", line_color="31,120,180,255", line_width="3", line_width_unit="Pixel",
                use_custom_dash="1", customdash="3;1.5", customdash_unit="MM", capstyle="flat"),
            cat("Europe", line_color="0,0,0,255", line_width="0", line_style="dot"),
        ],
    )  # fmt: skip


def casing() -> Any:
    # A road-like line: a wide dark casing under a narrow light centre.
    symbol = line(line_color="60,60,60,255", line_width="1.2", capstyle="round")
    centre = QgsSimpleLineSymbolLayer(QColor(250, 200, 80), 0.5)
    centre.setPenCapStyle(Qt.RoundCap)
    symbol.appendSymbolLayer(centre)
    return symbol


def line_casing() -> Any:
    return single(casing())


def line_casing_categorized() -> Any:
    return QgsCategorizedSymbolRenderer(
        "continent",
        [
            QgsRendererCategory("Africa", casing(), "Africa"),
            QgsRendererCategory("Europe", line(line_color="0,90,200,255", line_width="0.6"), "E"),
        ],
    )


# --- points (cities) ---------------------------------------------------------------------------


def point_single() -> Any:
    return single(
        marker(
            name="circle",
            color="232,85,62,255",
            outline_color="255,255,255,255",
            outline_width="0.4",
            size="3",
        )
    )


def point_shapes() -> Any:
    root = QgsRuleBasedRenderer.Rule(None)
    shapes = [
        ("square", "\"name\" < 'C'", "55,126,184,255"),
        ("diamond", "\"name\" >= 'C' AND \"name\" < 'G'", "77,175,74,255"),
        ("star", "\"name\" >= 'G' AND \"name\" < 'L'", "255,217,47,255"),
        ("triangle", "\"name\" >= 'L' AND \"name\" < 'P'", "152,78,163,255"),
        ("cross_fill", "\"name\" >= 'P' AND \"name\" < 'T'", "228,26,28,255"),
        ("equilateral_triangle", "\"name\" >= 'T'", "255,127,0,255"),
    ]
    for shape, expression, color in shapes:
        symbol = marker(name=shape, color=color, outline_color="0,0,0,255", size="4", angle="0")
        root.appendChild(QgsRuleBasedRenderer.Rule(symbol, 0, 0, expression, shape))
    return QgsRuleBasedRenderer(root)


def point_data_defined() -> Any:
    symbol = marker(name="hexagon", color="0,120,200,255", size="3", outline_style="no")
    symbol.symbolLayer(0).setDataDefinedProperty(
        QgsSymbolLayer.PropertySize, QgsProperty.fromExpression('length("name") / 2')
    )
    return single(symbol)


def point_categorized() -> Any:
    def cat(value: str, color: str, size: str) -> Any:
        symbol = marker(name="square", color=color, outline_color="0,0,0,255", size=size)
        return QgsRendererCategory(value, symbol, value or "other")

    categories = [cat("Paris", "228,26,28,255", "5"), cat("Tokyo", "55,126,184,255", "5"),
                  cat("", "150,150,150,255", "2")]  # fmt: skip
    return QgsCategorizedSymbolRenderer("name", categories)


def point_graduated() -> Any:
    # Graduated on an expression, marker sizes growing with the name's length.
    steps = [(0, 5, "27,158,119,255", "2"), (5, 8, "217,95,2,255", "3"),
             (8, 40, "117,112,179,255", "4.5")]  # fmt: skip
    ranges = [
        QgsRendererRange(lo, hi, marker(name="circle", color=c, size=size), f"{lo}-{hi}")
        for lo, hi, c, size in steps
    ]
    return QgsGraduatedSymbolRenderer('length("name")', ranges)


def line_rules() -> Any:
    root = QgsRuleBasedRenderer.Rule(None)
    root.appendChild(
        QgsRuleBasedRenderer.Rule(line(line_color="215,48,39,255", line_width="1"),
                                  0, 0, "\"continent\" = 'Africa'", "Africa")
    )  # fmt: skip
    root.appendChild(
        QgsRuleBasedRenderer.Rule(line(line_color="69,117,180,255", line_width="0.5"),
                                  0, 0, "\"continent\" IN ('Asia', 'Europe')", "Eurasia")
    )  # fmt: skip
    root.appendChild(
        QgsRuleBasedRenderer.Rule(line(line_color="120,120,120,255", line_width="0.2"),
                                  0, 0, "ELSE", "other")
    )  # fmt: skip
    return QgsRuleBasedRenderer(root)


def point_svg() -> Any:
    symbol = QgsMarkerSymbol()
    symbol.changeSymbolLayer(0, QgsSvgMarkerSymbolLayer("/nonexistent/pin.svg", 5))
    return single(symbol)


# --- labels ------------------------------------------------------------------------------------


def labelled(field: str, *, expression: bool, size: float, buffer: float | None) -> Any:
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    settings.isExpression = expression
    settings.enabled = True
    text = QgsTextFormat()
    text.setSize(size)
    text.setColor(QColor(20, 20, 120))
    if buffer is not None:
        halo = QgsTextBufferSettings()
        halo.setEnabled(True)
        halo.setSize(buffer)
        halo.setColor(QColor(255, 255, 200))
        text.setBuffer(halo)
    settings.setFormat(text)
    return QgsVectorLayerSimpleLabeling(settings)


VECTOR_CASES: list[tuple[str, str, Callable[[], Any]]] = [
    ("poly_single", "countries", poly_single),
    ("poly_units", "countries", poly_units),
    ("poly_layers", "countries", poly_layers),
    ("poly_hatch", "countries", poly_hatch),
    ("poly_categorized", "countries", poly_categorized),
    ("poly_graduated", "countries", poly_graduated),
    ("poly_rules", "countries", poly_rules),
    ("line_single", "borders", line_single),
    ("line_dashes", "borders", line_dashes),
    ("line_casing", "borders", line_casing),
    ("line_casing_categorized", "borders", line_casing_categorized),
    ("point_single", "cities", point_single),
    ("point_shapes", "cities", point_shapes),
    ("point_svg", "cities", point_svg),
    ("point_data_defined", "cities", point_data_defined),
    ("point_categorized", "cities", point_categorized),
    ("point_graduated", "cities", point_graduated),
    ("line_rules", "borders", line_rules),
    ("poly_expressions", "countries", poly_expressions),
    ("poly_graduated_expression", "countries", poly_graduated_expression),
]


def add_vector(
    project: Any, data: str, name: str, table: str, renderer: Any, group: Any = None
) -> Any:
    layer = QgsVectorLayer(f"{data}/natural_earth.gpkg|layername={table}", name, "ogr")
    if not layer.isValid():
        raise SystemExit(f"invalid layer {table}")
    layer.setShortName(name)
    layer.setRenderer(renderer)
    layer.setFlags(layer.flags() | QgsMapLayer.Identifiable)
    project.addMapLayer(layer, group is None)
    if group is not None:
        group.addLayer(layer)
    return layer


def add_group(project: Any, data: str) -> None:
    """A group drawn as one WMS layer: its first (top) layer over the next, as in QGIS."""
    group = project.layerTreeRoot().addGroup("Drawing order")
    group.setCustomProperty("wmsShortName", "group_order")
    add_vector(project, data, "order_cities", "cities", point_single(), group)
    inner = group.addGroup("Inner")
    inner.setCustomProperty("wmsShortName", "group_order_inner")
    add_vector(project, data, "order_borders", "borders", line_single(), inner)
    add_vector(project, data, "order_countries", "countries", poly_single(), inner)


def add_labels(project: Any, data: str) -> None:
    plain = add_vector(project, data, "label_field", "countries", poly_single())
    plain.setLabeling(labelled("name", expression=False, size=9, buffer=1.0))
    plain.setLabelsEnabled(True)
    template = add_vector(project, data, "label_expression", "cities", point_single())
    template.setLabeling(
        labelled("\"name\" || ' (' || \"fid\" || ')'", expression=True, size=12, buffer=None)
    )
    template.setLabelsEnabled(True)
    layered = add_vector(project, data, "label_opacity", "countries", poly_single())
    layered.setOpacity(0.5)
    ruled = add_vector(project, data, "label_rules", "countries", poly_single())
    root = QgsRuleBasedLabeling.Rule(None)
    settings = labelled("name", expression=False, size=8, buffer=None).settings()
    root.appendChild(QgsRuleBasedLabeling.Rule(settings, 0, 0, '"pop_est" > 50000000'))
    ruled.setLabeling(QgsRuleBasedLabeling(root))
    ruled.setLabelsEnabled(True)


def add_rasters(project: Any, data: str) -> None:
    gray = QgsRasterLayer(f"{data}/elevation.tif", "raster_gray", "gdal")
    renderer = QgsSingleBandGrayRenderer(gray.dataProvider(), 1)
    enhancement = QgsContrastEnhancement(gray.dataProvider().dataType(1))
    enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    enhancement.setMinimumValue(200)
    enhancement.setMaximumValue(500)
    renderer.setContrastEnhancement(enhancement)
    gray.setRenderer(renderer)
    for kind, name in ((QgsColorRampShader.Interpolated, "raster_pseudo"),
                       (QgsColorRampShader.Discrete, "raster_discrete")):  # fmt: skip
        layer = QgsRasterLayer(f"{data}/elevation.tif", name, "gdal")
        ramp = QgsColorRampShader(141, 547, None, kind)
        ramp.setColorRampItemList(
            [
                QgsColorRampShader.ColorRampItem(141, QColor("#1a9850"), "141"),
                QgsColorRampShader.ColorRampItem(300, QColor("#fee08b"), "300"),
                QgsColorRampShader.ColorRampItem(450, QColor("#d9a066"), "450"),
                QgsColorRampShader.ColorRampItem(547, QColor("#ffffff"), "547"),
            ]
        )
        shader = QgsRasterShader()
        shader.setRasterShaderFunction(ramp)
        pseudo = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
        pseudo.setOpacity(0.8 if kind == QgsColorRampShader.Discrete else 1.0)
        layer.setRenderer(pseudo)
        layer.setShortName(name)
        project.addMapLayer(layer)
    gray.setShortName("raster_gray")
    project.addMapLayer(gray)


def build(data: str, out: str) -> None:
    project = QgsProject.instance()
    project.setTitle("Symbology cases")
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    for name, table, make in VECTOR_CASES:
        add_vector(project, data, name, table, make())
    add_labels(project, data)
    add_rasters(project, data)
    add_group(project, data)
    project.writeEntry("WMSServiceCapabilities", "/", True)
    project.writeEntry("WMSCrsList", "/", ["EPSG:4326", "EPSG:3857"])
    project.writeEntry("WMSUseLayerIDs", "/", False)
    project.writeEntry("WMSMaxWidth", "/", "4096")
    project.writeEntry("WMSMaxHeight", "/", "4096")
    if not project.write(out):
        raise SystemExit(f"could not write {out}")


def main() -> None:
    app = QgsApplication([], False)
    QgsApplication.setPrefixPath("/usr", True)
    app.initQgis()
    build(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    os._exit(0)  # QGIS's own exit crashes now and then in headless runs


if __name__ == "__main__":
    main()
