"""A tiny project with a `role` attribute (what the cookbook's access-control examples test),
the reader and edit routes, and the plugin-folder examples."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely

from ogcserve.compat.qgis import QgsRequestHandler, QgsServerFilter, QgsServerInterface, shim
from ogcserve.context import RequestContext
from ogcserve.plugins import ServerInterface
from ogcserve.server import Server
from ogcserve.testing import make_server

QGIS_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qgis_plugins"

STAFF = [
    ("alice", "user", 100),
    ("bob", "admin", 200),
    ("carol", "user", 300),
    ("dave", "guest", 400),
]

PROJECT = """\
name: staff
title: Staff
layers:
  - name: staff
    title: Staff
    source: {type: geopackage, path: staff.gpkg, table: staff}
    key: fid
    wfs: {publish: true, insert: true, update: true, delete: true}
"""


@pytest.fixture(scope="session")
def staff_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("staff")
    points = [shapely.Point(i, i) for i in range(len(STAFF))]
    pyogrio.raw.write(
        str(folder / "staff.gpkg"),
        geometry=np.array(shapely.to_wkb(points), dtype=object),
        field_data=[
            np.array([s[0] for s in STAFF], dtype=object),
            np.array([s[1] for s in STAFF], dtype=object),
            np.array([s[2] for s in STAFF], dtype=np.int64),
        ],
        fields=["name", "role", "salary"],
        layer="staff",
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:4326",
    )
    (folder / "staff.yaml").write_text(PROJECT)
    return folder


@pytest.fixture
def staff_project(
    staff_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Path]:
    """A fresh copy of the project for each server (edits must not leak between them)."""

    def copy() -> Path:
        target = tmp_path_factory.mktemp("staff-copy")
        for item in staff_template.iterdir():
            shutil.copy(item, target)
        return target / "staff.yaml"

    return copy


def edit_route(ctx: RequestContext) -> None:
    """POST /test/edit/{layer}?FID=1&NAME=x: rename a feature through the access layer."""
    data = ctx.server.access
    assert ctx.project is not None
    layer = data.layer(ctx, ctx.project, ctx.request.route["layer"])
    with data.edit(ctx, layer) as editor:
        editor.update(int(ctx.request.parameter("FID")), {"name": ctx.request.parameter("NAME")})
    ctx.response.set_header("Content-Type", "application/json")
    ctx.response.write(json.dumps({"updated": int(ctx.request.parameter("FID"))}))


@pytest.fixture
def routes(reader_plugin: Callable[[ServerInterface], None]) -> Callable[[ServerInterface], None]:
    def setup(iface: ServerInterface) -> None:
        reader_plugin(iface)
        iface.add_route("/test/edit/{layer}", edit_route, methods=("POST",))

    return setup


def qgis(setup: Callable[[QgsServerInterface], Any]) -> Callable[[ServerInterface], Any]:
    """Run a QGIS-style setup with the interface a folder plugin would get."""
    return lambda iface: setup(QgsServerInterface(iface.server, iface.plugin))


@pytest.fixture
def qgis_server(
    staff_project: Callable[[], Path], routes: Callable[[ServerInterface], None]
) -> Iterator[Callable[..., Server]]:
    """A server over the staff project with the cookbook's plugin folders loaded."""
    servers: list[Server] = []

    def build(*plugins: Callable[[ServerInterface], Any]) -> Server:
        server = make_server(
            [staff_project()], plugin_paths=[QGIS_EXAMPLES], plugins=[routes, *plugins]
        )
        servers.append(server)
        return server

    yield build
    for server in servers:
        server.close()
    shim.uninstall()


def handler(request_filter: QgsServerFilter) -> QgsRequestHandler:
    """`self.serverInterface().requestHandler()`, which is never None inside a hook."""
    found = request_filter.serverInterface().requestHandler()
    assert found is not None
    return found
