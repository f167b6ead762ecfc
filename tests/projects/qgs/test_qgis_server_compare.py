"""The same `.qgs` served by QGIS Server 3.22 and by ogcserve: the same WMS layer tree, the same
GetFeatureInfo attributes, the same WFS and WCS layers, the same WFS feature sets.

QGIS Server runs as CGI (one process per request, all of them in parallel once per module);
ogcserve serves the file with its demo YAML project beside it, chosen by `MAP=<path>` as QGIS
Server's clients send it. Both name an attribute by its alias in GetFeatureInfo (text, XML,
GeoJSON), hide fields per service, serve a layer restricted from WMS in WFS, write the
project's contact, advertised extent, maximum size and layer links in the capabilities, and
refuse a map larger than the maximum size.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from qgis_project_support import QGIS_SERVER, qgis_server
from starlette.testclient import TestClient

from ogcserve.cli import demo_project
from ogcserve.testing import client, make_server

WMS = "{http://www.opengis.net/wms}"
# A map of Europe in EPSG:4326 (WMS 1.3.0: latitude first); Berlin at pixel (234, 75).
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
    "FI_POINT_TOLERANCE": "8",
}
WFS_TYPES = ("countries", "cities", "countries_json", "boroughs", "b_places", "hidden_places")
MAP = {
    "SERVICE": "WMS",
    "VERSION": "1.3.0",
    "REQUEST": "GetMap",
    "CRS": "EPSG:4326",
    "BBOX": "35,-10,60,30",
    "LAYERS": "countries",
    "STYLES": "",
    "FORMAT": "image/png",
}
REQUESTS: dict[str, dict[str, str]] = {
    "wms": {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"},
    "wms111": {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetCapabilities"},
    "gfi": GFI,
    "gfi_json": {**GFI, "INFO_FORMAT": "application/json"},
    "gfi_text": {**GFI, "INFO_FORMAT": "text/plain"},
    "gfi_hidden": {**GFI, "LAYERS": "hidden_places", "QUERY_LAYERS": "hidden_places"},
    "gfi_group": {**GFI, "LAYERS": "world", "QUERY_LAYERS": "world"},
    "map_at_max": {**MAP, "WIDTH": "2000", "HEIGHT": "20"},
    "map_too_wide": {**MAP, "WIDTH": "2001", "HEIGHT": "20"},
    "map_too_high": {**MAP, "WIDTH": "20", "HEIGHT": "1501"},
    "describe": {
        "SERVICE": "WFS",
        "VERSION": "1.1.0",
        "REQUEST": "DescribeFeatureType",
        "TYPENAME": "countries",
    },
    "wfs": {"SERVICE": "WFS", "VERSION": "1.1.0", "REQUEST": "GetCapabilities"},
    "wcs": {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCapabilities"},
    **{
        f"gml:{name}": {
            "SERVICE": "WFS",
            "VERSION": "1.1.0",
            "REQUEST": "GetFeature",
            "TYPENAME": name,
            "SRSNAME": "EPSG:4326",
        }
        for name in ("countries", "cities")
    },
    **{
        f"features:{name}": {
            "SERVICE": "WFS",
            "VERSION": "1.1.0",
            "REQUEST": "GetFeature",
            "TYPENAME": name,
            "OUTPUTFORMAT": "application/vnd.geo+json",
            "SRSNAME": "EPSG:4326",
        }
        for name in WFS_TYPES
    },
}


@pytest.fixture(scope="module")
def qgis_answers(qgis_folder: Path) -> dict[str, tuple[int, bytes]]:
    if not os.access(QGIS_SERVER, os.X_OK):
        pytest.skip(f"QGIS Server is not installed ({QGIS_SERVER})")
    home = qgis_folder / "qgis-server-home"
    home.mkdir(exist_ok=True)
    project = qgis_folder / "main.qgs"
    with ThreadPoolExecutor(4) as pool:
        done = {
            key: pool.submit(qgis_server, project, params, home) for key, params in REQUESTS.items()
        }
        answers = {}
        for key, future in done.items():
            status, _, body = future.result()
            answers[key] = (status, body)
    return answers


def qgis_ok(answers: dict[str, tuple[int, bytes]], key: str) -> bytes:
    """QGIS Server's answer to a request it must accept."""
    status, body = answers[key]
    assert status == 200, (key, body[:500])
    return body


