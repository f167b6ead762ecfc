"""GetCapabilities and DescribeFeatureType: only what the caller may see, cached per rights."""

from __future__ import annotations

import json

import pytest
from wfs_support import NS, exception_code, get, xml

from ogcserve.server import Server


def type_names(root, ns: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.text for e in root.iterfind(f".//{{{NS[ns]}}}FeatureType/{{{NS[ns]}}}Name")]


@pytest.mark.parametrize(
    ("version", "ns"), [("2.0.0", "wfs"), ("1.1.0", "wfs1"), ("1.0.0", "wfs1")]
)
def test_capabilities_versions(server: Server, version: str, ns: str) -> None:
    r = get(server, f"SERVICE=WFS&VERSION={version}&REQUEST=GetCapabilities")
    assert r.status == 200
    root = xml(r)
    assert root.tag == f"{{{NS[ns]}}}WFS_Capabilities" and root.get("version") == version
    # The raster layer and the group are not feature types; names are bare, as QGIS Server's.
    assert type_names(root, ns) == ["countries", "cities", "nyc_boroughs", "nc_counties"]
    if version != "1.0.0":  # a QName from 1.1.0 on: it resolves to the feature namespace
        name = root.find(f".//{{{NS[ns]}}}FeatureType/{{{NS[ns]}}}Name")
        assert name.nsmap[None] == NS["o"]


def test_default_version_and_negotiation(server: Server) -> None:
    assert xml(get(server, "SERVICE=WFS&REQUEST=GetCapabilities")).get("version") == "2.0.0"
    accept = xml(get(server, "SERVICE=WFS&REQUEST=GetCapabilities&ACCEPTVERSIONS=1.1.0,1.0.0"))
    assert accept.get("version") == "1.1.0"
    failed = get(server, "SERVICE=WFS&REQUEST=GetCapabilities&ACCEPTVERSIONS=3.0.0")
    assert failed.status == 400 and exception_code(failed) == "VersionNegotiationFailed"


