"""WCS 1.0.0 (OGC 03-065r6): GetCapabilities, DescribeCoverage and GetCoverage (KVP).

Coordinates are always x/y (longitude first); BBOX gives the outer edges of the pixels and the
RectifiedGrid's origin is the centre of the first pixel, as MapServer and GDAL's driver read
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.errors import InvalidParameterValueError, MissingParameterValueError
from ogcserve.services.ows.contact import responsible_party
from ogcserve.services.wms.urls import online_resource

from .encode import FORMATS_1_0, output_format
from .grid import CoverageAsk, check_crs
from .layers import advertised_crs, answer, coverage_layer, published, require_project, wgs84_extent
from .ows_sections import XLINK, XSI, numbers, sub, xml_answer

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.coverages import CoverageInfo
    from ogcserve.projects.model import Layer

WCS = "http://www.opengis.net/wcs"
GML = "http://www.opengis.net/gml"
_NSMAP = {None: WCS, "gml": GML, "xlink": XLINK, "xsi": XSI}
_SCHEMAS = "http://schemas.opengis.net/wcs/1.0.0/"
CRS84 = "urn:ogc:def:crs:OGC:1.3:CRS84"
INTERPOLATIONS = {"nearest neighbor": "nearest", "bilinear": "bilinear", "bicubic": "cubic"}


def _root(tag: str, schema: str) -> etree._Element:
    root = etree.Element(f"{{{WCS}}}{tag}", nsmap=_NSMAP, version="1.0.0")  # type: ignore[arg-type]
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} {_SCHEMAS}{schema}")
    return root


def _lon_lat_envelope(parent: etree._Element, info: CoverageInfo) -> None:
    west, south, east, north = wgs84_extent(info)
    envelope = sub(parent, f"{{{WCS}}}lonLatEnvelope", srsName=CRS84)
    sub(envelope, f"{{{GML}}}pos", numbers(west, south))
    sub(envelope, f"{{{GML}}}pos", numbers(east, north))


def get_capabilities(ctx: RequestContext) -> None:
    """WCS_Capabilities: the service, its three operations, the readable coverages."""
    project = require_project(ctx)
    root = _root("WCS_Capabilities", "wcsCapabilities.xsd")
    service = sub(root, f"{{{WCS}}}Service")
    if project.abstract:
        sub(service, f"{{{WCS}}}description", project.abstract)
    sub(service, f"{{{WCS}}}name", "WCS")
    sub(service, f"{{{WCS}}}label", project.title)
    responsible_party(service, WCS, project.contact)
    sub(service, f"{{{WCS}}}fees", "NONE")
    sub(service, f"{{{WCS}}}accessConstraints", "NONE")
    request = sub(sub(root, f"{{{WCS}}}Capability"), f"{{{WCS}}}Request")
    url = online_resource(ctx)
    for name in ("GetCapabilities", "DescribeCoverage", "GetCoverage"):
        op = sub(request, f"{{{WCS}}}{name}")
        for method in ("Get", "Post"):
            http = sub(sub(op, f"{{{WCS}}}DCPType"), f"{{{WCS}}}HTTP")
            link = sub(sub(http, f"{{{WCS}}}{method}"), f"{{{WCS}}}OnlineResource")
            link.set(f"{{{XLINK}}}type", "simple")
            link.set(f"{{{XLINK}}}href", url)
    exception = sub(root[-1], f"{{{WCS}}}Exception")
    sub(exception, f"{{{WCS}}}Format", "application/vnd.ogc.se_xml")
    contents = sub(root, f"{{{WCS}}}ContentMetadata")
    for layer in published(ctx, project):
        info = ctx.server.access.coverage_info(ctx, layer)
        brief = sub(contents, f"{{{WCS}}}CoverageOfferingBrief")
        _name_label(brief, layer)
        _lon_lat_envelope(brief, info)
    xml_answer(ctx, root)


def _name_label(parent: etree._Element, layer: Layer) -> None:
    if layer.abstract:
        sub(parent, f"{{{WCS}}}description", layer.abstract)
    sub(parent, f"{{{WCS}}}name", layer.name)
    sub(parent, f"{{{WCS}}}label", layer.title or layer.name)


def describe_coverage(ctx: RequestContext) -> None:
    """CoverageDescription of each COVERAGE (all readable ones when it is absent)."""
    names = [c.strip() for c in ctx.request.parameter("COVERAGE").split(",") if c.strip()]
    if names:
        layers = [coverage_layer(ctx, name, "1.0.0", "COVERAGE") for name in names]
    else:
        layers = published(ctx, require_project(ctx))
    root = _root("CoverageDescription", "describeCoverage.xsd")
    for layer in layers:
        info = ctx.server.access.coverage_info(ctx, layer)
        offering = sub(root, f"{{{WCS}}}CoverageOffering")
        _name_label(offering, layer)
        _lon_lat_envelope(offering, info)
        _domain(offering, info)
        _range(offering, info)
        crs = sub(offering, f"{{{WCS}}}supportedCRSs")
        for code in advertised_crs(ctx, info):
            sub(crs, f"{{{WCS}}}requestResponseCRSs", code)
        sub(crs, f"{{{WCS}}}nativeCRSs", info.crs)
        formats = sub(offering, f"{{{WCS}}}supportedFormats", nativeFormat="GeoTIFF")
        for name in FORMATS_1_0:
            sub(formats, f"{{{WCS}}}formats", name)
        methods = sub(offering, f"{{{WCS}}}supportedInterpolations", default="nearest neighbor")
        for name in INTERPOLATIONS:
            sub(methods, f"{{{WCS}}}interpolationMethod", name)
    xml_answer(ctx, root)


def _domain(offering: etree._Element, info: CoverageInfo) -> None:
    spatial = sub(sub(offering, f"{{{WCS}}}domainSet"), f"{{{WCS}}}spatialDomain")
    left, bottom, right, top = info.extent
    envelope = sub(spatial, f"{{{GML}}}Envelope", srsName=info.crs)
    sub(envelope, f"{{{GML}}}pos", numbers(left, bottom))
    sub(envelope, f"{{{GML}}}pos", numbers(right, top))
    grid = sub(spatial, f"{{{GML}}}RectifiedGrid", dimension="2", srsName=info.crs)
    limits = sub(sub(grid, f"{{{GML}}}limits"), f"{{{GML}}}GridEnvelope")
    sub(limits, f"{{{GML}}}low", "0 0")
    sub(limits, f"{{{GML}}}high", f"{info.width - 1} {info.height - 1}")
    sub(grid, f"{{{GML}}}axisName", "x")
    sub(grid, f"{{{GML}}}axisName", "y")
    rx, ry = info.resolution
    sub(sub(grid, f"{{{GML}}}origin"), f"{{{GML}}}pos", numbers(left + rx / 2, top - ry / 2))
    sub(grid, f"{{{GML}}}offsetVector", numbers(rx, 0))
    sub(grid, f"{{{GML}}}offsetVector", numbers(0, -ry))


def _range(offering: etree._Element, info: CoverageInfo) -> None:
    range_set = sub(sub(offering, f"{{{WCS}}}rangeSet"), f"{{{WCS}}}RangeSet")
    sub(range_set, f"{{{WCS}}}name", "Bands")
    sub(range_set, f"{{{WCS}}}label", "Bands")
    axis = sub(sub(range_set, f"{{{WCS}}}axisDescription"), f"{{{WCS}}}AxisDescription")
    sub(axis, f"{{{WCS}}}name", "Band")
    sub(axis, f"{{{WCS}}}label", "Band")
    values = sub(axis, f"{{{WCS}}}values")
    for band in range(1, info.band_count + 1):
        sub(values, f"{{{WCS}}}singleValue", str(band))
    if info.nodata is not None:
        nulls = sub(range_set, f"{{{WCS}}}nullValues")
        value = info.nodata
        sub(nulls, f"{{{WCS}}}singleValue", str(int(value)) if value == int(value) else repr(value))


def get_coverage(ctx: RequestContext) -> None:
    """GetCoverage: COVERAGE, CRS, BBOX, WIDTH/HEIGHT or RESX/RESY, FORMAT, BAND."""
    params = ctx.request.params
    name = params.get("COVERAGE", "").strip()
    if not name:
        raise MissingParameterValueError("COVERAGE is missing", locator="COVERAGE")
    layer = coverage_layer(ctx, name, "1.0.0", "COVERAGE")
    info = ctx.server.access.coverage_info(ctx, layer)
    crs = params.get("CRS", "").strip()
    if not crs:
        raise MissingParameterValueError("CRS is missing", locator="CRS")
    crs = check_crs(crs.upper(), "CRS")
    response_crs = check_crs(params.get("RESPONSE_CRS", "").strip().upper() or crs, "RESPONSE_CRS")
    mime = output_format(params.get("FORMAT", ""), "FORMAT")
    ask = CoverageAsk(
        bbox=_bbox(params.get("BBOX", "")),
        bbox_crs=crs,
        crs=response_crs,
        size=_size(params),
        resolution=_pair(params, "RESX", "RESY"),
        bands=_bands(params.get("BAND", "")),
        interpolation=_interpolation(params.get("INTERPOLATION", "")),
    )
    if ask.bbox is None:
        raise MissingParameterValueError("BBOX is missing", locator="BBOX")
    if ask.size is None and ask.resolution is None and crs != info.crs:
        raise MissingParameterValueError("WIDTH/HEIGHT or RESX/RESY is missing", locator="WIDTH")
    answer(ctx, layer, ask, mime)


def _bbox(value: str) -> tuple[float, float, float, float] | None:
    if not value.strip():
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        raise InvalidParameterValueError(f"Cannot read BBOX {value!r}", locator="BBOX") from None
    if len(parts) not in (4, 6) or any(p != p or abs(p) == float("inf") for p in parts):
        raise InvalidParameterValueError(f"Cannot read BBOX {value!r}", locator="BBOX")
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if parts[0] > parts[2] or parts[1] > parts[3]:
        raise InvalidParameterValueError("BBOX minimum above its maximum", locator="BBOX")
    return parts[0], parts[1], parts[2], parts[3]


def _size(params: Mapping[str, str]) -> tuple[int, int] | None:
    pair = _pair(params, "WIDTH", "HEIGHT")
    return None if pair is None else (round(pair[0]), round(pair[1]))


def _pair(params: Mapping[str, str], first: str, second: str) -> tuple[float, float] | None:
    a, b = params.get(first, "").strip(), params.get(second, "").strip()
    if not a and not b:
        return None
    try:
        return float(a), float(b)
    except ValueError:
        raise InvalidParameterValueError(
            f"{first}/{second} must be numbers", locator=first
        ) from None


def _bands(value: str) -> tuple[int, ...] | None:
    if not value.strip():
        return None
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise InvalidParameterValueError(f"Cannot read BAND {value!r}", locator="BAND") from None


def _interpolation(value: str) -> str:
    if not value.strip():
        return "nearest"
    found = INTERPOLATIONS.get(value.strip().lower().replace("_", " "))
    if found is None:
        raise InvalidParameterValueError(
            f"Unknown interpolation {value!r}", locator="INTERPOLATION"
        )
    return found
