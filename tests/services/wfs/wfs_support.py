"""WFS test support: servers with the WFS service registered (the placeholder removed), an editable
project with a `parcels` table (role column, NOT NULL constraint), and a role plugin."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from ogcserve.features import Feature
from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.services import wfs
from ogcserve.sources.gpkg_binary import encode_gpkg_geometry
from ogcserve.testing import Result, call, make_server

DEMO = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "plugins"
NS = {
    "wfs": "http://www.opengis.net/wfs/2.0",
    "wfs1": "http://www.opengis.net/wfs",
    "gml": "http://www.opengis.net/gml/3.2",
    "gml3": "http://www.opengis.net/gml",
    "ows": "http://www.opengis.net/ows/1.1",
    "ows1": "http://www.opengis.net/ows",
    "ogc": "http://www.opengis.net/ogc",
    "fes": "http://www.opengis.net/fes/2.0",
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "o": "https://ogcserve.org/demo",
    "e": "https://ogcserve.org/edit",
}


def wfs_plugin(iface: ServerInterface) -> None:
    """Swap the placeholder WFS for ours (until builtin.py wires it)."""
    iface.server.services.unregister("WFS")
    wfs.setup(iface)


def build(
    projects: list[Path] | None = None,
    *,
    plugins: tuple[Any, ...] = (),
    plugin_paths: tuple[Path, ...] = (),
    **settings: Any,
) -> Server:
    """A server with our WFS and the given plugins."""
    return make_server(
        projects, plugins=[wfs_plugin, *plugins], plugin_paths=list(plugin_paths), **settings
    )


@pytest.fixture
def server() -> Iterator[Server]:
    srv = build()
    yield srv
    srv.close()


@pytest.fixture
def role_server() -> Iterator[Server]:
    """The demo with the example role_access plugin (X-Role: admin | user | anyone)."""
    srv = build(plugin_paths=(EXAMPLES,))
    yield srv
    srv.close()


def get(server: Server, query: str, role: str | None = None) -> Result:
    headers = {"X-Role": role} if role else {}
    return call(server, f"/ows?{query}", headers=headers)


def post(server: Server, body: str | bytes, role: str | None = None, path: str = "/ows") -> Result:
    headers = {"Content-Type": "text/xml"}
    if role:
        headers["X-Role"] = role
    data = body.encode() if isinstance(body, str) else body
    return call(server, path, method="POST", headers=headers, body=data)


def xml(result: Result) -> etree._Element:
    return etree.fromstring(result.body)


def exception_code(result: Result) -> str:
    root = xml(result)
    found = root.xpath("//*[local-name()='Exception' or local-name()='ServiceException']")
    assert found, result.body[:500]
    element = found[0]
    return str(element.get("exceptionCode") or element.get("code"))


# --- an editable project ------------------------------------------------------------------------

PARCELS_SQL = (
    "CREATE TABLE parcels (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB,"
    " role TEXT NOT NULL, name TEXT NOT NULL, value INTEGER)"
)


def make_parcels(path: Path, rows: int = 6) -> None:
    """A point table `parcels` in GeoPackage `path`: half the rows role 'a', half role 'b'."""
    with sqlite3.connect(path) as conn:
        conn.execute(PARCELS_SQL)
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('parcels', 'features', 'parcels', 4326)"
        )
        conn.execute(
            "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name,"
            " srs_id, z, m) VALUES ('parcels', 'geom', 'POINT', 4326, 0, 0)"
        )
        import shapely

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


EDIT_YAML = """
name: edit
title: Editable
crs: [EPSG:4326, EPSG:3857]
layers:
  - name: parcels
    title: Parcels
    source: {type: geopackage, path: data.gpkg, table: parcels}
    key: fid
    wfs: {publish: true, insert: true, update: true, delete: true}
  - name: countries
    title: Countries
    source: {type: geopackage, path: data.gpkg, table: countries}
    key: fid
    wfs: {publish: true}
  - name: cities
    title: Cities
    source: {type: geopackage, path: other.gpkg, table: cities}
    key: fid
    wfs: {publish: true, insert: true, update: true, delete: true}