def test_capabilities_2_0_details(server: Server) -> None:
    root = xml(get(server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities"))
    ops = {o.get("name") for o in root.iterfind(".//ows:Operation", NS)}
    assert {
        "GetCapabilities",
        "DescribeFeatureType",
        "GetFeature",
        "GetPropertyValue",
        "ListStoredQueries",
        "DescribeStoredQueries",
    } <= ops
    # No layer of the demo is editable: no Transaction operation, and the constraint says so.
    assert "Transaction" not in ops
    constraints = {
        c.get("name"): c.findtext("ows:DefaultValue", namespaces=NS)
        for c in root.iterfind("ows:OperationsMetadata/ows:Constraint", NS)
    }
    assert constraints["ImplementsBasicWFS"] == "TRUE"
    assert constraints["ImplementsTransactionalWFS"] == "FALSE"
    assert constraints["ImplementsResultPaging"] == "TRUE"
    assert constraints["ImplementsLockingWFS"] == "FALSE"
    nyc = root.xpath("//wfs:FeatureType[wfs:Name='nyc_boroughs']", namespaces=NS)[0]
    assert nyc.findtext("wfs:DefaultCRS", namespaces=NS) == "urn:ogc:def:crs:EPSG::2263"
    lower = nyc.findtext("ows:WGS84BoundingBox/ows:LowerCorner", namespaces=NS).split()
    assert -75 < float(lower[0]) < -73 and 40 < float(lower[1]) < 41
    fes = {op.get("name") for op in root.iterfind(".//fes:SpatialOperator", NS)}
    assert fes == {
        "BBOX",
        "Equals",
        "Disjoint",
        "Touches",
        "Within",
        "Overlaps",
        "Crosses",
        "Intersects",
        "Contains",
        "DWithin",
        "Beyond",
    }
    conformance = {
        c.get("name"): c.findtext("ows:DefaultValue", namespaces=NS)
        for c in root.iterfind(".//fes:Conformance/fes:Constraint", NS)
    }
    assert conformance["ImplementsTemporalFilter"] == "FALSE"
    assert conformance["ImplementsSpatialFilter"] == "TRUE"
    assert conformance["ImplementsResourceId"] == "TRUE"


def test_capabilities_list_only_readable_types(role_server: Server) -> None:
    q = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities"
    admin = type_names(xml(get(role_server, q, role="admin")), "wfs")
    user = type_names(xml(get(role_server, q, role="user")), "wfs")
    anonymous = type_names(xml(get(role_server, q, role="guest")), "wfs")
    assert "nc_counties" in admin and "nc_counties" not in user
    assert "nyc_boroughs" in user and "nyc_boroughs" not in anonymous
    # Cached per fingerprint: asking again as admin still lists everything, and as user not.
    assert type_names(xml(get(role_server, q, role="admin")), "wfs") == admin
    assert type_names(xml(get(role_server, q, role="user")), "wfs") == user


def test_capabilities_and_schemas_are_cached_documents(server: Server) -> None:
    from ogcserve.plugins.cache import CacheKind

    stored: list[str] = []

    class Spy:
        def get(self, kind, project, key):  # type: ignore[no-untyped-def]
            return None

        def set(self, kind, project, key, value):  # type: ignore[no-untyped-def]
            stored.append(kind)
            return False

        def delete(self, *args):  # type: ignore[no-untyped-def]
            return False

        def clear(self, *args):  # type: ignore[no-untyped-def]
            return False

    server.caches.add(Spy(), priority=-100)  # type: ignore[arg-type]
    get(server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities")
    get(server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=cities")
    get(server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cities&COUNT=1")
    assert stored == [CacheKind.DOCUMENT, CacheKind.DOCUMENT]


def test_describe_feature_type_hides_what_the_caller_cannot_see(role_server: Server) -> None:
    q = "SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=countries"
    names = {
        e.get("name")
        for e in xml(get(role_server, q, role="user")).iterfind(".//xsd:sequence/xsd:element", NS)
    }
    assert names == {"geom", "fid", "continent", "name", "iso_a3", "gdp_md_est"}  # no pop_est
    admin = {
        e.get("name")
        for e in xml(get(role_server, q, role="admin")).iterfind(".//xsd:sequence/xsd:element", NS)
    }
    assert "pop_est" in admin
    forbidden = get(role_server, q.replace("countries", "nc_counties"), role="user")
    assert forbidden.status == 403 and exception_code(forbidden) == "Security"
    everything = xml(get(role_server, q.replace("&TYPENAMES=countries", ""), role="user"))
    assert "nc_counties" not in {e.get("name") for e in everything.iterfind("xsd:element", NS)}


def test_describe_feature_type_json(role_server: Server) -> None:
    r = get(
        role_server,
        "SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType"
        "&TYPENAMES=countries&OUTPUTFORMAT=application/json",
        role="user",
    )
    doc = json.loads(r.body)
    props = doc["featureTypes"]["countries"]["properties"]["properties"]["properties"]
    assert "pop_est" not in props and props["gdp_md_est"]["type"] == ["integer", "null"]


@pytest.mark.parametrize(
    ("version", "geometry_type"),
    [
        ("2.0.0", "gml:MultiSurfacePropertyType"),
        ("1.1.0", "gml:MultiSurfacePropertyType"),
        ("1.0.0", "gml:MultiPolygonPropertyType"),
    ],
)
def test_describe_feature_type_versions(server: Server, version: str, geometry_type: str) -> None:
    root = xml(
        get(
            server,
            f"SERVICE=WFS&VERSION={version}&REQUEST=DescribeFeatureType"
            "&TYPENAME=countries&TYPENAMES=countries",
        )
    )
    geom = root.find(".//xsd:element[@name='geom']", NS)
    assert geom is not None and geom.get("type") == geometry_type
