"""Capabilities, coverage descriptions and exception reports of WCS 2.0.1, 1.1.1 and 1.0.0
validated against the official OGC schemas (vendored in tests/schemas/wfs_gml, offline)."""

from __future__ import annotations

import pytest
from lxml import etree
from ogc_schemas import assert_valid, ogc_schema
from wcs_support import get

from ogcserve.server import Server

_WCS20 = {"http://www.opengis.net/wcs/2.0": "http://schemas.opengis.net/wcs/2.0/wcsAll.xsd"}
_WCS11 = {
    "http://www.opengis.net/wcs/1.1": "http://schemas.opengis.net/wcs/1.1/wcsAll.xsd",
    "http://www.opengis.net/ows/1.1": "http://schemas.opengis.net/ows/1.1.0/owsAll.xsd",
}
_WCS10 = {"http://www.opengis.net/wcs": "http://schemas.opengis.net/wcs/1.0.0/wcsAll.xsd"}
_OGC_EXCEPTION = {
    "http://www.opengis.net/ogc": "http://schemas.opengis.net/wcs/1.0.0/OGC-exception.xsd"
}
_OWS20 = {"http://www.opengis.net/ows/2.0": "http://schemas.opengis.net/ows/2.0/owsAll.xsd"}
_OWS11 = {"http://www.opengis.net/ows/1.1": "http://schemas.opengis.net/ows/1.1.0/owsAll.xsd"}

_DOCUMENTS = [
    ("2.0.1", "REQUEST=GetCapabilities", _WCS20),
    ("2.0.1", "REQUEST=DescribeCoverage&COVERAGEID=elevation,rgb", _WCS20),
    ("1.1.1", "REQUEST=GetCapabilities", _WCS11),
    ("1.1.1", "REQUEST=DescribeCoverage&IDENTIFIERS=elevation,rgb", _WCS11),
    ("1.0.0", "REQUEST=GetCapabilities", _WCS10),
    ("1.0.0", "REQUEST=DescribeCoverage&COVERAGE=elevation,rgb", _WCS10),
    ("2.0.1", "REQUEST=DescribeCoverage&COVERAGEID=nothing", _OWS20),
    ("1.1.1", "REQUEST=DescribeCoverage&IDENTIFIERS=nothing", _OWS11),
    ("1.0.0", "REQUEST=DescribeCoverage&COVERAGE=nothing", _OGC_EXCEPTION),
]


@pytest.mark.parametrize(("version", "query", "imports"), _DOCUMENTS)
def test_valid_against_the_ogc_schemas(
    server: Server, version: str, query: str, imports: dict[str, str]
) -> None:
    result = get(server, f"VERSION={version}&{query}")
    assert_valid(etree.fromstring(result.body), ogc_schema(imports))


@pytest.mark.parametrize("version", ["2.0.1", "1.1.1", "1.0.0"])
def test_capabilities_valid_for_an_administrator(server: Server, version: str) -> None:
    """With the forbidden coverage listed too (the documents differ per access fingerprint)."""
    imports = {"2.0.1": _WCS20, "1.1.1": _WCS11, "1.0.0": _WCS10}[version]
    result = get(server, f"VERSION={version}&REQUEST=GetCapabilities", role="admin")
    assert b"secret" in result.body
    assert_valid(etree.fromstring(result.body), ogc_schema(imports))
