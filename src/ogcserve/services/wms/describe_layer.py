"""DescribeLayer (SLD 1.0 for WMS 1.1.1, SLD 1.1 §11 for 1.3.0): where each layer's data is
served as features (WFS) or coverages (WCS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.errors import MissingParameterValueError
from ogcserve.services.wms.layers import named_layers
from ogcserve.services.wms.urls import online_resource
from ogcserve.services.wms.xml import Maker

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer
    from ogcserve.services.wms.service import WMSService

SLD_NS = "http://www.opengis.net/sld"
SE_NS = "http://www.opengis.net/se"
XLINK_NS = "http://www.w3.org/1999/xlink"
DTD = (
    "<!DOCTYPE WMS_DescribeLayerResponse SYSTEM "
    '"http://schemas.opengis.net/wms/1.1.1/WMS_DescribeLayerResponse.dtd">'
)


def describe_layer(ctx: RequestContext, service: WMSService) -> None:
    """Describe each data layer of LAYERS (groups stand for their readable members)."""
    names = [n.strip() for n in ctx.request.parameter("LAYERS").split(",") if n.strip()]
    if not names:
        raise MissingParameterValueError("The LAYERS parameter is missing", locator="LAYERS")
    layers = [m for layer in named_layers(ctx, names) for m in layer.walk() if not m.is_group]
    url = online_resource(ctx)
    if service.version == "1.1.1":
        root = etree.Element("WMS_DescribeLayerResponse", version="1.1.0")
        for layer in layers:
            root.append(_description_1_1_1(layer, url))
        head = b'<?xml version="1.0" encoding="UTF-8"?>\n' + DTD.encode() + b"\n"
        body = etree.tostring(root, encoding="UTF-8", pretty_print=True)
    else:
        sld, se = (
            Maker(namespace=SLD_NS, nsmap={None: SLD_NS, "se": SE_NS, "xlink": XLINK_NS}),
            Maker(namespace=SE_NS),
        )
        root = sld.DescribeLayerResponse(sld.Version("1.1.0"))
        for layer in layers:
            kind, name_maker = (
                _ows_type(layer),
                se.CoverageName if layer.is_raster else se.FeatureTypeName,
            )
            resource = se.OnlineResource()
            resource.set(f"{{{XLINK_NS}}}type", "simple")
            resource.set(f"{{{XLINK_NS}}}href", url)
            root.append(
                sld.LayerDescription(
                    sld.owsType(kind.lower()), resource, sld.TypeName(name_maker(layer.name))
                )
            )
        head = b'<?xml version="1.0" encoding="UTF-8"?>\n'
        body = etree.tostring(root, encoding="UTF-8", pretty_print=True)
    ctx.response.set_header("Content-Type", "text/xml; charset=utf-8")
    ctx.response.write(head + body)


def _ows_type(layer: Layer) -> str:
    return "WCS" if layer.is_raster else "WFS"


def _description_1_1_1(layer: Layer, url: str) -> etree._Element:
    published = layer.wcs.publish if layer.is_raster else layer.wfs.publish
    element = etree.Element("LayerDescription", name=layer.name)
    if published:
        element.set("owsType", _ows_type(layer))
        element.set("owsURL", url)
        if not layer.is_raster:
            element.set("wfs", url)  # SLD 1.0: kept for WFS clients, owsURL says the same
        etree.SubElement(element, "Query", typeName=layer.name)
    return element
