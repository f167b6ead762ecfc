"""Publication settings of a YAML project, per option: fields hidden from one service,
aliases, WMS-only restriction, layer links, contact and the project's WMS block."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ogc_schemas import assert_valid, ogc_schema
from starlette.testclient import TestClient

from ogcserve.access import AccessLayer
from ogcserve.projects import ProjectError, check_project, load_project
from ogcserve.testing import client, demo_project, make_server

PROJECT = """\
name: pub
title: Publishing
contact:
  person: Ada Lovelace
  organization: Analytical Maps
  position: Cartographer
  email: ada@example.com
  phone: "+44 20 0000 0000"
wms:
  extent: [-20, 30, 40, 70]
  max_width: 800
  max_height: 600
  feature_info_precision: 2
layers:
  - name: countries
    source: {type: geopackage, path: natural_earth.gpkg, table: countries}
    fields: {exclude: [gdp_md_est], exclude_wms: [iso_a3], exclude_wfs: [continent]}
    aliases: {pop_est: Population}
    data_url: {url: "https://example.com/countries", format: text/html}
    attribution: {url: "https://www.naturalearthdata.com/", title: Natural Earth}
    metadata_urls:
      - {url: "https://example.com/countries/metadata", type: FGDC, format: text/html}
  - name: cities
    source: {type: geopackage, path: natural_earth.gpkg, table: cities}
  - name: wfs_only
    source: {type: geopackage, path: natural_earth.gpkg, table: cities}
    wms: {publish: false}
