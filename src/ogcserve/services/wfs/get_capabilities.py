"""GetCapabilities (WFS 2.0.0 §8, 1.1.0 §13, 1.0.0 §13): only the types the caller may read,
and Filter_Capabilities naming exactly what `filters.py` implements (`filter_capabilities.py`).
Cached by the pipeline per access fingerprint (the service's `cache_kind`)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from lxml import etree
from pyproj import Transformer

from ogcserve.errors import VersionNegotiationFailedError
from ogcserve.services.ows.contact import service_provider

from .crs import urn
from .filter_capabilities import fes_2_0, filter_1_0, filter_1_1
from .formats import ADVERTISED_FORMATS
from .layers import published_layers, require_project
from .params import FEATURE_PREFIX, VERSIONS, feature_namespace
from .xml_input import FES_NS, OGC_NS, WFS_NS, sub_element

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project

OWS = {"2.0.0": "http://www.opengis.net/ows/1.1", "1.1.0": "http://www.opengis.net/ows"}
XLINK = "http://www.w3.org/1999/xlink"
OPERATIONS = (
    "GetCapabilities",
    "DescribeFeatureType",
    "GetFeature",
    "GetPropertyValue",
    "ListStoredQueries",
    "DescribeStoredQueries",
    "Transaction",
)
_OPERATIONS_BY_VERSION = {
    "2.0.0": OPERATIONS,
    "1.1.0": ("GetCapabilities", "DescribeFeatureType", "GetFeature", "Transaction"),
    "1.0.0": ("GetCapabilities", "DescribeFeatureType", "GetFeature", "Transaction"),
}
# WFS 2.0 Table 13: every conformance constraint, and whether we implement it.
_CONFORMANCE = (
    ("ImplementsBasicWFS", True),
    ("ImplementsTransactionalWFS", True),
    ("ImplementsLockingWFS", False),
    ("KVPEncoding", True),
    ("XMLEncoding", True),
    ("SOAPEncoding", False),
    ("ImplementsInheritance", False),
    ("ImplementsRemoteResolve", False),
    ("ImplementsResultPaging", True),
    ("ImplementsStandardJoins", False),
    ("ImplementsSpatialJoins", False),
    ("ImplementsTemporalJoins", False),
    ("ImplementsFeatureVersioning", False),
    ("ManageStoredQueries", False),
)


def get_capabilities(ctx: RequestContext) -> None:
    """Answer GetCapabilities in the negotiated version."""
    version = _negotiate(ctx)
    project = require_project(ctx)
    layers = published_layers(ctx, project)
    url = service_url(ctx)
    build = {"2.0.0": _v2, "1.1.0": _v11, "1.0.0": _v10}[version]
    root = build(ctx, project, layers, url)
    ctx.response.set_header("Content-Type", "text/xml; charset=utf-8")
    ctx.response.write(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _negotiate(ctx: RequestContext) -> str:
    """OWS Common §7.3.2: ACCEPTVERSIONS picks the first version we have; else VERSION."""
    accept = ctx.request.parameter("ACCEPTVERSIONS").strip()
    if accept:
        for version in (v.strip() for v in accept.split(",")):
            if version in VERSIONS:
                return version
        raise VersionNegotiationFailedError(
            f"None of {accept!r} is supported", locator="ACCEPTVERSIONS"
        )
    version = ctx.request.parameter("VERSION").strip()
    return version if version in VERSIONS else VERSIONS[0]


def service_url(ctx: RequestContext) -> str:
    """The URL operations are answered at (MAP kept, so links stay in this project)."""
    parts = urlsplit(ctx.request.url)
    query = f"MAP={ctx.request.params['MAP']}&" if "MAP" in ctx.request.params else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _editable(ctx: RequestContext, layers: list[Layer]) -> bool:
    for layer in layers:
        p = ctx.server.access.permissions(ctx, layer)
        if p.can_insert or p.can_update or p.can_delete:
            return True
    return False


def _wgs84(ctx: RequestContext, layer: Layer) -> tuple[float, float, float, float]:
    extent = ctx.server.access.extent(ctx, layer)
    if extent is None:
        return (-180.0, -90.0, 180.0, 90.0)
    crs = ctx.server.access.crs(ctx, layer)
    if crs in ("EPSG:4326", "OGC:CRS84"):
        return extent
    transformer = Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)
    return tuple(transformer.transform_bounds(*extent, densify_pts=21))  # type: ignore[return-value]


def _crs_list(ctx: RequestContext, project: Project, layer: Layer) -> list[str]:
    native = ctx.server.access.crs(ctx, layer)
    others = [c for c in project.crs if c != native and c != "CRS:84"]
    return [native, *others]


def _ows_identification(root: etree._Element, ows: str, project: Project, version: str) -> None:
    ident = sub_element(root, f"{{{ows}}}ServiceIdentification")
    sub_element(ident, f"{{{ows}}}Title", project.title)
    sub_element(ident, f"{{{ows}}}Abstract", project.abstract)
    if project.keywords:
        keywords = sub_element(ident, f"{{{ows}}}Keywords")
        for word in project.keywords:
            sub_element(keywords, f"{{{ows}}}Keyword", word)
    sub_element(ident, f"{{{ows}}}ServiceType", "WFS")
    versions = VERSIONS if version == "2.0.0" else (version,)
    for v in versions:
        sub_element(ident, f"{{{ows}}}ServiceTypeVersion", v)
    sub_element(ident, f"{{{ows}}}Fees", "NONE")
    sub_element(ident, f"{{{ows}}}AccessConstraints", "NONE")
    service_provider(root, ows, project.contact, "ogcserve")


def _ows_operations(root: etree._Element, ows: str, version: str, url: str, editable: bool) -> None:
    meta = sub_element(root, f"{{{ows}}}OperationsMetadata")
    for name in _OPERATIONS_BY_VERSION[version]:
        if name == "Transaction" and not editable:
            continue
        op = sub_element(meta, f"{{{ows}}}Operation", name=name)
        http = sub_element(sub_element(op, f"{{{ows}}}DCP"), f"{{{ows}}}HTTP")
        sub_element(http, f"{{{ows}}}Get", **{f"{{{XLINK}}}href": url})
        sub_element(http, f"{{{ows}}}Post", **{f"{{{XLINK}}}href": url})
        values: dict[str, tuple[str, ...]] = {}
        if name == "GetCapabilities":
            values["AcceptVersions"] = VERSIONS if version == "2.0.0" else (version,)
            values["AcceptFormats"] = ("text/xml",)
        elif name in ("GetFeature", "GetPropertyValue"):
            values["outputFormat"] = ADVERTISED_FORMATS[version]
            values["resultType"] = ("results", "hits")
        elif name == "DescribeFeatureType":
            values["outputFormat"] = (
                ("application/gml+xml; version=3.2", "application/json")
                if version == "2.0.0"
                else ("text/xml; subtype=gml/3.1.1", "application/json")
            )
        for pname, allowed in values.items():
            param = sub_element(op, f"{{{ows}}}Parameter", name=pname)
            holder = sub_element(param, f"{{{ows}}}AllowedValues") if version == "2.0.0" else param
            for value in allowed:
                sub_element(holder, f"{{{ows}}}Value", value)
    if version == "2.0.0":
        for cname, on in _CONFORMANCE:
            if cname == "ImplementsTransactionalWFS":
                on = editable
            constraint = sub_element(meta, f"{{{ows}}}Constraint", name=cname)
            sub_element(constraint, f"{{{ows}}}NoValues")
            sub_element(constraint, f"{{{ows}}}DefaultValue", "TRUE" if on else "FALSE")
        constraint = sub_element(meta, f"{{{ows}}}Constraint", name="CountDefault")
        sub_element(constraint, f"{{{ows}}}NoValues")
        sub_element(constraint, f"{{{ows}}}DefaultValue", "1000000")


def _nsmap(version: str, project: Project) -> dict[str | None, str]:
    nsmap: dict[str | None, str] = {
        "wfs": WFS_NS[version],
        "xlink": XLINK,
        FEATURE_PREFIX: feature_namespace(project),
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    }
    if version in OWS:
        nsmap["ows"] = OWS[version]
    if version == "2.0.0":
        nsmap["fes"] = FES_NS
        nsmap["gml"] = "http://www.opengis.net/gml/3.2"
    else:
        nsmap["ogc"] = OGC_NS
        nsmap["gml"] = "http://www.opengis.net/gml"
    return nsmap


def _feature_type(
    ctx: RequestContext, types: etree._Element, version: str, layer: Layer, namespace: str
) -> etree._Element:
    """A FeatureType with what every version starts it with: name, title, abstract.

    The name is bare, as QGIS Server and MapServer list it: QGIS desktop looks the typename of
    its layer up by exact match, and users type the layer's name. From WFS 1.1.0 on the Name is
    a QName, so it declares the feature types' namespace as its default namespace. The setting
    `wfs_prefixed_type_names` lists `ogcserve:<name>` instead (GeoServer's way; GDAL then finds
    a layer by either name, QGIS desktop only by the prefixed one). Requests accept both forms
    whatever is listed (`params.type_name`).
    """
    wfs = WFS_NS[version]
    ft = sub_element(types, f"{{{wfs}}}FeatureType")
    if ctx.server.settings.wfs_prefixed_type_names:
        sub_element(ft, f"{{{wfs}}}Name", f"{FEATURE_PREFIX}:{layer.name}")
    else:
        nsmap = {None: namespace} if version != "1.0.0" else None
        name = etree.SubElement(ft, f"{{{wfs}}}Name", nsmap=nsmap)  # type: ignore[arg-type]
        name.text = layer.name
    sub_element(ft, f"{{{wfs}}}Title", layer.title)
    if layer.abstract:
        sub_element(ft, f"{{{wfs}}}Abstract", layer.abstract)
    return ft


def _operations(ctx: RequestContext, parent: etree._Element, version: str, layer: Layer) -> None:
    """WFS 1.0.0 / 1.1.0: the operations the caller may run on one feature type. QGIS desktop
    reads its editing capabilities from here (1.0.0 `<Insert/>`, 1.1.0
    `<Operation>Insert</Operation>`); WFS 2.0 has no such element (QGIS then takes the
    Transaction operation of OperationsMetadata to mean every edit)."""
    wfs = WFS_NS[version]
    permissions = ctx.server.access.permissions(ctx, layer)
    allowed = ["Query"] + [
        name
        for name, on in (
            ("Insert", permissions.can_insert),
            ("Update", permissions.can_update),
            ("Delete", permissions.can_delete),
        )
        if on
    ]
    operations = sub_element(parent, f"{{{wfs}}}Operations")
    for name in allowed:
        if version == "1.0.0":
            sub_element(operations, f"{{{wfs}}}{name}")
        else:
            sub_element(operations, f"{{{wfs}}}Operation", name)


def _feature_types(
    root: etree._Element, ctx: RequestContext, project: Project, layers: list[Layer], version: str
) -> None:
    """The FeatureTypeList of WFS 1.1.0 and 2.0.0 (they differ only in the CRS element names)."""
    wfs, ows = WFS_NS[version], OWS[version]
    crs_tag = "CRS" if version == "2.0.0" else "SRS"
    types = sub_element(root, f"{{{wfs}}}FeatureTypeList")
    for layer in layers:
        ft = _feature_type(ctx, types, version, layer, feature_namespace(project))
        if layer.keywords:
            keywords = sub_element(ft, f"{{{ows}}}Keywords")
            for word in layer.keywords:
                sub_element(keywords, f"{{{ows}}}Keyword", word)
        crs = _crs_list(ctx, project, layer)
        sub_element(ft, f"{{{wfs}}}Default{crs_tag}", urn(crs[0]))
        for other in crs[1:]:
            sub_element(ft, f"{{{wfs}}}Other{crs_tag}", urn(other))
        if version == "1.1.0":
            _operations(ctx, ft, version, layer)
        formats = sub_element(ft, f"{{{wfs}}}OutputFormats")
        for fmt in ADVERTISED_FORMATS[version]:
            sub_element(formats, f"{{{wfs}}}Format", fmt)
        box = sub_element(ft, f"{{{ows}}}WGS84BoundingBox")
        minx, miny, maxx, maxy = _wgs84(ctx, layer)
        sub_element(box, f"{{{ows}}}LowerCorner", f"{minx!r} {miny!r}")
        sub_element(box, f"{{{ows}}}UpperCorner", f"{maxx!r} {maxy!r}")


def _ows_document(
    ctx: RequestContext, project: Project, layers: list[Layer], url: str, version: str, schema: str
) -> etree._Element:
    """The parts WFS 1.1.0 and 2.0.0 capabilities share (OWS Common sections, feature types)."""
    wfs, ows = WFS_NS[version], OWS[version]
    root = etree.Element(
        f"{{{wfs}}}WFS_Capabilities",
        version=version,
        nsmap=_nsmap(version, project),  # type: ignore[arg-type]
    )
    root.set(
        "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation",
        f"{wfs} http://schemas.opengis.net/{schema}",
    )
    _ows_identification(root, ows, project, version)
    _ows_operations(root, ows, version, url, _editable(ctx, layers))
    _feature_types(root, ctx, project, layers, version)
    return root


def _v2(ctx: RequestContext, project: Project, layers: list[Layer], url: str) -> etree._Element:
    root = _ows_document(ctx, project, layers, url, "2.0.0", "wfs/2.0/wfs.xsd")
    fes_2_0(root, OWS["2.0.0"])
    return root


def _v11(ctx: RequestContext, project: Project, layers: list[Layer], url: str) -> etree._Element:
    root = _ows_document(ctx, project, layers, url, "1.1.0", "wfs/1.1.0/wfs.xsd")
    filter_1_1(root)
    return root


def _v10(ctx: RequestContext, project: Project, layers: list[Layer], url: str) -> etree._Element:
    wfs, ogc = WFS_NS["1.0.0"], OGC_NS
    nsmap = {
        None: wfs,
        "ogc": ogc,
        FEATURE_PREFIX: feature_namespace(project),
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    }
    root = etree.Element(f"{{{wfs}}}WFS_Capabilities", version="1.0.0", nsmap=nsmap)  # type: ignore[arg-type]
    root.set(
        "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation",
        f"{wfs} http://schemas.opengis.net/wfs/1.0.0/WFS-capabilities.xsd",
    )
    service = sub_element(root, f"{{{wfs}}}Service")
    sub_element(service, f"{{{wfs}}}Name", "WFS")
    sub_element(service, f"{{{wfs}}}Title", project.title)
    sub_element(service, f"{{{wfs}}}Abstract", project.abstract)
    sub_element(service, f"{{{wfs}}}Keywords", ", ".join(project.keywords))
    sub_element(service, f"{{{wfs}}}OnlineResource", url)
    sub_element(service, f"{{{wfs}}}Fees", "NONE")
    sub_element(service, f"{{{wfs}}}AccessConstraints", "NONE")
    request = sub_element(sub_element(root, f"{{{wfs}}}Capability"), f"{{{wfs}}}Request")
    editable = _editable(ctx, layers)
    for name in _OPERATIONS_BY_VERSION["1.0.0"]:
        if name == "Transaction" and not editable:
            continue
        op = sub_element(request, f"{{{wfs}}}{name}")
        if name == "DescribeFeatureType":
            sub_element(
                sub_element(op, f"{{{wfs}}}SchemaDescriptionLanguage"), f"{{{wfs}}}XMLSCHEMA"
            )
        if name == "GetFeature":
            # WFS-capabilities.xsd 1.0.0: ResultFormat lists GML2 elements only (the other
            # formats are still accepted by OUTPUTFORMAT).
            sub_element(sub_element(op, f"{{{wfs}}}ResultFormat"), f"{{{wfs}}}GML2")
        for method in ("Get", "Post"):
            http = sub_element(sub_element(op, f"{{{wfs}}}DCPType"), f"{{{wfs}}}HTTP")
            sub_element(http, f"{{{wfs}}}{method}", onlineResource=url)
    types = sub_element(root, f"{{{wfs}}}FeatureTypeList")
    operations = sub_element(types, f"{{{wfs}}}Operations")
    sub_element(operations, f"{{{wfs}}}Query")
    for layer in layers:
        ft = _feature_type(ctx, types, "1.0.0", layer, feature_namespace(project))
        sub_element(ft, f"{{{wfs}}}SRS", ctx.server.access.crs(ctx, layer))
        _operations(ctx, ft, "1.0.0", layer)
        minx, miny, maxx, maxy = _wgs84(ctx, layer)
        sub_element(
            ft,
            f"{{{wfs}}}LatLongBoundingBox",
            minx=repr(minx),
            miny=repr(miny),
            maxx=repr(maxx),
            maxy=repr(maxy),
        )
    filter_1_0(root)
    return root