@pytest.fixture(scope="module")
def ours(qgis_folder: Path) -> Iterator[TestClient]:
    # A mixed set: the demo YAML project is the default one, the .qgs is chosen by MAP.
    server = make_server([demo_project(), qgis_folder / "main.qgs"])
    with client(server) as test_client:
        yield test_client
    server.close()
    shutil.rmtree(qgis_folder / "qgis-server-home", ignore_errors=True)


def ask(ours: TestClient, folder: Path, key: str, status: int = 200) -> bytes:
    response = ours.get("/ows", params={"MAP": str(folder / "main.qgs"), **REQUESTS[key]})
    assert response.status_code == status, response.text[:500]
    return response.content


def wms_tree(body: bytes) -> list[Any]:
    """The layers under the root layer: name, title, scale range, queryable (data layers),
    children."""
    root = etree.fromstring(body).find(f"{WMS}Capability/{WMS}Layer")
    assert root is not None
    return [_node(layer) for layer in root.iterfind(f"{WMS}Layer")]


def _node(layer: etree._Element) -> Any:
    children = [_node(child) for child in layer.iterfind(f"{WMS}Layer")]
    return {
        "name": layer.findtext(f"{WMS}Name"),
        "title": layer.findtext(f"{WMS}Title"),
        "scales": tuple(  # as numbers: QGIS Server writes 5e+08
            float(text) if text is not None else None
            for text in (
                layer.findtext(f"{WMS}MinScaleDenominator"),
                layer.findtext(f"{WMS}MaxScaleDenominator"),
            )
        ),
        "queryable": None if children else layer.get("queryable", "0"),
        "children": children,
    }


