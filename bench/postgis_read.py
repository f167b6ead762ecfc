"""Where the time of a PostGIS answer goes, in process: database, source, whole request.

For each case (the dense GetMap window, WFS 1.1.0 with exactly 1,000 and 100,000 features as
bench/wfs_compare.py selects them) it times, alternating between them so that drift hits all:
- `database`: the source's SQL on a named binary cursor, rows fetched and dropped;
- `source`: `PostGISSource.query` consumed (adds batch building and, unless the read is a
  drawing that takes WKB, the decoding of the geometries);
- `geopackage`: the same read from the GeoPackage the table was loaded from;
- `request`: the whole request through the pipeline (ogcserve.testing's client, no HTTP),
  for the PostGIS layer and the GeoPackage one.

    PYTHONPATH=src python bench/postgis_read.py [--dsn ...] [--gpkg PATH] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from _common import print_table
from gpkg_bbox import CELL, GRID, TABLE, X0, Y0
from postgis_compare import DSN

from ogcserve.features import FeatureQuery
from ogcserve.sources._query import selection
from ogcserve.sources.geopackage import GeoPackageSource
from ogcserve.sources.postgis import PostGISSource
from ogcserve.testing import client, make_server

# The dense window of bench/wms_compare.py's kind (~10,000 polygons), 4:3.
DENSE = (X0 + 500.5 * CELL, Y0 + 500.5 * CELL, X0 + 615.5 * CELL, Y0 + 586.75 * CELL)


def band(rows: int) -> tuple[float, float, float, float]:
    """The first `rows` rows of the grid (bench/wfs_compare.py's rows_bbox)."""
    return (X0, Y0 + 0.06 * CELL, X0 + GRID * CELL, Y0 + (rows - 0.06) * CELL)


def cases() -> dict[str, tuple[FeatureQuery, str]]:
    """Each case's read (as the service makes it) and its request."""
    getmap = (
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:3857"
        "&BBOX=" + ",".join(map(str, DENSE)) + "&WIDTH=1024&HEIGHT=768&FORMAT=image/png"
    )
    wfs = (
        "/ows?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME={layer}&SRSNAME=EPSG:3857"
        "&BBOX={bbox},EPSG:3857"
    )
    out: dict[str, tuple[FeatureQuery, str]] = {
        "getmap_dense": (FeatureQuery(bbox=DENSE, properties=(), exact=False, wkb=True), getmap)
    }
    for n in (1_000, 100_000):
        bbox = band(n // GRID)
        url = wfs.replace("{bbox}", ",".join(map(str, bbox)))
        out[f"wfs_gml_{n}"] = (FeatureQuery(bbox=bbox, limit=1_000_000), url)
        out[f"wfs_geojson_{n}"] = (
            FeatureQuery(bbox=bbox, limit=1_000_000),
            url + "&OUTPUTFORMAT=application/json",
        )
    return out


def database(dsn: str, source: PostGISSource, query: FeatureQuery) -> Callable[[], int]:
    """The source's own SQL, read through a named binary cursor and dropped."""
    plan = source._plan(query)
    sel = selection(source.schema(), query, plan.predicate is not None, bbox_in_store=True)
    statement = source._select(query, plan, sel, paged=True)
    assert statement is not None
    conn = psycopg.connect(dsn, options="-c jit=off -c cursor_tuple_fraction=1")

    def run() -> int:
        n = 0
        with conn.cursor(name=f"c{uuid.uuid4().hex}", binary=True) as cur:
            cur.execute(*statement)
            while rows := cur.fetchmany(1000):
                n += len(rows)
        conn.rollback()
        return n

    return run


def consume(source: Any, query: FeatureQuery) -> Callable[[], int]:
    return lambda: sum(len(batch) for batch in source.query(query))


def request(http: Any, url: str) -> Callable[[], int]:
    def run() -> int:
        got = http.get(url)
        assert got.status_code == 200, got.text[:300]
        return len(got.content)

    return run


def project(dsn: str, gpkg: Path, folder: Path) -> Path:
    path = folder / "postgis_read.yaml"
    style = "{fill: '#fdd49e', stroke: '#d7301f', stroke_width: 0.5}"
    path.write_text(
        "title: postgis_read\ncrs: [EPSG:3857]\nlayers:\n"
        f"  - {{name: pg, style: {style},"
        f" source: {{type: postgis, dsn: '{dsn}', table: {TABLE}}}}}\n"
        f"  - {{name: gp, style: {style}, source: {{type: geopackage, path: '{gpkg.resolve()}',"
        f" table: {TABLE}}}}}\n"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--gpkg", type=Path, default=Path("bench/data/polygons_1000000.gpkg"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pg = PostGISSource(args.dsn, TABLE)
    gp = GeoPackageSource(args.gpkg, TABLE)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        http = client(make_server([project(args.dsn, args.gpkg, Path(folder))]))
        for name, (query, url) in cases().items():
            runs = {
                "database": database(args.dsn, pg, query),
                "source": consume(pg, query),
                "geopackage": consume(gp, query),
                "request": request(http, url.format(layer="pg")),
                "request gpkg": request(http, url.format(layer="gp")),
            }
            samples = timed(runs, args.repeat)
            rows.append([name, *(f"{statistics.median(s) * 1000:.1f}" for s in samples.values())])
    print_table(["case (ms, median)", *runs], rows)
    pg.close()
    gp.close()


def timed(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, list[float]]:
    for run in runs.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - started)
    return samples


if __name__ == "__main__":
    main()
