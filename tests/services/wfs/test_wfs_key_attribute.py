"""The feature key is a property of every feature type, as QGIS Server publishes a GeoPackage's
fid: in every output format and DescribeFeatureType, by name in FILTER, EXP_FILTER, SORTBY,
PROPERTYNAME and GetPropertyValue, hidden by `fields: {exclude}` and by plugins, named by row
rules, and sent back in transactions."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from lxml import etree
from wfs_support import DEMO, NS, build, exception_code, get, parcels, post, xml

from ogcserve.plugins import AccessControlFilter, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server

GF = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cities"
E = "https://ogcserve.org/edit"


def fids(result) -> list[int]:  # type: ignore[no-untyped-def]
    """The fid property of each member, checked against the member's id."""
    out = []
    for member in xml(result).xpath(
        "//*[local-name()='fid' and ../@*[local-name()='id' or local-name()='fid']]"
    ):
        ident = (
            member.getparent().get(f"{{{NS['gml']}}}id")
            or member.getparent().get(f"{{{NS['gml3']}}}id")
            or member.getparent().get("fid")
        )
        assert ident == f"cities.{member.text}", ident
        out.append(int(member.text))
    return out


@pytest.mark.parametrize(
    ("version", "fmt"),
    [("2.0.0", ""), ("1.1.0", ""), ("1.0.0", ""), ("2.0.0", "&OUTPUTFORMAT=GML2")],
)
def test_gml_members_carry_the_key(server: Server, version: str, fmt: str) -> None:
    r = get(server, f"{GF.replace('2.0.0', version)}&COUNT=3&MAXFEATURES=3{fmt}")
    assert r.status == 200, r.body[:300]
    assert fids(r) == [1, 2, 3]


def test_geojson_and_csv_carry_the_key(server: Server) -> None:
    doc = json.loads(get(server, f"{GF}&COUNT=2&OUTPUTFORMAT=application/json").body)
    assert [(f["id"], f["properties"]["fid"]) for f in doc["features"]] == [
        ("cities.1", 1),
        ("cities.2", 2),
    ]
    rows = list(
        csv.reader(io.StringIO(get(server, f"{GF}&COUNT=1&OUTPUTFORMAT=csv").body.decode()))
    )
    assert rows[0][:3] == ["gml_id", "fid", "name"] and rows[1][:3] == [
        "cities.1",
        "1",
        "Vatican City",
    ]


def test_describe_feature_type_types_the_key(server: Server) -> None:
    q = "SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=cities"
    elements = xml(get(server, q)).findall(".//xsd:sequence/xsd:element", NS)
    assert [e.get("name") for e in elements] == ["geom", "fid", "name"]
    fid = elements[1]
    assert (fid.get("type"), fid.get("nillable")) == ("xsd:long", "false")
    schema = json.loads(get(server, q + "&OUTPUTFORMAT=application/json").body)
    cities = schema["featureTypes"]["cities"]["properties"]["properties"]["properties"]
    assert cities["fid"]["type"] == ["integer"]  # a key is never null


@pytest.mark.parametrize("name", ["fid", "ogcserve:fid", "cities/fid"])
def test_fes_filter_on_the_key(server: Server, name: str) -> None:
    flt = (
        f'<fes:Filter xmlns:fes="{NS["fes"]}" xmlns:ogcserve="https://ogcserve.org/demo">'
        f"<fes:PropertyIsLessThan><fes:ValueReference>{name}</fes:ValueReference>"
        "<fes:Literal>4</fes:Literal></fes:PropertyIsLessThan></fes:Filter>"
    )
    r = get(server, f"{GF}&FILTER={quote(flt)}")
    assert r.status == 200, r.body[:400]
    assert fids(r) == [1, 2, 3]
    # WFS 1.1 / OGC filter, with a text literal compared as the key's type (integer).
    flt1 = (
        f'<ogc:Filter xmlns:ogc="{NS["ogc"]}"><ogc:PropertyIsEqualTo><ogc:PropertyName>'
        f"{name}</ogc:PropertyName><ogc:Literal>10</ogc:Literal></ogc:PropertyIsEqualTo>"
        "</ogc:Filter>"
    )
    r = get(server, f"{GF.replace('2.0.0', '1.1.0')}&FILTER={quote(flt1)}")
    assert fids(r) == [10]