"""


@pytest.fixture
def edit_project(tmp_path: Path) -> Path:
    for name in ("data.gpkg", "other.gpkg"):
        shutil.copyfile(DEMO / "natural_earth.gpkg", tmp_path / name)
        (tmp_path / name).chmod(0o644)
    make_parcels(tmp_path / "data.gpkg")
    project = tmp_path / "edit.yaml"
    project.write_text(EDIT_YAML)
    return project


class ParcelRoles(AccessControlFilter):
    """X-Role a / b: sees and edits only its own parcels; `reader`: reads all, edits nothing;
    `admin`: everything."""

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def role(self) -> str:
        return self.iface.env("HTTP_X_ROLE") or "admin"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        if self.role() == "reader":
            return LayerPermissions(True, False, False, False)
        return LayerPermissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        if layer.name == "parcels" and self.role() in ("a", "b"):
            return f"\"role\" = '{self.role()}'"
        return None

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        if layer.name != "parcels" or self.role() == "admin":
            return True
        return bool(feature.attribute("role") == self.role())

    def cache_key(self) -> str:
        return self.role()


def parcel_roles(iface: ServerInterface) -> None:
    iface.register_access_control(ParcelRoles(iface), priority=10)


@pytest.fixture
def edit_server(edit_project: Path) -> Iterator[Server]:
    srv = build([edit_project], plugins=(parcel_roles,))
    yield srv
    srv.close()


def parcels(path: Path) -> dict[int, tuple[str, str, int | None]]:
    """The parcels table as it is on disk: fid -> (role, name, value)."""
    with sqlite3.connect(path) as conn:
        return {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute("SELECT fid, role, name, value FROM parcels ORDER BY fid")
        }


# --- validation against the vendored OGC schemas ------------------------------------------------

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "wfs_gml"


class _OfflineResolver(etree.Resolver):
    """schemas.opengis.net and www.w3.org from tests/schemas/wfs_gml; `extra` for the rest."""

    def __init__(self, extra: dict[str, bytes]) -> None:
        super().__init__()
        self.extra = extra

    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        if url in self.extra:
            return self.resolve_string(self.extra[url], context)
        for prefix in ("http://schemas.opengis.net/", "http://www.w3.org/"):
            if url.startswith(prefix):
                local = url.removeprefix(prefix).replace("2009/01/xml.xsd", "2001/xml.xsd")
                folder = "schemas.opengis.net" if "opengis" in prefix else "www.w3.org"
                # Served under its URL, so that relative includes come back here too and each
                # file is loaded once (libxml2 tells documents apart by URL).
                data = (SCHEMAS / folder / local).read_bytes()
                return self.resolve_string(data, context, base_url=url)
        raise AssertionError(f"schema not available offline: {url}")


def schema(imports: dict[str, str], extra: dict[str, bytes] | None = None) -> etree.XMLSchema:
    """An XMLSchema importing `namespace -> schema URL` (URLs in `extra` are given inline)."""
    body = "".join(
        f'<xsd:import namespace="{ns}" schemaLocation="{url}"/>' for ns, url in imports.items()
    )
    wrapper = (
        f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:test:wrapper">{body}</xsd:schema>'
    )
    parser = etree.XMLParser()
    parser.resolvers.add(_OfflineResolver(extra or {}))
    return etree.XMLSchema(
        etree.fromstring(wrapper.encode(), parser, base_url="http://test/wrapper.xsd")
    )


def assert_valid(document: etree._Element, xsd: etree.XMLSchema) -> None:
    if not xsd.validate(document):
        raise AssertionError("\n".join(str(e) for e in list(xsd.error_log)[:10]))
