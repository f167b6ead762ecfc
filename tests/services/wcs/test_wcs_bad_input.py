"""Bad input, each refused with the version's exception code: unknown coverage, CRS or format,
subsets outside or upside down, sizes of 0 or above `wcs_max_size`, XML with entities (external
or expanding), forbidden coverages (403 Security, by KVP and XML)."""

from __future__ import annotations

import pytest
from wcs_support import exception_code, get, xml

from ogcserve.server import Server
from ogcserve.testing import client

V2 = "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation"
V1 = "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation&CRS=EPSG:4326&FORMAT=GeoTIFF"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=nope", 404, "NoSuchCoverage"),
        ("VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID=nope", 404, "NoSuchCoverage"),
        ("VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=hidden", 404, "NoSuchCoverage"),
        ("VERSION=1.0.0&REQUEST=DescribeCoverage&COVERAGE=nope", 400, "CoverageNotDefined"),
        (V2 + "&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/999999", 400, "InvalidCRS"),
        (V2 + "&SUBSETTINGCRS=urn:nothing", 400, "InvalidParameterValue"),
        (
            V1 + "&BBOX=6,49.5,6.2,49.7&WIDTH=10&HEIGHT=10&RESPONSE_CRS=EPSG:999999",
            400,
            "InvalidCRS",
        ),
        (V2 + "&FORMAT=image/x-nothing", 400, "InvalidFormat"),
        # GDAL reads EPSG codes with int(): a code that is no number was a ValueError, a 500
        # (found by fuzzing).
        (
            V1.replace("EPSG:4326", "EPSG:43B26") + "&BBOX=6,49.5,6.2,49.7&WIDTH=10&HEIGHT=10",
            400,
            "InvalidCRS",
        ),
        (V1 + "&BBOX=6,49.5,6.2,49.7&FORMAT=JPEG2000", 400, "InvalidFormat"),
        (V2 + "&SUBSET=Long(100,101)", 404, "InvalidSubsetting"),
        (V2 + "&SUBSET=Long(6.3,6.0)", 404, "InvalidSubsetting"),
        (V2 + "&SUBSET=Height(0,10)", 404, "InvalidAxisLabel"),
        (V2 + "&SUBSET=Long(a,b)", 404, "InvalidSubsetting"),
        (V1 + "&BBOX=100,10,101,11", 400, "InvalidParameterValue"),
        (V1 + "&BBOX=6.3,49.5,6.0,49.7", 400, "InvalidParameterValue"),
        (V2 + "&SCALESIZE=Long(0),Lat(10)", 400, "InvalidParameterValue"),
        (V2 + "&SCALESIZE=Long(2001),Lat(10)", 400, "InvalidParameterValue"),
        (V2 + "&SCALEFACTOR=0.001", 400, "InvalidParameterValue"),
        (V2 + "&SCALEEXTENT=Long(0,2000),Lat(0,9)", 400, "InvalidParameterValue"),
        (V2 + "&SCALEEXTENT=Long(9,0),Lat(0,9)", 400, "InvalidParameterValue"),
        (V2 + "&SCALEEXTENT=Long(0,9)", 400, "InvalidParameterValue"),
        (V2 + "&SCALEEXTENT=Long(9),Lat(0,9)", 400, "InvalidParameterValue"),
        (V2 + "&SCALEFACTOR=0", 400, "InvalidParameterValue"),
        (V1 + "&BBOX=6,49.5,6.2,49.7&WIDTH=0&HEIGHT=10", 400, "InvalidParameterValue"),
        (V1 + "&BBOX=6,49.5,6.2,49.7&WIDTH=100000&HEIGHT=100000", 400, "InvalidParameterValue"),
        (V1 + "&BBOX=6,49.5,6.2,49.7&RESX=0.0000001&RESY=0.0000001", 400, "InvalidParameterValue"),
        (V2 + "&RANGESUBSET=band9", 400, "InvalidParameterValue"),
        (V1 + "&BBOX=6,49.5,6.2,49.7&BAND=4", 400, "InvalidParameterValue"),
        (V2 + "&INTERPOLATION=magic", 400, "InterpolationMethodNotSupported"),
        (V1 + "&BBOX=6,49.5,6.2,49.7&INTERPOLATION=magic", 400, "InvalidParameterValue"),
        (
            "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation&BBOX=6,49,7,50",
            400,
            "MissingParameterValue",
        ),
        ("VERSION=2.0.1&REQUEST=GetCoverage", 400, "MissingParameterValue"),
    ],
)
def test_refused(server: Server, query: str, status: int, code: str) -> None:
    result = get(server, query)
    assert (result.status, exception_code(result)) == (status, code), result.body[:600]


