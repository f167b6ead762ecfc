"""The seed documents' code, as plugin folders (examples/qgis_plugins), behaves as they say."""

from __future__ import annotations

import importlib
import io
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from ogcserve.compat.qgis import QgsServerInterface
from ogcserve.context import RequestContext
from ogcserve.errors import MissingParameterValueError
from ogcserve.plugins import ServerInterface, Service
from ogcserve.server import Server
from ogcserve.testing import call

from .conftest import qgis

Build = Callable[..., Server]


class FakeGetMap(Service):
    """Stands in for WMS GetMap (not built yet): a blue 100x100 PNG, or an error document."""

    name, version = "WMS", "1.3.0"

    def execute(self, ctx: RequestContext) -> None:
        if ctx.request.parameter("REQUEST").upper() != "GETMAP":
            raise MissingParameterValueError("only GetMap here", locator="REQUEST")
        if not ctx.request.parameter("LAYERS"):
            raise MissingParameterValueError("LAYERS is missing", locator="LAYERS")
        buffer = io.BytesIO()
        Image.new("RGB", (100, 100), (0, 0, 255)).save(buffer, "PNG")
        ctx.response.set_header("Content-Type", "image/png")
        ctx.response.write(buffer.getvalue())


def fake_wms(iface: ServerInterface) -> None:
    iface.server.services.unregister("WMS")
    iface.register_service(FakeGetMap())


class EchoParam(Service):
    name, version = "ECHOPARAM", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.write(ctx.request.parameter("TEST_NEW_PARAM"))


def test_the_plugin_folders_load_through_the_shim(qgis_server: Build) -> None:
    server = qgis_server()
    records = {r.name: r for r in server.plugins}
    assert records["HelloServer"].status == "loaded", records["HelloServer"].error
    assert records["MyAccessControl"].status == "loaded", records["MyAccessControl"].error
    assert sys.modules["qgis.server"].QgsServerFilter.__module__ == "ogcserve.compat.qgis.filters"
    # HelloFilter was registered as a class (registerFilter(HelloFilter, 100)) and built.
    names = {p: [type(f).__name__ for f in fs] for p, fs in server.filters.by_priority().items()}
    assert names[100] == ["HelloFilter"] and names[200] == ["ParamsFilter"]


def test_hello_filter_answers_service_hello(qgis_server: Build) -> None:
    result = call(qgis_server(), "/ows?SERVICE=HELLO&REQUEST=GetOutput")
    assert result.status == 200
    assert result.body == b"HelloServer!"
    assert result.headers == {"Content-type": "text/plain", "Content-Length": "12"}


def test_params_filter_injects_a_parameter_the_service_sees(
    qgis_server: Build, caplog: pytest.LogCaptureFixture
) -> None:
    server = qgis_server(lambda iface: iface.register_service(EchoParam()))
    with caplog.at_level(logging.INFO, logger="qgis"):
        result = call(server, "/ows?SERVICE=ECHOPARAM")
    assert result.body == b"ParamsFilter"
    assert (
        "qgis.plugin",
        logging.INFO,
        "SUCCESS - ParamsFilter.responseComplete",
    ) in caplog.record_tuples
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]


def test_watermark_is_stamped_on_getmap(qgis_server: Build) -> None:
    result = call(qgis_server(fake_wms), "/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=staff")
    assert result.status == 200
    image = Image.open(io.BytesIO(result.body))
    assert image.format == "PNG" and image.size == (100, 100)
    rgb = image.convert("RGB")
    assert rgb.getpixel((30, 30)) == (200, 0, 0)  # inside QRect(20, 20, 40, 40)
    assert rgb.getpixel((10, 10)) == (0, 0, 255)
    assert rgb.getpixel((70, 70)) == (0, 0, 255)


def test_watermark_leaves_error_documents_alone(qgis_server: Build) -> None:
    result = call(qgis_server(fake_wms), "/ows?SERVICE=WMS&REQUEST=GetMap")
    assert result.status == 400
    assert result.body == b"MissingParameterValue: LAYERS is missing\n"  # not an image, untouched


def _rows(server: Server) -> tuple[int | None, Any]:
    result = call(server, "/test/features/staff")
    return result.status, json.loads(result.body)


def _example(name: str) -> Callable[[ServerInterface], Any]:
    # The cookbook's method examples; constructing one registers it (at 100).
    return qgis(
        lambda iface: getattr(importlib.import_module("MyAccessControl.examples"), name)(iface)
    )


def test_access_control_skeleton_gives_full_access(qgis_server: Build) -> None:
    status, doc = _rows(qgis_server())
    assert status == 200 and doc["count"] == 4
    assert sorted(doc["features"][0]["properties"]) == ["fid", "name", "role", "salary"]


def test_subset_string_example_keeps_the_users(qgis_server: Build) -> None:
    status, doc = _rows(qgis_server(_example("RoleSubsetString")))
    assert status == 200
    assert [f["properties"]["role"] for f in doc["features"]] == ["user", "user"]


def test_expression_example_is_refused_not_ignored(qgis_server: Build) -> None:
    # "$role = 'user'" is not a QGIS expression ($role is no function): QGIS returns no rows,
    # ogcserve answers an error; neither leaks rows (docs/qgis-compat.md).
    status, doc = _rows(qgis_server(_example("RoleExpression")))
    assert status == 400 and "features" not in doc


def test_permissions_example_denies_the_layer(qgis_server: Build) -> None:
    # The cookbook says "read only", but its code sets canRead back to False: QGIS denies too.
    status, doc = _rows(qgis_server(_example("ReadOnly")))
    assert status == 403 and doc["code"] == "Security"


def test_attributes_example_hides_role(qgis_server: Build) -> None:
    status, doc = _rows(qgis_server(_example("HideRole")))
    assert status == 200 and doc["count"] == 4
    assert all(sorted(f["properties"]) == ["fid", "name", "salary"] for f in doc["features"])


@pytest.mark.parametrize(("fid", "status"), [(1, 200), (2, 403), (4, 403)])
def test_allow_to_edit_example_lets_users_edit_only_user_rows(
    qgis_server: Build, fid: int, status: int
) -> None:
    server = qgis_server(_example("EditUsersOnly"))
    assert call(server, f"/test/edit/staff?FID={fid}&NAME=x", method="POST").status == status
    names = [f["properties"]["name"] for f in _rows(server)[1]["features"]]
    assert (names[fid - 1] == "x") is (status == 200)


def test_cache_key_none_example_still_serves(qgis_server: Build) -> None:
    status, doc = _rows(qgis_server(_example("NoCache")))
    assert status == 200 and doc["count"] == 4


def test_python2_import_of_the_same_named_module(qgis_server: Build) -> None:
    # __init__.py says `from HelloServer import HelloServerServer` (Python 2 implicit relative
    # import): the package resolves it from its sibling module HelloServer.py.
    qgis_server()
    package = sys.modules["HelloServer"]
    assert package.HelloServerServer is sys.modules["HelloServer.HelloServer"].HelloServerServer
    with pytest.raises(ImportError):
        exec("from HelloServer import NoSuchThing", {})


def test_interface_given_to_folder_plugins_is_the_qgis_one(qgis_server: Build) -> None:
    server = qgis_server()
    record = next(r for r in server.plugins if r.name == "HelloServer")
    assert isinstance(record.instance.serverIface, QgsServerInterface)
