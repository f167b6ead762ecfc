"""GetCapabilities: valid against the OGC schemas, only what the caller may read, cached."""

from __future__ import annotations

import pytest
from wms_helpers import get, validate_capabilities

from ogcserve.server import Server

NS = {"w": "http://www.opengis.net/wms", "xlink": "http://www.w3.org/1999/xlink"}


def _names(doc, version: str) -> set[str]:  # type: ignore[no-untyped-def]
    path = "//w:Layer/w:Name/text()" if version == "1.3.0" else "//Layer/Name/text()"
    return set(doc.xpath(path, namespaces=NS))


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_capabilities_are_schema_valid(wms: Server, version: str) -> None:
    result = get(wms, f"SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities")
    assert result.status == 200
    doc = validate_capabilities(result.body, version)
    assert _names(doc, version) == {
        "demo",
        "countries",
        "places",
        "cities",
        "nyc_boroughs",
        "nc_counties",
        "elevation",
    }


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
@pytest.mark.parametrize("role", ["user", "anonymous"])
def test_capabilities_with_access_plugin_hide_layers(
    role_wms: Server, version: str, role: str
) -> None:
    result = get(role_wms, f"SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities", role)
    doc = validate_capabilities(result.body, version)
    names = _names(doc, version)
    assert "nc_counties" not in names
    assert ("nyc_boroughs" in names) == (role == "user")
    admin = get(role_wms, f"SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities", "admin")
    assert "nc_counties" in _names(validate_capabilities(admin.body, version), version)


def test_group_whose_members_are_all_hidden_disappears(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from ogcserve.plugins import AccessControlFilter, LayerPermissions
    from ogcserve.testing import make_server

    class HideCities(AccessControlFilter):
        def layer_permissions(self, layer):  # type: ignore[no-untyped-def]
            return LayerPermissions(can_read=layer.name != "cities")

    server = make_server(plugins=[lambda iface: iface.register_access_control(HideCities())])
    doc = validate_capabilities(get(server, "SERVICE=WMS&REQUEST=GetCapabilities").body, "1.3.0")
    assert not {"places", "cities"} & _names(doc, "1.3.0")


def test_epsg_4326_bounding_box_is_lat_lon_in_1_3_0(wms: Server) -> None:
    doc = validate_capabilities(get(wms, "SERVICE=WMS&REQUEST=GetCapabilities").body, "1.3.0")
    layer = doc.xpath("//w:Layer[w:Name='nyc_boroughs']", namespaces=NS)[0]
    box = layer.xpath("w:BoundingBox[@CRS='EPSG:4326']", namespaces=NS)[0]
    crs84 = layer.xpath("w:BoundingBox[@CRS='CRS:84']", namespaces=NS)[0]
    assert 40 < float(box.get("minx")) < 41 and -75 < float(box.get("miny")) < -73
    assert -75 < float(crs84.get("minx")) < -73 and 40 < float(crs84.get("miny")) < 41
    geo = layer.find("w:EX_GeographicBoundingBox", NS)
    assert -75 < float(geo.findtext("w:westBoundLongitude", namespaces=NS)) < -73
    # the native CRS of the layer is advertised beside the inherited ones
    assert "EPSG:2263" in layer.xpath("w:CRS/text()", namespaces=NS)
    assert layer.xpath("w:BoundingBox[@CRS='EPSG:2263']", namespaces=NS)


def test_1_1_1_bounding_box_is_x_y(wms: Server) -> None:
    body = get(wms, "SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities").body
    doc = validate_capabilities(body, "1.1.1")
    box = doc.xpath("//Layer[Name='nyc_boroughs']/BoundingBox[@SRS='EPSG:4326']")[0]
    assert -75 < float(box.get("minx")) < -73


def test_legend_urls_queryable_and_online_resource_from_forwarded_headers(wms: Server) -> None:
    result = get(
        wms,
        "SERVICE=WMS&REQUEST=GetCapabilities&MAP=demo",
        **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "maps.example.org"},
    )
    doc = validate_capabilities(result.body, "1.3.0")
    hrefs = doc.xpath("//w:Service/w:OnlineResource/@xlink:href", namespaces=NS)
    assert hrefs == ["https://maps.example.org/ows?MAP=demo&"]
    legend = doc.xpath(
        "//w:Layer[w:Name='countries']/w:Style/w:LegendURL/w:OnlineResource/@xlink:href",
        namespaces=NS,
    )[0]
    assert "REQUEST=GetLegendGraphic" in legend and "LAYER=countries" in legend
    assert doc.xpath("//w:Layer[w:Name='countries']/@queryable", namespaces=NS) == ["1"]


def test_scale_ranges_are_advertised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wms_projects import scaled_project

    from ogcserve.testing import make_server

    server = make_server([scaled_project(tmp_path)])
    doc = validate_capabilities(get(server, "SERVICE=WMS&REQUEST=GetCapabilities").body, "1.3.0")
    layer = doc.xpath("//w:Layer[w:Name='countries']", namespaces=NS)[0]
    assert layer.findtext("w:MinScaleDenominator", namespaces=NS) == "1000"
    assert layer.findtext("w:MaxScaleDenominator", namespaces=NS) == "50000000"
    old = validate_capabilities(
        get(server, "SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities").body, "1.1.1"
    )
    hint = old.xpath("//Layer[Name='countries']/ScaleHint")[0]
    assert float(hint.get("min")) == pytest.approx(1000 * 0.00028 * 2**0.5)


def test_capabilities_are_cached_per_access_fingerprint(role_wms: Server) -> None:
    query = "SERVICE=WMS&REQUEST=GetCapabilities"
    user = get(role_wms, query, "user").body
    anonymous = get(role_wms, query, "anonymous").body
    assert user != anonymous
    assert get(role_wms, query, "user").body == user
    assert get(role_wms, query, "anonymous").body == anonymous


def test_forged_host_does_not_poison_the_cache(wms: Server) -> None:
    query = "SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0&x=poison"
    get(wms, query)
    evil = get(wms, query, **{"X-Forwarded-Host": "evil.example"}).body
    assert b"evil.example" in evil
    assert b"evil.example" not in get(wms, query).body


def test_version_negotiation(wms: Server) -> None:
    body = get(wms, "SERVICE=WMS&VERSION=1.2.0&REQUEST=GetCapabilities").body
    assert b"WMT_MS_Capabilities" in body
    body = get(wms, "SERVICE=WMS&REQUEST=GetCapabilities").body
    assert b"WMS_Capabilities" in body and b'version="1.3.0"' in body