@pytest.mark.parametrize(
    ("scaling", "locator"),
    [
        ("SUBSET=Height(0,10)", "subset"),
        ("SCALESIZE=Height(10),Lat(10)", "scaleSize"),
        ("SCALEAXES=Height(2)", "scaleAxes"),
        ("SCALEEXTENT=Height(0,9),Lat(0,9)", "scaleExtent"),
    ],
)
def test_an_unknown_axis_is_located_at_the_parameter_naming_it(
    server: Server, scaling: str, locator: str
) -> None:
    result = get(server, f"{V2}&{scaling}")
    assert (result.status, exception_code(result)) == (404, "InvalidAxisLabel")
    assert xml(result).xpath("//@locator") == [locator]


@pytest.mark.parametrize(
    ("namespace", "version", "element"),
    [
        ("http://www.opengis.net/wcs/2.0", "2.0.1", "CoverageId"),
        ("http://www.opengis.net/wcs/1.1", "1.1.1", "Identifier"),
        ("http://www.opengis.net/wcs", "1.0.0", "sourceCoverage"),
    ],
)
def test_xml_with_entities_is_refused_unresolved(
    server: Server, namespace: str, version: str, element: str
) -> None:
    body = f"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<wcs:GetCoverage xmlns:wcs="{namespace}" service="WCS" version="{version}">
  <wcs:{element}>&e;</wcs:{element}>
