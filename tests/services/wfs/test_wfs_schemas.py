"""Responses validated against the OGC schemas (vendored in tests/schemas/wfs_gml, offline)."""

from __future__ import annotations

from functools import cache

import pytest
from lxml import etree
from wfs_support import NS, assert_valid, get, post, schema, xml

from ogcserve.server import Server

WFS2 = "http://www.opengis.net/wfs/2.0"
WFS1 = "http://www.opengis.net/wfs"
GML32, GML = "http://www.opengis.net/gml/3.2", "http://www.opengis.net/gml"
OPENGIS = "http://schemas.opengis.net"


@cache
def _standard(name: str) -> etree.XMLSchema:
    imports = {
        "wfs2": {WFS2: f"{OPENGIS}/wfs/2.0/wfs.xsd"},
        "wfs11": {WFS1: f"{OPENGIS}/wfs/1.1.0/wfs.xsd"},
        "caps10": {WFS1: f"{OPENGIS}/wfs/1.0.0/WFS-capabilities.xsd"},
        "wfs10": {WFS1: f"{OPENGIS}/wfs/1.0.0/wfs.xsd"},
        "xsd": {"http://www.w3.org/2001/XMLSchema": "http://www.w3.org/2001/XMLSchema.xsd"},
    }[name]
    return schema(imports)


@pytest.mark.parametrize(
    ("version", "name"), [("2.0.0", "wfs2"), ("1.1.0", "wfs11"), ("1.0.0", "caps10")]
)
def test_capabilities_are_valid(server: Server, version: str, name: str) -> None:
    assert_valid(
        xml(get(server, f"SERVICE=WFS&VERSION={version}&REQUEST=GetCapabilities")), _standard(name)
    )


def test_capabilities_with_transaction_are_valid(edit_server: Server) -> None:
    for version, name in (("2.0.0", "wfs2"), ("1.1.0", "wfs11"), ("1.0.0", "caps10")):
        root = xml(get(edit_server, f"SERVICE=WFS&VERSION={version}&REQUEST=GetCapabilities"))
        assert b"Transaction" in etree.tostring(root)
        assert_valid(root, _standard(name))


def _with_types(server: Server, version: str, names: str, fmt: str) -> etree.XMLSchema:
    """The WFS schema plus our DescribeFeatureType answer for `names`."""
    describe = get(
        server,
        f"SERVICE=WFS&VERSION={version}&REQUEST=DescribeFeatureType"
        f"&TYPENAMES={names}&TYPENAME={names}&OUTPUTFORMAT={fmt}",
    ).body
    wfs = {
        "2.0.0": (WFS2, f"{OPENGIS}/wfs/2.0/wfs.xsd"),
        "1.1.0": (WFS1, f"{OPENGIS}/wfs/1.1.0/wfs.xsd"),
        "1.0.0": (WFS1, f"{OPENGIS}/wfs/1.0.0/WFS-basic.xsd"),
    }[version]
    return schema(
        {wfs[0]: wfs[1], "https://ogcserve.org/demo": "http://test/describe.xsd"},
        {"http://test/describe.xsd": describe},
    )


@pytest.mark.parametrize(
    ("version", "fmt", "dft_fmt"),
    # A WFS 2.0 collection of GML 3.1.1 features mixes two GML versions, which no single
    # schema set validates: that output format is checked for content elsewhere.
    [("2.0.0", "", ""), ("1.1.0", "", ""), ("1.0.0", "", "")],
)
def test_feature_collections_are_valid(
    server: Server, version: str, fmt: str, dft_fmt: str
) -> None:
    names = "countries,cities,nyc_boroughs"
    xsd = _with_types(server, version, names, dft_fmt)
    r = get(
        server,
        f"SERVICE=WFS&VERSION={version}&REQUEST=GetFeature&TYPENAMES={names}"
        f"&TYPENAME={names}&COUNT=400&MAXFEATURES=400&OUTPUTFORMAT={fmt}",
    )
    assert_valid(xml(r), xsd)


def test_hits_and_bare_feature_are_valid(server: Server) -> None:
    xsd = _with_types(server, "2.0.0", "cities", "")
    hits = get(
        server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cities&RESULTTYPE=hits"
    )
    assert_valid(xml(hits), xsd)
    one = get(
        server,
        "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&STOREDQUERY_ID="
        "urn:ogc:def:query:OGC-WFS::GetFeatureById&ID=cities.3",
    )
    assert_valid(xml(one), xsd)


def test_stored_query_and_value_responses_are_valid(server: Server) -> None:
    xsd = _with_types(server, "2.0.0", "cities", "")
    for query in (
        "REQUEST=ListStoredQueries",
        "REQUEST=DescribeStoredQueries",
        "REQUEST=GetPropertyValue&TYPENAMES=cities&VALUEREFERENCE=name&COUNT=3",
    ):
        assert_valid(xml(get(server, f"SERVICE=WFS&VERSION=2.0.0&{query}")), xsd)


def test_transaction_responses_are_valid(edit_server: Server) -> None:
    insert = (
        "<e:parcels><e:geom><gml:Point gml:id='p' srsName='EPSG:4326'><gml:pos>1 1"
        "</gml:pos></gml:Point></e:geom><e:role>a</e:role><e:name>n</e:name></e:parcels>"
    )
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" '
        f'xmlns:gml="{GML32}" xmlns:e="{NS["e"]}"><wfs:Insert>{insert}</wfs:Insert>'
        "</wfs:Transaction>"
    )
    assert_valid(xml(post(edit_server, body)), _standard("wfs2"))
    for version, name in (("1.1.0", "wfs11"), ("1.0.0", "wfs10")):
        body11 = body.replace(WFS2, WFS1).replace(GML32, GML).replace("2.0.0", version)
        r = post(edit_server, body11)
        assert r.status == 200, r.body
        assert_valid(xml(r), _standard(name))
