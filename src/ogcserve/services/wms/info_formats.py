"""GetFeatureInfo output formats: plain text, HTML, XML (QGIS's layout), GML 2 and 3.1.1, GeoJSON.

Every writer receives only the attributes the caller may see: a hidden attribute is absent
from the features and from the field lists, so no format can show it, not even as NULL. As in
QGIS Server, text, HTML, XML and GeoJSON name an attribute by its alias (the layer's
`aliases`), GML by its field name (an XML element name); geometries are written with the
project's `wms.feature_info_precision` decimals.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from lxml import etree

from ogcserve.features import Feature
from ogcserve.geo import is_north_first, transformer
from ogcserve.services.wms.formats import InfoFormat
from ogcserve.services.wms.xml import Maker

if TYPE_CHECKING:
    from ogcserve.projects.model import Layer

GML_NS = "http://www.opengis.net/gml"
WFS_NS = "http://www.opengis.net/wfs"
FEATURE_NS = "http://ogcserve.org/wms/feature-info"


@dataclass(frozen=True, slots=True)
class LayerResult:
    """The features found in one layer, and the attributes the caller may see, in order."""

    layer: Layer
    fields: Sequence[str]
    features: list[Feature]
    crs: str  # of the features' geometries
    precision: int | None = None  # decimals of the geometries written (None: all)

    def names(self, feature: Feature) -> list[str]:
        """Attribute names to show for a feature (raster bands have their own)."""
        return list(self.fields) or list(feature.properties)


def write_info(
    info_format: InfoFormat, results: list[LayerResult], crs: str, with_geometry: bool = False
) -> tuple[bytes, str]:
    """The document and its content type; geometries only when asked (WITH_GEOMETRY)."""
    if not with_geometry:
        results = [
            replace(r, features=[Feature(f.id, None, f.properties) for f in r.features])
            for r in results
        ]
    writer: Callable[[list[LayerResult], str], bytes] = _WRITERS[info_format]
    content_type = info_format.value
    if info_format in (InfoFormat.TEXT, InfoFormat.HTML, InfoFormat.XML):
        content_type += "; charset=utf-8"
    return writer(results, crs), content_type


def _text(results: list[LayerResult], crs: str) -> bytes:
    lines = ["GetFeatureInfo results", ""]
    for result in results:
        lines.append(f"Layer '{result.layer.name}'")
        for feature in result.features:
            lines.append(f"Feature {_value(feature.id)}")
            lines += [
                f"{result.layer.label(name)} = '{_value(feature.properties.get(name))}'"
                for name in result.names(feature)
            ]
        lines.append("")
    return "\n".join(lines).encode()


def _html(results: list[LayerResult], crs: str) -> bytes:
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        "<title>GetFeatureInfo results</title></head><body>",
    ]
    for result in results:
        parts.append(f"<table><caption>{html.escape(result.layer.title)}</caption>")
        for feature in result.features:
            parts.append(f'<tr><th colspan="2">Feature {html.escape(_value(feature.id))}</th></tr>')
            parts += [
                f"<tr><th>{html.escape(result.layer.label(n))}</th>"
                f"<td>{html.escape(_value(feature.properties.get(n)))}</td></tr>"
                for n in result.names(feature)
            ]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts).encode()


def _xml(results: list[LayerResult], crs: str) -> bytes:
    root = etree.Element("GetFeatureInfoResponse")
    for result in results:
        layer = etree.SubElement(root, "Layer", name=result.layer.name)
        for feature in result.features:
            element = etree.SubElement(layer, "Feature", id=_value(feature.id))
            for name in result.names(feature):
                value = _value(feature.properties.get(name))
                etree.SubElement(element, "Attribute", name=result.layer.label(name), value=value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _gml(results: list[LayerResult], crs: str, *, gml3: bool) -> bytes:
    # GML 2: srsName EPSG:n with x,y coordinates; GML 3.1.1: the URN, in the CRS's axis order.
    srs = _srs_name(crs, gml3)
    swap = gml3 and is_north_first(crs)
    gml = Maker(namespace=GML_NS)
    root = etree.Element(
        f"{{{WFS_NS}}}FeatureCollection",
        nsmap={"wfs": WFS_NS, "gml": GML_NS, "ogcserve": FEATURE_NS},
    )
    # Elements made in place under the root, which declares the namespaces once.
    member_tag, geometry_tag = f"{{{GML_NS}}}featureMember", f"{{{FEATURE_NS}}}geometry"
    for result in results:
        geometries = _in_crs(result, crs)
        layer_tag = _feature_tag(result.layer.name)
        for feature, geometry in zip(result.features, geometries, strict=True):
            member = etree.SubElement(root, member_tag)
            element = etree.SubElement(member, layer_tag)
            element.set("fid", f"{result.layer.name}.{_value(feature.id)}")
            if geometry is not None:
                etree.SubElement(element, geometry_tag).append(
                    _gml_geometry(gml, geometry, srs, swap, gml3)
                )
            properties = feature.properties
            for name in result.names(feature):
                etree.SubElement(element, _feature_tag(name)).text = _value(properties.get(name))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _geojson(results: list[LayerResult], crs: str) -> bytes:
    # RFC 7946 §4: GeoJSON coordinates are lon/lat (CRS84), whatever the map's CRS.
    features = []
    for result in results:
        geometries = _in_crs(result, "CRS:84")
        for feature, geometry in zip(result.features, geometries, strict=True):
            features.append(
                {
                    "type": "Feature",
                    "id": f"{result.layer.name}.{_value(feature.id)}",
                    "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
                    "properties": {
                        result.layer.label(n): _json_value(feature.properties.get(n))
                        for n in result.names(feature)
                    },
                    "layer": result.layer.name,
                }
            )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _in_crs(result: LayerResult, target: str) -> list[Any]:
    geometries = np.array([f.geometry for f in result.features], dtype=object)
    if not len(geometries):
        return []
    if result.crs != target:
        move = transformer(result.crs, target)
        geometries = shapely.transform(
            geometries, lambda c: np.column_stack(move.transform(c[:, 0], c[:, 1]))
        )
    if result.precision is not None:
        decimals = result.precision
        geometries = shapely.transform(geometries, lambda c: np.round(c, decimals))
    return list(geometries)


def _gml_geometry(gml: Maker, geometry: Any, srs: str, swap: bool, gml3: bool) -> Any:
    kind = geometry.geom_type
    if kind.startswith("Multi") or kind == "GeometryCollection":
        names = {
            "MultiPoint": ("MultiPoint", "pointMember"),
            "MultiLineString": (
                "MultiCurve" if gml3 else "MultiLineString",
                "curveMember" if gml3 else "lineStringMember",
            ),
            "MultiPolygon": (
                "MultiSurface" if gml3 else "MultiPolygon",
                "surfaceMember" if gml3 else "polygonMember",
            ),
        }
        outer, member = names.get(kind, ("MultiGeometry", "geometryMember"))
        element = getattr(gml, outer)(srsName=srs)
        for part in geometry.geoms:
            element.append(getattr(gml, member)(_gml_geometry(gml, part, srs, swap, gml3)))
        return element
    if kind == "Point":
        return gml.Point(_coords(gml, geometry, swap, gml3, single=True), srsName=srs)
    if kind == "LineString":
        return gml.LineString(_coords(gml, geometry, swap, gml3), srsName=srs)
    outer, inner = ("exterior", "interior") if gml3 else ("outerBoundaryIs", "innerBoundaryIs")
    rings = [getattr(gml, outer)(gml.LinearRing(_coords(gml, geometry.exterior, swap, gml3)))]
    rings += [
        getattr(gml, inner)(gml.LinearRing(_coords(gml, ring, swap, gml3)))
        for ring in geometry.interiors
    ]
    return gml.Polygon(*rings, srsName=srs)


def _coords(gml: Maker, geometry: Any, swap: bool, gml3: bool, single: bool = False) -> Any:
    xy = shapely.get_coordinates(geometry)
    if swap:
        xy = xy[:, ::-1]
    if not gml3:
        return gml.coordinates(
            " ".join(f"{x!r},{y!r}" for x, y in xy.tolist()), decimal=".", cs=",", ts=" "
        )
    text = " ".join(repr(v) for v in xy.ravel().tolist())
    return gml.pos(text) if single else gml.posList(text)


def _srs_name(crs: str, gml3: bool) -> str:
    if crs == "CRS:84":
        return "urn:ogc:def:crs:OGC:1.3:CRS84" if gml3 else "CRS:84"
    code = crs.split(":")[1]
    return f"urn:ogc:def:crs:EPSG::{code}" if gml3 else crs


_INVALID_XML_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@lru_cache(maxsize=4096)
def _feature_tag(name: str) -> str:
    """The qualified tag of a layer or an attribute in the feature namespace (names are the
    project's and its sources': a bounded set)."""
    return f"{{{FEATURE_NS}}}{_xml_name(name)}"


def _xml_name(name: str) -> str:
    cleaned = _INVALID_XML_NAME.sub("_", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"_{cleaned}"


def _value(value: Any) -> str:
    return "" if value is None else str(value)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


_WRITERS: dict[InfoFormat, Callable[[list[LayerResult], str], bytes]] = {
    InfoFormat.TEXT: _text,
    InfoFormat.HTML: _html,
    InfoFormat.XML: _xml,
    InfoFormat.GML2: lambda results, crs: _gml(results, crs, gml3=False),
    InfoFormat.GML3: lambda results, crs: _gml(results, crs, gml3=True),
    InfoFormat.GEOJSON: _geojson,
}
