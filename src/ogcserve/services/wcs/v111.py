"""WCS 1.1.1 (OGC 06-083r8): GetCapabilities, DescribeCoverage and GetCoverage (KVP).

CRSs are URNs whose axis order is the CRS's (latitude first for EPSG:4326). A geographic
coverage is described in CRS84 (longitude first), whose grid GDAL's 1.1 driver reads without
its axis-swapping guesses; a BoundingBox spans the centres of the corner pixels and GridOrigin
is the centre of the first pixel. GetCoverage answers the file itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.errors import InvalidParameterValueError, MissingParameterValueError

from .encode import FORMATS
from .grid import check_crs
from .layers import advertised_crs, coverage_layer, published, require_project, wgs84_extent
from .ows_sections import (
    XLINK,
    XSI,
    identification,
    lat_first,
    numbers,
    operations_metadata,
    sub,
    xml_answer,
)

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.coverages import CoverageInfo

# The namespace and schemas of WCS 1.1.x (06-083r8's own examples): GeoServer and OWSLib's 1.1.1
# client use ".../wcs/1.1.1", which no OGC schema declares. OWSLib reads these documents as 1.1.0.
WCS = "http://www.opengis.net/wcs/1.1"
OWS = "http://www.opengis.net/ows/1.1"
_NSMAP = {"wcs": WCS, "ows": OWS, "xlink": XLINK, "xsi": XSI}
_SCHEMAS = "http://schemas.opengis.net/wcs/1.1/"
INTERPOLATIONS = {"nearest": "nearest", "linear": "bilinear", "cubic": "cubic"}
_FIELD = "contents"
_URN = re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.IGNORECASE)
CRS84 = "urn:ogc:def:crs:OGC:1.3:CRS84"
_CRS84 = re.compile(r"^(urn:ogc:def:crs:OGC:[\d.]*:CRS84|OGC:CRS84|CRS:84)$", re.IGNORECASE)


def urn(crs: str) -> str:
    """urn:ogc:def:crs:EPSG::32631 for EPSG:32631."""
    return f"urn:ogc:def:crs:EPSG::{crs.split(':')[-1]}" if crs.upper().startswith("EPSG:") else crs


def grid_crs(crs: str) -> str:
    """The URN a coverage's grid is described in: CRS84 for EPSG:4326."""
    return CRS84 if crs == "EPSG:4326" else urn(crs)


def from_urn(value: str, locator: str) -> tuple[str, bool]:
    """The EPSG code of a URN, and whether its coordinates come latitude first."""
    text = value.strip()
    if _CRS84.match(text):
        return "EPSG:4326", False
    match = _URN.match(text) or re.match(r"^EPSG:(\d+)$", text, re.I)
    if match is None:
        raise InvalidParameterValueError(f"Unknown CRS {value!r}", locator=locator)
    code = check_crs(f"EPSG:{match.group(1)}", locator)
    return code, lat_first(code)


def get_capabilities(ctx: RequestContext) -> None:
    """wcs:Capabilities listing the coverages the caller may read."""
    project = require_project(ctx)
    root = etree.Element(f"{{{WCS}}}Capabilities", nsmap=_NSMAP, version="1.1.1")
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} {_SCHEMAS}wcsGetCapabilities.xsd")
    identification(root, OWS, project, "1.1.1")
    operations_metadata(ctx, root, OWS)
    contents = sub(root, f"{{{WCS}}}Contents")
    for layer in published(ctx, project):
        info = ctx.server.access.coverage_info(ctx, layer)
        summary = sub(contents, f"{{{WCS}}}CoverageSummary")
        sub(summary, f"{{{OWS}}}Title", layer.title or layer.name)
        if layer.abstract:
            sub(summary, f"{{{OWS}}}Abstract", layer.abstract)
        _wgs84_box(summary, info)
        sub(summary, f"{{{WCS}}}Identifier", layer.name)
    for mime in FORMATS:
        sub(contents, f"{{{WCS}}}SupportedFormat", mime)
    xml_answer(ctx, root)


def _wgs84_box(parent: etree._Element, info: CoverageInfo) -> None:
    west, south, east, north = wgs84_extent(info)
    box = sub(parent, f"{{{OWS}}}WGS84BoundingBox")
    sub(box, f"{{{OWS}}}LowerCorner", numbers(west, south))
    sub(box, f"{{{OWS}}}UpperCorner", numbers(east, north))


