"""PostGIS as users' databases hold it: drawing reads (WKB, envelope test), and bad input — a
table without a spatial index, mixed geometry types, SRID 0, NULL, empty and invalid
geometries, a view without a primary key — served, drawn, and reported by `ogcserve check`."""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from PIL import Image

from ogcserve.cli import main
from ogcserve.features import FeatureBatch, FeatureQuery
from ogcserve.sources.postgis import PostGISSource
from ogcserve.testing import client, make_server

# (id, WKT or None, kind): every geometry type a "geometry" column may mix, and the bad ones.
ROWS = [
    (1, "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))", "polygon"),
    (2, "POINT(5 5)", "point"),
    (3, "LINESTRING(20 0, 30 10)", "line"),
    (4, None, "null"),
    (5, "POLYGON EMPTY", "empty"),
    (6, "POLYGON((40 0, 50 10, 50 0, 40 10, 40 0))", "bowtie"),  # self-intersecting
    (7, "MULTIPOLYGON(((0 20, 5 20, 5 25, 0 20)), ((6 20, 9 20, 9 23, 6 20)))", "multi"),
    (8, "LINESTRING(60 0, 70 0, 70 10)", "corner"),  # its envelope meets (61 5, 69 9); it not
    (9, "GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(2 2, 3 3))", "collection"),
]
INSIDE_CORNER = (61.0, 5.0, 69.0, 9.0)


@pytest.fixture(scope="module")
def tables() -> Iterator[dict[str, str]]:
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    sfx = uuid.uuid4().hex[:10]
    names = {
        "mixed": f"mixed_{sfx}",
        "noindex": f"noindex_{sfx}",
        "srid0": f"srid0_{sfx}",
        "view": f"view_{sfx}",
    }
    values = ", ".join(
        f"({fid}, {'NULL' if wkt is None else f'ST_GeomFromText({wkt!r}, %s)'}, {kind!r})"
        for fid, wkt, kind in ROWS
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, srid, typ in (
            (names["mixed"], 4326, "geometry(Geometry, 4326)"),
            (names["noindex"], 4326, "geometry(Geometry, 4326)"),
            (names["srid0"], 0, "geometry"),
        ):
            conn.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, geom {typ}, kind text)")
            params = [srid for _, wkt, _ in ROWS if wkt is not None]
            conn.execute(f"INSERT INTO {name} VALUES {values}", params)  # type: ignore[arg-type]
            if name != names["noindex"]:
                conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
        conn.execute(f"CREATE VIEW {names['view']} AS SELECT * FROM {names['mixed']}")
    try:
        yield {"dsn": dsn, **names}
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP VIEW IF EXISTS {names['view']}")
            conn.execute(
                f"DROP TABLE IF EXISTS {names['mixed']}, {names['noindex']}, {names['srid0']}"
            )


def _ids(batches: Iterator[FeatureBatch]) -> list[Any]:
    return sorted(fid for batch in batches for fid in batch.ids)


def test_a_drawing_gets_wkb_and_the_index_test_only(tables: dict[str, str]) -> None:
    source = PostGISSource(tables["dsn"], tables["mixed"])
    try:
        drawing = FeatureQuery(bbox=INSIDE_CORNER, exact=False, wkb=True, properties=())
        batches = list(source.query(drawing))
        assert [b.geometries for b in batches] == [None]
        wkb = batches[0].wkb
        assert wkb is not None and batches[0].ids == [8]
        assert shapely.equals(wkb.geometries()[0], shapely.from_wkt(ROWS[7][1]))
        # Exact reads (WFS, OGC API) still test the shape, and decode.
        assert _ids(source.query(FeatureQuery(bbox=INSIDE_CORNER))) == []
        whole = list(source.query(FeatureQuery(bbox=(-1, -1, 100, 100))))
        assert all(b.wkb is None and b.geometries is not None for b in whole)
        # A residual filter (evaluated in Python) needs shapes: WKB is then not handed over.
        residual = FeatureQuery(
            bbox=(-1, -1, 100, 100), exact=False, wkb=True, filter=_python_only_filter()
        )
        assert all(b.geometries is not None for b in source.query(residual))
    finally:
        source.close()


def _python_only_filter() -> Any:
    from ogcserve.expressions import parse

    # A comparison of a text column with a number stays in Python (types differ).
    return parse("kind <> 3", "cql2-text")


