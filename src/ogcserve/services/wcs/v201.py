"""WCS 2.0.1 (OGC 09-110r4) GetCapabilities and DescribeCoverage, with GMLCOV 1.0 descriptions.

Axis order follows the CRS (Lat before Long for EPSG:4326); the grid's origin is the centre of
the first pixel and the envelope the outer edges of the pixels, as GMLCOV and GDAL expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.errors import MissingParameterValueError
from ogcserve.http.xml_body import parse_xml

from .encode import FORMATS
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

WCS = "http://www.opengis.net/wcs/2.0"
OWS = "http://www.opengis.net/ows/2.0"
GML = "http://www.opengis.net/gml/3.2"
GMLCOV = "http://www.opengis.net/gmlcov/1.0"
SWE = "http://www.opengis.net/swe/2.0"
CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/"
# The CRS (OGC 11-053r1) and interpolation (OGC 12-049) extensions' namespaces.
CRS_EXT = "http://www.opengis.net/wcs/crs/1.0"
INT_EXT = "http://www.opengis.net/wcs/interpolation/1.0"
INTERPOLATION_URI = "http://www.opengis.net/def/interpolation/OGC/1/"
_NSMAP = {
    "wcs": WCS,
    "ows": OWS,
    "gml": GML,
    "gmlcov": GMLCOV,
    "swe": SWE,
    "xlink": XLINK,
    "xsi": XSI,
    "crs": CRS_EXT,
    "int": INT_EXT,
}
_SCHEMA = "http://schemas.opengis.net/wcs/2.0/wcsAll.xsd"


def crs_uri(crs: str) -> str:
    """http://www.opengis.net/def/crs/EPSG/0/4326 for EPSG:4326."""
    return CRS_URI + crs.split(":")[-1] if crs.upper().startswith("EPSG:") else crs


def axis_labels(crs: str) -> tuple[str, str]:
    """The two axis labels in the CRS's order: ("Lat", "Long") or ("E", "N")."""
    return ("Lat", "Long") if lat_first(crs) else ("E", "N")


def band_name(info: CoverageInfo, band: int) -> str:
    """A band's field name: its description, or band1, band2, ..."""
    names = info.band_names
    name = names[band - 1] if len(names) >= band else ""
    return name.replace(" ", "_") if name else f"band{band}"


def get_capabilities(ctx: RequestContext) -> None:
    """wcs:Capabilities listing the coverages the caller may read."""
    project = require_project(ctx)
    root = etree.Element(f"{{{WCS}}}Capabilities", nsmap=_NSMAP, version="2.0.1")
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} {_SCHEMA}")
    identification(root, OWS, project, "2.0.1")
    operations_metadata(ctx, root, OWS)
    coverages = [
        (layer, ctx.server.access.coverage_info(ctx, layer)) for layer in published(ctx, project)
    ]
    meta = sub(root, f"{{{WCS}}}ServiceMetadata")
    for mime in FORMATS:
        sub(meta, f"{{{WCS}}}formatSupported", mime)
    _extension_metadata(ctx, sub(meta, f"{{{WCS}}}Extension"), [info for _, info in coverages])
    contents = sub(root, f"{{{WCS}}}Contents")
    for layer, info in coverages:
        summary = sub(contents, f"{{{WCS}}}CoverageSummary")
        if layer.title:
            sub(summary, f"{{{OWS}}}Title", layer.title)
        if layer.abstract:
            sub(summary, f"{{{OWS}}}Abstract", layer.abstract)
        west, south, east, north = wgs84_extent(info)
        box = sub(summary, f"{{{OWS}}}WGS84BoundingBox")
        sub(box, f"{{{OWS}}}LowerCorner", numbers(west, south))
        sub(box, f"{{{OWS}}}UpperCorner", numbers(east, north))
        sub(summary, f"{{{WCS}}}CoverageId", layer.name)
        sub(summary, f"{{{WCS}}}CoverageSubtype", "RectifiedGridCoverage")
    xml_answer(ctx, root)


def _extension_metadata(
    ctx: RequestContext, extension: etree._Element, infos: list[CoverageInfo]
) -> None:
    """What the CRS and interpolation extensions list: every CRS a subset or an output may
    be in (each coverage's own, then the project's) and the interpolation methods."""
    codes: list[str] = []
    for info in infos:
        codes.extend(c for c in advertised_crs(ctx, info) if c not in codes)
    uris = [crs_uri(code) for code in codes if code.upper().startswith("EPSG:")]
    if uris:  # (crsSupported: one or more)
        crs = sub(extension, f"{{{CRS_EXT}}}CrsMetadata")
        for uri in uris:
            sub(crs, f"{{{CRS_EXT}}}crsSupported", uri)
    methods = sub(extension, f"{{{INT_EXT}}}InterpolationMetadata")
    for name in ("nearest-neighbor", "linear", "cubic"):
        sub(methods, f"{{{INT_EXT}}}InterpolationSupported", INTERPOLATION_URI + name)


