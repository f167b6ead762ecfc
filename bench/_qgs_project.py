"""Write the QGIS Server project of bench/wms_compare.py with PyQGIS (run by the system Python).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 bench/_qgs_project.py SPEC.json OUT.qgs

SPEC.json: {"title": ..., "crs": ["EPSG:4326", ...], "extent": [minx, miny, maxx, maxy]
(EPSG:4326), "layers": [{"name", "path", "table", "fill", "stroke", "stroke_width"}]}; a layer
with "provider" and "uri" (bench/postgis_compare.py: "postgres") is read through that provider;
one with "geometry": "line" (no "fill") gets a line symbol, with its "line_join" and "line_cap".
Fill and stroke widths are in pixels, as in the ogcserve project's `style:` block; the layers
are identifiable (GetFeatureInfo) and published with their names (not ids).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsMapLayer,
    QgsProject,
    QgsRectangle,
    QgsReferencedRectangle,
    QgsSingleSymbolRenderer,
    QgsUnitTypes,
    QgsVectorLayer,
)


def build(spec: dict[str, Any], out: str) -> None:
    project = QgsProject.instance()
    project.setTitle(spec["title"])
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    for item in spec["layers"]:
        # A database layer gives its provider and data source ("uri"); files go through OGR.
        uri = item.get("uri") or f"{item['path']}|layername={item['table']}"
        layer = QgsVectorLayer(uri, item["name"], item.get("provider", "ogr"))
        if not layer.isValid():
            raise SystemExit(f"invalid layer {uri}")
        layer.setShortName(item["name"])
        symbol = (
            line_symbol(item)
            if item.get("geometry") == "line"
            else QgsFillSymbol.createSimple(
                {
                    "color": item["fill"],
                    "outline_color": item["stroke"],
                    "outline_width": str(item["stroke_width"]),
                    "outline_width_unit": "Pixel",
                    "outline_style": "solid",
                    "style": "solid",
                    "joinstyle": "miter",
                }
            )
        )
        symbol.setOutputUnit(QgsUnitTypes.RenderPixels)
        layer.setRenderer(QgsSingleSymbolRenderer(symbol))
        layer.setFlags(layer.flags() | QgsMapLayer.Identifiable)
        project.addMapLayer(layer)
    minx, miny, maxx, maxy = spec["extent"]
    project.viewSettings().setDefaultViewExtent(
        QgsReferencedRectangle(
            QgsRectangle(minx, miny, maxx, maxy), QgsCoordinateReferenceSystem("EPSG:4326")
        )
    )
    project.writeEntry("Paths", "/Absolute", True)
    project.writeEntry("WMSServiceCapabilities", "/", True)
    project.writeEntry("WMSServiceTitle", "/", spec["title"])
    project.writeEntry("WMSCrsList", "/", spec["crs"])
    project.writeEntry("WMSExtent", "/", [str(v) for v in spec["extent"]])
    project.writeEntry("WMSUseLayerIDs", "/", False)
    project.writeEntry("WMSFeatureInfoUseAttributeFormSettings", "/", False)
    project.writeEntry("WMSAddWktGeometry", "/", False)
    project.writeEntry("WMSMaxWidth", "/", "4096")
    project.writeEntry("WMSMaxHeight", "/", "4096")
    if not project.write(out):
        raise SystemExit(f"could not write {out}")


def line_symbol(item: dict[str, Any]) -> Any:
    """A line layer's ("geometry": "line") solid stroke, its width in pixels, with the join and
    cap of "line_join" and "line_cap" (ogcserve's names; QGIS's defaults bevel and square)."""
    cap = item.get("line_cap", "square")
    return QgsLineSymbol.createSimple(
        {
            "line_color": item["stroke"],
            "line_width": str(item["stroke_width"]),
            "line_width_unit": "Pixel",
            "line_style": "solid",
            "capstyle": "flat" if cap == "butt" else cap,
            "joinstyle": item.get("line_join", "bevel"),
        }
    )


def main() -> None:
    spec_path, out = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    app = QgsApplication([], False)
    app.initQgis()
    try:
        build(spec, out)
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()
