"""Subset strings (`layer_filter_subset_string`, QGIS's `layerFilterSubsetString`) judge writes
as well as reads: a row inserted, or updated, outside the caller's subset is refused (403
Security, as an expression rule refuses it) and the whole transaction rolls back; QGIS Server
writes it. Through WFS-T 1.0/1.1/2.0 and OGC API Part 4, on GeoPackage and PostGIS, with a
native plugin and a QGIS plugin loaded through the facade."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ogcserve.compat.qgis import shim
from ogcserve.plugins import AccessControlFilter, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.services import wfs
from ogcserve.testing import Result, call, make_server

DEMO = Path(__file__).resolve().parents[2] / "src" / "ogcserve" / "demo"
# The value is hidden from the caller by the rule itself; a NULL `value` fails it too (SQL's
# NULL is not true: the row would not be read back).
RULE = '"name" <> \'forbidden\' AND "value" < 1000'
ITEMS = "/ogcapi/edit/collections/parcels/items"
WFS2 = (
    '<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0"'
    ' xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"'
    ' xmlns:e="https://ogcserve.org/edit">'
)
WFS1 = (
    '<wfs:Transaction service="WFS" version="{v}" xmlns:wfs="http://www.opengis.net/wfs"'
    ' xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"'
    ' xmlns:e="https://ogcserve.org/edit">'
)
QGIS_PLUGIN = f"""
from qgis.server import QgsAccessControlFilter


class SubsetRule(QgsAccessControlFilter):
    def layerFilterSubsetString(self, layer):
        return {RULE!r} if layer.name() == "parcels" else ""


def serverClassFactory(serverIface):
    serverIface.registerAccessControl(SubsetRule(serverIface), 100)
