"""Bounding-box reads from a 1,000,000-polygon GeoPackage: the source alone, then the access layer.

The first run writes bench/data/polygons_<n>.gpkg (a proper GeoPackage: gpkg_spatial_ref_sys,
gpkg_contents, gpkg_geometry_columns, GP binary headers with envelopes, an R-tree filled in
bulk and the spec's R-tree triggers created afterwards) and bench/data/polygons_<n>.yaml (a
project with one layer on it); later runs reuse them.

Polygons are random star-shaped 5-10-vertex rings, one per cell of a 1000 x 1000 grid of
100 m cells in EPSG:3857 coordinates, each inside its own cell; attributes: name (text),
category (integer), value (real).

Timed (median of --repeat runs after one warm-up, every batch consumed with geometries):
* GeoPackageSource(path, table).query(FeatureQuery(bbox=...)) on a dense window (~10,000
  polygons) and a sparse one (~50);
* the same through AccessLayer.features(ctx, layer, Read(bbox=...)), a new RequestContext per
  run as a request would have.

    /work/venv/bin/python bench/gpkg_bbox.py [--repeat 20] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from _common import DATA_DIR, print_table, summary_ms, write_result

from ogcserve.access import Read
from ogcserve.context import RequestContext
from ogcserve.features import BBox, FeatureBatch, FeatureQuery
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink, ServerResponse
from ogcserve.server import Server
from ogcserve.sources.geopackage import GeoPackageSource
from ogcserve.testing import make_server

TABLE = "parcels"
GEOMETRY = "geom"
SRS_ID = 3857
GRID = 1000  # cells per side
CELL = 100.0  # metres
X0, Y0 = 1_000_000.0, 6_000_000.0  # south-west corner of the grid
CHUNK = 100_000  # rows generated and inserted at a time
TARGET_DENSE_MS = 50.0

# Windows offset by half a cell: the R-tree hands over a ring of candidates that the exact
# intersects test must throw away, as with a real map window.
DENSE_CELLS = 100  # ~10,000 polygons
SPARSE_CELLS = 7  # ~50 polygons

_SRS_ROWS = [
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
        'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]',
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
    (
        "WGS 84 / Pseudo-Mercator",
        3857,
        "EPSG",
        3857,
        'PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",'
        '6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
        'PROJECTION["Mercator_1SP"],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],'
        'PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1],'
        'AUTHORITY["EPSG","3857"]]',
        "Spherical Mercator",
    ),
]

# The GeoPackage 1.3/1.4 R-tree triggers (gpkg_rtree_index extension), created after the bulk
# load so that they do not fire a million times.
_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_{g}_insert" AFTER INSERT ON "{t}"
WHEN (new."{g}" NOT NULL AND NOT ST_IsEmpty(new."{g}"))
BEGIN
  INSERT OR REPLACE INTO "rtree_{t}_{g}" VALUES (
    new."{k}", ST_MinX(new."{g}"), ST_MaxX(new."{g}"), ST_MinY(new."{g}"), ST_MaxY(new."{g}"));
END;
CREATE TRIGGER "rtree_{t}_{g}_update1" AFTER UPDATE OF "{g}" ON "{t}"
WHEN OLD."{k}" = NEW."{k}" AND (NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}"))
BEGIN
  INSERT OR REPLACE INTO "rtree_{t}_{g}" VALUES (
    NEW."{k}", ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"), ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}"));
END;
CREATE TRIGGER "rtree_{t}_{g}_update2" AFTER UPDATE OF "{g}" ON "{t}"
WHEN OLD."{k}" = NEW."{k}" AND (NEW."{g}" ISNULL OR ST_IsEmpty(NEW."{g}"))
BEGIN
  DELETE FROM "rtree_{t}_{g}" WHERE id = OLD."{k}";
END;
CREATE TRIGGER "rtree_{t}_{g}_update3" AFTER UPDATE ON "{t}"
WHEN OLD."{k}" != NEW."{k}" AND (NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}"))
BEGIN
  DELETE FROM "rtree_{t}_{g}" WHERE id = OLD."{k}";
  INSERT OR REPLACE INTO "rtree_{t}_{g}" VALUES (
    NEW."{k}", ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"), ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}"));
END;
CREATE TRIGGER "rtree_{t}_{g}_update4" AFTER UPDATE ON "{t}"
WHEN OLD."{k}" != NEW."{k}" AND (NEW."{g}" ISNULL OR ST_IsEmpty(NEW."{g}"))
BEGIN
  DELETE FROM "rtree_{t}_{g}" WHERE id IN (OLD."{k}", NEW."{k}");
END;
CREATE TRIGGER "rtree_{t}_{g}_delete" AFTER DELETE ON "{t}"
WHEN old."{g}" NOT NULL
BEGIN
  DELETE FROM "rtree_{t}_{g}" WHERE id = OLD."{k}";
END;
"""

