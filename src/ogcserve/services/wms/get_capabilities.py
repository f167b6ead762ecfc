"""GetCapabilities (WMS 1.3.0 §7.2, 1.1.1 §7.1): the layer tree the caller may read.

The pipeline caches the document per access fingerprint (`WMSService.cache_kind`), so the
work below runs once per project version and set of rights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.geo import BBox, from_xy, scale_hint, transform_bbox, union
from ogcserve.services.wms.formats import MAP_FORMATS, InfoFormat
from ogcserve.services.wms.layers import project_of, root_name, style_names
from ogcserve.services.wms.metadata import contact_information, layer_links
from ogcserve.services.wms.params import VERSIONS
from ogcserve.services.wms.urls import online_resource, operation_url
from ogcserve.services.wms.xml import Maker

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer
    from ogcserve.services.wms.service import WMSService

WMS_NS = "http://www.opengis.net/wms"
SLD_NS = "http://www.opengis.net/sld"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = (
    f"{WMS_NS} http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd "
    f"{SLD_NS} http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd"
)
DTD_1_1_1 = (
    "<!DOCTYPE WMT_MS_Capabilities SYSTEM "
    '"http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd">'
)
DEFAULT_CRS = ("EPSG:4326", "CRS:84", "EPSG:3857")
XML_FORMATS = {"1.3.0": "text/xml", "1.1.1": "application/vnd.ogc.wms_xml"}
_WORLD: BBox = (-180.0, -90.0, 180.0, 90.0)
_NO_MAX_SCALE = 1e12  # WMS 1.1.1 ScaleHint needs both bounds


def get_capabilities(ctx: RequestContext, service: WMSService) -> None:
    """Write the capabilities document of the negotiated version."""
    version = negotiate(ctx.request.parameter("VERSION").strip(), service.version)
    builder = _Builder(ctx, service, version)
    root = builder.document()
    ctx.response.set_header("Content-Type", _content_type(ctx, version))
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    doctype = (DTD_1_1_1 + "\n").encode() if version == "1.1.1" else b""
    ctx.response.write(
        declaration + doctype + etree.tostring(root, encoding="UTF-8", pretty_print=True)
    )


def negotiate(requested: str, default: str) -> str:
    """WMS 1.3.0 §6.2.4: the highest version not above the one asked for, else the lowest."""
    if not requested or requested in VERSIONS:
        return requested or default
    key = _version_key(requested)
    lower = [v for v in VERSIONS if _version_key(v) <= key]
    return max(lower, key=_version_key) if lower else min(VERSIONS, key=_version_key)


def _version_key(version: str) -> tuple[int, ...]:
    # isdigit() alone takes "³", which int() refuses.
    return tuple(int(p) if p.isascii() and p.isdigit() else 0 for p in version.split("."))


def _content_type(ctx: RequestContext, version: str) -> str:
    asked = ctx.request.parameter("FORMAT").strip().lower()
    if asked in ("text/xml", "application/xml"):
        return f"{asked}; charset=utf-8"
    return XML_FORMATS[version] + ("; charset=utf-8" if version == "1.3.0" else "")


class _Builder:
    """Builds one capabilities document; E is the element maker of the version's namespace."""

    def __init__(self, ctx: RequestContext, service: WMSService, version: str) -> None:
        self.ctx, self.service, self.version = ctx, service, version
        self.v13 = version == "1.3.0"
        self.project = project_of(ctx)
        self.url = online_resource(ctx)
        self.w = Maker(namespace=WMS_NS, nsmap={None: WMS_NS}) if self.v13 else Maker()
        self.sld = Maker(namespace=SLD_NS)

    def document(self) -> etree._Element:
        """The whole document."""
        w = self.w
        if not self.v13:
            return w.WMT_MS_Capabilities(self.service_section(), self.capability(), version="1.1.1")
        nsmap = {None: WMS_NS, "sld": SLD_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
        root = etree.Element(f"{{{WMS_NS}}}WMS_Capabilities", version="1.3.0", nsmap=nsmap)  # type: ignore[arg-type]
        root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
        root.extend([self.service_section(), self.capability()])
        return root

    def service_section(self) -> etree._Element:
        """Service metadata (1.3.0 §7.2.4.2, 1.1.1 §7.1.4.5)."""
        w, project = self.w, self.project
        section = w.Service(w.Name("WMS" if self.v13 else "OGC:WMS"), w.Title(project.title))
        if project.abstract:
            section.append(w.Abstract(project.abstract))
        if project.keywords:
            section.append(self.keywords(project.keywords))
        section.append(self.online(self.url))
        section.extend(contact_information(w, project.contact))
        if self.v13:
            width, height = self.service.max_size(self.ctx)
            layers = str(self.ctx.server.settings.max_layers)  # 1.3.0 §7.2.4.3
            section.extend([w.LayerLimit(layers), w.MaxWidth(str(width)), w.MaxHeight(str(height))])
        return section

    def capability(self) -> etree._Element:
        """Operations, exception formats and the layer tree."""
        w = self.w
        xml = XML_FORMATS[self.version]
        request = w.Request(
            self.operation(w.GetCapabilities, [xml]),
            self.operation(w.GetMap, list(MAP_FORMATS)),
            self.operation(w.GetFeatureInfo, [f.value for f in InfoFormat]),
        )
        # In 1.3.0 the SLD operations are extensions in the SLD namespace (SLD 1.1 §6.4);
        # WMS 1.1.1's DTD lists them directly. GetStyles has no 1.3.0 schema element.
        extra = self.sld if self.v13 else w
        request.append(self.operation(extra.DescribeLayer, ["text/xml"]))
        request.append(self.operation(extra.GetLegendGraphic, list(MAP_FORMATS)))
        if not self.v13:
            request.append(self.operation(w.GetStyles, ["application/vnd.ogc.sld+xml"]))
        exception = w.Exception(*(w.Format(f) for f in self.service.exception_formats()))
        return w.Capability(request, exception, self.root_layer())

    def operation(self, maker: Callable[..., etree._Element], formats: list[str]) -> etree._Element:
        """One operation with its formats and GET/POST endpoint."""
        w = self.w
        element = maker(*(w.Format(f) for f in formats))
        # Only GET: POST bodies are parsed as KVP forms, not as the XML encodings.
        http = w.HTTP(w.Get(self.online(self.url)))
        element.append(w.DCPType(http))
        return element

    def root_layer(self) -> etree._Element:
        """The project as the root layer: it carries the CRS list every layer inherits."""
        w, project = self.w, self.project
        layers = self.ctx.server.access.readable_layers(self.ctx, project)
        crs_list = tuple(dict.fromkeys(project.crs or DEFAULT_CRS))
        extent = self.advertised_extent() or union(
            [b for b in (self.lonlat(layer) for layer in layers) if b is not None]
        )
        # Named, the root is a layer clients may request: every readable layer (as QGIS).
        name = root_name(self.ctx, project)
        root = w.Layer(*([w.Name(name)] if name else []), w.Title(project.title))
        if name:
            queryable = any(self.queryable(layer) for layer in layers)
            root.set("queryable", "1" if queryable else "0")
        if project.abstract:
            root.append(w.Abstract(project.abstract))
        if project.keywords:
            root.append(self.keywords(project.keywords))
        root.extend(self.crs_elements(crs_list))
        root.extend(self.extent_elements(extent or _WORLD, crs_list))
        root.extend(self.layer(layer, crs_list) for layer in layers)
        return root

    def advertised_extent(self) -> BBox | None:
        """The project's `wms.extent` in lon/lat, if it sets one."""
        wms = self.project.wms
        if wms.extent is None:
            return None
        try:
            return transform_bbox(wms.extent, wms.extent_crs, "CRS:84")
        except ValueError:
            return None

    def layer(self, layer: Layer, inherited: tuple[str, ...]) -> etree._Element:
        """One layer or group, then its children (1.3.0 §7.2.4.6, 1.1.1 §7.1.4.5)."""
        w = self.w
        own = () if layer.is_group else (self.native_crs(layer),)
        new = tuple(c for c in own if c not in inherited)
        crs_list = (*inherited, *new)
        element = w.Layer(w.Name(layer.name), w.Title(layer.title or layer.name))
        element.set("queryable", "1" if self.queryable(layer) else "0")
        if layer.abstract:
            element.append(w.Abstract(layer.abstract))
        if layer.keywords:
            element.append(self.keywords(layer.keywords))
        element.extend(self.crs_elements(new))
        extent = self.lonlat(layer)
        if extent is not None:
            element.extend(self.extent_elements(extent, crs_list, layer))
        element.extend(layer_links(w, layer, self.online, self.v13))
        if not layer.is_group:
            element.extend(self.style(layer, name) for name in style_names(layer))
        element.extend(self.scale_elements(layer))
        element.extend(self.layer(child, crs_list) for child in layer.children)
        return element

    def queryable(self, layer: Layer) -> bool:
        """A data layer marked queryable, or a group with one."""
        return any(m.queryable for m in layer.walk() if not m.is_group)

    def native_crs(self, layer: Layer) -> str:
        """The CRS the layer's data is in."""
        return self.ctx.server.access.crs(self.ctx, layer)

    def lonlat(self, layer: Layer) -> BBox | None:
        """The layer's extent in lon/lat (a group's: its readable members')."""
        if layer.is_group:
            return union([b for b in (self.lonlat(c) for c in layer.children) if b])
        extent = self.ctx.server.access.extent(self.ctx, layer)
        if extent is None:
            return None
        try:
            return transform_bbox(extent, self.native_crs(layer), "CRS:84")
        except ValueError:
            return None

    def crs_elements(self, codes: Iterable[str]) -> list[etree._Element]:
        """CRS (1.3.0) or SRS (1.1.1) elements."""
        maker = self.w.CRS if self.v13 else self.w.SRS
        return [maker(code) for code in codes]

    def extent_elements(
        self, lonlat: BBox, crs_list: tuple[str, ...], layer: Layer | None = None
    ) -> list[etree._Element]:
        """The geographic bbox, then a BoundingBox per CRS the layer is offered in."""
        w = self.w
        west, south, east, north = lonlat
        if self.v13:
            elements = [
                w.EX_GeographicBoundingBox(
                    w.westBoundLongitude(_num(west)),
                    w.eastBoundLongitude(_num(east)),
                    w.southBoundLatitude(_num(south)),
                    w.northBoundLatitude(_num(north)),
                )
            ]
        else:
            elements = [
                w.LatLonBoundingBox(
                    minx=_num(west), miny=_num(south), maxx=_num(east), maxy=_num(north)
                )
            ]
        for code in crs_list:
            box = self.bbox_in(lonlat, code, layer)
            if box is None:
                continue
            # WMS 1.3.0 §7.2.4.6.8: BoundingBox follows the CRS's axis order (lat,lon for
            # EPSG:4326); 1.1.1 is always x,y.
            a, b, c, d = from_xy(box, code, self.version)
            attrs = {
                "CRS" if self.v13 else "SRS": code,
                "minx": _num(a),
                "miny": _num(b),
                "maxx": _num(c),
                "maxy": _num(d),
            }
            elements.append(w.BoundingBox(**attrs))
        return elements

    def bbox_in(self, lonlat: BBox, code: str, layer: Layer | None) -> BBox | None:
        """The extent in `code`: from the native extent for a data layer (tighter)."""
        try:
            if layer is not None and not layer.is_group:
                extent = self.ctx.server.access.extent(self.ctx, layer)
                if extent is not None:
                    return transform_bbox(extent, self.native_crs(layer), code)
            return transform_bbox(lonlat, "CRS:84", code)
        except ValueError:
            return None  # the layer lies outside that CRS's area of use

    def style(self, layer: Layer, name: str) -> etree._Element:
        """A style with its legend (GetLegendGraphic)."""
        w = self.w
        width, height = self.service.legend_size(self.ctx, layer)
        legend = w.LegendURL(w.Format("image/png"), width=str(width), height=str(height))
        href = operation_url(
            self.ctx,
            self.version,
            "GetLegendGraphic",
            LAYER=layer.name,
            FORMAT="image/png",
            STYLE=name,
        )
        legend.append(self.online(href))
        return w.Style(w.Name(name), w.Title(name.capitalize()), legend)

    def scale_elements(self, layer: Layer) -> list[etree._Element]:
        """Min/MaxScaleDenominator (1.3.0 §7.2.4.6.9) or ScaleHint (1.1.1 §7.1.4.5.8)."""
        low, high = layer.min_scale, layer.max_scale
        if low is None and high is None:
            return []
        w = self.w
        if not self.v13:
            return [
                w.ScaleHint(
                    min=_num(scale_hint(low or 0.0)),
                    max=_num(scale_hint(high if high is not None else _NO_MAX_SCALE)),
                )
            ]
        elements = []
        if low is not None:
            elements.append(w.MinScaleDenominator(_num(low)))
        if high is not None:
            elements.append(w.MaxScaleDenominator(_num(high)))
        return elements

    def keywords(self, words: Iterable[str]) -> etree._Element:
        """A KeywordList."""
        return self.w.KeywordList(*(self.w.Keyword(w) for w in words))

    def online(self, href: str) -> etree._Element:
        """An OnlineResource; 1.1.1's DTD knows the attributes as "xlink:..." literally."""
        element = (
            self.w.OnlineResource()
            if self.v13
            else etree.Element("OnlineResource", nsmap={"xlink": XLINK_NS})
        )
        element.set(f"{{{XLINK_NS}}}type", "simple")
        element.set(f"{{{XLINK_NS}}}href", href)
        return element


def _num(value: float) -> str:
    return format(value, ".12g")
