"""GeoJSON geometry from PostGIS (`ST_AsGeoJSON`) against ogcserve's writer: CPU and output.

What letting the database format the geometry of a WFS GeoJSON answer would trade: for the
first 1,000 and 100,000 parcels of postgis_cpu.py's band (ordered by key, as a page is), and
for the countries (MultiPolygon, EPSG:4326, and transformed to EPSG:3857 in SQL), the same
rows read two ways on one connection with ogcserve's session settings:
- `wkb`: `ST_AsBinary`, decoded with `decode_wkb` and written by `geojson_texts` (precision 8),
  as the GeoJSON writer does now;
- `geojson`: `ST_AsGeoJSON(geom, 8, 0)` (8 decimals, no `crs` member), the text taken as is.
Prints this process's CPU (median) and the backend's (from /proc, mean) per read, alternating,
then how many geometries come out byte-identical and numerically identical.

    PYTHONPATH=src python bench/postgis_geojson.py [--dsn ...] [--repeat-small 30]
        [--repeat-large 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import psycopg
from gpkg_bbox import GRID, TABLE
from postgis_compare import DSN
from postgis_read import band

from ogcserve.geo.wkb import decode_wkb
from ogcserve.services.wfs.geojson_write import geojson_texts

OPTIONS = "-c jit=off -c cursor_tuple_fraction=1 -c max_parallel_workers_per_gather=0"
WAYS = {"wkb": "ST_AsBinary({g})", "geojson": "ST_AsGeoJSON({g}, 8, 0)"}


def backend_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def texts(way: str, column: list[Any]) -> list[str | None]:
    if way == "wkb":
        return geojson_texts(decode_wkb(column), None, 8)
    return [v if isinstance(v, str) or v is None else bytes(v).decode() for v in column]


def statement(way: str, table: str, where: str, limit: int | None, srid: int | None) -> str:
    geom = "geom" if srid is None else f"ST_Transform(geom, {srid})"
    text = f"SELECT fid, {WAYS[way].format(g=geom)} FROM {table} WHERE {where} ORDER BY fid"
    return text + (f" LIMIT {limit}" if limit else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--repeat-small", type=int, default=30)
    parser.add_argument("--repeat-large", type=int, default=4)
    args = parser.parse_args()
    x0, y0, x1, y1 = band(100_000 // GRID)
    where = f"ST_Intersects(geom, ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 3857))"
    print(f"load average {os.getloadavg()[0]:.1f}")
    with psycopg.connect(args.dsn, options=OPTIONS) as conn:
        pid = conn.info.backend_pid
        for limit, repeat in ((1000, args.repeat_small), (100_000, args.repeat_large)):
            cpu: dict[str, list[float]] = {w: [] for w in WAYS}
            backend: dict[str, list[float]] = {w: [] for w in WAYS}
            for _ in range(repeat):
                for way in WAYS:
                    b0, p0 = backend_seconds(pid), time.process_time()
                    with conn.cursor(binary=True) as cur:
                        rows = cur.execute(statement(way, TABLE, where, limit, None)).fetchall()
                    texts(way, [r[1] for r in rows])
                    cpu[way].append(time.process_time() - p0)
                    backend[way].append(backend_seconds(pid) - b0)
            for way in WAYS:
                own = statistics.median(cpu[way]) * 1000
                db = statistics.mean(backend[way]) * 1000
                print(
                    f"{limit:>7,} {way:8s} process {own:7.1f} ms  backend {db:7.1f} ms"
                    f"  total {own + db:7.1f} ms",
                    flush=True,
                )
        for table, cond, srid in ((TABLE, where, None), ("countries", "true", None),
                                  ("countries", "true", 3857)):  # fmt: skip
            out = {}
            for way in WAYS:
                with conn.cursor(binary=True) as cur:
                    rows = cur.execute(statement(way, table, cond, None, srid)).fetchall()
                out[way] = texts(way, [r[1] for r in rows])
            same = numeric = 0
            for a, b in zip(out["wkb"], out["geojson"], strict=True):
                same += a == b
                # 180.0 == 180: the same numbers, whether or not written with a decimal point.
                numeric += json.loads(a or "null") == json.loads(b or "null")
            print(
                f"{table} {'native' if srid is None else f'EPSG:{srid}'}: {len(out['wkb']):,}"
                f" geometries, byte-identical {same:,}, numerically identical {numeric:,}"
            )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