_HEADER = np.dtype(
    [
        ("magic", "S2"),
        ("version", "u1"),
        ("flags", "u1"),
        ("srs_id", "<i4"),
        ("env", "<f8", (4,)),
    ]
)


# --- data -----------------------------------------------------------------------------------


def polygons(start: int, stop: int, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    """Polygons for grid cells start..stop-1 (row-major): random star-shaped rings of 5-10
    vertices around each cell centre, all inside the cell. Fully vectorised."""
    n = stop - start
    cells = np.arange(start, stop)
    cx = X0 + (cells % GRID + 0.5) * CELL
    cy = Y0 + (cells // GRID + 0.5) * CELL
    k = rng.integers(5, 11, n)  # vertices per ring (without the closing one)
    ring = k + 1
    ends = np.cumsum(ring)
    starts = ends - ring
    total = int(ends[-1])
    owner = np.repeat(np.arange(n), ring)
    pos = np.arange(total) - starts[owner]  # 0..k within each ring; k is the closing vertex
    # Increasing angles: cumulative random gaps, normalised by the ring's total (k+1 gaps, so
    # the last real vertex stays short of a full turn).
    gaps = rng.uniform(0.5, 1.5, total)
    cum = np.cumsum(gaps)
    before = np.concatenate(([0.0], cum))[starts]
    ring_total = cum[ends - 1] - before
    angle = 2 * np.pi * (cum - before[owner] - gaps[starts][owner]) / ring_total[owner]
    radius = CELL * rng.uniform(0.25, 0.45, total)
    x = cx[owner] + radius * np.cos(angle)
    y = cy[owner] + radius * np.sin(angle)
    closing = pos == k[owner]
    x[closing] = x[starts[owner][closing]]
    y[closing] = y[starts[owner][closing]]
    coords = np.column_stack((x, y))
    ring_offsets = np.concatenate(([0], ends))
    poly_offsets = np.arange(n + 1)
    return shapely.from_ragged_array(  # type: ignore[no-any-return]
        shapely.GeometryType.POLYGON, coords, (ring_offsets, poly_offsets)
    )


def gpkg_blobs(geoms: npt.NDArray[np.object_], srs_id: int) -> tuple[list[bytes], Any]:
    """GeoPackage binary (GP header with XY envelope + little-endian ISO WKB) and the bounds."""
    bounds = shapely.bounds(geoms)
    header = np.zeros(len(geoms), dtype=_HEADER)
    header["magic"] = b"GP"
    header["flags"] = 0x03  # envelope code 1 (XY), little endian
    header["srs_id"] = srs_id
    header["env"] = bounds[:, [0, 2, 1, 3]]  # minx, maxx, miny, maxy
    raw = header.tobytes()
    size = _HEADER.itemsize
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    return [raw[i * size : (i + 1) * size] + w for i, w in enumerate(wkb)], bounds


def build_gpkg(
    path: Path,
    count: int,
    seed: int = 42,
    table: str = TABLE,
    kind: str = "POLYGON",
    make: Callable[[int, int, np.random.Generator], npt.NDArray[np.object_]] | None = None,
    label: str = "parcel",
) -> float:
    """Write the benchmark GeoPackage to `path` (via a temporary file); seconds taken. By
    default the parcels; bench/postgis_lines.py gives another `table`, geometry `kind`, `make`
    (geometries of rows start..stop-1) and name `label`."""
    make = make or polygons
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.executescript(f"""
        PRAGMA application_id = 1196444487;  -- 'GPKG'
        PRAGMA user_version = 10400;
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        PRAGMA cache_size = -262144;
        CREATE TABLE gpkg_spatial_ref_sys (
          srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
          organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
          definition TEXT NOT NULL, description TEXT);
        CREATE TABLE gpkg_contents (
          table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
          identifier TEXT UNIQUE, description TEXT DEFAULT '',
          last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
          min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
          CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
        CREATE TABLE gpkg_geometry_columns (
          table_name TEXT NOT NULL, column_name TEXT NOT NULL,
          geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL,
          z TINYINT NOT NULL, m TINYINT NOT NULL,
          CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
          CONSTRAINT uk_gc_table_name UNIQUE (table_name),
          CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
          CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
        CREATE TABLE gpkg_extensions (
          table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
          definition TEXT NOT NULL, scope TEXT NOT NULL,
          CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
        CREATE TABLE "{table}" (
          fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          "{GEOMETRY}" {kind}, name TEXT, category INTEGER, value REAL);
        CREATE VIRTUAL TABLE "rtree_{table}_{GEOMETRY}" USING rtree(id, minx, maxx, miny, maxy);
    """)
    conn.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _SRS_ROWS)
    rng = np.random.default_rng(seed)
    extent = [np.inf, np.inf, -np.inf, -np.inf]
    conn.execute("BEGIN")
    for start in range(0, count, CHUNK):
        stop = min(start + CHUNK, count)
        geoms = make(start, stop, rng)
        blobs, bounds = gpkg_blobs(geoms, SRS_ID)
        fids = range(start + 1, stop + 1)
        category = rng.integers(0, 10, stop - start).tolist()
        value = np.round(rng.uniform(0, 1000, stop - start), 3).tolist()
        names = [f"{label} {i}" for i in fids]
        conn.executemany(
            f'INSERT INTO "{table}" (fid, "{GEOMETRY}", name, category, value)'
            " VALUES (?, ?, ?, ?, ?)",
            zip(fids, blobs, names, category, value, strict=True),
        )
        conn.executemany(
            f'INSERT INTO "rtree_{table}_{GEOMETRY}" VALUES (?, ?, ?, ?, ?)',
            zip(fids, *(bounds[:, i].tolist() for i in (0, 2, 1, 3)), strict=True),
        )
        low, high = bounds.min(axis=0), bounds.max(axis=0)
        extent = [
            min(extent[0], float(low[0])),
            min(extent[1], float(low[1])),
            max(extent[2], float(high[2])),
            max(extent[3], float(high[3])),
        ]
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, min_x, min_y, max_x, max_y,"
        " srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?)",
        (table, table, *extent, SRS_ID),
    )
    conn.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
        (table, GEOMETRY, kind, SRS_ID),
    )
    conn.execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index',"
        " 'http://www.geopackage.org/spec/#extension_rtree', 'write-only')",
        (table, GEOMETRY),
    )
    conn.execute("COMMIT")
    conn.executescript(_TRIGGERS.format(t=table, g=GEOMETRY, k="fid"))
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    os.replace(tmp, path)
    return time.perf_counter() - started


