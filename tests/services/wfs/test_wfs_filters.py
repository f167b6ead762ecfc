"""FILTER in FES 2.0 and OGC Filter 1.1 / 1.0: comparison, logical, spatial and id predicates."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from wfs_support import NS, exception_code, get, post, xml

from ogcserve.server import Server

FES = NS["fes"]
OGC = NS["ogc"]
GML32 = NS["gml"]
GML = NS["gml3"]


def run(server: Server, version: str, typename: str, filter_xml: str, extra: str = "") -> list[str]:
    r = get(
        server,
        f"SERVICE=WFS&VERSION={version}&REQUEST=GetFeature&TYPENAMES={typename}"
        f"&TYPENAME={typename}&FILTER={quote(filter_xml)}{extra}",
    )
    assert r.status == 200, r.body.decode()
    root = xml(r)
    found = root.xpath("wfs:member/*|gml3:featureMember/*", namespaces=NS)
    return [str(m.get(f"{{{GML32}}}id") or m.get(f"{{{GML}}}id") or m.get("fid")) for m in found]


def fes(body: str) -> str:
    return f'<fes:Filter xmlns:fes="{FES}" xmlns:gml="{GML32}">{body}</fes:Filter>'


def ogc(body: str) -> str:
    return f'<ogc:Filter xmlns:ogc="{OGC}" xmlns:gml="{GML}">{body}</ogc:Filter>'


def test_comparison_and_logical_fes20(server: Server) -> None:
    f = fes(
        "<fes:And><fes:PropertyIsEqualTo><fes:ValueReference>continent</fes:ValueReference>"
        "<fes:Literal>Oceania</fes:Literal></fes:PropertyIsEqualTo>"
        "<fes:PropertyIsGreaterThan><fes:ValueReference>gdp_md_est</fes:ValueReference>"
        "<fes:Literal>100000</fes:Literal></fes:PropertyIsGreaterThan></fes:And>"
    )
    found = run(server, "2.0.0", "countries", f)
    assert len(found) == 2  # Australia and New Zealand


def test_untyped_literal_takes_the_property_type(server: Server) -> None:
    # '9' > '100000' as text; 9 < 100000 as numbers: the schema decides.
    f = fes(
        "<fes:PropertyIsLessThan><fes:ValueReference>gdp_md_est</fes:ValueReference>"
        "<fes:Literal>9</fes:Literal></fes:PropertyIsLessThan>"
    )
    assert run(server, "2.0.0", "countries", f) == []


def test_like_with_custom_wildcards(server: Server) -> None:
    f = fes(
        '<fes:PropertyIsLike wildCard="*" singleChar="." escapeChar="!">'
        "<fes:ValueReference>name</fes:ValueReference><fes:Literal>Fra*</fes:Literal>"
        "</fes:PropertyIsLike>"
    )
    assert len(run(server, "2.0.0", "countries", f)) == 1
    nocase = f.replace("<fes:PropertyIsLike", '<fes:PropertyIsLike matchCase="false"').replace(
        "Fra*", "fra*"
    )
    assert len(run(server, "2.0.0", "countries", nocase)) == 1


def test_between_null_not_or(server: Server) -> None:
    f = fes(
        "<fes:Or><fes:PropertyIsBetween><fes:ValueReference>fid</fes:ValueReference>"
        "<fes:LowerBoundary><fes:Literal>3</fes:Literal></fes:LowerBoundary>"
        "<fes:UpperBoundary><fes:Literal>5</fes:Literal></fes:UpperBoundary>"
        "</fes:PropertyIsBetween><fes:Not><fes:Not><fes:PropertyIsNull>"
        "<fes:ValueReference>nope_never_null_name</fes:ValueReference></fes:PropertyIsNull>"
        "</fes:Not></fes:Not></fes:Or>"
    )
    r = get(
        server, f"SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cities&FILTER={quote(f)}"
    )
    assert r.status == 400 and "nope_never_null_name" in r.body.decode()
    ok = f.replace("nope_never_null_name", "name")
    assert run(server, "2.0.0", "cities", ok) == ["cities.3", "cities.4", "cities.5"]


def test_resource_id_filter(server: Server) -> None:
    f = fes('<fes:ResourceId rid="cities.7"/><fes:ResourceId rid="cities.9"/>')
    assert run(server, "2.0.0", "cities", f) == ["cities.7", "cities.9"]
    f11 = ogc('<ogc:GmlObjectId gml:id="cities.4"/>')
    assert run(server, "1.1.0", "cities", f11) == ["cities.4"]
    f10 = ogc('<ogc:FeatureId fid="cities.8"/>')
    assert run(server, "1.0.0", "cities", f10) == ["cities.8"]


ITALY_32 = (
    '<gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326"><gml:lowerCorner>36 6'
    "</gml:lowerCorner><gml:upperCorner>47 19</gml:upperCorner></gml:Envelope>"
)


def test_spatial_bbox_intersects_within(server: Server) -> None:
    bbox = run(
        server,
        "2.0.0",
        "cities",
        fes(f"<fes:BBOX><fes:ValueReference>geom</fes:ValueReference>{ITALY_32}</fes:BBOX>"),
    )
    assert "cities.1" in bbox and 2 < len(bbox) < 20
    polygon = (
        '<gml:Polygon gml:id="p" srsName="EPSG:4326"><gml:exterior><gml:LinearRing>'
        "<gml:posList>6 36 19 36 19 47 6 47 6 36</gml:posList></gml:LinearRing>"
        "</gml:exterior></gml:Polygon>"
    )
    within = run(
        server,
        "2.0.0",
        "cities",
        fes(f"<fes:Within><fes:ValueReference>geom</fes:ValueReference>{polygon}</fes:Within>"),
    )
    intersects = run(
        server,
        "2.0.0",
        "cities",
        fes(
            f"<fes:Intersects><fes:ValueReference>geom</fes:ValueReference>{polygon}"
            "</fes:Intersects>"
        ),
    )
    assert set(within) == set(intersects) == set(bbox)
    contains = run(
        server,
        "2.0.0",
        "countries",
        fes(
            '<fes:Contains><fes:ValueReference>geom</fes:ValueReference><gml:Point gml:id="x" '
            'srsName="EPSG:4326"><gml:pos>2.35 48.85</gml:pos></gml:Point></fes:Contains>'
        ),
        "&PROPERTYNAME=name",
    )
    assert len(contains) == 1  # Paris is in France


def test_dwithin_and_beyond(server: Server) -> None:
    point = '<gml:Point gml:id="x" srsName="EPSG:4326"><gml:pos>12.45 41.9</gml:pos></gml:Point>'
    near = run(
        server,
        "2.0.0",
        "cities",
        fes(
            f"<fes:DWithin><fes:ValueReference>geom</fes:ValueReference>{point}"
            '<fes:Distance uom="m">50000</fes:Distance></fes:DWithin>'
        ),
    )
    far = run(
        server,
        "2.0.0",
        "cities",
        fes(
            f"<fes:Beyond><fes:ValueReference>geom</fes:ValueReference>{point}"
            '<fes:Distance uom="m">50000</fes:Distance></fes:Beyond>'
        ),
    )
    assert "cities.1" in near and len(near) + len(far) == 243 and not set(near) & set(far)


def test_ogc_filter_11_and_10(server: Server) -> None:
    f11 = ogc(
        "<ogc:PropertyIsLike wildCard='%' singleChar='_' escapeChar='\\'>"
        "<ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>San%</ogc:Literal>"
        "</ogc:PropertyIsLike>"
    )
    names11 = run(server, "1.1.0", "cities", f11)
    f10 = ogc(
        "<ogc:PropertyIsLike wildCard='*' singleChar='#' escape='!'>"
        "<ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>San*</ogc:Literal>"
        "</ogc:PropertyIsLike>"
    )
    assert names11 == run(server, "1.0.0", "cities", f10) and len(names11) >= 3
    box = ogc(
        "<ogc:BBOX><ogc:PropertyName>geom</ogc:PropertyName><gml:Box srsName='EPSG:4326'>"
        "<gml:coordinates>6,36 19,47</gml:coordinates></gml:Box></ogc:BBOX>"
    )
    assert "cities.1" in run(server, "1.0.0", "cities", box)
    arithmetic = ogc(
        "<ogc:PropertyIsEqualTo><ogc:Add><ogc:PropertyName>fid</ogc:PropertyName>"
        "<ogc:Literal>1</ogc:Literal></ogc:Add><ogc:Literal>3</ogc:Literal>"
        "</ogc:PropertyIsEqualTo>"
    )
    assert run(server, "1.1.0", "cities", arithmetic) == ["cities.2"]


def test_filter_in_xml_post_11(server: Server) -> None:
    body = f"""<wfs:GetFeature service="WFS" version="1.1.0" xmlns:wfs="{NS["wfs1"]}"
      xmlns:ogc="{OGC}" xmlns:gml="{GML}">
      <wfs:Query typeName="cities" srsName="EPSG:4326"><ogc:Filter><ogc:BBOX>
        <ogc:PropertyName>geom</ogc:PropertyName><gml:Envelope srsName="EPSG:4326">
        <gml:lowerCorner>6 36</gml:lowerCorner><gml:upperCorner>19 47</gml:upperCorner>
      </gml:Envelope></ogc:BBOX></ogc:Filter></wfs:Query></wfs:GetFeature>"""
    r = post(server, body)
    assert r.status == 200 and b'fid="cities.1"' not in r.body and b'gml:id="cities.1"' in r.body


@pytest.mark.parametrize(
    "bad",
    [
        "<fes:Filter xmlns:fes='http://www.opengis.net/fes/2.0'><fes:PropertyIsEqualTo>"
        "<fes:ValueReference>name</fes:ValueReference></fes:PropertyIsEqualTo></fes:Filter>",
        "<fes:Filter xmlns:fes='http://www.opengis.net/fes/2.0'><fes:Frobnicate/></fes:Filter>",
        "<Filter><PropertyIsEqualTo/></Filter>",
        "<fes:Filter xmlns:fes='http://www.opengis.net/fes/2.0'><fes:PropertyIsEqualTo>"
        "<fes:ValueReference>gdp_md_est</fes:ValueReference><fes:Literal>abc</fes:Literal>"
        "</fes:PropertyIsEqualTo></fes:Filter>",
        "<fes:Filter xmlns:fes='http://www.opengis.net/fes/2.0'><fes:Intersects>"
        "<fes:ValueReference>name</fes:ValueReference><fes:Literal>x</fes:Literal>"
        "</fes:Intersects></fes:Filter>",
        "not xml at all",
        "<fes:Filter xmlns:fes='http://www.opengis.net/fes/2.0'>",
    ],
)
def test_invalid_filters(server: Server, bad: str) -> None:
    r = get(
        server,
        f"SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&FILTER={quote(bad)}",
    )
    assert r.status == 400
    assert exception_code(r) in ("InvalidParameterValue", "OperationParsingFailed")


def test_sql_payloads_are_values_not_sql(server: Server) -> None:
    for payload in ("x' OR '1'='1", "'; DROP TABLE countries; --", "1) OR (1=1"):
        f = fes(
            "<fes:PropertyIsEqualTo><fes:ValueReference>name</fes:ValueReference>"
            f"<fes:Literal>{payload}</fes:Literal></fes:PropertyIsEqualTo>"
        )
        assert run(server, "2.0.0", "countries", f) == []
    injected = fes(
        "<fes:PropertyIsEqualTo><fes:ValueReference>name) OR (1=1"
        "</fes:ValueReference><fes:Literal>x</fes:Literal></fes:PropertyIsEqualTo>"
    )
    r = get(
        server,
        "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries"
        f"&FILTER={quote(injected)}",
    )
    assert r.status == 400
    assert (
        xml(
            get(
                server,
                "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&RESULTTYPE=hits",
            )
        ).get("numberMatched")
        == "177"
    )
