"""One QGIS access-control plugin, written as QGIS users write them, run unchanged by QGIS
Server 3.22 (Debian's qgis_mapserv.fcgi as CGI, QGIS_PLUGINPATH) and by ogcserve on the same
`.qgs` and GeoPackage: its rules on the feature key (`"fid" IN (...)`, a subset string on
`fid`) keep the same rows, the key is an attribute in both, the same attribute is hidden, and
a layer forbidden by its QGIS name (not the short name requests use) is 403 `Security` in
GetMap, GetFeatureInfo and GetFeature in both (issue 10, items 1 and 3; docs/qgis-compat.md, "One access-control plugin, both servers")."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from qgis_project_support import (
    QGIS_SERVER,
    layer,
    make_data,
    qgis_missing,
    qgis_server,
    write_projects,
)

from ogcserve.server import Server
from ogcserve.testing import call, make_server

PLUGIN = """
from qgis.server import QgsAccessControlFilter


class KeyRules(QgsAccessControlFilter):
    def layerPermissions(self, layer):
        rights = super().layerPermissions(layer)
        if layer.name() == "Big cities":  # the layer's name in QGIS, not its short name
            rights.canRead = rights.canInsert = rights.canUpdate = rights.canDelete = False
        return rights

    def layerFilterExpression(self, layer):
        return '"fid" IN (3, 4, 44)' if layer.name() == "countries" else ""

    def layerFilterSubsetString(self, layer):
        return '"fid" < 40' if layer.name() == "countries" else ""

    def authorizedLayerAttributes(self, layer, attributes):
        return [a for a in attributes if a != "pop_est"]

    def cacheKey(self):
        return ""


def serverClassFactory(serverIface):
    serverIface.registerAccessControl(KeyRules(serverIface), 100)
    return serverIface
