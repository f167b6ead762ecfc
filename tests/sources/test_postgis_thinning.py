"""A drawing's lines thinned by PostGIS (`FeatureQuery.pixel_size`, ST_RemoveRepeatedPoints):
only lines, only for drawing (never WFS, OGC API or GetFeatureInfo, never a labelled or marked
style, never under a filter tested in Python), and the map drawn the same."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely

from ogcserve.features import FeatureQuery
from ogcserve.services.wms import get_map
from ogcserve.sources.pg_statements import Statements
from ogcserve.sources.postgis import PostGISSource
from ogcserve.testing import client, make_server

# A map of 100 x 100 pixels over (0, 0, 1000, 1000) in EPSG:3857: a pixel is 10 units.
PIXEL = 10.0
# Lines with 20 vertices crowded 0.01 units apart (a thousandth of a pixel) after their start,
# away from their ends (PostGIS keeps a line's last point by dropping the kept vertex before it,
# where the renderer keeps both), and fewer than the renderer's pieces of 32 vertices (it keeps
# the first vertex of each piece, which the database may have dropped).
CROWD = ", ".join(f"{100 + i * 0.01:.2f} {100 + i * 0.01:.2f}" for i in range(20))
LINES = [
    (1, f"LINESTRING(100 100, {CROWD}, 500 500, 900 120)"),
    (2, f"MULTILINESTRING((100 100, {CROWD}, 800 200), (50 900, 900 900))"),
    (3, None),
    (4, "LINESTRING EMPTY"),
    # Tiny at a style's 1.5 px strokes (its bounding diagonal 2.4 px, under 3 px): vertices
    # 0.6 px apart, which half a pixel keeps and the tiny lines' 0.75 px does not.
    (5, "LINESTRING(300 300, 306 300, 312 300, 318 300, 324 302)"),
]
# What `Renderer.tiny_lines` gives for strokes 1.5 px wide: (extent, tolerance) in pixels.
TINY = (3.0, 0.75)
POINTS = [(1, "MULTIPOINT((500 500), (500.01 500))"), (2, "POINT(200 200)")]
POLYGONS = [(1, "POLYGON((500 500, 500.01 500, 500.01 500.01, 500 500.01, 500 500))")]


@pytest.fixture(scope="module")
def tables() -> Iterator[dict[str, str]]:
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    sfx = uuid.uuid4().hex[:10]
    names = {"lines": f"lines_{sfx}", "points": f"points_{sfx}", "polygons": f"polys_{sfx}"}
    kinds = {"lines": "MultiLineString", "points": "Geometry", "polygons": "Polygon"}
    rows = {"lines": LINES, "points": POINTS, "polygons": POLYGONS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for key, name in names.items():
            conn.execute(
                f"CREATE TABLE {name} (id integer PRIMARY KEY,"
                f" geom geometry({kinds[key]}, 3857), kind text)"
            )
            make = (
                "ST_Multi(ST_GeomFromText(%s, 3857))"
                if key == "lines"
                else "ST_GeomFromText(%s, 3857)"
            )
            for fid, wkt in rows[key]:
                conn.execute(f"INSERT INTO {name} VALUES (%s, {make}, 'a')", (fid, wkt))
            conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
    try:
        yield {"dsn": dsn, **names}
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {', '.join(names.values())}")


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL texts of every PostGIS read from here on."""
    seen: list[str] = []
    select = Statements.select

    def spy(self: Statements, *args: Any, **kwargs: Any) -> tuple[str, list[Any]] | None:
        found = select(self, *args, **kwargs)
        if found is not None:
            seen.append(found[0])
        return found

    monkeypatch.setattr(Statements, "select", spy)
    return seen


def _drawn(source: PostGISSource, pixel_size: float, **kw: Any) -> np.ndarray:
    query = FeatureQuery(
        bbox=(0, 0, 1000, 1000), exact=False, wkb=True, properties=(), pixel_size=pixel_size, **kw
    )
    out = []
    for batch in source.query(query):
        out.extend(batch.wkb.geometries() if batch.wkb is not None else batch.geometries)
    return np.array(out, dtype=object)


def test_a_drawing_reads_lines_thinned_and_their_ends_kept(
    tables: dict[str, str], statements: list[str]
) -> None:
    source = PostGISSource(tables["dsn"], tables["lines"])
    try:
        whole, thinned = _drawn(source, 0.0), _drawn(source, PIXEL)
        assert "ST_RemoveRepeatedPoints" not in statements[0]
        assert "ST_RemoveRepeatedPoints" in statements[1]
        assert shapely.get_num_coordinates(whole).tolist() == [23, 24, 5]
        # The crowd (within 0.45 px of the line's start) goes.
        assert shapely.get_num_coordinates(thinned).tolist() == [3, 4, 5]
        for a, b in zip(whole, thinned, strict=True):
            for pa, pb in zip(shapely.get_parts(a), shapely.get_parts(b), strict=True):
                ca, cb = shapely.get_coordinates(pa), shapely.get_coordinates(pb)
                assert (ca[0] == cb[0]).all() and (ca[-1] == cb[-1]).all()
        # NULL and empty geometries pass through (a bbox read meets neither): read them by id.
        by_id = FeatureQuery(ids=(3, 4), exact=False, wkb=True, pixel_size=PIXEL)
        (batch,) = list(source.query(by_id))
        assert batch.wkb is not None
        got = batch.wkb.geometries()
        assert got[batch.ids.index(3)] is None and shapely.is_empty(got[batch.ids.index(4)])
        # A filter left for Python tests the geometries as they are: nothing is thinned.
        from ogcserve.expressions import parse

        residual = _drawn(source, PIXEL, filter=parse("kind <> 3 OR id > 0", "cql2-text"))
        assert shapely.get_num_coordinates(residual).tolist() == [23, 24, 5]
    finally:
        source.close()