def test_capabilities_layer_tree(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    theirs = wms_tree(qgis_ok(qgis_answers, "wms"))
    mine = wms_tree(ask(ours, qgis_folder, "wms"))
    assert [n["name"] for n in theirs] == [
        "world",
        "countries_json",
        "boroughs",
        "b_places",
        "elevation",
    ]
    assert mine == theirs


def service(body: bytes) -> tuple[str | None, str | None, list[str | None], list[str | None]]:
    """Service title, abstract, keywords; the CRSs of the root layer."""
    root = etree.fromstring(body)
    words = [
        k.text
        for k in root.iterfind(f"{WMS}Service/{WMS}KeywordList/{WMS}Keyword")
        # QGIS Server adds WMS 1.3.0's ISO keyword to every service; not a project setting.
        if k.text != "infoMapAccessService"
    ]
    crs = [c.text for c in root.iterfind(f"{WMS}Capability/{WMS}Layer/{WMS}CRS")]
    return (
        root.findtext(f"{WMS}Service/{WMS}Title"),
        root.findtext(f"{WMS}Service/{WMS}Abstract"),
        sorted(words),
        sorted(crs),
    )


def test_capabilities_service(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    theirs = service(qgis_ok(qgis_answers, "wms"))
    assert theirs[:2] == ("Main WMS", "Served from a QGIS project")
    assert service(ask(ours, qgis_folder, "wms")) == theirs


def tree(element: etree._Element | None) -> Any:
    """An element as (local name, text, attributes, children), namespaces left out."""
    if element is None:
        return None
    attributes = {k.split("}")[-1]: v for k, v in element.attrib.items()}
    children = [tree(child) for child in element if isinstance(child.tag, str)]
    text = (element.text or "").strip()
    return (etree.QName(element).localname, text, attributes, children)


def metadata(body: bytes) -> dict[str, Any]:
    """Contact, maximum size, the root layer's geographic extent and the countries layer's
    keywords and links, as (tag, text, attributes) trees."""
    root = etree.fromstring(body)

    countries = next(
        layer for layer in root.iter("{*}Layer") if layer.findtext("{*}Name") == "countries"
    )
    links = ("KeywordList", "Attribution", "MetadataURL", "DataURL")
    top = root.find("{*}Capability/{*}Layer")
    assert top is not None
    return {
        "contact": tree(root.find("{*}Service/{*}ContactInformation")),
        "size": [root.findtext(f"{{*}}Service/{{*}}{k}") for k in ("MaxWidth", "MaxHeight")],
        "extent": tree(top.find("{*}EX_GeographicBoundingBox")),
        "latlon": tree(top.find("{*}LatLonBoundingBox")),
        "links": [tree(countries.find(f"{{*}}{name}")) for name in links],
    }


@pytest.mark.parametrize("key", ["wms", "wms111"])
def test_capabilities_metadata(
    key: str, qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    theirs = metadata(qgis_ok(qgis_answers, key))
    assert theirs["contact"] is not None and all(theirs["links"])
    if key == "wms":
        assert theirs["size"] == ["2000", "1500"]
        assert theirs["extent"] is not None
    assert metadata(ask(ours, qgis_folder, key)) == theirs


@pytest.mark.parametrize(("key", "path"), [("wfs", "{*}ServiceProvider"), ("wcs", "{*}Service")])
def test_wfs_and_wcs_contact(
    key: str,
    path: str,
    qgis_answers: dict[str, tuple[int, bytes]],
    ours: TestClient,
    qgis_folder: Path,
) -> None:
    def contact(body: bytes) -> Any:
        found = etree.fromstring(body).find(path)
        if key == "wcs" and found is not None:
            found = found.find("{*}responsibleParty")
        return tree(found)

    def unordered(node: Any) -> Any:
        # QGIS Server writes WCS 1.0's address before phone, the schema phone first (ours).
        name, text, attributes, children = node
        return (name, text, attributes, sorted(map(unordered, children), key=str))

    theirs = contact(qgis_ok(qgis_answers, key))
    assert theirs is not None and "Ada Lovelace" in str(theirs)
    assert unordered(contact(ask(ours, qgis_folder, key))) == unordered(theirs)


def feature_info(body: bytes) -> dict[str, list[dict[str, str]]]:
    root = etree.fromstring(body)
    return {
        str(layer.get("name")): sorted(
            (
                {a.get("name"): _number(a.get("value")) for a in feature.iterfind("Attribute")}
                for feature in layer.iterfind("Feature")
            ),
            key=lambda attributes: json.dumps(attributes, sort_keys=True),
        )
        for layer in root.iterfind("Layer")
    }


def _number(text: str | None) -> str | float | None:
    """A value as a number where it is one: QGIS Server writes the real 83132799.0 as
    "83132799", ogcserve as "83132799.0" (the same value)."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return text


def test_feature_info_attributes(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    theirs = feature_info(qgis_ok(qgis_answers, "gfi"))
    mine = feature_info(ask(ours, qgis_folder, "gfi"))
    # Both name pop_est and continent by their aliases; gdp_md_est (hidden from WMS and WFS)
    # and iso_a3 (from WMS only) are in neither; continent (hidden from WFS only) is.
    assert theirs["cities"], "Berlin is under the pixel"
    assert set(theirs["countries"][0]) == {"fid", "Population", "Continent", "name"}
    assert mine == theirs


def test_feature_info_of_a_group_in_tree_order(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    """A group answers for its members in the layer tree's order (the top one first), though
    it draws them the other way round."""
    theirs = qgis_ok(qgis_answers, "gfi_group")
    mine = ask(ours, qgis_folder, "gfi_group")
    assert list(feature_info(theirs)) == ["cities", "countries"]
    assert list(feature_info(mine).items()) == list(feature_info(theirs).items())


def test_feature_info_aliases_per_format(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    def json_names(body: bytes) -> list[set[str]]:
        return [set(f["properties"]) for f in json.loads(body)["features"]]

    def text_names(body: bytes) -> list[str]:
        return [line.split(" = ")[0] for line in body.decode().splitlines() if " = " in line]

    theirs, mine = qgis_ok(qgis_answers, "gfi_json"), ask(ours, qgis_folder, "gfi_json")
    assert {"Population", "Continent"} <= json_names(theirs)[0]
    assert json_names(mine) == json_names(theirs)
    theirs, mine = qgis_ok(qgis_answers, "gfi_text"), ask(ours, qgis_folder, "gfi_text")
    assert "Population" in text_names(theirs)
    assert text_names(mine) == text_names(theirs)


def test_wms_restricted_layer_is_not_in_wms(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    status, body = qgis_answers["gfi_hidden"]
    assert status == 400 and b"LayerNotDefined" in body
    assert b"LayerNotDefined" in ask(ours, qgis_folder, "gfi_hidden", status=400)


@pytest.mark.parametrize("key", ["map_too_wide", "map_too_high"])
def test_map_larger_than_the_maximum_is_refused(
    key: str, qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    status, body = qgis_answers[key]
    assert status == 400 and b"InvalidParameterValue" in body
    assert b"InvalidParameterValue" in ask(ours, qgis_folder, key, status=400)
    assert qgis_answers["map_at_max"][0] == 200
    ask(ours, qgis_folder, "map_at_max")


def test_fields_hidden_per_service_in_wfs(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    def elements(body: bytes) -> set[str | None]:
        root = etree.fromstring(body)
        found = {e.get("name") for e in root.iter("{*}element")}
        return found - {"countries", "geometry", "geom"}

    theirs = elements(qgis_ok(qgis_answers, "describe"))
    assert theirs == {"fid", "pop_est", "name", "iso_a3"}  # continent: hidden from WFS only
    assert elements(ask(ours, qgis_folder, "describe")) == theirs


def type_names(body: bytes) -> set[str]:
    root = etree.fromstring(body)
    names = {
        (element.text or "").split(":")[-1]
        for element in root.iter()
        if isinstance(element.tag, str) and element.tag.endswith("FeatureType")
        for element in element.iterfind("{*}Name")
    }
    return names


def test_wfs_and_wcs_layers(
    qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    theirs = type_names(qgis_ok(qgis_answers, "wfs"))
    # hidden_places is restricted from WMS and published in WFS: both serve it in WFS.
    assert theirs == set(WFS_TYPES)
    assert type_names(ask(ours, qgis_folder, "wfs")) == theirs

    def coverages(body: bytes) -> set[str | None]:
        return {
            e.findtext("{*}name") for e in etree.fromstring(body).iter("{*}CoverageOfferingBrief")
        }

    wcs = coverages(qgis_ok(qgis_answers, "wcs"))
    assert coverages(ask(ours, qgis_folder, "wcs")) == wcs == {"elevation"}


def feature_set(body: bytes) -> list[tuple[str, str]]:
    """Each feature's attributes and geometry bounds (to 3 decimals), sorted."""
    collection = json.loads(body)
    found = []
    for feature in collection["features"]:
        properties = {k: v for k, v in (feature.get("properties") or {}).items()}
        found.append((json.dumps(properties, sort_keys=True, default=str), _bounds(feature)))
    return sorted(found)


def _bounds(feature: dict[str, Any]) -> str:
    import shapely.geometry

    geometry = feature.get("geometry")
    if not geometry:
        return ""
    return ",".join(f"{v:.3f}" for v in shapely.geometry.shape(geometry).bounds)


@pytest.mark.parametrize("name", WFS_TYPES)
def test_wfs_feature_sets(
    name: str, qgis_answers: dict[str, tuple[int, bytes]], ours: TestClient, qgis_folder: Path
) -> None:
    theirs = feature_set(qgis_ok(qgis_answers, f"features:{name}"))
    mine = feature_set(ask(ours, qgis_folder, f"features:{name}"))
    assert theirs, f"QGIS Server serves features of {name}"
    assert mine == theirs


def _decimals(body: bytes) -> int:
    """The most decimals of any coordinate of a GML answer (its pos and posList texts)."""
    root = etree.fromstring(body)
    texts = [e.text or "" for e in root.iter() if etree.QName(e).localname in ("pos", "posList")]
    assert texts
    return max(len(number.partition(".")[2]) for text in texts for number in text.split())


@pytest.mark.parametrize(("name", "decimals"), [("countries", 3), ("cities", 6)])
def test_wfs_precision(
    name: str,
    decimals: int,
    qgis_answers: dict[str, tuple[int, bytes]],
    ours: TestClient,
    qgis_folder: Path,
) -> None:
    """WFSLayersPrecision (3 for countries), else QGIS Server's default of 6 decimals, in GML.
    (QGIS Server 3.22 writes GeoJSON with 6 decimals whatever the setting; ogcserve applies it
    to GeoJSON too.)"""
    theirs = _decimals(qgis_ok(qgis_answers, f"gml:{name}"))
    mine = _decimals(ask(ours, qgis_folder, f"gml:{name}"))
    assert (theirs, mine) == (decimals, decimals)
