"""The project and its groups as layers (as QGIS Server), and what a caller may not read.

The atlas project nests groups: world (countries, towns (cities, nyc_boroughs)), secret
(nc_counties). Under the `forbid_cities_and_counties` plugin, `towns` is partly readable and
`secret` not at all: `secret` must then answer exactly as a name that does not exist.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from PIL import Image
from wms_helpers import get, image, validate_capabilities, validate_exception
from wms_projects import atlas_project, forbid_cities_and_counties

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.testing import make_server

NS = {
    "w": "http://www.opengis.net/wms",
    "sld": "http://www.opengis.net/sld",
    "se": "http://www.opengis.net/se",
}
WORLD = "CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=360&HEIGHT=180"
# Manhattan, where countries (USA), cities (New York) and nyc_boroughs overlap.
NYC = "CRS=EPSG:4326&BBOX=40.5,-74.3,41.0,-73.7&WIDTH=120&HEIGHT=100&I=60&J=55"
READABLE = {
    "open": ["countries", "cities", "nyc_boroughs", "nc_counties"],
    "guarded": ["countries", "nyc_boroughs"],
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    path = atlas_project(tmp_path_factory.mktemp("atlas"))
    made = {
        "open": make_server([path]),
        "guarded": make_server([path], plugins=[forbid_cities_and_counties]),
    }
    yield made
    for server in made.values():
        server.close()


@pytest.fixture(scope="module")
def guarded(servers: dict[str, Server]) -> Server:
    return servers["guarded"]


def _map(layers: str, extra: str = "") -> str:
    return (
        f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layers}&STYLES=&{WORLD}"
        f"&FORMAT=image/png&TRANSPARENT=TRUE{extra}"
    )


def _pixels(server: Server, query: str) -> np.ndarray:
    return np.asarray(image(get(server, query)).convert("RGBA"))


def _code(body: bytes) -> str:
    return str(etree.fromstring(body).xpath("//*[local-name()='ServiceException']/@code")[0])


def _layer_names(doc: etree._Element, version: str) -> list[str]:
    path = "//w:Layer/w:Name/text()" if version == "1.3.0" else "//Layer/Name/text()"
    return [str(n) for n in doc.xpath(path, namespaces=NS)]


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
@pytest.mark.parametrize("who", ["open", "guarded"])
def test_capabilities_name_the_project_and_only_readable_groups(
    servers: dict[str, Server], who: str, version: str
) -> None:
    result = get(servers[who], f"SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities")
    doc = validate_capabilities(result.body, version)
    w = "w:" if version == "1.3.0" else ""
    [root] = doc.xpath(f"//{w}Capability/{w}Layer", namespaces=NS)
    assert root.findtext(f"{w}Name", namespaces=NS) == "atlas"
    assert root.get("queryable") == "1"
    expected = (
        ["atlas", "world", "countries", "towns", "cities", "nyc_boroughs", "secret", "nc_counties"]
        if who == "open"
        else ["atlas", "world", "countries", "towns", "nyc_boroughs"]
    )
    assert _layer_names(doc, version) == expected


@pytest.mark.parametrize("who", ["open", "guarded"])
@pytest.mark.parametrize("name", ["atlas", "world", "towns"])
def test_getmap_of_the_project_or_a_group_draws_its_readable_layers_in_order(
    servers: dict[str, Server], who: str, name: str
) -> None:
    server = servers[who]
    members = {
        "atlas": READABLE[who],
        "world": [n for n in READABLE[who] if n != "nc_counties"],
        "towns": [n for n in READABLE[who] if n in ("cities", "nyc_boroughs")],
    }[name]
    drawn = _pixels(server, _map(name))
    assert (drawn[..., 3] > 0).any()
    assert np.array_equal(drawn, _pixels(server, _map(",".join(members))))


def test_hidden_members_are_not_drawn(servers: dict[str, Server]) -> None:
    """Cities are dots on top of the countries: the guarded map lacks exactly those."""
    open_map, guarded_map = (_pixels(servers[w], _map("world")) for w in ("open", "guarded"))
    differ = (open_map != guarded_map).any(axis=2)
    cities = _pixels(servers["open"], _map("cities"))[..., 3] > 0
    assert differ.any() and not (differ & ~cities).any()


def test_styles_has_one_entry_for_a_group(guarded: Server) -> None:
    assert get(guarded, _map("world", "&STYLES=default").replace("STYLES=&", "")).status == 200
    assert (
        get(guarded, _map("world,atlas", "&STYLES=,default").replace("STYLES=&", "")).status == 200
    )
    for styles in ("default,default", "fancy"):
        result = get(guarded, _map("world").replace("STYLES=", f"STYLES={styles}"))
        assert result.status == 400 and _code(result.body) == "StyleNotDefined"


def _info(query_layers: str, layers: str | None = None, version: str = "1.3.0") -> str:
    where = (
        NYC
        if version == "1.3.0"
        else NYC.replace("CRS=", "SRS=")
        .replace("40.5,-74.3,41.0,-73.7", "-74.3,40.5,-73.7,41.0")
        .replace("I=", "X=")
        .replace("J=", "Y=")
    )
    return (
        f"SERVICE=WMS&VERSION={version}&REQUEST=GetFeatureInfo&{where}"
        f"&LAYERS={layers or query_layers}&QUERY_LAYERS={query_layers}"
        "&INFO_FORMAT=text/xml&FEATURE_COUNT=10"
    )


def _answering_layers(result_body: bytes) -> list[str]:
    return [str(n) for n in etree.fromstring(result_body).xpath("//Layer/@name")]


@pytest.mark.parametrize("who", ["open", "guarded"])
@pytest.mark.parametrize("name", ["atlas", "world", "towns"])
def test_getfeatureinfo_on_the_project_or_a_group(
    servers: dict[str, Server], who: str, name: str
) -> None:
    result = get(servers[who], _info(name))
    assert result.status == 200, result.body
    readable = READABLE[who]
    expected = {
        "atlas": readable,
        "world": [n for n in readable if n != "nc_counties"],
        "towns": [n for n in readable if n in ("cities", "nyc_boroughs")],
    }[name]
    assert _answering_layers(result.body) == expected
    assert b"Manhattan" in result.body and (b"New York" in result.body) == (who == "open")


LEGEND = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=image/png&LAYER="


@pytest.mark.parametrize("who", ["open", "guarded"])
def test_legend_of_the_project_stacks_its_readable_layers(
    servers: dict[str, Server], who: str
) -> None:
    server = servers[who]
    stacked = image(get(server, LEGEND + "atlas"))
    parts = [image(get(server, LEGEND + name)) for name in READABLE[who]]
    assert stacked.height == sum(p.height for p in parts)
    assert stacked.width == max(p.width for p in parts)
    top = np.asarray(stacked.convert("RGBA"))[: parts[0].height, : parts[0].width]
    assert np.array_equal(top, np.asarray(parts[0].convert("RGBA")))
    towns = image(get(server, LEGEND + "towns"))
    assert towns.height == sum(
        p.height
        for n, p in zip(READABLE[who], parts, strict=True)
        if n in ("cities", "nyc_boroughs")
    )


def test_describe_layer_and_get_styles_expand_the_project(guarded: Server) -> None:
    described = get(guarded, "SERVICE=WMS&VERSION=1.3.0&REQUEST=DescribeLayer&LAYERS=atlas")
    names = etree.fromstring(described.body).xpath("//se:FeatureTypeName/text()", namespaces=NS)
    assert names == READABLE["guarded"]
    styles = get(guarded, "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetStyles&LAYERS=world")
    named = etree.fromstring(styles.body).xpath("//sld:NamedLayer/se:Name/text()", namespaces=NS)
    assert named == READABLE["guarded"]


# Each operation naming one layer; `{}` is the name.
OPERATIONS = {
    "GetMap": _map("{0}"),
    "GetMap FILTER": _map("countries", "&FILTER={0}:\"name\"='x'"),
    "GetFeatureInfo QUERY_LAYERS": _info("{0}"),
    "GetFeatureInfo LAYERS": _info("countries", "{0}"),
    "GetFeatureInfo 1.1.1": _info("{0}", version="1.1.1"),
    "GetLegendGraphic": LEGEND + "{0}",
    "DescribeLayer": "SERVICE=WMS&VERSION=1.3.0&REQUEST=DescribeLayer&LAYERS={0}",
    "GetStyles": "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetStyles&LAYERS={0}",
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_group_with_nothing_readable_is_a_layer_that_does_not_exist(
    servers: dict[str, Server], operation: str
) -> None:
    query = OPERATIONS[operation]
    secret = get(servers["guarded"], query.format("secret"))
    absent = get(servers["guarded"], query.format("nosuch"))
    assert (secret.status, absent.status) == (400, 400)
    version = "1.1.1" if "1.1.1" in query else "1.3.0"
    validate_exception(secret.body, version)
    assert _code(secret.body) == "LayerNotDefined"
    assert secret.body.replace(b"secret", b"nosuch") == absent.body
    assert get(servers["open"], query.format("secret")).status == 200


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_forbidden_layer_is_security_an_unknown_one_layer_not_defined(
    guarded: Server, operation: str
) -> None:
    query = OPERATIONS[operation]
    version = "1.1.1" if "1.1.1" in query else "1.3.0"
    for name, status, code in [
        ("cities", 403, "Security"),
        ("nc_counties", 403, "Security"),
        ("atlantis", 400, "LayerNotDefined"),
    ]:
        result = get(guarded, query.format(name))
        assert result.status == status, (name, result.body)
        validate_exception(result.body, version)
        assert _code(result.body) == code


def test_a_layer_named_like_the_project_wins(servers: dict[str, Server], tmp_path: Path) -> None:
    """QGIS Server 3.22 lists both under one Name, and GetMap and GetFeatureInfo disagree on
    which one it means; here the layer wins everywhere and the root layer stays unnamed."""
    server = make_server([atlas_project(tmp_path, name="countries")])
    doc = validate_capabilities(get(server, "SERVICE=WMS&REQUEST=GetCapabilities").body, "1.3.0")
    [root] = doc.xpath("//w:Capability/w:Layer", namespaces=NS)
    assert root.find("w:Name", NS) is None
    assert _layer_names(doc, "1.3.0").count("countries") == 1
    assert np.array_equal(
        _pixels(server, _map("countries")), _pixels(servers["open"], _map("countries"))
    )
    only = get(server, _info("countries"))
    assert _answering_layers(only.body) == ["countries"]


def test_a_caller_who_may_read_nothing_has_no_project_layer(tmp_path: Path) -> None:
    class Nothing(AccessControlFilter):
        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            return LayerPermissions(can_read=False)

    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(Nothing())

    server = make_server([atlas_project(tmp_path)], plugins=[setup])
    doc = validate_capabilities(get(server, "SERVICE=WMS&REQUEST=GetCapabilities").body, "1.3.0")
    assert _layer_names(doc, "1.3.0") == []
    result = get(server, _map("atlas"))
    assert result.status == 400 and _code(result.body) == "LayerNotDefined"


def test_the_demo_project_is_a_layer(wms: Server) -> None:
    doc = json.loads(get(wms, _info("demo").replace("text/xml", "application/json")).body)
    assert {f["id"].split(".")[0] for f in doc["features"]} >= {"countries", "nyc_boroughs"}
    picture = Image.open(io.BytesIO(get(wms, _map("demo")).body)).convert("RGBA")
    assert np.array_equal(
        np.asarray(picture),
        _pixels(wms, _map("countries,cities,nyc_boroughs,nc_counties,elevation")),
    )
