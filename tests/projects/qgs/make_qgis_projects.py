"""Write QGIS projects with PyQGIS, the way QGIS desktop saves them (QgsProject.write).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 make_qgis_projects.py SPECS.json

Run by Debian's Python (which has `qgis.core`), not by the test's. SPECS.json is a list of
projects: {"out": path (.qgs or .qgz), "title", "absolute" (paths saved absolute), "settings": {...}, "groups": {name: {"short",
"title", "abstract", "parent"}}, "layers": [...]}; each layer: {"name", "provider", "uri",
optional "group", "short", "title", "abstract", "keywords", "data_url", "attribution",
"attribution_url", "metadata_url", "subset", "scales": [min_denominator, max_denominator], "hidden" (unchecked), "hide_wms",
"hide_wfs" (field names), "aliases" {field: alias}, "identifiable", "invalid_ok"}. Settings name
layers by their names; they are written under the ids QGIS gives the layers.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from qgis.core import (  # type: ignore[import-not-found]
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsLayerTreeGroup,
    QgsMapLayer,
    QgsMapLayerServerProperties,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtXml import QDomDocument  # type: ignore[import-not-found]


def _layer(item: dict[str, Any]) -> QgsMapLayer:
    if item["provider"] == "gdal":
        layer = QgsRasterLayer(item["uri"], item["name"], "gdal")
    else:
        layer = QgsVectorLayer(item["uri"], item["name"], item["provider"])
    if not layer.isValid() and not item.get("invalid_ok"):
        raise SystemExit(f"invalid layer {item['uri']}")
    if "short" in item:
        layer.setShortName(item["short"])
    layer.setTitle(item.get("title", ""))
    layer.setAbstract(item.get("abstract", ""))
    layer.setKeywordList(",".join(item.get("keywords", [])))
    layer.setDataUrl(item.get("data_url", ""))
    layer.setAttribution(item.get("attribution", ""))
    layer.setAttributionUrl(item.get("attribution_url", ""))
    if "metadata_url" in item:
        url = QgsMapLayerServerProperties.MetadataUrl(item["metadata_url"], "FGDC", "text/html")
        layer.serverProperties().setMetadataUrls([url])
    if "subset" in item and not layer.setSubsetString(item["subset"]):
        raise SystemExit(f"QGIS refuses the subset {item['subset']!r}")
    if "scales" in item:
        low, high = item["scales"]
        layer.setScaleBasedVisibility(True)
        layer.setMaximumScale(low)  # QGIS's "maximum" is the most zoomed in: the smallest
        layer.setMinimumScale(high)
    if not item.get("identifiable", True):
        layer.setFlags(layer.flags() & ~QgsMapLayer.Identifiable)
    if isinstance(layer, QgsVectorLayer):
        _hide_fields(layer, item.get("hide_wms", []), item.get("hide_wfs", []))
        fields = layer.fields()
        for name, alias in item.get("aliases", {}).items():
            layer.setFieldAlias(fields.indexOf(name), alias)
    return layer


def _hide_fields(layer: QgsVectorLayer, wms: list[str], wfs: list[str]) -> None:
    """Fields hidden from WMS/WFS. PyQGIS 3.22 has no setter for these flags (the C++
    setFieldConfigurationFlag is not bound, the deprecated setExcludeAttributesWms is a no-op),
    so they go through QGIS's own style reader, as a style loaded in QGIS desktop would."""
    fields = []
    for name in dict.fromkeys([*wms, *wfs]):
        flags = "|".join(
            f for f, names in (("HideFromWms", wms), ("HideFromWfs", wfs)) if name in names
        )
        fields.append(f'<field name="{name}" configurationFlags="{flags}"/>')
    if not fields:
        return
    doc = QDomDocument()
    doc.setContent(f"<qgis><fieldConfiguration>{''.join(fields)}</fieldConfiguration></qgis>")
    ok, error = layer.importNamedStyle(doc, QgsMapLayer.Fields)
    if not ok:
        raise SystemExit(f"cannot hide fields: {error}")


def _groups(root: QgsLayerTreeGroup, groups: dict[str, Any]) -> dict[str, QgsLayerTreeGroup]:
    made: dict[str, QgsLayerTreeGroup] = {}
    for name, options in groups.items():  # parents before children
        parent = made[options["parent"]] if options.get("parent") else root
        group = parent.addGroup(name)
        for key, prop in (
            ("short", "wmsShortName"),
            ("title", "wmsTitle"),
            ("abstract", "wmsAbstract"),
        ):
            if key in options:
                group.setCustomProperty(prop, options[key])
        made[name] = group
    return made


def _settings(project: QgsProject, settings: dict[str, Any], ids: dict[str, str]) -> None:
    def layer_ids(names: list[str]) -> list[str]:
        return [ids[name] for name in names]

    texts = ("WMSServiceTitle", "WMSServiceAbstract", "WMSMaxWidth", "WMSMaxHeight", "WMSPrecision")
    contact = ("Person", "Organization", "Position", "Mail", "Phone")
    for key in (*texts, *(f"WMSContact{part}" for part in contact)):
        if key in settings:
            project.writeEntry(key, "/", settings[key])
    for key in ("WMSCrsList", "WMSRestrictedLayers", "WMSKeywordList", "WMSExtent"):
        if key in settings:
            project.writeEntry(key, "/", settings[key])
    project.writeEntry("WMSServiceCapabilities", "/", True)
    project.writeEntry("WMSUseLayerIDs", "/", settings.get("WMSUseLayerIDs", False))
    project.writeEntry("WMSFeatureInfoUseAttributeFormSettings", "/", False)
    project.writeEntry("WMSAddWktGeometry", "/", False)
    project.writeEntry("WFSLayers", "/", layer_ids(settings.get("WFSLayers", [])))
    for edit in ("Insert", "Update", "Delete"):
        project.writeEntry("WFSTLayers", edit, layer_ids(settings.get(f"WFST{edit}", [])))
    for name, decimals in settings.get("WFSLayersPrecision", {}).items():
        project.writeEntry("WFSLayersPrecision", "/" + ids[name], decimals)
    project.writeEntry("WCSLayers", "/", layer_ids(settings.get("WCSLayers", [])))


def build(spec: dict[str, Any]) -> None:
    project = QgsProject.instance()
    project.clear()
    project.setTitle(spec.get("title", ""))
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    root = project.layerTreeRoot()
    groups = _groups(root, spec.get("groups", {}))
    ids = {}
    for item in spec["layers"]:
        layer = _layer(item)
        project.addMapLayer(layer, False)
        node = (groups[item["group"]] if item.get("group") else root).addLayer(layer)
        node.setItemVisibilityChecked(not item.get("hidden", False))
        ids[item["name"]] = layer.id()
    _settings(project, spec.get("settings", {}), ids)
    if spec.get("absolute"):  # "Save paths: absolute" in the project properties
        project.setFilePathStorage(Qgis.FilePathType.Absolute)
    if not project.write(spec["out"]):
        raise SystemExit(f"could not write {spec['out']}")


def main() -> None:
    with open(sys.argv[1]) as file:
        specs = json.load(file)
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    for spec in specs:
        build(spec)
    sys.stdout.flush()
    os._exit(0)  # QGIS's exit handlers can crash a headless process


if __name__ == "__main__":
    main()
