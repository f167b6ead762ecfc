"""What QGIS desktop, GDAL and OWSLib read in WFS answers: counts for RESULTTYPE=hits, editing
operations in the capabilities, type names bare or prefixed in every request, and output formats
whose Content-Type is the one advertised or asked for."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from wfs_support import NS, build, get, post, xml

from ogcserve.server import Server

GF = "SERVICE=WFS&REQUEST=GetFeature"
E = "https://ogcserve.org/edit"


# --- RESULTTYPE=hits ----------------------------------------------------------------------------


def test_hits_in_each_version(server: Server) -> None:
    # 1.1.0: numberOfFeatures is the count (QGIS showed 0 features when it said 0).
    r11 = xml(get(server, f"{GF}&VERSION=1.1.0&TYPENAME=countries&RESULTTYPE=hits"))
    assert r11.get("numberOfFeatures") == "177" and len(r11) == 0
    # ... bounded by MAXFEATURES, as the same request's results would be.
    capped = xml(
        get(server, f"{GF}&VERSION=1.1.0&TYPENAME=countries&RESULTTYPE=hits&MAXFEATURES=10")
    )
    assert capped.get("numberOfFeatures") == "10"
    filtered = xml(
        get(
            server,
            f"{GF}&VERSION=1.1.0&TYPENAME=countries&RESULTTYPE=hits&BBOX=2,46,8,50,EPSG:4326",
        )
    )
    assert 0 < int(filtered.get("numberOfFeatures")) < 20
    # 2.0.0: numberMatched, and numberReturned="0".
    r20 = xml(get(server, f"{GF}&VERSION=2.0.0&TYPENAMES=countries&RESULTTYPE=hits"))
    assert (r20.get("numberMatched"), r20.get("numberReturned"), len(r20)) == ("177", "0", 0)
    # XML encoding too.
    body = (
        f'<wfs:GetFeature service="WFS" version="1.1.0" resultType="hits" '
        f'xmlns:wfs="{NS["wfs1"]}"><wfs:Query typeName="countries"/></wfs:GetFeature>'
    )
    assert xml(post(server, body)).get("numberOfFeatures") == "177"
    # 1.0.0 has no RESULTTYPE: features are returned, not an empty collection.
    r10 = get(server, f"{GF}&VERSION=1.0.0&TYPENAME=countries&RESULTTYPE=hits&MAXFEATURES=3")
    assert r10.body.count(b"<gml:featureMember>") == 3


# --- editing operations in the capabilities -------------------------------------------------


def _operations(root, version: str) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """Type name -> the operations its FeatureType lists (1.0.0 elements, 1.1.0 values)."""
    ns = NS["wfs1"]
    out = {}
    for ft in root.iterfind(f".//{{{ns}}}FeatureType"):
        ops = ft.find(f"{{{ns}}}Operations")
        if version == "1.0.0":
            out[ft.findtext(f"{{{ns}}}Name")] = {etree_local(o) for o in ops}
        else:
            out[ft.findtext(f"{{{ns}}}Name")] = {o.text for o in ops}
    return out


def etree_local(element) -> str:  # type: ignore[no-untyped-def]
    return str(element.tag).rpartition("}")[2]


@pytest.mark.parametrize("version", ["1.1.0", "1.0.0"])
def test_capabilities_1_x_list_the_edits_each_type_allows(
    edit_server: Server, version: str
) -> None:
    q = f"SERVICE=WFS&VERSION={version}&REQUEST=GetCapabilities"
    admin = _operations(xml(get(edit_server, q)), version)
    assert admin["parcels"] == {"Query", "Insert", "Update", "Delete"}
    assert admin["countries"] == {"Query"}  # wfs: {publish: true} only
    # A caller without edit rights sees Query only, and no Transaction operation.
    reader_root = xml(get(edit_server, q, role="reader"))
    assert _operations(reader_root, version)["parcels"] == {"Query"}
    assert b"Transaction" not in get(edit_server, q, role="reader").body
    if version == "1.1.0":
        ops = {o.get("name") for o in xml(get(edit_server, q)).iterfind(".//ows1:Operation", NS)}
        assert "Transaction" in ops


def test_capabilities_2_0_advertise_transaction_for_editors(edit_server: Server) -> None:
    q = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities"
    ops = {o.get("name") for o in xml(get(edit_server, q)).iterfind(".//ows:Operation", NS)}
    assert "Transaction" in ops
    ops = {
        o.get("name")
        for o in xml(get(edit_server, q, role="reader")).iterfind(".//ows:Operation", NS)
    }
    assert "Transaction" not in ops


# --- type names, bare or prefixed ---------------------------------------------------------------


def test_prefixed_names_setting(tmp_path: Path) -> None:
    srv = build(wfs_prefixed_type_names=True)
    try:
        for version, ns in (("2.0.0", "wfs"), ("1.1.0", "wfs1"), ("1.0.0", "wfs1")):
            root = xml(get(srv, f"SERVICE=WFS&VERSION={version}&REQUEST=GetCapabilities"))
            names = [e.text for e in root.iterfind(f".//{{{NS[ns]}}}FeatureType/{{{NS[ns]}}}Name")]
            assert names[0] == "ogcserve:countries"
    finally:
        srv.close()


@pytest.mark.parametrize(
    "name", ["countries", "ogcserve:countries", "{https://ogcserve.org/demo}countries"]
)
def test_every_request_takes_both_forms(server: Server, name: str) -> None:
    q = quote(name)
    for query, marker in (
        (f"{GF}&VERSION=2.0.0&TYPENAMES={q}&COUNT=1", b"<ogcserve:countries "),
        (f"{GF}&VERSION=1.1.0&TYPENAME={q}&MAXFEATURES=1", b"<ogcserve:countries "),
        (f"{GF}&VERSION=1.0.0&TYPENAME={q}&MAXFEATURES=1", b"<ogcserve:countries "),
        (
            f"{GF}&VERSION=2.0.0&TYPENAMES={q}&COUNT=1&PROPERTYNAME=ogcserve:name",
            b"<ogcserve:name>",
        ),
        (f"{GF}&VERSION=2.0.0&TYPENAMES={q}&COUNT=1&SORTBY=ogcserve:name", b"Afghanistan"),
        (
            f"SERVICE=WFS&REQUEST=DescribeFeatureType&VERSION=2.0.0&TYPENAMES={q}",
            b'name="countries"',
        ),
        (
            f"SERVICE=WFS&REQUEST=DescribeFeatureType&VERSION=1.0.0&TYPENAME={q}",
            b'name="countries"',
        ),
        (
            f"SERVICE=WFS&REQUEST=GetPropertyValue&VERSION=2.0.0&TYPENAMES={q}"
            "&VALUEREFERENCE=name&COUNT=1",
            b"<ogcserve:name>",
        ),
    ):
        r = get(server, query)
        assert r.status == 200 and marker in r.body, (query, r.body[:400])
    if name.startswith("{"):
        return
    for version, wfs in (("2.0.0", NS["wfs"]), ("1.1.0", NS["wfs1"])):
        attribute = "typeNames" if version == "2.0.0" else "typeName"
        body = (
            f'<wfs:GetFeature service="WFS" version="{version}" count="1" maxFeatures="1" '
            f'xmlns:wfs="{wfs}" xmlns:ogcserve="https://ogcserve.org/demo">'
            f'<wfs:Query {attribute}="{name}"/></wfs:GetFeature>'
        )
        r = post(server, body)
        assert r.status == 200 and b"<ogcserve:countries " in r.body, r.body[:400]
        describe = (
            f'<wfs:DescribeFeatureType service="WFS" version="{version}" '
            f'xmlns:wfs="{wfs}" xmlns:ogcserve="https://ogcserve.org/demo">'
            f"<wfs:TypeName>{name}</wfs:TypeName></wfs:DescribeFeatureType>"
        )
        r = post(server, describe)
        assert r.status == 200 and b'name="countries"' in r.body, r.body[:400]


@pytest.mark.parametrize("name", ["parcels", "e:parcels"])
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_transactions_take_both_forms(edit_server: Server, name: str, version: str) -> None:
    wfs = NS["wfs"] if version == "2.0.0" else NS["wfs1"]
    flt_ns = NS["fes"] if version == "2.0.0" else NS["ogc"]
    ident = (
        '<f:ResourceId rid="parcels.1"/>'
        if version == "2.0.0"
        else '<f:FeatureId fid="parcels.1"/>'
    )
    ref = "ValueReference" if version == "2.0.0" else "Name"
    # The inserted feature: in the feature namespace, or unqualified as a bare name says.
    feature = (
        "<e:parcels><e:role>a</e:role><e:name>n</e:name></e:parcels>"
        if ":" in name
        else '<parcels xmlns=""><role>a</role><name>n</name></parcels>'
    )
    body = (
        f'<wfs:Transaction service="WFS" version="{version}" xmlns:wfs="{wfs}" '
        f'xmlns:f="{flt_ns}" xmlns:e="{E}"><wfs:Insert>{feature}</wfs:Insert>'
        f'<wfs:Update typeName="{name}"><wfs:Property><wfs:{ref}>value</wfs:{ref}>'
        f"<wfs:Value>7</wfs:Value></wfs:Property><f:Filter>{ident}</f:Filter></wfs:Update>"
        f'<wfs:Delete typeName="{name}"><f:Filter>{ident.replace(".1", ".2")}</f:Filter>'
        "</wfs:Delete></wfs:Transaction>"
    )
    r = post(edit_server, body)
    assert r.status == 200, r.body[:500]


# --- output formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "content_type"),
    [
        ("application/json", "application/json"),
        ("json", "application/json"),
        ("application/geo+json", "application/geo+json"),
        ("geojson", "application/geo+json"),
        ("GeoJSON", "application/geo+json"),
        ("application/vnd.geo+json", "application/vnd.geo+json"),
    ],
)
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_geojson_is_answered_as_asked(
    server: Server, version: str, asked: str, content_type: str
) -> None:
    names = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
    r = get(
        server,
        f"{GF}&VERSION={version}&{names}=cities&MAXFEATURES=2&COUNT=2&OUTPUTFORMAT={quote(asked)}",
    )
    assert r.status == 200 and r.headers["Content-Type"] == content_type
    assert r.body.startswith(b'{"type":"FeatureCollection"')


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_every_advertised_format_answers_with_its_own_media_type(
    server: Server, version: str
) -> None:
    root = xml(get(server, f"SERVICE=WFS&VERSION={version}&REQUEST=GetCapabilities"))
    ows = "ows" if version == "2.0.0" else "ows1"
    for operation in ("GetFeature", "DescribeFeatureType"):
        formats = root.xpath(
            f"//{ows}:Operation[@name='{operation}']/{ows}:Parameter"
            f"[@name='outputFormat']//{ows}:Value/text()",
            namespaces=NS,
        )
        assert formats
        for fmt in formats:
            names = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
            r = get(
                server,
                f"SERVICE=WFS&REQUEST={operation}&VERSION={version}"
                f"&{names}=cities&COUNT=1&MAXFEATURES=1&OUTPUTFORMAT={quote(fmt)}",
            )
            assert r.status == 200, (operation, fmt, r.body[:300])
            got = r.headers["Content-Type"].replace(" ", "")
            assert got.startswith(fmt.replace(" ", "")), (operation, fmt, got)
