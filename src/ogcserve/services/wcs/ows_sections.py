"""The OWS Common sections of the WCS 1.1.1 (OWS 1.1) and 2.0.1 (OWS 2.0) capabilities, the
XML writing helpers, and the axis conventions both versions share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyproj
from lxml import etree
from pyproj.exceptions import CRSError

from ogcserve.services.ows.contact import service_provider
from ogcserve.services.wms.urls import online_resource

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project

XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OPERATIONS = ("GetCapabilities", "DescribeCoverage", "GetCoverage")


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """A child element of `parent` with `text` and attributes."""
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def xml_answer(ctx: RequestContext, root: etree._Element) -> None:
    """Write an XML document as the answer."""
    ctx.response.set_header("Content-Type", "text/xml; charset=utf-8")
    ctx.response.write(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def numbers(*values: float) -> str:
    """Numbers as XML lists hold them (shortest exact repr)."""
    return " ".join(repr(float(v)) for v in values)


def lat_first(crs: str) -> bool:
    """Whether the CRS's first axis is northing (EPSG:4326 and most geographic CRSs)."""
    try:
        axes = pyproj.CRS.from_user_input(crs).axis_info
    except CRSError:
        return False
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def identification(root: etree._Element, ows: str, project: Project, version: str) -> None:
    """ows:ServiceIdentification and ows:ServiceProvider."""
    ident = sub(root, f"{{{ows}}}ServiceIdentification")
    sub(ident, f"{{{ows}}}Title", project.title)
    sub(ident, f"{{{ows}}}Abstract", project.abstract)
    if project.keywords:
        keywords = sub(ident, f"{{{ows}}}Keywords")
        for word in project.keywords:
            sub(keywords, f"{{{ows}}}Keyword", word)
    sub(ident, f"{{{ows}}}ServiceType", "OGC WCS" if version == "2.0.1" else "WCS")
    sub(ident, f"{{{ows}}}ServiceTypeVersion", version)
    if version == "2.0.1":
        for profile in (
            "http://www.opengis.net/spec/WCS/2.0/conf/core",
            "http://www.opengis.net/spec/WCS_protocol-binding_get-kvp/1.0/conf/get-kvp",
            "http://www.opengis.net/spec/WCS_protocol-binding_post-xml/1.0/conf/post-xml",
            "http://www.opengis.net/spec/GMLCOV/1.0/conf/gml-coverage",
            "http://www.opengis.net/spec/WCS_service-extension_crs/1.0/conf/crs",
            "http://www.opengis.net/spec/WCS_service-extension_scaling/1.0/conf/scaling",
            "http://www.opengis.net/spec/WCS_service-extension_range-subsetting/1.0/conf/"
            "record-subsetting",
            "http://www.opengis.net/spec/WCS_service-extension_interpolation/1.0/conf/"
            "interpolation",
            "http://www.opengis.net/spec/WCS_coverage-encoding_geotiff/1.0/conf/geotiff-coverage",
        ):
            sub(ident, f"{{{ows}}}Profile", profile)
    sub(ident, f"{{{ows}}}Fees", "NONE")
    sub(ident, f"{{{ows}}}AccessConstraints", "NONE")
    service_provider(root, ows, project.contact, project.title or project.name)


def operations_metadata(ctx: RequestContext, root: etree._Element, ows: str) -> None:
    """ows:OperationsMetadata: the three operations at this URL, by GET and by POST."""
    url = online_resource(ctx)
    meta = sub(root, f"{{{ows}}}OperationsMetadata")
    for name in OPERATIONS:
        op = sub(meta, f"{{{ows}}}Operation", name=name)
        http = sub(sub(op, f"{{{ows}}}DCP"), f"{{{ows}}}HTTP")
        sub(http, f"{{{ows}}}Get", **{f"{{{XLINK}}}href": url})
        sub(http, f"{{{ows}}}Post", **{f"{{{XLINK}}}href": url})