</wcs:GetCoverage>""".encode()
    response = client(server).post("/ows", content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 400
    assert b"root:" not in response.content
    assert b"NoSuchCoverage" not in response.content


def test_malformed_xml_is_refused(server: Server) -> None:
    body = b'<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS"'
    response = client(server).post("/ows", content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        (
            "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=nope&CRS=EPSG:4326&BBOX=6,49.5,6.2,49.7"
            "&WIDTH=10&HEIGHT=10&FORMAT=GeoTIFF",
            400,
            "CoverageNotDefined",
        ),
        ("VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID=elevation,secret", 403, "Security"),
        ("VERSION=1.0.0&REQUEST=DescribeCoverage&COVERAGE=elevation,secret", 403, "Security"),
        (
            "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=secret&BOUNDINGBOX=6,49.5,6.2,49.7"
            "&FORMAT=image/tiff",
            403,
            "Security",
        ),
        (
            "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=elevation&BOUNDINGBOX=6,49.5,6.2,49.7"
            "&GRIDOFFSETS=0,0&FORMAT=image/tiff",
            400,
            "InvalidParameterValue",
        ),
        (V2 + "&SCALESIZE=Long(10),Lat(0)", 400, "InvalidParameterValue"),
        (V1 + "&BBOX=6,49.5,6.2,49.7&WIDTH=10&HEIGHT=2001", 400, "InvalidParameterValue"),
    ],
)
def test_refused_in_every_version(server: Server, query: str, status: int, code: str) -> None:
    """The same refusals in the versions the list above leaves out."""
    result = get(server, query)
    assert (result.status, exception_code(result)) == (status, code), result.body[:600]


def test_entity_expansion_is_refused_unexpanded(server: Server) -> None:
    """Internal entities (a "billion laughs") are refused too, before any expansion."""
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = f"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY l0 "lol">{laughs}]>
<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1">
  <wcs:CoverageId>&l9;</wcs:CoverageId>
</wcs:GetCoverage>""".encode()
    response = client(server).post("/ows", content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 400
    assert b"lollol" not in response.content
    assert len(response.content) < 2000


@pytest.mark.parametrize(
    "body",
    [
        b"""<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS"
            version="2.0.1"><wcs:CoverageId>secret</wcs:CoverageId></wcs:GetCoverage>""",
        b"""<wcs:DescribeCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS"
            version="2.0.1"><wcs:CoverageId>secret</wcs:CoverageId></wcs:DescribeCoverage>""",
    ],
)
def test_forbidden_coverage_by_xml_post(server: Server, body: bytes) -> None:
    response = client(server).post("/ows", content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 403
    assert b'exceptionCode="Security"' in response.content
    assert b"<wcs:" not in response.content  # no description, no coverage


V11 = "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=elevation&FORMAT=image/tiff"
NON_FINITE = ("nan", "inf", "-inf", "NaN", "1e999")


@pytest.mark.parametrize("bad", NON_FINITE)
@pytest.mark.parametrize(
    ("template", "status", "code", "locator"),
    [
        (V1 + "&WIDTH=10&HEIGHT=10&BBOX={},49.5,6.2,49.7", 400, "InvalidParameterValue", "BBOX"),
        (V1 + "&WIDTH=10&HEIGHT=10&BBOX=6,49.5,6.2,{}", 400, "InvalidParameterValue", "BBOX"),
        (V11 + "&BOUNDINGBOX={},49.5,6.2,49.7", 400, "InvalidParameterValue", "BoundingBox"),
        (
            V11 + "&BOUNDINGBOX=-inf,-inf,{},{},urn:ogc:def:crs:OGC:1.3:CRS84",
            400,
            "InvalidParameterValue",
            "BoundingBox",
        ),
        (
            V11 + "&BOUNDINGBOX=6,49.5,6.2,49.7&GRIDOFFSETS={},0.01",
            400,
            "InvalidParameterValue",
            "GridOffsets",
        ),
        (V2 + "&SUBSET=Long({},6.2)", 404, "InvalidSubsetting", "subset"),
        (V2 + "&SUBSET=Lat(49.5,{})", 404, "InvalidSubsetting", "subset"),
        (V2 + "&SCALEFACTOR={}", 400, "InvalidParameterValue", "scalefactor"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_parameter(
    server: Server, template: str, status: int, code: str, locator: str, bad: str
) -> None:
    """nan and inf (which float() reads) name the parameter, as WMS and WFS do; -inf..inf
    in WCS 1.1.1 was a 500 and nan "lies outside the coverage"."""
    result = get(server, template.format(bad, bad))
    assert (result.status, exception_code(result)) == (status, code), result.body[:600]
    assert xml(result).xpath("//@locator")[0].lower() == locator.lower(), result.body[:600]


@pytest.mark.parametrize(
    "query",
    [
        V1 + "&WIDTH=10&HEIGHT=10&BBOX=6.2,49.7,6,49.5",  # reversed
        V1 + "&WIDTH=10&HEIGHT=10&BBOX=6,49.5,6,49.5",  # empty
        V11 + "&BOUNDINGBOX=6.2,49.7,6,49.5",
        V2 + "&SUBSET=Long(6.2,6)",
    ],
)
def test_reversed_and_empty_areas_are_client_errors(server: Server, query: str) -> None:
    """(A zero-size box on the coverage's own grid is one pixel in 1.1.1, whose BOUNDINGBOX
    holds pixel centres, and in 2.0, whose trims snap to pixel corners: answered.)"""
    result = get(server, query)
    assert 400 <= result.status < 500, result.body[:600]
    assert exception_code(result) in ("InvalidParameterValue", "InvalidSubsetting")