def describe_coverage(ctx: RequestContext) -> None:
    """wcs:CoverageDescriptions for each IDENTIFIERS entry."""
    value = ctx.request.parameter("IDENTIFIERS") or ctx.request.parameter("IDENTIFIER")
    names = [c.strip() for c in value.split(",") if c.strip()]
    if not names:
        raise MissingParameterValueError("IDENTIFIERS is missing", locator="identifiers")
    layers = [coverage_layer(ctx, name, "1.1.1", "identifiers") for name in names]
    root = etree.Element(f"{{{WCS}}}CoverageDescriptions", nsmap=_NSMAP)
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} {_SCHEMAS}wcsDescribeCoverage.xsd")
    for layer in layers:
        info = ctx.server.access.coverage_info(ctx, layer)
        desc = sub(root, f"{{{WCS}}}CoverageDescription")
        sub(desc, f"{{{OWS}}}Title", layer.title or layer.name)
        if layer.abstract:
            sub(desc, f"{{{OWS}}}Abstract", layer.abstract)
        sub(desc, f"{{{WCS}}}Identifier", layer.name)
        _domain(sub(desc, f"{{{WCS}}}Domain"), info)
        _range(desc, info)
        for code in advertised_crs(ctx, info):
            sub(desc, f"{{{WCS}}}SupportedCRS", grid_crs(code))
        for mime in FORMATS:
            sub(desc, f"{{{WCS}}}SupportedFormat", mime)
    xml_answer(ctx, root)


def _domain(domain: etree._Element, info: CoverageInfo) -> None:
    spatial = sub(domain, f"{{{WCS}}}SpatialDomain")
    left, _, _, top = info.extent
    rx, ry = info.resolution
    # The centres of the corner pixels; no imageCRS box, whose upper corner GDAL reads as
    # the grid's size (one pixel short).
    first = (left + rx / 2, top - ry / 2)
    last = (left + (info.width - 0.5) * rx, top - (info.height - 0.5) * ry)
    crs = grid_crs(info.crs)
    box = sub(spatial, f"{{{OWS}}}BoundingBox", crs=crs, dimensions="2")
    sub(box, f"{{{OWS}}}LowerCorner", numbers(first[0], last[1]))
    sub(box, f"{{{OWS}}}UpperCorner", numbers(last[0], first[1]))
    _wgs84_box(spatial, info)
    grid = sub(spatial, f"{{{WCS}}}GridCRS")
    sub(grid, f"{{{WCS}}}GridBaseCRS", crs)
    sub(grid, f"{{{WCS}}}GridType", "urn:ogc:def:method:WCS:1.1:2dGridIn2dCrs")
    sub(grid, f"{{{WCS}}}GridOrigin", numbers(*first))
    sub(grid, f"{{{WCS}}}GridOffsets", numbers(rx, 0.0, 0.0, -ry))
    sub(grid, f"{{{WCS}}}GridCS", "urn:ogc:def:cs:OGC:0.0:Grid2dSquareCS")


def _range(desc: etree._Element, info: CoverageInfo) -> None:
    field = sub(sub(desc, f"{{{WCS}}}Range"), f"{{{WCS}}}Field")
    sub(field, f"{{{OWS}}}Title", "Bands")
    sub(field, f"{{{WCS}}}Identifier", _FIELD)
    sub(sub(field, f"{{{WCS}}}Definition"), f"{{{OWS}}}AnyValue")
    if info.nodata is not None:
        value = info.nodata
        sub(field, f"{{{WCS}}}NullValue", str(int(value)) if value == int(value) else repr(value))
    methods = sub(field, f"{{{WCS}}}InterpolationMethods")
    for name in INTERPOLATIONS:
        if name != "nearest":
            sub(methods, f"{{{WCS}}}InterpolationMethod", name)
    sub(methods, f"{{{WCS}}}Default", "nearest")
    axis = sub(field, f"{{{WCS}}}Axis", identifier="Bands")
    keys = sub(axis, f"{{{WCS}}}AvailableKeys")
    for band in range(1, info.band_count + 1):
        sub(keys, f"{{{WCS}}}Key", str(band))