def test_mixed_null_empty_invalid_rows_are_all_read(tables: dict[str, str]) -> None:
    source = PostGISSource(tables["dsn"], tables["mixed"])
    try:
        assert source.schema().geometry_type is None  # any type
        (batch,) = list(source.query(FeatureQuery()))
        assert batch.ids == [r[0] for r in ROWS]
        assert batch.geometries is not None
        assert batch.geometries[3] is None and shapely.is_empty(batch.geometries[4])
        drawn = list(source.query(FeatureQuery(bbox=(-1, -1, 100, 100), exact=False, wkb=True)))
        assert sum(len(b) for b in drawn) == 7  # NULL and empty have no envelope to meet
    finally:
        source.close()


@pytest.mark.parametrize("table", ["mixed", "srid0", "noindex"])
def test_maps_features_and_info_of_bad_geometries(
    tables: dict[str, str], table: str, tmp_path: Path
) -> None:
    project = _project(tmp_path, tables, table)
    http = client(make_server([project]))
    crs = "CRS=EPSG:4326&BBOX=-5,-5,80,80" if table != "srid0" else "CRS=CRS:84&BBOX=-5,-5,80,80"
    got = http.get(
        f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=bad&STYLES=&{crs}"
        "&WIDTH=200&HEIGHT=200&FORMAT=image/png"
    )
    assert got.status_code == 200, got.text[:500]
    assert got.headers["content-type"] == "image/png"
    assert len(Image.open(io.BytesIO(got.content)).convert("RGBA").getcolors(65536) or ()) > 1
    wfs = http.get(
        "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=bad"
        "&OUTPUTFORMAT=application/json"
    )
    assert wfs.status_code == 200, wfs.text[:500]
    features = wfs.json()["features"]
    assert sorted(
        f["id"] if isinstance(f["id"], int) else int(str(f["id"]).rsplit(".", 1)[-1])
        for f in features
    ) == [r[0] for r in ROWS]
    info = http.get(
        f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=bad&QUERY_LAYERS=bad"
        f"&STYLES=&{crs}&WIDTH=200&HEIGHT=200&I=23&J=176&INFO_FORMAT=application/json"
    )
    assert info.status_code == 200, info.text[:500]
    assert info.json()["features"]  # the square and the point at (5, 5)


def _project(tmp_path: Path, tables: dict[str, str], table: str, key: str = "") -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "title: bad input\n"
        "layers:\n"
        "  - name: bad\n"
        f"    source: {{type: postgis, dsn: '{tables['dsn']}', table: {tables[table]}}}\n"
        "    style: {fill: '#ff0000', stroke: '#000000', marker: {size: 6}}\n"
        + (f"    key: {key}\n" if key else "")
    )
    return path


def test_check_warns_of_a_table_without_spatial_index(
    tables: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "ogcserve.sources.postgis"):
        assert main(["check", str(_project(tmp_path, tables, "noindex"))]) == 0
    warned = [r.getMessage() for r in caplog.records if "spatial index" in r.getMessage()]
    assert len(warned) == 1 and tables["noindex"] in warned[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, "ogcserve.sources.postgis"):
        assert main(["check", str(_project(tmp_path, tables, "mixed"))]) == 0
    assert not [r for r in caplog.records if "spatial index" in r.getMessage()]


def test_a_view_without_primary_key_needs_a_key(
    tables: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(_project(tmp_path, tables, "view"))]) == 1
    err = capsys.readouterr().err
    assert "is a view" in err and "'key'" in err and tables["view"] in err
    assert main(["check", str(_project(tmp_path, tables, "view", key="id"))]) == 0


def test_row_filters_reach_the_sql_as_bound_parameters(tables: dict[str, str]) -> None:
    from ogcserve.expressions import parse

    source = PostGISSource(tables["dsn"], tables["mixed"])
    try:
        # What an access rule's filter becomes: SQL with placeholders, the value apart.
        query = FeatureQuery(filter=parse("kind = 'poly''gon' OR id < 3", "cql2-text"))
        plan = source._plan(query)
        assert plan.predicate is None and "poly'gon" in plan.params
        statement = source._select(query, plan, _selection(source, query), paged=True)
        assert statement is not None and "poly" not in statement[0]
        assert _ids(source.query(query)) == [1, 2]
    finally:
        source.close()


def _selection(source: PostGISSource, query: FeatureQuery) -> Any:
    from ogcserve.sources._query import selection

    return selection(source.schema(), query, False)
