"""QGIS plugins write their access rules on the feature key (`"fid" = 1`, `"fid" IN (3, 4)`,
`$id`): a plugin folder loaded through the QGIS facade, as QGIS Server would load it, restricts
the rows of every read and edit, and may hide the key like any attribute."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ogcserve.compat.qgis import shim
from ogcserve.plugins import ServerInterface
from ogcserve.server import Server
from ogcserve.services import wfs
from ogcserve.testing import call, make_server

PLUGIN = """
from qgis.server import QgsAccessControlFilter


class KeyRules(QgsAccessControlFilter):
    def layerFilterExpression(self, layer):
        return {expression!r}

    def layerFilterSubsetString(self, layer):
        return {subset!r}

    def authorizedLayerAttributes(self, layer, attributes):
        return [a for a in attributes if a not in {hidden!r}]

    def allowToEdit(self, layer, feature):
        # The key is an attribute of the feature, as in QGIS.
        return feature.attribute("fid") == feature.id()


def serverClassFactory(serverIface):
    serverIface.registerAccessControl(KeyRules(serverIface), 100)
"""

METADATA = "[general]\nname=KeyRules\nqgisMinimumVersion=3\nversion=1.0\nserver=True\n"


def _wfs(iface: ServerInterface) -> None:
    iface.server.services.unregister("WFS")
    wfs.setup(iface)


@pytest.fixture
def key_server(
    staff_project: Callable[[], Path], routes: Callable[[ServerInterface], None], tmp_path: Path
) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def build(expression: str = "", subset: str = "", hidden: tuple[str, ...] = ()) -> Server:
        # A package name of its own: Python keeps an imported plugin package in sys.modules.
        folder = tmp_path / f"plugins{len(servers)}" / f"KeyRules_{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        (folder / "metadata.txt").write_text(METADATA)
        (folder / "__init__.py").write_text(
            PLUGIN.format(expression=expression, subset=subset, hidden=list(hidden))
        )
        server = make_server(
            [staff_project()], plugin_paths=[folder.parent], plugins=[routes, _wfs]
        )
        servers.append(server)
        return server

    yield build
    for server in servers:
        server.close()
    shim.uninstall()


def _rows(server: Server) -> tuple[int | None, dict[str, object]]:
    result = call(server, "/test/features/staff")
    return result.status, json.loads(result.body)


@pytest.mark.parametrize(
    ("expression", "subset", "expected"),
    [
        ('"fid" = 1', "", [1]),
        ("$id = 2", "", [2]),
        ("", '"fid" IN (3, 4)', [3, 4]),
        ('"fid" > 1', "fid < 4", [2, 3]),
    ],
)
def test_rules_on_the_key_restrict_rows(
    key_server: Callable[..., Server], expression: str, subset: str, expected: list[int]
) -> None:
    server = key_server(expression, subset)
    status, doc = _rows(server)
    assert status == 200, doc
    features = doc["features"]
    assert isinstance(features, list)
    assert [f["id"] for f in features] == expected
    assert [f["properties"]["fid"] for f in features] == expected
    gml = call(server, "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=staff")
    assert gml.status == 200
    assert gml.body.count(b"<ogcserve:fid>") == len(expected)


def test_a_rule_on_the_key_governs_edits(key_server: Callable[..., Server]) -> None:
    server = key_server('"fid" = 1')
    allowed = call(server, "/test/edit/staff?FID=1&NAME=x", method="POST")
    assert allowed.status == 200, allowed.body
    refused = call(server, "/test/edit/staff?FID=2&NAME=x", method="POST")
    assert refused.status == 404  # not among the caller's rows


def test_the_key_can_be_hidden_like_any_attribute(key_server: Callable[..., Server]) -> None:
    server = key_server('"fid" IN (1, 2)', hidden=("fid",))
    status, doc = _rows(server)
    assert status == 200
    features = doc["features"]
    assert isinstance(features, list)
    assert [(f["id"], sorted(f["properties"])) for f in features] == [
        (1, ["name", "role", "salary"]),
        (2, ["name", "role", "salary"]),
    ]
    described = call(
        server, "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=staff"
    )
    assert b'name="fid"' not in described.body and b'name="salary"' in described.body