"""
METADATA = """[general]
name=KeyRules
description=Access rules on the feature key
version=1.0
qgisMinimumVersion=3.0
author=ogcserve tests
email=tests@example.org
server=True
"""

GETFEATURE = {
    "SERVICE": "WFS",
    "VERSION": "1.1.0",
    "REQUEST": "GetFeature",
    "TYPENAME": "countries",
    "OUTPUTFORMAT": "application/vnd.geo+json",
    "SRSNAME": "EPSG:4326",
}
FID_3 = (
    '<Filter xmlns="http://www.opengis.net/ogc"><PropertyIsEqualTo><PropertyName>fid'
    "</PropertyName><Literal>3</Literal></PropertyIsEqualTo></Filter>"
)
# Canada (fid 4) at pixel (75, 30) of a world map, one pixel a degree.
GFI = {
    "SERVICE": "WMS",
    "VERSION": "1.3.0",
    "REQUEST": "GetFeatureInfo",
    "CRS": "EPSG:4326",
    "BBOX": "-90,-180,90,180",
    "WIDTH": "360",
    "HEIGHT": "180",
    "STYLES": "",
    "INFO_FORMAT": "application/json",
    "I": "75",
    "J": "30",
    "FEATURE_COUNT": "10",
}
GETMAP = {
    "SERVICE": "WMS",
    "VERSION": "1.3.0",
    "REQUEST": "GetMap",
    "CRS": "EPSG:4326",
    "BBOX": "-90,-180,90,180",
    "WIDTH": "36",
    "HEIGHT": "18",
    "STYLES": "",
    "FORMAT": "image/png",
}
READS: dict[str, dict[str, str]] = {
    "rows": GETFEATURE,
    "exp_filter": {**GETFEATURE, "EXP_FILTER": '"fid" = 4'},
    "exp_filter $id": {**GETFEATURE, "EXP_FILTER": "$id = 3"},
    "fes filter": {**GETFEATURE, "FILTER": FID_3},
    "sortby": {**GETFEATURE, "SORTBY": "fid DESC"},
    "propertyname": {**GETFEATURE, "PROPERTYNAME": "fid,name"},
    "getfeatureinfo": {**GFI, "LAYERS": "countries", "QUERY_LAYERS": "countries"},
}
FORBIDDEN: dict[str, dict[str, str]] = {
    "getfeatureinfo QUERY_LAYERS": {**GFI, "LAYERS": "cities", "QUERY_LAYERS": "cities"},
    "getfeatureinfo LAYERS": {**GFI, "LAYERS": "countries,cities", "QUERY_LAYERS": "countries"},
    "getmap": {**GETMAP, "LAYERS": "cities"},
    "getfeature": {**GETFEATURE, "TYPENAME": "cities"},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = qgis_missing()
    if reason:
        pytest.skip(f"PyQGIS cannot write the project: {reason}")
    if not os.access(QGIS_SERVER, os.X_OK):
        pytest.skip(f"QGIS Server is not installed ({QGIS_SERVER})")
    folder = tmp_path_factory.mktemp("same_plugin")
    make_data(folder)
    gpkg = f"{folder}/natural_earth.gpkg"
    spec = {
        "out": str(folder / "rules.qgs"),
        "title": "Rules",
        "layers": [
            layer("countries", f"{gpkg}|layername=countries"),
            layer("Big cities", f"{gpkg}|layername=cities", short="cities"),
        ],
        "settings": {"WMSCrsList": ["EPSG:4326"], "WFSLayers": ["countries", "Big cities"]},
    }
    write_projects([spec], folder)
    plugin = folder / "plugins" / "KeyRules"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text(PLUGIN)
    (plugin / "metadata.txt").write_text(METADATA)
    (folder / "home").mkdir()
    return folder


@pytest.fixture(scope="module")
def theirs(folder: Path) -> dict[str, tuple[int, bytes]]:
    # One request at a time: QGIS Server processes run side by side on one GeoPackage and one
    # HOME sometimes answered an empty collection.
    return {
        key: qgis_server(folder / "rules.qgs", params, folder / "home", folder / "plugins")[::2]
        for key, params in {**READS, **FORBIDDEN}.items()
    }


@pytest.fixture(scope="module")
def ours(folder: Path) -> Iterator[Server]:
    server = make_server([folder / "rules.qgs"], plugin_paths=[folder / "plugins"])
    yield server
    server.close()


def _ask(server: Server, folder: Path, params: dict[str, str]) -> tuple[int, bytes]:
    query = urlencode({"MAP": str(folder / "rules.qgs"), **params}, quote_via=quote)
    result = call(server, f"/ows?{query}")
    return result.status, result.body


def _features(body: bytes) -> list[tuple[Any, dict[str, Any]]]:
    """(id, properties) of each feature of a GeoJSON answer."""
    return [(f["id"], f["properties"]) for f in json.loads(body)["features"]]


@pytest.mark.parametrize("read", READS)
def test_the_same_rows_and_attributes(
    theirs: dict[str, tuple[int, bytes]], ours: Server, folder: Path, read: str
) -> None:
    status, body = _ask(ours, folder, READS[read])
    assert status == 200, body[:400]
    assert theirs[read][0] == 200, theirs[read][1][:400]
    expected = _features(theirs[read][1])
    mine = _features(body)
    assert mine == expected
    assert all("fid" in p and "pop_est" not in p for _, p in mine)


def test_the_rules_keep_rows_3_and_4(theirs: dict[str, tuple[int, bytes]]) -> None:
    assert [i for i, _ in _features(theirs["rows"][1])] == ["countries.3", "countries.4"]


@pytest.mark.parametrize("request_name", FORBIDDEN)
def test_a_forbidden_layer_is_security_in_both(
    theirs: dict[str, tuple[int, bytes]], ours: Server, folder: Path, request_name: str
) -> None:
    code = re.compile(rb'(?:code|exceptionCode)="([^"]+)"')
    status, body = theirs[request_name]
    assert status == 403 and code.findall(body) == [b"Security"], body[:400]
    status, body = _ask(ours, folder, FORBIDDEN[request_name])
    assert status == 403 and code.findall(body) == [b"Security"], body[:400]