def project_yaml(gpkg: Path) -> Path:
    """A project with one layer on the benchmark table (next to the file)."""
    path = gpkg.with_suffix(".yaml")
    path.write_text(
        "name: bench\n"
        "title: GeoPackage bbox benchmark\n"
        "crs: [EPSG:3857]\n"
        "layers:\n"
        f"  - name: {TABLE}\n"
        f"    source: {{type: geopackage, path: {gpkg.name}, table: {TABLE}}}\n"
        "    key: fid\n"
    )
    return path


# --- timing ---------------------------------------------------------------------------------


def window(cells: int) -> BBox:
    """A square of `cells` x `cells` cells around the grid centre, offset by half a cell."""
    x = X0 + (GRID // 2 + 0.5) * CELL
    y = Y0 + (GRID // 2 + 0.5) * CELL
    return (x, y, x + cells * CELL, y + cells * CELL)


def consume(batches: Iterator[FeatureBatch]) -> int:
    """Read every batch (geometries included, as a renderer would); the row count."""
    rows = 0
    for batch in batches:
        assert batch.geometries is not None
        rows += len(batch)
    return rows


def timed(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, tuple[list[float], int]]:
    """Each run once to warm up (connection, page cache, schema), then `repeat` rounds that
    alternate between them, so that machine drift hits every path alike."""
    counts = {name: run() for name, run in runs.items()}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            counts[name] = run()
            samples[name].append(time.perf_counter() - start)
    return {name: (samples[name], counts[name]) for name in runs}


def rtree_count(conn: sqlite3.Connection, bbox: tuple[float, ...], table: str = TABLE) -> int:
    """How many rows the R-tree of `table` hands over for `bbox` (before the exact test)."""
    minx, miny, maxx, maxy = bbox
    row = conn.execute(
        f'SELECT count(*) FROM "rtree_{table}_{GEOMETRY}"'
        " WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?",
        (maxx, minx, maxy, miny),
    ).fetchone()
    return int(row[0])


def rtree_candidates(gpkg: Path, bbox: BBox) -> int:
    """`rtree_count` on the file `gpkg`."""
    with sqlite3.connect(gpkg.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        return rtree_count(conn, bbox)


def request_context(server: Server) -> RequestContext:
    """What the pipeline builds for a request (tests/access/test_access_layer.py `_ctx`)."""
    request = ServerRequest.build("GET", "http://bench/ows")
    ctx = RequestContext(server, request, ServerResponse(BufferSink()))
    ctx.project = server.projects.default()
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count",
        type=int,
        default=1_000_000,
        help="polygons (at most 1,000,000: one per grid cell)",
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per case")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the GeoPackage")
    args = parser.parse_args()
    if not 0 < args.count <= GRID * GRID:
        parser.error(f"--count must be in 1..{GRID * GRID}")

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    gpkg = DATA_DIR / f"polygons_{args.count}.gpkg"
    build_s = None
    if args.rebuild or not gpkg.exists():
        print(f"generating {gpkg} ...", flush=True)
        build_s = build_gpkg(gpkg, args.count)
        print(
            f"generated {args.count:,} polygons in {build_s:.1f} s "
            f"({gpkg.stat().st_size / 1e6:.0f} MB)"
        )
    yaml = project_yaml(gpkg)

    source = GeoPackageSource(gpkg, TABLE)
    server = make_server([yaml])
    project = server.projects.default()

    def direct(bbox: BBox) -> Callable[[], int]:
        return lambda: consume(source.query(FeatureQuery(bbox=bbox)))

    def access(bbox: BBox) -> Callable[[], int]:
        def run() -> int:
            ctx = request_context(server)
            layer = server.access.layer(ctx, project, TABLE)
            return consume(server.access.features(ctx, layer, Read(bbox=bbox)))

        return run

    cases: dict[str, dict[str, Any]] = {}
    rows = []
    for label, cells in (("dense", DENSE_CELLS), ("sparse", SPARSE_CELLS)):
        bbox = window(cells)
        candidates = rtree_candidates(gpkg, bbox)
        measured = timed(
            {"GeoPackageSource.query": direct(bbox), "AccessLayer.features": access(bbox)},
            args.repeat,
        )
        for path, (samples, count) in measured.items():
            stats = summary_ms(samples)
            cases[f"{label}/{path}"] = {
                "bbox": bbox,
                "rows": count,
                "rtree_candidates": candidates,
                **stats,
            }
            rows.append(
                [
                    label,
                    path,
                    f"{count:,}",
                    f"{candidates:,}",
                    stats["median_ms"],
                    stats["mean_ms"],
                    stats["min_ms"],
                    stats["max_ms"],
                ]
            )
    for label in ("dense", "sparse"):
        d = cases[f"{label}/GeoPackageSource.query"]["median_ms"]
        a = cases[f"{label}/AccessLayer.features"]["median_ms"]
        cases[f"{label}/access_layer_added_ms"] = round(a - d, 3)

    print(f"\nbbox reads from {args.count:,} polygons, median of {args.repeat} runs\n")
    print_table(
        ["window", "path", "rows", "R-tree rows", "median ms", "mean ms", "min ms", "max ms"], rows
    )
    dense = cases["dense/GeoPackageSource.query"]["median_ms"]
    print(
        f"\naccess layer adds {cases['dense/access_layer_added_ms']:+.3f} ms (dense), "
        f"{cases['sparse/access_layer_added_ms']:+.3f} ms (sparse) at the median"
    )
    verdict = "PASS" if dense < TARGET_DENSE_MS else "FAIL"
    print(f"dense window {dense:.1f} ms; target < {TARGET_DENSE_MS:.0f} ms: {verdict}")
    write_result(
        "gpkg_bbox",
        {
            "polygons": args.count,
            "file": str(gpkg),
            "file_mb": round(gpkg.stat().st_size / 1e6, 1),
            "generation_s": None if build_s is None else round(build_s, 1),
            "repeat": args.repeat,
            "cases": cases,
            "target_dense_ms": TARGET_DENSE_MS,
            "pass": dense < TARGET_DENSE_MS,
        },
    )
    source.close()
    server.close()


if __name__ == "__main__":
    main()
