"""GetCapabilities and DescribeCoverage in 2.0.1 and 1.0.0: what is listed, the grid as the
versions describe it, access control and the capabilities cache."""

from __future__ import annotations

import pytest
from wcs_support import NS, exception_code, get, xml

from ogcserve.context import RequestContext
from ogcserve.server import Server


def test_capabilities_2_0_1_lists_readable_published_coverages(server: Server) -> None:
    result = get(server, "REQUEST=GetCapabilities&VERSION=2.0.1")
    assert result.status == 200
    root = xml(result)
    assert root.tag == "{http://www.opengis.net/wcs/2.0}Capabilities"
    ids = root.xpath("//wcs:CoverageSummary/wcs:CoverageId/text()", namespaces=NS)
    assert ids == ["elevation", "rgb"]  # secret is forbidden, hidden is not published
    ops = root.xpath("//ows:Operation/@name", namespaces=NS)
    assert ops == ["GetCapabilities", "DescribeCoverage", "GetCoverage"]
    assert "image/tiff" in root.xpath("//wcs:formatSupported/text()", namespaces=NS)


def test_capabilities_2_0_1_advertise_the_crs_and_interpolations(server: Server) -> None:
    """The CRS and interpolation extensions the profiles claim list what may be asked for:
    each coverage's CRS then the project's, and the three interpolation methods."""
    root = xml(get(server, "REQUEST=GetCapabilities&VERSION=2.0.1"))
    ns = {
        **NS,
        "crs": "http://www.opengis.net/wcs/crs/1.0",
        "int": "http://www.opengis.net/wcs/interpolation/1.0",
    }
    extension = "//wcs:ServiceMetadata/wcs:Extension"
    crss = root.xpath(f"{extension}/crs:CrsMetadata/crs:crsSupported/text()", namespaces=ns)
    assert crss == [f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in (4326, 3857, 32631)]
    methods = root.xpath(
        f"{extension}/int:InterpolationMetadata/int:InterpolationSupported/text()",
        namespaces=ns,
    )
    assert [m.rsplit("/", 1)[1] for m in methods] == ["nearest-neighbor", "linear", "cubic"]
    for uri in [*crss[1:], *methods]:  # each one is served
        query = "REQUEST=GetCoverage&VERSION=2.0.1&COVERAGEID=elevation&SCALESIZE=Long(8),Lat(8)"
        key = "INTERPOLATION" if "interpolation" in uri else "OUTPUTCRS"
        assert get(server, f"{query}&{key}={uri}").status == 200


def test_capabilities_1_0_0(server: Server) -> None:
    root = xml(get(server, "REQUEST=GetCapabilities&VERSION=1.0.0"))
    assert root.tag == "{http://www.opengis.net/wcs}WCS_Capabilities"
    names = root.xpath("//wcs1:CoverageOfferingBrief/wcs1:name/text()", namespaces=NS)
    assert names == ["elevation", "rgb"]


def test_accept_versions_negotiates(server: Server) -> None:
    root = xml(get(server, "REQUEST=GetCapabilities&ACCEPTVERSIONS=1.0.0,2.0.1"))
    assert root.tag == "{http://www.opengis.net/wcs}WCS_Capabilities"
    refused = get(server, "REQUEST=GetCapabilities&ACCEPTVERSIONS=9.9.9")
    assert exception_code(refused) == "VersionNegotiationFailed"


def test_describe_2_0_1_grid_conventions(server: Server) -> None:
    root = xml(get(server, "REQUEST=DescribeCoverage&VERSION=2.0.1&COVERAGEID=elevation,rgb"))
    envelopes = root.xpath("//gml:boundedBy/gml:Envelope", namespaces=NS)
    assert envelopes[0].get("axisLabels") == "Lat Long"  # EPSG:4326: latitude first
    assert envelopes[1].get("axisLabels") == "E N"
    lower = envelopes[1].findtext("gml:lowerCorner", namespaces=NS)
    assert lower == "500000.0 5497600.0"
    origins = root.xpath("//gml:origin/gml:Point/gml:pos/text()", namespaces=NS)
    assert origins[1] == "500015.0 5499985.0"  # the centre of the first pixel
    fields = root.xpath("//swe:field/@name", namespaces=NS)
    assert fields == ["elevation", "red", "green", "blue"]  # the bands' descriptions
    nil = root.xpath("//swe:nilValue/text()", namespaces=NS)
    assert nil == ["-32768", "0", "0", "0"]


def test_describe_1_0_0(server: Server) -> None:
    root = xml(get(server, "REQUEST=DescribeCoverage&VERSION=1.0.0&COVERAGE=rgb"))
    grid = root.xpath("//gml3:RectifiedGrid", namespaces=NS)[0]
    assert grid.findtext("gml3:origin/gml3:pos", namespaces=NS) == "500015.0 5499985.0"
    assert root.xpath("//wcs1:nativeCRSs/text()", namespaces=NS) == ["EPSG:32631"]
    bands = root.xpath("//wcs1:AxisDescription/wcs1:values/wcs1:singleValue/text()", namespaces=NS)
    assert bands == ["1", "2", "3"]


@pytest.mark.parametrize(
    "query",
    [
        "REQUEST=DescribeCoverage&VERSION=2.0.1&COVERAGEID=secret",
        "REQUEST=GetCoverage&VERSION=2.0.1&COVERAGEID=secret",
        "REQUEST=DescribeCoverage&VERSION=1.0.0&COVERAGE=secret",
        "REQUEST=GetCoverage&VERSION=1.0.0&COVERAGE=secret&CRS=EPSG:4326&BBOX=6,49.5,6.2,49.7",
    ],
)
def test_forbidden_coverage_is_403(server: Server, query: str) -> None:
    result = get(server, query)
    assert result.status == 403
    assert exception_code(result) == "Security"


@pytest.mark.parametrize("version", ["2.0.1", "1.1.1", "1.0.0"])
def test_capabilities_are_cached_per_access_fingerprint(
    server: Server, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built once per access fingerprint, the user's first: were the cache key blind to the
    fingerprint, the administrator would get the user's document."""
    from ogcserve.services.wcs import service

    operations = service._OPERATIONS[version]
    build = operations["GetCapabilities"]
    built: list[str] = []

    def counted(ctx: RequestContext) -> None:
        built.append(version)
        build(ctx)

    monkeypatch.setitem(operations, "GetCapabilities", counted)
    query = f"REQUEST=GetCapabilities&VERSION={version}"
    user = get(server, query).body
    admin = get(server, query, "admin").body
    assert b">secret</" in admin
    assert b"secret" not in user
    assert get(server, query).body == user
    assert get(server, query, "admin").body == admin
    assert len(built) == 2


def test_documents_go_through_the_cache(server: Server) -> None:
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
    get(server, "VERSION=2.0.1&REQUEST=GetCapabilities")
    get(server, "VERSION=1.0.0&REQUEST=DescribeCoverage&COVERAGE=elevation")
    get(server, "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation")
    assert stored == [CacheKind.DOCUMENT, CacheKind.DOCUMENT]