@pytest.mark.parametrize(
    "expression", ['"fid" IN (3, 4)', "fid >= 3 AND fid <= 4", "$id IN (3, 4)"]
)
def test_exp_filter_on_the_key(server: Server, expression: str) -> None:
    r = get(server, f"{GF}&EXP_FILTER={quote(expression)}")
    assert r.status == 200, r.body[:400]
    assert fids(r) == [3, 4]


def test_exp_filter_is_anded_and_checked(server: Server) -> None:
    both = get(
        server,
        f"{GF}&EXP_FILTER={quote('fid < 10')}&BBOX=-10,-50,10,50,EPSG:4326"
        "&OUTPUTFORMAT=application/json",
    )
    found = [f["properties"]["fid"] for f in json.loads(both.body)["features"]]
    assert found and all(f < 10 for f in found)
    bad = get(server, f"{GF}&EXP_FILTER={quote('fid = = 3')}")
    assert bad.status == 400 and exception_code(bad) == "InvalidParameterValue"
    assert b"EXP_FILTER" in bad.body
    two = get(server, f"{GF},countries&EXP_FILTER=fid%3D1")
    assert two.status == 400 and exception_code(two) == "InvalidParameterValue"
    unknown = get(server, f"{GF}&EXP_FILTER={quote('nope = 1')}")
    assert unknown.status == 400


def test_sortby_and_propertyname_on_the_key(server: Server) -> None:
    r = get(server, f"{GF}&SORTBY=fid%20DESC&COUNT=3&PROPERTYNAME=fid")
    assert r.status == 200, r.body[:300]
    assert fids(r) == [243, 242, 241]
    member = xml(r).find("wfs:member/*", NS)
    assert member is not None and [etree.QName(c).localname for c in member] == ["fid"]
    r = get(
        server,
        f"{GF}&SORTBY=fid%20DESC&COUNT=2&OUTPUTFORMAT=application/json&PROPERTYNAME=fid,name",
    )
    assert [sorted(f["properties"]) for f in json.loads(r.body)["features"]] == [
        ["fid", "name"]
    ] * 2


def test_get_property_value_of_the_key(server: Server) -> None:
    r = get(
        server,
        "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetPropertyValue&TYPENAMES=cities"
        "&VALUEREFERENCE=fid&COUNT=3&SORTBY=fid",
    )
    assert r.status == 200, r.body[:300]
    values = [e.text for e in xml(r).iterfind(".//wfs:member/*", NS)]
    assert values == ["1", "2", "3"]


# --- hiding the key -----------------------------------------------------------------------------


@pytest.fixture
def hidden_key(tmp_path: Path) -> Iterator[Server]:
    """The cities with `fields: {exclude: [fid]}`."""
    (tmp_path / "hidden.yaml").write_text(
        "name: hidden\ntitle: Hidden key\nlayers:\n  - name: cities\n    title: Cities\n"
        f"    source: {{type: geopackage, path: {DEMO / 'natural_earth.gpkg'}, table: cities}}\n"
        "    fields: {exclude: [fid]}\n"
    )
    server = build([tmp_path / "hidden.yaml"])
    yield server
    server.close()


def test_exclude_hides_the_key_everywhere(hidden_key: Server) -> None:
    gml = get(hidden_key, f"{GF}&COUNT=2")
    assert gml.status == 200 and b"fid>" not in gml.body
    assert b'gml:id="cities.1"' in gml.body  # the id itself is not an attribute
    doc = json.loads(get(hidden_key, f"{GF}&COUNT=2&OUTPUTFORMAT=application/json").body)
    assert [sorted(f["properties"]) for f in doc["features"]] == [["name"]] * 2
    dft = xml(
        get(hidden_key, "SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=cities")
    )
    assert [e.get("name") for e in dft.iterfind(".//xsd:sequence/xsd:element", NS)] == [
        "geom",
        "name",
    ]
    for query in (f"{GF}&EXP_FILTER=fid%3D3", f"{GF}&SORTBY=fid", f"{GF}&PROPERTYNAME=fid"):
        refused = get(hidden_key, query)
        assert refused.status == 400 and exception_code(refused) == "InvalidParameterValue", query
    # The id still selects features: resource ids and $id are not attributes.
    by_id = get(hidden_key, f"{GF}&EXP_FILTER={quote('$id = 3')}&OUTPUTFORMAT=application/json")
    assert [f["id"] for f in json.loads(by_id.body)["features"]] == ["cities.3"]
    rid = get(hidden_key, "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&RESOURCEID=cities.4")
    assert b'gml:id="cities.4"' in rid.body