"""
METADATA = "[general]\nname=SubsetRule\nqgisMinimumVersion=3\nversion=1.0\nserver=True\n"


class SubsetRule(AccessControlFilter):
    """The same rule as a native ogcserve plugin."""

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        return RULE if layer.name == "parcels" else None


def _native(iface: ServerInterface) -> None:
    iface.register_access_control(SubsetRule(), priority=100)


def _wfs(iface: ServerInterface) -> None:
    iface.server.services.unregister("WFS")
    wfs.setup(iface)


@dataclass
class World:
    """A served `parcels` layer under the rule, and its rows as stored (read past the rule)."""

    server: Server
    rows: Callable[[], dict[int, tuple[Any, ...]]]
    store: Callable[[str, int], None]  # a row written past ogcserve: name, value


def _gpkg(folder: Path) -> tuple[str, Callable[[], dict[int, tuple[Any, ...]]], Any]:
    path = folder / "data.gpkg"
    shutil.copyfile(DEMO / "natural_earth.gpkg", path)
    path.chmod(0o644)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE parcels (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB,"
            " name TEXT NOT NULL, value INTEGER)"
        )
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('parcels', 'features', 'parcels', 4326)"
        )
        conn.execute(
            "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name,"
            " srs_id, z, m) VALUES ('parcels', 'geom', 'POINT', 4326, 0, 0)"
        )
        for i in range(1, 5):
            conn.execute("INSERT INTO parcels (name, value) VALUES (?, ?)", (f"p{i}", i * 10))

    def rows() -> dict[int, tuple[Any, ...]]:
        with sqlite3.connect(path) as conn:
            return {r[0]: r[1:] for r in conn.execute("SELECT fid, name, value FROM parcels")}

    def store(name: str, value: int) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO parcels (name, value) VALUES (?, ?)", (name, value))

    return "{type: geopackage, path: data.gpkg, table: parcels}", rows, store


def _postgis(dsn: str, table: str) -> tuple[str, Callable[[], dict[int, tuple[Any, ...]]], Any]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, name text NOT NULL,"
            " value integer, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (name, value) SELECT 'p' || g, g * 10"
            " FROM generate_series(1, 4) g"
        )

    def rows() -> dict[int, tuple[Any, ...]]:
        with psycopg.connect(dsn) as conn:
            return {r[0]: r[1:] for r in conn.execute(f"SELECT fid, name, value FROM {table}")}

    def store(name: str, value: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"INSERT INTO {table} (name, value) VALUES (%s, %s)", (name, value))

    return f"{{type: postgis, dsn: '{dsn}', table: {table}}}", rows, store


@pytest.fixture(
    params=[
        ("geopackage", "native"),
        ("geopackage", "qgis"),
        pytest.param(("postgis", "native"), marks=pytest.mark.postgis),
        pytest.param(("postgis", "qgis"), marks=pytest.mark.postgis),
    ],
    ids=lambda p: "-".join(p),
)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    backend, plugin = request.param
    table = f"subset_parcels_{uuid.uuid4().hex[:8]}"
    dsn = request.getfixturevalue("postgis_dsn") if backend == "postgis" else ""
    source, rows, store = _postgis(dsn, table) if dsn else _gpkg(tmp_path)
    (tmp_path / "edit.yaml").write_text(
        "name: edit\ntitle: Editable\nlayers:\n  - name: parcels\n    title: Parcels\n"
        f"    source: {source}\n    key: fid\n"
        "    wfs: {publish: true, insert: true, update: true, delete: true}\n"
    )
    paths: list[Path] = []
    plugins: list[Callable[[ServerInterface], None]] = [_wfs]
    if plugin == "qgis":
        # A package name of its own: Python keeps an imported plugin package in sys.modules.
        folder = tmp_path / "plugins" / f"SubsetRule_{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        (folder / "metadata.txt").write_text(METADATA)
        (folder / "__init__.py").write_text(QGIS_PLUGIN)
        paths.append(folder.parent)
    else:
        plugins.append(_native)
    server = make_server([tmp_path / "edit.yaml"], plugins=plugins, plugin_paths=paths)
    try:
        yield World(server, rows, store)
    finally:
        server.close()
        if plugin == "qgis":
            shim.uninstall()
        if dsn:
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {table}")


# --- requests -----------------------------------------------------------------------------------


def _wfs_post(world: World, body: str) -> Result:
    headers = {"Content-Type": "text/xml"}
    return call(world.server, "/ows", method="POST", headers=headers, body=body.encode())


def _feature(name: str, value: int) -> str:
    return f"<e:parcels><e:name>{name}</e:name><e:value>{value}</e:value></e:parcels>"


def _update2(fid: int, name: str, value: int | None = None) -> str:
    props = [("name", name)] + ([] if value is None else [("value", str(value))])
    body = "".join(
        f"<wfs:Property><wfs:ValueReference>{k}</wfs:ValueReference>"
        f"<wfs:Value>{v}</wfs:Value></wfs:Property>"
        for k, v in props
    )
    rid = f'<fes:Filter><fes:ResourceId rid="parcels.{fid}"/></fes:Filter>'
    return f'<wfs:Update typeName="e:parcels">{body}{rid}</wfs:Update>'


def _update1(fid: int, name: str) -> str:
    return (
        '<wfs:Update typeName="e:parcels"><wfs:Property><wfs:Name>name</wfs:Name>'
        f"<wfs:Value>{name}</wfs:Value></wfs:Property><ogc:Filter>"
        f'<ogc:FeatureId fid="parcels.{fid}"/></ogc:Filter></wfs:Update>'
    )


def _tx(*actions: str) -> str:
    return WFS2 + "".join(actions) + "</wfs:Transaction>"


def _send(world: World, method: str, url: str, body: object) -> Result:
    data = json.dumps(body).encode()
    kind = "application/merge-patch+json" if method == "PATCH" else "application/geo+json"
    return call(world.server, url, method=method, headers={"Content-Type": kind}, body=data)


def _geojson(name: str, value: int | None) -> dict[str, Any]:
    point = {"type": "Point", "coordinates": [2.35, 48.85]}
    return {"type": "Feature", "geometry": point, "properties": {"name": name, "value": value}}


def _refused(result: Result) -> None:
    """403 Security, as an expression rule refuses, naming neither the rule nor a value."""
    text = result.body.decode()
    assert result.status == 403, text
    assert "Security" in text, text
    for secret in ("forbidden", "<>", "1000", "5000", "subset"):
        assert secret not in text, (secret, text)


# --- WFS-T --------------------------------------------------------------------------------------


def test_wfs_update_moving_a_row_out_of_the_subset_is_refused(world: World) -> None:
    before = world.rows()
    _refused(_wfs_post(world, _tx(_update2(1, "forbidden"))))
    _refused(_wfs_post(world, _tx(_update2(2, "fine", 5000))))
    for version in ("1.1.0", "1.0.0"):
        body = WFS1.format(v=version) + _update1(3, "forbidden") + "</wfs:Transaction>"
        _refused(_wfs_post(world, body))
    assert world.rows() == before
    ok = _wfs_post(world, _tx(_update2(1, "renamed", 999)))
    assert ok.status == 200, ok.body.decode()
    assert world.rows()[1] == ("renamed", 999)


def test_wfs_insert_outside_the_subset_is_refused(world: World) -> None:
    before = world.rows()
    _refused(_wfs_post(world, _tx(f"<wfs:Insert>{_feature('forbidden', 1)}</wfs:Insert>")))
    for version in ("1.1.0", "1.0.0"):
        insert = f"<wfs:Insert>{_feature('ok', 5000)}</wfs:Insert>"
        _refused(_wfs_post(world, WFS1.format(v=version) + insert + "</wfs:Transaction>"))
    assert world.rows() == before
    ok = _wfs_post(world, _tx(f"<wfs:Insert>{_feature('inside', 7)}</wfs:Insert>"))
    assert ok.status == 200, ok.body.decode()
    assert ("inside", 7) in world.rows().values()


def test_a_refused_action_rolls_back_the_allowed_ones(world: World) -> None:
    before = world.rows()
    body = _tx(
        f"<wfs:Insert>{_feature('allowed', 1)}{_feature('also allowed', 2)}</wfs:Insert>",
        _update2(1, "allowed too"),
        f"<wfs:Insert>{_feature('forbidden', 3)}</wfs:Insert>",
        _update2(2, "never"),
    )
    _refused(_wfs_post(world, body))
    # Nothing half-written: the allowed insert and update are gone with the refused insert.
    assert world.rows() == before
    body = _tx(_update2(1, "allowed"), _update2(2, "forbidden"))
    _refused(_wfs_post(world, body))
    assert world.rows() == before


def test_rows_outside_the_subset_cannot_be_deleted(world: World) -> None:
    world.store("forbidden", 1)
    before = world.rows()
    hidden = max(before)
    delete = (
        f'<wfs:Delete typeName="e:parcels"><fes:Filter><fes:ResourceId rid="parcels.{hidden}"/>'
        "</fes:Filter></wfs:Delete>"
    )
    r = _wfs_post(world, _tx(delete))
    assert r.status == 200 and b"<wfs:totalDeleted>0</wfs:totalDeleted>" in r.body, r.body
    gone = call(world.server, f"{ITEMS}/{hidden}", method="DELETE")
    assert gone.status == 404 and b"forbidden" not in gone.body
    assert world.rows() == before


# --- OGC API - Features Part 4 ------------------------------------------------------------------


def test_ogcapi_writes_outside_the_subset_are_refused(world: World) -> None:
    before = world.rows()
    _refused(_send(world, "POST", ITEMS, _geojson("forbidden", 1)))
    _refused(_send(world, "PUT", f"{ITEMS}/1", _geojson("forbidden", 1)))
    _refused(_send(world, "PATCH", f"{ITEMS}/2", {"properties": {"value": 5000}}))
    # NULL is not true: a row whose rule gives NULL would not be read back either.
    _refused(_send(world, "PATCH", f"{ITEMS}/3", {"properties": {"value": None}}))
    assert world.rows() == before
    created = _send(world, "POST", ITEMS, _geojson("inside", 5))
    assert created.status == 201, created.body
    patched = _send(world, "PATCH", f"{ITEMS}/1", {"properties": {"name": "kept"}})
    assert patched.status == 204, patched.body
    after = world.rows()
    assert after[1] == ("kept", 10) and ("inside", 5) in after.values()
    assert len(after) == len(before) + 1