"""
GFI = {
    "SERVICE": "WMS",
    "VERSION": "1.3.0",
    "REQUEST": "GetFeatureInfo",
    "CRS": "EPSG:4326",
    "BBOX": "35,-10,60,30",
    "WIDTH": "400",
    "HEIGHT": "250",
    "LAYERS": "countries,cities",
    "QUERY_LAYERS": "countries,cities",
    "STYLES": "",
    "INFO_FORMAT": "text/xml",
    "I": "234",
    "J": "75",
    "FEATURE_COUNT": "10",
}
WMS = "{http://www.opengis.net/wms}"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("publishing")
    shutil.copyfile(demo_project().parent / "natural_earth.gpkg", folder / "natural_earth.gpkg")
    (folder / "pub.yaml").write_text(PROJECT)
    return folder


@pytest.fixture(scope="module")
def ours(folder: Path) -> Iterator[TestClient]:
    server = make_server([folder / "pub.yaml"])
    with client(server) as test_client:
        yield test_client
    server.close()


def get(ours: TestClient, status: int = 200, **params: str) -> bytes:
    response = ours.get("/ows", params=params)
    assert response.status_code == status, response.text[:500]
    return response.content


def capabilities(ours: TestClient) -> etree._Element:
    return etree.fromstring(get(ours, SERVICE="WMS", VERSION="1.3.0", REQUEST="GetCapabilities"))


def info(ours: TestClient, **extra: str) -> dict[str, list[dict[str, str | None]]]:
    root = etree.fromstring(get(ours, **{**GFI, **extra}))
    return {
        str(layer.get("name")): [
            {a.get("name"): a.get("value") for a in feature.iterfind("Attribute")}
            for feature in layer.iterfind("Feature")
        ]
        for layer in root.iterfind("Layer")
    }


def wfs_properties(ours: TestClient, typename: str) -> set[str]:
    body = get(
        ours,
        SERVICE="WFS",
        VERSION="2.0.0",
        REQUEST="GetFeature",
        TYPENAMES=typename,
        COUNT="1",
        OUTPUTFORMAT="application/geo+json",
    )
    return set(json.loads(body)["features"][0]["properties"])


def test_fields_hidden_from_one_service(ours: TestClient) -> None:
    countries = info(ours)["countries"][0]
    # WMS: iso_a3 hidden, continent shown; gdp_md_est hidden everywhere; pop_est by its alias.
    assert set(countries) == {"fid", "Population", "continent", "name"}
    assert wfs_properties(ours, "countries") == {"fid", "pop_est", "name", "iso_a3"}
    items = ours.get("/ogcapi/pub/collections/countries/items", params={"limit": "1", "f": "json"})
    assert items.status_code == 200
    assert set(items.json()["features"][0]["properties"]) == {"fid", "pop_est", "name", "iso_a3"}


def test_aliases_name_attributes_in_text_formats_only(ours: TestClient) -> None:
    text = get(ours, **{**GFI, "INFO_FORMAT": "text/plain"}).decode()
    assert "Population = '" in text and "pop_est" not in text
    geojson = json.loads(get(ours, **{**GFI, "INFO_FORMAT": "application/geo+json"}))
    assert "Population" in geojson["features"][0]["properties"]
    gml = get(ours, **{**GFI, "INFO_FORMAT": "application/vnd.ogc.gml"})
    assert b"pop_est>" in gml and b"Population" not in gml


def test_layer_restricted_from_wms_is_served_in_wfs(ours: TestClient) -> None:
    names = [e.text for e in capabilities(ours).iter(f"{WMS}Name")]
    assert "wfs_only" not in names and "cities" in names
    refused = get(ours, 400, **{**GFI, "LAYERS": "wfs_only", "QUERY_LAYERS": "wfs_only"})
    assert b"LayerNotDefined" in refused
    assert "name" in wfs_properties(ours, "wfs_only")


def test_links_contact_extent_and_size_in_capabilities(ours: TestClient) -> None:
    root = capabilities(ours)
    service = root.find(f"{WMS}Service")
    assert service is not None
    contact = service.find(f"{WMS}ContactInformation")
    assert contact is not None
    assert [e.text for e in contact.iter() if e.text and e.text.strip()] == [
        "Ada Lovelace",
        "Analytical Maps",
        "Cartographer",
        "+44 20 0000 0000",
        "ada@example.com",
    ]
    assert (service.findtext(f"{WMS}MaxWidth"), service.findtext(f"{WMS}MaxHeight")) == (
        "800",
        "600",
    )
    box = root.find(f"{WMS}Capability/{WMS}Layer/{WMS}EX_GeographicBoundingBox")
    assert box is not None and [float(e.text or "") for e in box] == [-20, 40, 30, 70]
    layer = next(e for e in root.iter(f"{WMS}Layer") if e.findtext(f"{WMS}Name") == "countries")
    tags = [etree.QName(e).localname for e in layer]
    # The schema's order: Attribution, MetadataURL, DataURL, then Style.
    assert tags.index("Attribution") < tags.index("MetadataURL") < tags.index("DataURL")
    assert tags.index("DataURL") < tags.index("Style")
    metadata = layer.find(f"{WMS}MetadataURL")
    assert metadata is not None and metadata.get("type") == "FGDC:1998"
    assert layer.findtext(f"{WMS}Attribution/{WMS}Title") == "Natural Earth"


@pytest.mark.parametrize(
    ("width", "height", "status"), [(801, 10, 400), (10, 601, 400), (800, 600, 200)]
)
def test_max_size_refuses_larger_maps(
    ours: TestClient, width: int, height: int, status: int
) -> None:
    body = get(
        ours,
        status,
        SERVICE="WMS",
        VERSION="1.3.0",
        REQUEST="GetMap",
        LAYERS="countries",
        STYLES="",
        CRS="EPSG:4326",
        BBOX="35,-10,60,30",
        WIDTH=str(width),
        HEIGHT=str(height),
        FORMAT="image/png",
    )
    assert (b"InvalidParameterValue" in body) == (status == 400)


def test_feature_info_precision_rounds_geometries(ours: TestClient) -> None:
    params = {**GFI, "INFO_FORMAT": "application/geo+json", "WITH_GEOMETRY": "true"}
    params["QUERY_LAYERS"] = "cities"
    features = json.loads(get(ours, **params))["features"]
    x, y = features[0]["geometry"]["coordinates"]
    assert (round(x, 2), round(y, 2)) == (x, y) and (x, y) != (0, 0)


def write(tmp_path: Path, text: str) -> Path:
    shutil.copyfile(demo_project().parent / "natural_earth.gpkg", tmp_path / "natural_earth.gpkg")
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_unknown_fields_in_aliases_and_service_exclusions_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        layers:
          - name: countries
            source: {type: geopackage, path: natural_earth.gpkg, table: countries}
            fields: {exclude_wfs: [nope]}
            aliases: {nada: Nothing}
        """,
    )
    messages = [str(i) for i in check_project(path, AccessLayer().check_source)]
    assert any("fields.exclude_wfs" in m and "unknown field 'nope'" in m for m in messages)
    assert any("aliases" in m and "unknown field 'nada'" in m for m in messages)


