"""Edits drop the cached tiles they change — of the layer, its groups and the project — and only
those, across servers sharing a backend; a project reload drops the project's tiles."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tile_support import backend_settings

from ogcserve.server import Server
from ogcserve.testing import call, make_server

DEMO = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"
PROJECT = """
name: edit
title: Editable
layers:
  - name: world
    title: World
    layers:
      - name: countries
        title: Countries
        source: {type: geopackage, path: data.gpkg, table: countries}
        key: fid
        style: {fill: "#cfe3c4", stroke: "#5b7f52", stroke_width: 0.6}
        wfs: {insert: true, update: true, delete: true}
  - name: cities
    title: Cities
    source: {type: geopackage, path: data.gpkg, table: cities}
    key: fid
    style: {marker: circle, size: 8, fill: "#e8553e"}
    wfs: {insert: true, update: true, delete: true}
"""
WFS = "http://www.opengis.net/wfs/2.0"
FES = "http://www.opengis.net/fes/2.0"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(DEMO / "natural_earth.gpkg", tmp_path / "data.gpkg")
    path = tmp_path / "edit.yaml"
    path.write_text(PROJECT)
    return path


def serve(project: Path, **settings: object) -> Server:
    return make_server([project], tile_metatile=1, **settings)


def fid_of(project: Path, table: str, name: str) -> int:
    with sqlite3.connect(project.parent / "data.gpkg") as conn:
        return int(conn.execute(f"SELECT fid FROM {table} WHERE name = ?", (name,)).fetchone()[0])


def tile(server: Server, layer: str, z: int, row: int, col: int) -> tuple[str, np.ndarray]:
    result = call(server, f"/wmts/edit/{layer}/default/WebMercatorQuad/{z}/{row}/{col}.png")
    assert result.status == 200, result.body
    image = np.asarray(Image.open(io.BytesIO(result.body)).convert("RGBA"))
    return result.headers["X-Cache"], image


def wfs_delete(server: Server, layer: str, fid: int) -> None:
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:fes="{FES}">'
        f'<wfs:Delete typeName="{layer}"><fes:Filter><fes:ResourceId rid="{layer}.{fid}"/>'
        "</fes:Filter></wfs:Delete></wfs:Transaction>"
    )
    result = call(
        server,
        "/ows?SERVICE=WFS",
        method="POST",
        headers={"Content-Type": "text/xml"},
        body=body.encode(),
    )
    assert result.status == 200 and b"totalDeleted>1<" in result.body, result.body


# Brazil lies in the z2 tiles (row 1-2, column 1); East Asia's tile (1, 3) is two tiles away.
BRAZIL = [(2, 1, 1), (2, 2, 1), (1, 1, 0), (0, 0, 0)]
ASIA = (2, 1, 3)


def test_a_wfs_delete_drops_the_touched_tiles_of_layer_group_and_project(project: Path) -> None:
    server = serve(project)
    try:
        layers = ("countries", "world", "edit")
        before = {(n, t): tile(server, n, *t)[1] for n in layers for t in [*BRAZIL, ASIA]}
        assert all(tile(server, n, *t)[0] == "HIT" for n in layers for t in [*BRAZIL, ASIA])
        wfs_delete(server, "countries", fid_of(project, "countries", "Brazil"))
        for name in layers:
            for address in BRAZIL:
                state, image = tile(server, name, *address)
                assert state == "MISS", (name, address)
                assert not np.array_equal(image, before[(name, address)])
            assert tile(server, name, *ASIA)[0] == "HIT"
        # Cities were not edited: their tiles stay.
        tile(server, "cities", 2, 1, 1)
        assert tile(server, "cities", 2, 1, 1)[0] == "HIT"
    finally:
        server.close()


def test_an_ogcapi_move_drops_the_old_and_the_new_place(project: Path) -> None:
    server = serve(project)
    try:
        fid = fid_of(project, "cities", "Tokyo")
        tokyo, cape_town, other = (3, 3, 7), (3, 4, 4), (3, 2, 0)
        seen = {t: tile(server, "cities", *t)[1] for t in (tokyo, cape_town, other)}
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [18.4, -33.9]},
            "properties": {"name": "Tokyo"},
        }
        moved = call(
            server,
            f"/ogcapi/edit/collections/cities/items/{fid}",
            method="PUT",
            headers={"Content-Type": "application/geo+json"},
            body=json.dumps(feature).encode(),
        )
        assert moved.status == 204, moved.body
        for address in (tokyo, cape_town):
            state, image = tile(server, "cities", *address)
            assert state == "MISS" and not np.array_equal(image, seen[address])
        assert tile(server, "cities", *other)[0] == "HIT"
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["disk", "redis"])
def test_an_edit_on_one_server_drops_the_tiles_another_serves(
    project: Path, tmp_path: Path, kind: str
) -> None:
    settings = backend_settings(kind, tmp_path)
    first, second = serve(project, **settings), serve(project, **settings)
    try:
        tile(first, "countries", 2, 2, 1)
        assert tile(second, "countries", 2, 2, 1)[0] == "HIT"  # drawn by the first server
        wfs_delete(second, "countries", fid_of(project, "countries", "Brazil"))
        assert tile(first, "countries", 2, 2, 1)[0] == "MISS"
    finally:
        first.cache_backend.drop_tree("edit")
        first.close()
        second.close()


def test_a_reload_drops_the_projects_tiles(project: Path) -> None:
    server = serve(project)
    try:
        tile(server, "countries", 1, 0, 0)
        assert tile(server, "countries", 1, 0, 0)[0] == "HIT"
        later = project.stat().st_mtime + 10
        os.utime(project, (later, later))
        assert tile(server, "countries", 1, 0, 0)[0] == "MISS"
    finally:
        server.close()


def test_the_tiles_of_many_extents_are_those_of_each_extent() -> None:
    """An edit of many features (a WFS Update of a thousand rows) drops, at each level, the
    union of the tiles each feature's extent touches, or the level whole past `max_tiles`."""
    from ogcserve.cache.memory import MemoryBackend
    from ogcserve.services.tiles.invalidate import TileInvalidator, grown
    from ogcserve.services.tiles.matrices import TileMatrixSets

    rng = np.random.default_rng(7)
    corner = rng.uniform(-2e7, 2e7, size=(300, 2))
    size = rng.uniform(0, 3e5, size=(300, 2))
    extents = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(corner, size, strict=True)]
    extents += extents[:50]  # the same extent twice, as before and after an attribute update
    tms = TileMatrixSets().get("WebMercatorQuad")
    assert tms is not None
    invalidator = TileInvalidator(MemoryBackend(), TileMatrixSets(), max_tiles=1024)
    for matrix in tms.matrices:
        ranges = [matrix.tiles_over(grown(extent, matrix)) for extent in extents]
        touched = invalidator.touched(matrix, extents)
        if max(len(rows) * len(cols) for rows, cols in ranges) > 1024:
            assert touched is None
            continue
        one_by_one = {(r, c) for rows, cols in ranges for r in rows for c in cols}
        if touched is None:
            # Refused when the tiles so far and the next extent's would pass 1,024: either is
            # part of the union, so it holds more than half of that.
            assert len(one_by_one) > 512
        else:
            assert touched == sorted(one_by_one)