def test_tiny_lines_are_thinned_at_their_own_tolerance(
    tables: dict[str, str], statements: list[str]
) -> None:
    source = PostGISSource(tables["dsn"], tables["lines"])
    try:
        drawn = _drawn(source, PIXEL, tiny_lines=TINY)
        assert "ST_BoundingDiagonal" in statements[0]
        # The long lines as at half a pixel; the tiny one keeps every other vertex.
        assert shapely.get_num_coordinates(drawn).tolist() == [3, 4, 3]
        assert shapely.get_coordinates(drawn[2]).tolist() == [[300, 300], [312, 300], [324, 302]]
        # A tolerance no larger than half a pixel, or no extent: the usual statement.
        for tiny in ((3.0, 0.25), (0.0, 0.75)):
            statements.clear()
            drawn = _drawn(source, PIXEL, tiny_lines=tiny)
            assert "ST_BoundingDiagonal" not in statements[0]
            assert shapely.get_num_coordinates(drawn).tolist() == [3, 4, 5]
    finally:
        source.close()


@pytest.mark.parametrize("table", ["points", "polygons"])
def test_points_and_polygons_are_never_thinned(
    tables: dict[str, str], statements: list[str], table: str
) -> None:
    source = PostGISSource(tables["dsn"], tables[table])
    try:
        drawn = _drawn(source, PIXEL * 1000)
        assert not any("ST_RemoveRepeatedPoints" in s for s in statements)
        expected = POINTS if table == "points" else POLYGONS
        assert shapely.equals_exact(drawn, shapely.from_wkt([w for _, w in expected]), 0).all()
    finally:
        source.close()


def _project(tmp_path: Path, tables: dict[str, str]) -> Path:
    source = f"{{type: postgis, dsn: '{tables['dsn']}', table: {tables['lines']}}}"
    path = tmp_path / "lines.yaml"
    path.write_text(
        "title: lines\n"
        "layers:\n"
        "  - name: lines\n"
        f"    source: {source}\n"
        "    style: {stroke: '#204080', stroke_width: 1.5}\n"
        "  - name: labelled\n"
        f"    source: {source}\n"
        "    style: {stroke: '#204080', stroke_width: 1.5, label: {field: kind}}\n"
    )
    return path


def _getmap(layer: str) -> str:
    return (
        f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:3857"
        "&BBOX=0,0,1000,1000&WIDTH=100&HEIGHT=100&FORMAT=image/png"
    )


def test_the_map_is_drawn_the_same_and_only_drawing_thins(
    tables: dict[str, str],
    statements: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http = client(make_server([_project(tmp_path, tables)]))
    thinned = http.get(_getmap("lines"))
    assert thinned.status_code == 200, thinned.text[:300]
    assert all("ST_RemoveRepeatedPoints" in s for s in statements) and statements
    # Strokes of 1.5 px: lines of up to 3 px are tiny (the tiny line above among them).
    assert all("ST_BoundingDiagonal" in s for s in statements)
    statements.clear()
    whole_size: Callable[..., float] = lambda *args: 0.0  # noqa: E731
    monkeypatch.setattr(get_map, "_pixel_size", whole_size)
    whole = http.get(_getmap("lines"))
    assert not any("ST_RemoveRepeatedPoints" in s for s in statements) and statements
    a, b = _pixels(thinned.content), _pixels(whole.content)
    assert a == b, sum(x != y for x, y in zip(a, b, strict=True))
    monkeypatch.undo()  # (the spy goes too: a fresh one follows)
    # A labelled map, GetFeatureInfo, WFS and OGC API Features read the lines whole.
    seen: list[str] = []
    select = Statements.select

    def spy(self: Statements, *args: Any, **kwargs: Any) -> tuple[str, list[Any]] | None:
        found = select(self, *args, **kwargs)
        if found is not None:
            seen.append(found[0])
        return found

    monkeypatch.setattr(Statements, "select", spy)
    for target in (
        _getmap("labelled"),
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=lines&QUERY_LAYERS=lines"
        "&STYLES=&CRS=EPSG:3857&BBOX=0,0,1000,1000&WIDTH=100&HEIGHT=100&I=50&J=50"
        "&INFO_FORMAT=application/json",
        "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=lines"
        "&OUTPUTFORMAT=application/json",
        "/ogcapi/lines/collections/lines/items?f=json",
    ):
        got = http.get(target)
        assert got.status_code == 200, (target, got.text[:300])
    assert seen and not any("ST_RemoveRepeatedPoints" in s for s in seen)


def _pixels(png: bytes) -> bytes:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGBA").tobytes()


def test_a_drawing_reads_batch_after_batch_and_a_stop_frees_its_connection(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A drawing's batches come through a cursor whose next fetch is sent before the batch in
    # hand is handed over (pipeline mode): the same rows, in the same order, as one read.
    from ogcserve.sources import postgis

    source = PostGISSource(tables["dsn"], tables["lines"], pool_size=1)
    try:
        query = FeatureQuery(bbox=(0, 0, 1000, 1000), exact=False, wkb=True, properties=())
        whole = [i for b in source.query(query) for i in b.ids]
        monkeypatch.setattr(postgis, "DRAWING_FETCH", 1)
        batches = list(source.query(query, batch_size=1))
        assert [len(b) for b in batches] == [1] * len(whole)
        assert [i for b in batches for i in b.ids] == whole == [1, 2, 5]
        # A reader that stops after the first batch (a deadline) gives the connection back
        # in a state the next read can use (the pool holds one).
        stream = source.query(query, batch_size=1)
        assert next(stream).ids == [1]
        stream.close()
        assert [i for b in source.query(query) for i in b.ids] == whole
    finally:
        source.close()