@pytest.mark.parametrize("option", ["wms: {publish: false}", "aliases: {a: b}"])
def test_publication_options_are_errors_on_a_group(tmp_path: Path, option: str) -> None:
    path = write(
        tmp_path,
        f"""\
        layers:
          - name: group
            {option}
            layers:
              - name: countries
                source: {{type: geopackage, path: natural_earth.gpkg, table: countries}}
        """,
    )
    with pytest.raises(ProjectError) as info:
        load_project(path)
    assert "does not apply to a group" in str(info.value.issues[0])


def test_bad_project_wms_values_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        wms: {max_width: 0, feature_info_precision: 18}
        layers:
          - name: countries
            source: {type: geopackage, path: natural_earth.gpkg, table: countries}
        """,
    )
    with pytest.raises(ProjectError) as info:
        load_project(path)
    text = "\n".join(str(i) for i in info.value.issues)
    assert "max_width" in text and "feature_info_precision" in text


def test_viewer_map_leaves_out_layers_restricted_from_wms(ours: TestClient) -> None:
    page = ours.get("/viewer/pub")
    assert page.status_code == 200
    assert '"cities"' in page.text and '"wfs_only"' not in page.text


class _WMSSchemas(etree.Resolver):
    """schemas.opengis.net onto tests/schemas (WMS 1.3.0, SLD, xlink): no network."""

    def resolve(self, url: str, public_id: str, context: Any) -> Any:
        if url.startswith("http://schemas.opengis.net/"):
            path = SCHEMAS / url.removeprefix("http://schemas.opengis.net/")
            return self.resolve_filename(str(path), context)
        if url.endswith("/xml.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xml.xsd"), context)
        return None


@pytest.mark.parametrize(
    ("params", "imports"),
    [
        (
            {"SERVICE": "WFS", "VERSION": "2.0.0"},
            {"http://www.opengis.net/wfs/2.0": "http://schemas.opengis.net/wfs/2.0/wfs.xsd"},
        ),
        (
            {"SERVICE": "WCS", "VERSION": "1.0.0"},
            {"http://www.opengis.net/wcs": "http://schemas.opengis.net/wcs/1.0.0/wcsAll.xsd"},
        ),
        (
            {"SERVICE": "WCS", "VERSION": "2.0.1"},
            {"http://www.opengis.net/wcs/2.0": "http://schemas.opengis.net/wcs/2.0/wcsAll.xsd"},
        ),
        ({"SERVICE": "WMS", "VERSION": "1.3.0"}, {}),
    ],
)
def test_capabilities_with_contact_and_links_are_valid(
    ours: TestClient, params: dict[str, str], imports: dict[str, str]
) -> None:
    body = get(ours, REQUEST="GetCapabilities", **params)
    assert b"Ada Lovelace" in body
    if imports:
        assert_valid(etree.fromstring(body), ogc_schema(imports))
        return
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
    parser.resolvers.add(_WMSSchemas())
    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "sld/1.1.0/sld_capabilities.xsd"), parser))
    assert xsd.validate(etree.fromstring(body)), xsd.error_log


def test_decisions_kept_across_requests_stay_per_service(ours: TestClient) -> None:
    # Capabilities compute the caller's fingerprint, and the project policy's decisions are then
    # kept across requests (access/memo.py): those of a WMS request must not answer a WFS one.
    for _ in range(2):
        capabilities(ours)
        assert wfs_properties(ours, "countries") == {"fid", "pop_est", "name", "iso_a3"}
        described = etree.fromstring(
            get(ours, SERVICE="WFS", VERSION="2.0.0", REQUEST="DescribeFeatureType")
        )
        names = {e.get("name") for e in described.iter("{*}element")}
        assert {"iso_a3", "pop_est"} <= names and "continent" not in names
        get(ours, SERVICE="WFS", VERSION="2.0.0", REQUEST="GetCapabilities")
        assert set(info(ours)["countries"][0]) == {"fid", "Population", "continent", "name"}
