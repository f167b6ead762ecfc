"""Support for the OGC API - Features Part 4 tests: an editable GeoPackage project (`parcels`,
with NOT NULL columns), an access plugin keyed on an X-Role header, and request contexts."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import shapely

from ogcserve.context import RequestContext, current_context
from ogcserve.features import Feature
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink, ServerResponse
from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.sources.gpkg_binary import encode_gpkg_geometry
from ogcserve.testing import make_server

DEMO = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"

PROJECT = """
name: edit
title: Editable
layers:
  - name: parcels
    title: Parcels
    source: {type: geopackage, path: data.gpkg, table: parcels}
    key: fid
    wfs: {insert: true, update: true, delete: true}
  - name: countries
    title: Countries
    source: {type: geopackage, path: data.gpkg, table: countries}
    key: fid
  - name: boroughs
    title: NYC boroughs (EPSG:2263)
    source: {type: geopackage, path: data.gpkg, table: nyc_boroughs}
    key: fid
    wfs: {update: true}
"""


def make_parcels(path: Path, rows: int = 6) -> None:
    """A point table `parcels` (EPSG:4326): odd rows role 'a', even rows role 'b'."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE parcels (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB,"
            " role TEXT NOT NULL, name TEXT NOT NULL, value INTEGER)"
        )
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('parcels', 'features', 'parcels', 4326)"
        )
        conn.execute(
            "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name,"
            " srs_id, z, m) VALUES ('parcels', 'geom', 'POINT', 4326, 0, 0)"
        )
        for i in range(1, rows + 1):
            conn.execute(
                "INSERT INTO parcels (fid, geom, role, name, value) VALUES (?, ?, ?, ?, ?)",
                (
                    i,
                    encode_gpkg_geometry(shapely.Point(i, i / 2), 4326),
                    "a" if i % 2 else "b",
                    f"parcel {i}",
                    i * 10,
                ),
            )


class Roles(AccessControlFilter):
    """X-Role a / b: sees and edits only its own parcels; `reader`: reads, edits nothing;
    `blind`: may not read parcels; `hidden`: may not see `value`; otherwise everything."""

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def role(self) -> str:
        return self.iface.env("HTTP_X_ROLE") or "admin"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        if self.role() == "reader":
            return LayerPermissions(True, False, False, False)
        if self.role() == "blind" and layer.name == "parcels":
            return LayerPermissions(False, False, False, False)
        return LayerPermissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        if layer.name == "parcels" and self.role() in ("a", "b"):
            return f"\"role\" = '{self.role()}'"
        return None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        if self.role() == "hidden":
            return [name for name in attributes if name != "value"]
        return attributes

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        if layer.name != "parcels" or self.role() not in ("a", "b"):
            return True
        return bool(feature.attribute("role") == self.role())

    def cache_key(self) -> str:
        return self.role()


def roles(iface: ServerInterface) -> None:
    iface.register_access_control(Roles(iface), priority=10)


def edit_folder(folder: Path) -> Path:
    """An editable project in `folder`; returns the project file."""
    shutil.copyfile(DEMO / "natural_earth.gpkg", folder / "data.gpkg")
    (folder / "data.gpkg").chmod(0o644)
    make_parcels(folder / "data.gpkg")
    project = folder / "edit.yaml"
    project.write_text(PROJECT)
    return project


def build(project: Path) -> Server:
    return make_server([project], plugins=[roles])


@contextmanager
def context(server: Server, role: str = "admin") -> Iterator[RequestContext]:
    """A request context of the `edit` project for a caller in `role`, bound as the current
    one (plugins read the role from it)."""
    request = ServerRequest.build("POST", "http://t/ogcapi/edit", headers={"X-Role": role})
    ctx = RequestContext(server, request, ServerResponse(BufferSink()))
    ctx.project = server.projects.get("edit")
    token = current_context.set(ctx)
    try:
        yield ctx
    finally:
        current_context.reset(token)


def layer(ctx: RequestContext, name: str = "parcels") -> Layer:
    assert ctx.project is not None
    found = ctx.project.layer(name)
    assert found is not None
    return found


def parcels(path: Path) -> dict[int, tuple[Any, ...]]:
    """The parcels table as it is on disk: fid -> (role, name, value, x, y)."""
    from ogcserve.sources.geopackage import strip_gpkg_headers

    with sqlite3.connect(path) as conn:
        rows = list(conn.execute("SELECT fid, role, name, value, geom FROM parcels ORDER BY fid"))
    blobs = strip_gpkg_headers([r[4] for r in rows])
    out = {}
    for row, blob in zip(rows, blobs, strict=True):
        point = shapely.from_wkb(blob) if blob is not None else None
        xy = (round(point.x, 6), round(point.y, 6)) if point is not None else (None, None)
        out[row[0]] = (row[1], row[2], row[3], *xy)
    return out