def describe_coverage(ctx: RequestContext) -> None:
    """wcs:CoverageDescriptions for each COVERAGEID."""
    body = ctx.request.params.get("REQUEST_BODY")
    if body:  # XML POST: one wcs:CoverageId element per coverage
        root = parse_xml(body.encode("utf-8"), ctx.request.xml_limits)
        ids = [(e.text or "").strip() for e in root.iter(f"{{{WCS}}}CoverageId")]
    else:
        ids = [c.strip() for c in ctx.request.parameter("COVERAGEID").split(",") if c.strip()]
    if not ids:
        raise MissingParameterValueError("COVERAGEID is missing", locator="coverageId")
    layers = [coverage_layer(ctx, name, "2.0.1", "coverageId") for name in ids]
    root = etree.Element(f"{{{WCS}}}CoverageDescriptions", nsmap=_NSMAP)
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} {_SCHEMA}")
    for layer in layers:
        info = ctx.server.access.coverage_info(ctx, layer)
        root.append(_description(layer.name, info))
    xml_answer(ctx, root)


def _description(name: str, info: CoverageInfo) -> etree._Element:
    desc = etree.Element(f"{{{WCS}}}CoverageDescription", {f"{{{GML}}}id": name})
    labels = axis_labels(info.crs)
    flip = labels[0] == "Lat"
    left, bottom, right, top = info.extent
    rx, ry = info.resolution
    uri = crs_uri(info.crs)
    envelope = sub(
        sub(desc, f"{{{GML}}}boundedBy"),
        f"{{{GML}}}Envelope",
        srsName=uri,
        axisLabels=" ".join(labels),
        uomLabels="deg deg" if flip else "m m",
        srsDimension="2",
    )
    lower, upper = ((bottom, left), (top, right)) if flip else ((left, bottom), (right, top))
    sub(envelope, f"{{{GML}}}lowerCorner", numbers(*lower))
    sub(envelope, f"{{{GML}}}upperCorner", numbers(*upper))
    sub(desc, f"{{{WCS}}}CoverageId", name)
    grid = sub(
        sub(desc, f"{{{GML}}}domainSet"),
        f"{{{GML}}}RectifiedGrid",
        **{f"{{{GML}}}id": f"{name}_grid", "dimension": "2"},
    )
    limits = sub(sub(grid, f"{{{GML}}}limits"), f"{{{GML}}}GridEnvelope")
    sub(limits, f"{{{GML}}}low", "0 0")
    sub(limits, f"{{{GML}}}high", f"{info.width - 1} {info.height - 1}")
    sub(grid, f"{{{GML}}}axisLabels", "i j")
    origin = (top - ry / 2, left + rx / 2) if flip else (left + rx / 2, top - ry / 2)
    point = sub(
        sub(grid, f"{{{GML}}}origin"),
        f"{{{GML}}}Point",
        **{f"{{{GML}}}id": f"{name}_origin", "srsName": uri},
    )
    sub(point, f"{{{GML}}}pos", numbers(*origin))
    x_step, y_step = ((0.0, rx), (-ry, 0.0)) if flip else ((rx, 0.0), (0.0, -ry))
    sub(grid, f"{{{GML}}}offsetVector", numbers(*x_step), srsName=uri)
    sub(grid, f"{{{GML}}}offsetVector", numbers(*y_step), srsName=uri)
    desc.append(_range_type(info))
    service = sub(desc, f"{{{WCS}}}ServiceParameters")
    sub(service, f"{{{WCS}}}CoverageSubtype", "RectifiedGridCoverage")
    sub(service, f"{{{WCS}}}nativeFormat", "image/tiff")
    return desc


def _range_type(info: CoverageInfo) -> etree._Element:
    range_type = etree.Element(f"{{{GMLCOV}}}rangeType")
    record = sub(range_type, f"{{{SWE}}}DataRecord")
    for band in range(1, info.band_count + 1):
        field = sub(record, f"{{{SWE}}}field", name=band_name(info, band))
        quantity = sub(field, f"{{{SWE}}}Quantity")
        if info.nodata is not None:
            nil_values = sub(sub(quantity, f"{{{SWE}}}nilValues"), f"{{{SWE}}}NilValues")
            sub(
                nil_values,
                f"{{{SWE}}}nilValue",
                _nodata_text(info.nodata),
                reason="http://www.opengis.net/def/nil/OGC/0/missing",
            )
        sub(quantity, f"{{{SWE}}}uom", code="1")
    return range_type


def _nodata_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