class KeyRules(AccessControlFilter):
    """Rules on the key, as QGIS plugins write them."""

    def __init__(
        self, expression: str | None = None, subset: str | None = None, hide: bool = False
    ) -> None:
        self.expression, self.subset, self.hide = expression, subset, hide

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return self.expression

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        return self.subset

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        return [a for a in attributes if a != "fid"] if self.hide else attributes


def _with(rules: KeyRules) -> Server:
    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(rules)

    return build(plugins=(setup,))


@pytest.mark.parametrize(
    "rules",
    [
        KeyRules(expression='"fid" = 1'),
        KeyRules(expression="fid = 1 OR fid = 5"),
        KeyRules(subset='"fid" IN (3, 4)'),
        KeyRules(expression='"fid" < 5', subset='"fid" > 2'),
        KeyRules(expression="$id = 2"),
    ],
)
def test_access_rules_on_the_key(rules: KeyRules) -> None:
    server = _with(rules)
    try:
        r = get(server, f"{GF}&OUTPUTFORMAT=application/json")
        assert r.status == 200, r.body[:400]
        found = [f["properties"]["fid"] for f in json.loads(r.body)["features"]]
        expected = {'"fid" = 1': [1], "fid = 1 OR fid = 5": [1, 5], "$id = 2": [2]}.get(
            rules.expression or "", [3, 4]
        )
        assert found == expected
        # Every other operation on the layer goes through too (none is refused).
        info = get(server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=cities")
        assert info.status == 200
    finally:
        server.close()


def test_a_plugin_hides_the_key_but_its_rule_still_applies() -> None:
    server = _with(KeyRules(expression='"fid" IN (3, 4)', hide=True))
    try:
        doc = json.loads(get(server, f"{GF}&OUTPUTFORMAT=application/json").body)
        assert [(f["id"], sorted(f["properties"])) for f in doc["features"]] == [
            ("cities.3", ["name"]),
            ("cities.4", ["name"]),
        ]
        refused = get(server, f"{GF}&EXP_FILTER=fid%3D3")
        assert refused.status == 400
    finally:
        server.close()


# --- transactions -------------------------------------------------------------------------------


def _tx(*actions: str, version: str = "2.0.0") -> str:
    if version == "2.0.0":
        head = (
            f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
            f'xmlns:fes="{NS["fes"]}" xmlns:gml="{NS["gml"]}" xmlns:e="{E}">'
        )
    else:
        head = (
            f'<wfs:Transaction service="WFS" version="{version}" xmlns:wfs="{NS["wfs1"]}" '
            f'xmlns:ogc="{NS["ogc"]}" xmlns:gml="{NS["gml3"]}" xmlns:e="{E}">'
        )
    return head + "".join(actions) + "</wfs:Transaction>"


def _parcel(name: str, key: str | None = None) -> str:
    fid = "" if key is None else f"<e:fid>{key}</e:fid>" if key else "<e:fid/>"
    return (
        f"<e:parcels><e:geom><gml:Point srsName='EPSG:4326'><gml:pos>5 6</gml:pos>"
        f"</gml:Point></e:geom>{fid}<e:role>a</e:role><e:name>{name}</e:name></e:parcels>"
    )


def _inserted(result) -> list[str]:  # type: ignore[no-untyped-def]
    root = xml(result)
    return [
        e.get("rid") or e.get("fid")
        for e in root.xpath("//*[local-name()='ResourceId' or local-name()='FeatureId']")
    ]


def test_insert_returns_the_key_given_or_generated(edit_server: Server, edit_project: Path) -> None:
    r = post(
        edit_server,
        _tx(
            f"<wfs:Insert>{_parcel('given', '500')}{_parcel('none')}"
            f"{_parcel('empty', '')}</wfs:Insert>"
        ),
        role="admin",
    )
    assert r.status == 200, r.body.decode()
    assert _inserted(r) == ["parcels.500", "parcels.501", "parcels.502"]
    table = parcels(edit_project.parent / "data.gpkg")
    assert table[500][1] == "given" and table[501][1] == "none" and table[502][1] == "empty"
    # Read back through WFS: the key is the property the client sent.
    back = get(
        edit_server,
        "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels"
        "&RESOURCEID=parcels.500&OUTPUTFORMAT=application/json",
    )
    assert json.loads(back.body)["features"][0]["properties"]["fid"] == 500
    for version, key in (("1.1.0", "911"), ("1.0.0", "910")):
        r = post(
            edit_server,
            _tx(f"<wfs:Insert>{_parcel(version, key)}</wfs:Insert>", version=version),
            role="admin",
        )
        assert r.status == 200 and _inserted(r) == [f"parcels.{key}"], r.body.decode()


def test_a_taken_or_bad_key_rolls_back(edit_server: Server, edit_project: Path) -> None:
    before = parcels(edit_project.parent / "data.gpkg")
    for key in ("1", "abc"):
        r = post(
            edit_server,
            _tx(f"<wfs:Insert>{_parcel('fresh')}{_parcel('dup', key)}</wfs:Insert>"),
            role="admin",
        )
        assert r.status == 400 and exception_code(r) == "InvalidParameterValue", r.body.decode()
    assert parcels(edit_project.parent / "data.gpkg") == before


def _update(ident: int, **props: str) -> str:
    body = "".join(
        f"<wfs:Property><wfs:ValueReference>{k}</wfs:ValueReference>"
        f"<wfs:Value>{v}</wfs:Value></wfs:Property>"
        for k, v in props.items()
    )
    return (
        f'<wfs:Update typeName="e:parcels">{body}<fes:Filter><fes:ResourceId '
        f'rid="parcels.{ident}"/></fes:Filter></wfs:Update>'
    )


def test_update_keeps_the_key(edit_server: Server, edit_project: Path) -> None:
    path = edit_project.parent / "data.gpkg"
    same = post(edit_server, _tx(_update(1, fid="1", name="same key")), role="admin")
    assert same.status == 200, same.body.decode()
    assert parcels(path)[1][1] == "same key"
    changed = post(edit_server, _tx(_update(1, fid="77", name="moved")), role="admin")
    assert changed.status == 400 and exception_code(changed) == "InvalidParameterValue"
    assert b"cannot be changed" in changed.body
    assert 77 not in parcels(path) and parcels(path)[1][1] == "same key"
    # Replace sends the whole feature, key included (WFS 2.0 §15.2.6).
    replace = post(
        edit_server,
        _tx(
            f"<wfs:Replace>{_parcel('replaced', '3')}<fes:Filter>"
            '<fes:ResourceId rid="parcels.3"/></fes:Filter></wfs:Replace>'
        ),
        role="admin",
    )
    assert replace.status == 200, replace.body.decode()
    assert parcels(path)[3][1] == "replaced"


def test_row_rule_on_the_key_governs_edits(edit_project: Path) -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(KeyRules(expression='"fid" < 100'))

    server = build([edit_project], plugins=(setup,))
    try:
        low = post(server, _tx(f"<wfs:Insert>{_parcel('low', '50')}</wfs:Insert>"))
        assert low.status == 200, low.body.decode()
        high = post(server, _tx(f"<wfs:Insert>{_parcel('high', '150')}</wfs:Insert>"))
        assert high.status == 403 and exception_code(high) == "Security"
        with sqlite3.connect(edit_project.parent / "data.gpkg") as conn:
            assert conn.execute("SELECT fid FROM parcels WHERE fid >= 50").fetchall() == [(50,)]
    finally:
        server.close()


def test_a_row_rule_on_the_key_judges_a_generated_key(edit_project: Path) -> None:
    # QGIS desktop leaves a serial key out of its Insert: the feature was judged with no key,
    # so `"fid" IN (...)` refused every insert. It is judged with the key the source gives it.
    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(KeyRules(expression='"fid" IN (1, 2, 7, 8)'))

    server = build([edit_project], plugins=(setup,))
    path = edit_project.parent / "data.gpkg"
    try:
        for version in ("2.0.0", "1.1.0"):
            r = post(server, _tx(f"<wfs:Insert>{_parcel(version)}</wfs:Insert>", version=version))
            assert r.status == 200, r.body.decode()
        assert _inserted(r) == ["parcels.8"]
        assert {fid: row[1] for fid, row in parcels(path).items() if fid > 6} == {
            7: "2.0.0",
            8: "1.1.0",
        }
        # Key 9 is outside the rule: refused, and nothing of the transaction is kept.
        r = post(server, _tx(f"<wfs:Insert>{_parcel('a')}{_parcel('b')}</wfs:Insert>"))
        assert r.status == 403 and exception_code(r) == "Security", r.body.decode()
        assert max(parcels(path)) == 8
    finally:
        server.close()


# --- a layer `key` naming another column ------------------------------------------------------------


@pytest.fixture
def text_key(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A writable copy of the countries, keyed by the project on `iso_a3` (text)."""
    data = tmp_path / "world.gpkg"
    data.write_bytes((DEMO / "natural_earth.gpkg").read_bytes())
    (tmp_path / "keyed.yaml").write_text(
        "name: keyed\ntitle: Keyed\nlayers:\n  - name: countries\n    title: Countries\n"
        "    source: {type: geopackage, path: world.gpkg, table: countries}\n"
        "    key: iso_a3\n    wfs: {insert: true, update: true}\n"
    )
    server = build([tmp_path / "keyed.yaml"])
    yield server, data
    server.close()


def test_the_project_key_names_the_ids(text_key: tuple[Server, Path]) -> None:
    server, data = text_key
    gf = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature"
    r = get(server, f"{gf}&RESOURCEID=countries.FRA&OUTPUTFORMAT=application/json")
    [france] = json.loads(r.body)["features"]
    assert france["id"] == "countries.FRA"
    assert france["properties"]["iso_a3"] == "FRA" and france["properties"]["fid"] == 44
    dft = xml(get(server, f"{gf.replace('GetFeature', 'DescribeFeatureType')}&TYPENAMES=countries"))
    types = {
        e.get("name"): (e.get("type"), e.get("nillable"))
        for e in dft.iterfind(".//xsd:sequence/xsd:element", NS)
    }
    assert types["iso_a3"] == ("xsd:string", "false") and types["fid"][0] == "xsd:long"
    sorted_ = get(
        server,
        f"{gf}&TYPENAMES=countries&SORTBY=iso_a3%20DESC&COUNT=2&OUTPUTFORMAT=application/json",
    )
    assert [f["id"] for f in json.loads(sorted_.body)["features"]] == [
        "countries.ZWE",
        "countries.ZMB",
    ]
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
        f'xmlns:gml="{NS["gml"]}" xmlns:k="https://ogcserve.org/keyed"><wfs:Insert>'
        "<k:countries><k:iso_a3>ZZZ</k:iso_a3><k:name>Zed</k:name></k:countries>"
        "</wfs:Insert></wfs:Transaction>"
    )
    r = post(server, body)
    assert r.status == 200, r.body.decode()
    assert _inserted(r) == ["countries.ZZZ"]
    with sqlite3.connect(data) as conn:
        assert conn.execute("SELECT name FROM countries WHERE iso_a3 = 'ZZZ'").fetchall() == [
            ("Zed",)
        ]
    # Without a key the row could never be found again: refused, nothing written.
    r = post(server, body.replace("<k:iso_a3>ZZZ</k:iso_a3>", ""))
    assert r.status == 400 and exception_code(r) == "InvalidParameterValue"
